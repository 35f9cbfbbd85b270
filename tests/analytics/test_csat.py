"""CSAT: asked after the close in the customer's channel, answered there, counted for the
operator and team who handled the conversation."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.test import Client

from analytics import rollups, selectors
from analytics.models import CsatResponse
from chats.models import Conversation, Inbox
from chats.services.conversations import conversation_close, conversation_reopen
from tests.analytics.conftest import clock
from tests.chats.channels.conftest import CUSTOMER_TG, bot_api, telegram_inbox, update, webhook  # noqa: F401
from tests.chats.channels.test_client_api import api, client_for, send, visitor

pytestmark = pytest.mark.django_db

SITE = "https://shop.example.com"
T = datetime(2026, 5, 4, 10, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def test_telegram_customers_rate_with_an_inline_keyboard(bot_api, telegram_inbox, operator):  # noqa: F811
    # given: a Telegram conversation handled by anna
    webhook(Client(), telegram_inbox, update(text="Где мой заказ?"))
    conversation = Conversation.objects.get()
    conversation.assignee = operator
    Conversation.objects.filter(pk=conversation.pk).update(assignee=operator, assigned_at=T)
    # when: it is closed
    with clock(T):
        conversation_close(conversation=conversation, actor=operator)
    # then: one survey message with five buttons
    [ask] = bot_api.called("sendMessage")
    keyboard = ask.params["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in keyboard] == [
        f"csat:{CsatResponse.objects.get().pk}:{n}" for n in range(1, 6)
    ]
    survey = CsatResponse.objects.get()
    assert (survey.operator_id, survey.team_id, survey.delivery) == (
        operator.pk,
        conversation.team_id,
        "telegram: sent",
    )
    # when: the customer presses 4
    press = {
        "update_id": 8801,
        "callback_query": {
            "id": "cb-1",
            "from": CUSTOMER_TG,
            "chat_instance": "-1",
            "data": keyboard[3]["callback_data"],
            "message": {
                "message_id": 77,
                "date": 0,
                "chat": {"id": CUSTOMER_TG["id"], "type": "private"},
            },
        },
    }
    with clock(T.replace(minute=5)):
        webhook(Client(), telegram_inbox, press)
    survey.refresh_from_db()
    assert survey.rating == 4 and survey.answered_at is not None
    assert bot_api.called("answerCallbackQuery")
    assert bot_api.called("editMessageText")[0].params["message_id"] == 77
    # and it reaches anna's figures
    with clock(T.replace(hour=11)):
        rollups.rollup_rebuild()
    period = selectors.Filters(start=T.replace(hour=0), end=T.replace(hour=23))
    [row] = [r for r in selectors.operator_table(period) if r.operator_id == operator.pk]
    assert (row.csat_avg, row.csat_count) == (4.0, 1)
    team = selectors.chat_totals(period, group_by="team")[conversation.team_id].kpis()
    assert team["csat_positive_share"] == 1.0


def test_a_survey_is_asked_once_even_after_a_reopen(bot_api, telegram_inbox, operator):  # noqa: F811
    webhook(Client(), telegram_inbox, update(text="Вопрос"))
    conversation = Conversation.objects.get()
    with clock(T):
        conversation_close(conversation=conversation, actor=operator)
        conversation_reopen(conversation=conversation, actor=operator)
        conversation_close(conversation=conversation, actor=operator)
    assert CsatResponse.objects.count() == 1
    assert len(bot_api.called("sendMessage")) == 1


def test_a_press_from_someone_else_is_ignored(bot_api, telegram_inbox, operator):  # noqa: F811
    webhook(Client(), telegram_inbox, update(text="Вопрос"))
    conversation = Conversation.objects.get()
    with clock(T):
        conversation_close(conversation=conversation, actor=operator)
    survey = CsatResponse.objects.get()
    stranger = {**CUSTOMER_TG, "id": 999}
    press = {
        "update_id": 8802,
        "callback_query": {
            "id": "cb-2",
            "from": stranger,
            "chat_instance": "-1",
            "data": f"csat:{survey.pk}:1",
        },
    }
    webhook(Client(), telegram_inbox, press)
    survey.refresh_from_db()
    assert survey.rating is None


@pytest.fixture
def widget(support) -> Inbox:
    from tests import factories

    return factories.make_inbox(
        name="Website", kind=Inbox.Kind.WIDGET, team=support, allowed_origins=SITE + "\n"
    )


def test_widget_visitors_answer_through_the_client_api(widget, operator) -> None:
    token = visitor(widget)
    send(widget, token, "c-1", "Hello")
    conversation = Conversation.objects.get()
    with clock(T):
        conversation_close(conversation=conversation, actor=operator)
    # the pending survey is listed for this visitor
    with clock(T.replace(minute=1)):
        listed = client_for(token).get(api(widget, "csat/"))
    assert listed.status_code == 200
    [survey] = listed.json()["surveys"]
    assert survey["conversation_id"] == conversation.pk
    # answered with a comment
    with clock(T.replace(minute=2)):
        answer = client_for(token).post(
            api(widget, f"csat/{survey['id']}/"), {"rating": 2, "comment": "Slow"}, format="json"
        )
    assert answer.status_code == 200, answer.content
    stored = CsatResponse.objects.get()
    assert (stored.rating, stored.comment) == (2, "Slow")
    # the same again is a harmless retry; another rating is refused
    again = client_for(token).post(
        api(widget, f"csat/{survey['id']}/"), {"rating": 2}, format="json"
    )
    other = client_for(token).post(
        api(widget, f"csat/{survey['id']}/"), {"rating": 5}, format="json"
    )
    assert again.status_code == 200 and other.status_code == 409
    assert json.loads(other.content)["detail"]
    # a rating out of range is a clear 400
    bad = client_for(token).post(api(widget, f"csat/{survey['id']}/"), {"rating": 9}, format="json")
    assert bad.status_code == 400
    # nobody else can answer it: another visitor gets 404
    stranger = visitor(widget)
    send(widget, stranger, "s-1", "Hi")
    foreign = client_for(stranger).post(
        api(widget, f"csat/{survey['id']}/"), {"rating": 1}, format="json"
    )
    assert foreign.status_code == 404
    assert CsatResponse.objects.get().rating == 2
    # without a token: 401
    assert client_for(None).get(api(widget, "csat/")).status_code == 401
