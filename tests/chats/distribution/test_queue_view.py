"""The admins' queue view and the distribution metrics."""

from __future__ import annotations

from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from tests import factories


def _metric(client, name: str, **labels: str) -> float | None:
    text = client.get(reverse("metrics"), REMOTE_ADDR="127.0.0.1").content.decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def test_the_queue_view_shows_waiting_conversations_and_operators_with_their_load(
    client, admin_user, operator, support_inbox, go_online, triggers
):
    go_online(operator, capacity=1)
    with triggers():
        factories.make_conversation(inbox=support_inbox)  # anna takes it: 1 of 1
        waiting = factories.make_conversation(
            inbox=support_inbox, customer=factories.make_customer("Ольга")
        )
    client.force_login(admin_user)

    page = client.get(reverse("queue"))

    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-conversation="{waiting.pk}"' in html and "Ольга" in html
    assert "1 waiting" in html
    assert "1 of 1" in html and 'class="load-full"' in html
    fragment = client.get(reverse("queue-fragment"))
    assert (
        fragment.status_code == 200
        and f'data-conversation="{waiting.pk}"' in fragment.content.decode()
    )


def test_operators_without_the_statistics_capability_get_403(client, operator):
    client.force_login(operator)
    assert client.get(reverse("queue")).status_code == 403
    assert client.get(reverse("queue-fragment")).status_code == 403


def test_metrics_show_queue_length_oldest_wait_and_assignments(
    client, operator, support_inbox, go_online, triggers
):
    before = _metric(client, "smartdesk_assignments_total", mode="auto") or 0
    with triggers():
        factories.make_conversation(inbox=support_inbox)
        factories.make_conversation(inbox=support_inbox)
    assert _metric(client, "smartdesk_queue_length", team="Support") == 2
    assert _metric(client, "smartdesk_queue_oldest_wait_seconds", team="Support") >= 0

    go_online(operator, capacity=5)

    assert _metric(client, "smartdesk_queue_length", team="Support") is None  # nobody waits
    assert _metric(client, "smartdesk_assignments_total", mode="auto") == before + 2
    assert _metric(client, "smartdesk_time_to_assignment_seconds_count", mode="auto") >= 2
