# A click-to-call the PBX could not place is stored as `failed` (OriginateResponse Failure).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("telephony", "0002_call_follow_up_conversation"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="call",
            name="call_state_valid",
        ),
        migrations.AlterField(
            model_name="call",
            name="state",
            field=models.CharField(
                choices=[
                    ("ringing", "ringing"),
                    ("queued", "in the queue"),
                    ("answered", "answered"),
                    ("abandoned", "abandoned"),
                    ("completed", "completed"),
                    ("missed", "missed"),
                    ("failed", "failed"),
                ],
                default="ringing",
                max_length=10,
                verbose_name="state",
            ),
        ),
        migrations.AddConstraint(
            model_name="call",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "state__in",
                        [
                            "ringing",
                            "queued",
                            "answered",
                            "abandoned",
                            "completed",
                            "missed",
                            "failed",
                        ],
                    )
                ),
                name="call_state_valid",
            ),
        ),
    ]
