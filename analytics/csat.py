"""CSAT: after a conversation closes, the customer is asked to rate it (1–5) in their channel.

- Telegram: a message with an inline keyboard 1…5; the press arrives as a `callback_query`
  (`chats.channels.telegram.ingest.telegram_callback`, data `csat:<survey id>:<rating>`).
- Widget and mobile app: a `{"type": "csat.request", "survey": {...}}` ring on the client
  socket, and the client API `GET/POST /api/v1/client/<key>/csat/…` (`analytics.client_api`)
  to list pending surveys and answer one with a rating and a comment.

One survey per conversation (`CsatResponse`, asked once even if the conversation is closed
again after a reopen). The first rating stands; a comment may follow it once. The team and
operator are stamped at the close, so the answer reaches their figures.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from analytics.models import CsatResponse
from chats.models import Conversation, Inbox, TelegramChat
from customers.languages import customer_locale
from smartdesk.core.oncommit import after_commit
from smartdesk.core.realtime import send_now
from smartdesk.core.updates import model_update

log = logging.getLogger(__name__)

CALLBACK_PREFIX = "csat:"
ANSWER_WITHIN = timedelta(days=7)


class AlreadyRated(Exception):
    """The survey has a different rating already (answered as 409)."""


def _question(customer: Any) -> str:
    with translation.override(customer_locale(customer)):
        return _("How did we do? Rate this conversation from 1 (bad) to 5 (excellent).")


def survey_data(survey: CsatResponse) -> dict[str, Any]:
    """A survey as the customer's client sees it."""
    return {
        "id": survey.pk,
        "conversation_id": survey.conversation_id,
        "question": _question(survey.conversation.customer),
        "scale": [1, 2, 3, 4, 5],
        "rating": survey.rating,
        "comment": survey.comment,
        "requested_at": survey.requested_at.isoformat(),
    }


def csat_request(*, conversation_id: int, now: datetime | None = None) -> CsatResponse | None:
    """Ask for a rating of a closed conversation, once. Idempotent: a second call (or a
    second close after a reopen) finds the survey and sends nothing. Sends outside any
    transaction: the Bot API call holds no lock."""
    if not settings.ANALYTICS_CSAT_ENABLED:
        return None
    now = now or timezone.now()
    conversation = (
        Conversation.objects.select_related("inbox", "customer")
        .filter(pk=conversation_id, status=Conversation.Status.CLOSED, deleted_at__isnull=True)
        .first()
    )
    if conversation is None:
        return None
    with transaction.atomic():
        survey, created = CsatResponse.objects.get_or_create(
            conversation=conversation,
            defaults={
                "team_id": conversation.team_id,
                "operator_id": conversation.assignee_id,
                "channel": conversation.inbox.kind,
                "topic": conversation.topic or "",
                "requested_at": now,
            },
        )
    if not created:
        return survey
    delivery = _deliver(survey, conversation)
    CsatResponse.objects.filter(pk=survey.pk).update(delivery=delivery[:200])
    survey.delivery = delivery[:200]
    return survey


def telegram_keyboard(survey: CsatResponse) -> dict[str, Any]:
    return {
        "inline_keyboard": [
            [
                {
                    "text": "★" * n if n == 5 else str(n),
                    "callback_data": f"{CALLBACK_PREFIX}{survey.pk}:{n}",
                }
                for n in range(1, 6)
            ]
        ]
    }


def _deliver(survey: CsatResponse, conversation: Conversation) -> str:
    inbox = conversation.inbox
    if inbox.kind == Inbox.Kind.TELEGRAM:
        from chats.channels.telegram.client import TelegramClient, TelegramError

        chat = TelegramChat.objects.filter(inbox=inbox, customer=conversation.customer).first()
        if chat is None or not inbox.bot_token:
            return "telegram: no chat"
        try:
            TelegramClient(inbox.bot_token).send_message(
                chat.chat_id,
                _question(conversation.customer),
                reply_markup=telegram_keyboard(survey),
            )
        except TelegramError as problem:
            log.warning("CSAT survey %s not sent: %s", survey.pk, problem)
            return f"telegram: {problem.description}"
        return "telegram: sent"
    if inbox.kind in (Inbox.Kind.WIDGET, Inbox.Kind.MOBILE):
        from chats.channels.client.delivery import customer_client_groups

        payload = {"type": "csat.request", "survey": survey_data(survey)}
        groups = customer_client_groups(conversation.inbox_id, conversation.customer_id)
        after_commit(send_now, payload, groups, name="client-live-send")
        return "client: offered"
    return "not supported by this channel"


@transaction.atomic
def csat_submit(
    *,
    survey_id: int,
    customer_id: int | None,
    rating: int,
    comment: str = "",
    inbox: Inbox | None = None,
    now: datetime | None = None,
) -> CsatResponse:
    """Store the customer's answer. Only the conversation's customer may answer (through the
    same inbox); within ANSWER_WITHIN of the request. The first rating stands: the same
    rating again changes nothing, another raises AlreadyRated; a comment may follow once."""
    now = now or timezone.now()
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise ValidationError(_("The rating must be a whole number from 1 to 5."))
    survey = (
        CsatResponse.objects.select_for_update()
        .select_related("conversation")
        .filter(pk=survey_id)
        .first()
    )
    if (
        survey is None
        or customer_id is None
        or survey.conversation.customer_id != customer_id
        or (inbox is not None and survey.conversation.inbox_id != inbox.pk)
    ):
        raise PermissionDenied(_("No such survey."))
    comment = (comment or "").strip()[:2000]
    if survey.rating is not None:
        if survey.rating != rating:
            raise AlreadyRated(_("This conversation has been rated already."))
        if comment and not survey.comment:
            model_update(survey, comment=comment)
        return survey
    if now - survey.requested_at > ANSWER_WITHIN:
        raise ValidationError(_("This survey has expired."))
    model_update(survey, rating=rating, comment=comment, answered_at=now)
    return survey


def pending_surveys(*, inbox: Inbox, customer_id: int, now: datetime | None = None) -> list:
    now = now or timezone.now()
    return list(
        CsatResponse.objects.select_related("conversation__customer")
        .filter(
            conversation__inbox=inbox,
            conversation__customer_id=customer_id,
            rating__isnull=True,
            requested_at__gte=now - ANSWER_WITHIN,
        )
        .order_by("-requested_at")[:5]
    )


# --- receivers (connected in AnalyticsConfig.ready) -----------------------------------------


def on_conversation_closed(sender: Any, id: int, **kwargs: Any) -> None:
    """After the close committed: queue the survey (a task: it may call the Bot API)."""
    from analytics.tasks import request_csat

    after_commit(request_csat.delay, id, name="request-csat")


def on_telegram_callback(
    sender: Any,
    *,
    inbox: Inbox,
    customer: Any,
    data: str,
    chat_id: int | None = None,
    message_id: int | None = None,
    **kwargs: Any,
) -> None:
    """A press on a survey button: store the rating, thank the customer in place."""
    if not isinstance(data, str) or not data.startswith(CALLBACK_PREFIX):
        return
    try:
        survey_id, rating = (int(x) for x in data[len(CALLBACK_PREFIX) :].split(":", 1))
    except ValueError:
        return
    try:
        survey = csat_submit(
            survey_id=survey_id,
            customer_id=getattr(customer, "pk", None),
            rating=rating,
            inbox=inbox,
        )
    except (PermissionDenied, ValidationError, AlreadyRated) as refusal:
        log.info("CSAT callback refused: %s", refusal)
        return
    if chat_id is None or message_id is None or not inbox.bot_token:
        return
    from chats.channels.telegram.client import TelegramClient, TelegramError

    with translation.override(customer_locale(customer)):
        text = _("Thank you! You rated us %(n)d of 5.") % {"n": survey.rating}

    def thank() -> None:
        try:
            TelegramClient(inbox.bot_token).call(
                "editMessageText", {"chat_id": chat_id, "message_id": message_id, "text": text}
            )
        except TelegramError as problem:
            log.info("CSAT thank-you not shown: %s", problem)

    # The receiver runs inside the update's transaction (the rating is stored with it): thank
    # the customer only once that has committed, and make no network call under its lock.
    after_commit(thank, name="csat-thanks")
