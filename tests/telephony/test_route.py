"""`GET /api/v1/telephony/route?caller=&did=`: the queue for each rule, the default for an
unknown or malformed number, nothing without the token; cached and invalidated by rule edits."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from chats.models import Conversation
from customers.models import LoyaltyAccount
from telephony.models import RouteRule
from telephony.services import route_rule_save, route_rules_changed
from tests import factories

URL = "/api/v1/telephony/route"
TOKEN = "dialplan-token-123"

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("clear_cache"),
]


@pytest.fixture
def clear_cache():
    # Not cache.clear(): that flushes the Redis database other test runs share. A new rules
    # version makes every cached route of this run unreachable instead.
    route_rules_changed()
    yield
    route_rules_changed()


@pytest.fixture
def rules(support_inbox):
    tiers = factories.make_tiers()
    made = [
        RouteRule(position=10, kind=RouteRule.Kind.LOYALTY_TIER, tier=tiers["Gold"], queue="vip"),
        RouteRule(
            position=20, kind=RouteRule.Kind.OPEN_TOPIC, value="complaint", queue="complaints"
        ),
        RouteRule(position=30, kind=RouteRule.Kind.LANGUAGE, value="en", queue="english"),
        RouteRule(position=40, kind=RouteRule.Kind.DID, value="+74957770000", queue="wholesale"),
    ]
    for rule in made:
        route_rule_save(rule=rule, actor=None)
    return tiers


def _get(client: Client, **params: str):
    return client.get(URL, {"token": TOKEN, **params})


@override_settings(TELEPHONY_ROUTE_TOKEN=TOKEN, TELEPHONY_DEFAULT_QUEUE="support")
def test_each_rule_sends_its_caller_to_its_queue(client, rules, support_inbox) -> None:
    gold = factories.make_customer("Gold", phone="+79160000001")
    LoyaltyAccount.objects.create(customer=gold, tier=rules["Gold"])
    silver = factories.make_customer("Silver", phone="+79160000002")
    LoyaltyAccount.objects.create(customer=silver, tier=rules["Silver"])
    unhappy = factories.make_customer("Unhappy", phone="+79160000003")
    complaint = factories.make_conversation(inbox=support_inbox, customer=unhappy)
    Conversation.objects.filter(pk=complaint.pk).update(topic="complaint")
    english = factories.make_customer("John", phone="+79160000004")
    type(english).objects.filter(pk=english.pk).update(language="en")

    answers = {
        "gold": _get(client, caller="+79160000001"),
        "silver (tier below the rule's)": _get(client, caller="89160000002"),
        "open complaint": _get(client, caller="+7 916 000-00-03"),
        "english": _get(client, caller="79160000004"),
        "wholesale line": _get(client, caller="+79169999999", did="84957770000"),
    }
    assert {k: (r.status_code, r.content.decode()) for k, r in answers.items()} == {
        "gold": (200, "vip"),
        "silver (tier below the rule's)": (200, "support"),
        "open complaint": (200, "complaints"),
        "english": (200, "english"),
        "wholesale line": (200, "wholesale"),
    }
    assert answers["gold"]["Content-Type"].startswith("text/plain")


@override_settings(TELEPHONY_ROUTE_TOKEN=TOKEN, TELEPHONY_DEFAULT_QUEUE="support")
@pytest.mark.parametrize(
    "caller", ["", "anonymous", "12", "+7 (999) abc", "x" * 500, "+79165555555"]
)
def test_unknown_or_malformed_numbers_get_the_default(client, rules, caller) -> None:
    response = _get(client, caller=caller, did="garbage\r\n")
    assert (response.status_code, response.content.decode()) == (200, "support")


@override_settings(TELEPHONY_ROUTE_TOKEN=TOKEN, TELEPHONY_ROUTE_ALLOWED_IPS=[])
def test_a_request_without_the_right_token_is_refused(client, rules) -> None:
    assert client.get(URL, {"caller": "+79160000001"}).status_code == 403
    assert client.get(URL, {"caller": "+79160000001", "token": "nope"}).status_code == 403
    ok = client.get(URL, {"caller": "+79160000001"}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200


@override_settings(TELEPHONY_ROUTE_TOKEN="", TELEPHONY_ROUTE_ALLOWED_IPS=["127.0.0.1"])
def test_an_allow_listed_pbx_needs_no_token(client, rules) -> None:
    assert client.get(URL, {"caller": "+79160000001"}, REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get(URL, {"caller": "+79160000001"}, REMOTE_ADDR="10.0.0.9").status_code == 403


@override_settings(TELEPHONY_ROUTE_TOKEN=TOKEN, TELEPHONY_DEFAULT_QUEUE="support")
def test_answers_are_cached_and_a_rule_change_applies_at_once(
    client, rules, django_assert_num_queries, django_capture_on_commit_callbacks
) -> None:
    factories.make_customer("John", phone="+79160000004")
    RouteRule.objects.filter(kind=RouteRule.Kind.LANGUAGE).delete()
    route_rule_save(
        rule=RouteRule(position=1, kind=RouteRule.Kind.DEFAULT, queue="night"), actor=None
    )
    # first answer: rules, the caller (identity + customer + tier in one join), open topics
    with django_assert_num_queries(3):
        assert _get(client, caller="+79160000004").content == b"night"
    with django_assert_num_queries(0):  # from the cache
        assert _get(client, caller="+79160000004").content == b"night"
    rule = RouteRule.objects.get(kind=RouteRule.Kind.DEFAULT)
    rule.queue = "day"
    with django_capture_on_commit_callbacks(execute=True):
        route_rule_save(rule=rule, actor=None)
    assert _get(client, caller="+79160000004").content == b"day"
