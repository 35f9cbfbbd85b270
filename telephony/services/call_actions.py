"""The operator's actions on a call: the note, the one-click customer for an unknown caller,
and the follow-up conversation opened from a call."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chats.models import Conversation, Inbox
from customers.models import Identity
from customers.services import customer_identify
from telephony.models import Call


@transaction.atomic
def call_note_save(*, call: Call, actor: Any, note: str) -> Call:
    """The operator's note on a call (shown in the customer's history)."""
    note = (note or "").strip()
    if len(note) > 5000:
        raise ValidationError(_("The note is too long (at most 5000 characters)."))
    Call.objects.filter(pk=call.pk).update(note=note, note_by=actor, updated_at=timezone.now())
    call.note, call.note_by = note, actor
    return call


@transaction.atomic
def call_customer_create(
    *, call: Call, actor: Any, first_name: str = "", last_name: str = ""
) -> Call:
    """One click on an unknown caller: the customer behind the call's number (created with
    it, or found if someone created it meanwhile), linked to every call from that number."""
    if call.customer_id is not None:
        return call
    if not call.caller:
        raise ValidationError(_("The caller's number is withheld or not a valid phone number."))
    customer = customer_identify(
        kind=Identity.Kind.PHONE,
        value=call.caller,
        first_name=first_name.strip()[:150],
        last_name=last_name.strip()[:150],
    )
    Call.objects.filter(caller=call.caller, customer__isnull=True).update(customer=customer)
    call.customer = customer
    return call


def followup_inbox_for(customer_id: int) -> Inbox:
    """The inbox a follow-up conversation opened from a call goes to: the inbox whose key is
    `TELEPHONY_FOLLOWUP_INBOX` when set; else the inbox of the customer's most recent
    conversation (the channel they last wrote from); else a clear refusal."""
    key = settings.TELEPHONY_FOLLOWUP_INBOX
    if key:
        inbox = Inbox.objects.filter(key=key, is_active=True).first()
        if inbox is None:
            raise ValidationError(
                _("The follow-up inbox (TELEPHONY_FOLLOWUP_INBOX) does not exist or is inactive.")
            )
        return inbox
    latest = (
        Conversation.objects.filter(customer_id=customer_id, inbox__is_active=True)
        .select_related("inbox")
        .order_by("-created_at", "-pk")
        .first()
    )
    if latest is None:
        raise ValidationError(
            _(
                "This customer has no conversation yet, so there is no channel to write to; "
                "ask an admin to set the follow-up inbox (TELEPHONY_FOLLOWUP_INBOX)."
            )
        )
    return latest.inbox


def _followup_note(call: Call) -> str:
    number = call.caller or call.caller_raw or _("number withheld")
    when = timezone.localtime(call.started_at).strftime("%Y-%m-%d %H:%M")
    lines = [
        _("Follow-up of call #%(id)s (%(direction)s, %(number)s, %(when)s).")
        % {"id": call.pk, "direction": call.get_direction_display(), "number": number, "when": when}
    ]
    if call.note:
        lines.append(_("Note on the call: %(note)s") % {"note": call.note})
    return "\n".join(lines)


@transaction.atomic
def call_followup_open(*, call: Call, actor: Any) -> tuple[Conversation, bool]:
    """ "Open a follow-up conversation" on a call: (the conversation, created?).

    Only for a user who may see the call; the conversation is opened for the call's customer
    (`chats.services.outreach.conversation_open_by_operator`: assigned to the actor within
    their capacity, a `created` event with the call's id, an internal note linking the call)
    and linked to the call in the same transaction. The call row is locked, so a second
    click, or two at once, opens the same conversation instead of creating another.
    """
    from chats.selectors import can_act, visible_conversations
    from chats.services.outreach import conversation_open_by_operator
    from telephony.selectors import visible_calls

    if not can_act(actor):  # the gate's write form: a role that only looks opens nothing
        raise PermissionDenied(_("Your role may look at this call but not act on it."))
    locked = (
        visible_calls(actor)
        .select_for_update(of=("self",))
        .select_related("customer")
        .filter(pk=call.pk)
        .first()
    )
    if locked is None:
        raise PermissionDenied(_("No such call."))
    if locked.follow_up_conversation_id is not None:
        existing = visible_conversations(actor).filter(pk=locked.follow_up_conversation_id).first()
        if existing is None:
            raise PermissionDenied(
                _("A follow-up conversation was already opened from this call by a colleague.")
            )
        return existing, False
    if locked.customer is None:
        raise ValidationError(_("Create the customer first: this caller is unknown."))
    conversation = conversation_open_by_operator(
        customer=locked.customer,
        inbox=followup_inbox_for(locked.customer_id),
        actor=actor,
        note=_followup_note(locked),
        source={"source": "call", "call_id": locked.pk},
    )
    Call.objects.filter(pk=locked.pk).update(
        follow_up_conversation=conversation, updated_at=timezone.now()
    )
    call.follow_up_conversation = conversation
    return conversation, True
