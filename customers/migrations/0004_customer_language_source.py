"""Where the customer's language came from (customers.languages ranks the sources). A language
stored before this migration came from a channel (Telegram, the widget, the app, the back
office): it is treated as a channel's word, so a browser's guess no longer overwrites it."""

from django.db import migrations, models

HINT, CHANNEL = 1, 2


def existing_languages_are_a_channels_word(apps, schema_editor):
    Customer = apps.get_model("customers", "Customer")
    Customer.objects.exclude(language="").update(language_source=CHANNEL)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0003_card_orders_loyalty"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="language_source",
            field=models.PositiveSmallIntegerField(
                choices=[
                    (1, "browser's guess"),
                    (2, "said by a messenger or the app"),
                    (3, "set by a person or the business"),
                ],
                default=HINT,
                verbose_name="language source",
            ),
        ),
        migrations.RunPython(existing_languages_are_a_channels_word, migrations.RunPython.noop),
    ]
