"""A test per live event type, as Zulip's `verify_action` does: apply the action through the
real service, collect what each persona's operator socket receives, and check it against what
that persona may see *after* the action.

The personas each hold one operator socket for the whole scenario and open (`subscribe`) every
conversation they may see, as the thread page does:

- admin: scope `all`;
- supervisor: scope `teams` (Support), sees deleted messages and may restore conversations;
- teammate: scope `teams`, a member of the conversation's team (Support);
- outsider: scope `teams`, Delivery only;
- assignee: scope `teams`, Delivery only, who sees a Support conversation while it is theirs;
- assigned: a role of scope `assigned`;
- member: scope `teams`, in Support until the access changes remove them.

`verify_action` runs an action, then sends a marker to every persona's `user.<id>` group. The
publisher sends in order, so when a socket has the marker it has every event of the action: no
sleeps, no guessing. The rules each socket's events are held to (`_judge`):

- an event about a conversation reaches only a persona who may see the conversation after the
  action (the gate: `visible_conversations`, deleted ones for roles that may restore them, and
  deleted messages only for roles that may see them) — except the one `conversation.changed`
  that tells a persona it has left their sight, which carries ids only; after it, nothing more
  about that conversation reaches them;
- an event addressed to a user (`access.changed`, calls, `conversation.reassigned`) reaches that
  user; `presence.changed` reaches the user and the roles of scope `all`;
- completeness: every persona entitled to an event of the action received it, and one who saw
  the conversation before and not after was told so;
- the live-event log agrees: the socket's heartbeat, which forwards whatever the log's gate
  (`live_event_ids`) says the user should have had, would find nothing more to send;
- no event reaches a socket twice.

`verify_action` fails the test on the first action that breaks a rule, naming the persona, the
event and the rule.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts import services as account_services
from accounts.access import Capability, has_capability, scope_of
from accounts.models import OperatorProfile, Role, Team, User
from chats.models import Conversation, Inbox, Message
from chats.selectors import live_event_ids, live_event_latest, visible_conversations
from chats.services import conversations as conv_svc
from chats.services import distribution
from chats.services import messages as msg_svc
from chats.services.outreach import conversation_open_by_operator
from smartdesk.core.models import LiveEvent
from smartdesk.core.realtime import _publisher, send_now, user_group
from telephony import services as telephony_services
from telephony.models import Pbx
from tests import factories
from tests.live import OperatorSocket, operator_socket
from tests.telephony.simulator import queue_call

pytestmark = pytest.mark.django_db(transaction=True)

MARKER = "test.marker"
# What the `conversation.changed` announcing a conversation's departure may carry: ids and
# state, never content (and, once events carry rendered fragments, empty ones).
ANNOUNCEMENT_KEYS = {
    "type",
    "id",
    "conversation_id",
    "change",
    "status",
    "team_id",
    "assignee_id",
    "priority",
    "html",
}
MESSAGE_CONTENT_EVENTS = {"message.created", "message.updated"}


@dataclass
class Persona:
    name: str
    user: User
    socket: OperatorSocket
    open: bool = False
    # Its consumer was started (connect was called), whether or not it is still open.
    started: bool = False
    # Every event id this socket was sent, over the whole scenario.
    ids: set[int] = field(default_factory=set)


@dataclass
class _Row:
    seq: int
    type: str
    payload: dict[str, Any]
    user_id: int | None
    conversation_id: int | None

    @property
    def about(self) -> int | None:
        """The conversation the event is about, if any."""
        return self.conversation_id or self.payload.get("conversation_id")


@dataclass
class _Sight:
    """What one persona may see after the action."""

    pk: int
    scope: str | None
    conversations: set[int]
    messages: set[int]


def _sight(user_id: int, conversation_ids: set[int], message_ids: set[int]) -> _Sight:
    user = User.objects.get(pk=user_id)  # fresh: the action may have changed the role or teams
    visible = set(
        visible_conversations(user, include_deleted=True)
        .filter(pk__in=conversation_ids)
        .values_list("pk", flat=True)
    )
    messages = Message.objects.filter(pk__in=message_ids, conversation_id__in=visible)
    if not has_capability(user, Capability.VIEW_DELETED_MESSAGES):
        messages = messages.filter(deleted_at__isnull=True)
    return _Sight(user.pk, scope_of(user), visible, set(messages.values_list("pk", flat=True)))


def _visible_now(user_ids: list[int]) -> dict[int, set[int]]:
    everything = set(Conversation.objects.values_list("pk", flat=True))
    return {pk: _sight(pk, everything, set()).conversations for pk in user_ids}


def _rows_after(seq: int) -> list[_Row]:
    return [
        _Row(*values)
        for values in LiveEvent.objects.filter(seq__gt=seq)
        .order_by("seq")
        .values_list("seq", "type", "payload", "user_id", "conversation_id")
    ]


def _entitled(sight: _Sight, row: _Row) -> bool:
    """May this persona hear this event (and so must they)?"""
    if row.type == "presence.changed":
        return row.user_id == sight.pk or sight.scope == Role.Scope.ALL
    if row.user_id is not None:
        return row.user_id == sight.pk
    if row.conversation_id is None or row.conversation_id not in sight.conversations:
        return False
    if row.type in MESSAGE_CONTENT_EVENTS:
        return row.payload["message_id"] in sight.messages
    return True


def _judge(
    persona: Persona,
    got: list[dict[str, Any]],
    rows: list[_Row],
    before: set[int],
    closed: bool,
) -> list[str]:
    """Everything wrong with what `persona`'s socket got for one action (see the module doc)."""
    by_seq = {row.seq: row for row in rows}
    message_ids = {r.payload["message_id"] for r in rows if r.type.startswith("message.")}
    sight = _sight(persona.user.pk, {r.about for r in rows if r.about} | before, message_ids)
    problems: list[str] = []

    def problem(text: str, event: dict[str, Any] | None = None) -> None:
        problems.append(f"{persona.name}: {text}" + (f": {event}" if event else ""))

    counts = Counter(e.get("id") for e in got)
    for seq, n in counts.items():
        if n > 1 or seq in persona.ids:
            problem(f"event {seq} sent twice")
    announced: set[int] = set()
    for event in got:
        row = by_seq.get(event.get("id"))
        if row is None:
            problem("an event that is not one of this action's", event)
            continue
        if row.user_id == sight.pk:
            continue  # addressed to them
        if row.type == "presence.changed":
            if sight.scope != Role.Scope.ALL:
                problem("someone else's presence", event)
            continue
        about = row.about
        if about is None:
            problem("an event addressed to someone else", event)
        elif about in announced:
            problem(f"more about conversation {about} after it left their sight", event)
        elif about in sight.conversations:
            if row.type in MESSAGE_CONTENT_EVENTS and row.payload["message_id"] not in (
                sight.messages
            ):
                problem("a message they may not see", event)
        elif row.type == "conversation.changed" and about in before:
            announced.add(about)  # it left their sight: this is the one event saying so
            extra = set(event) - ANNOUNCEMENT_KEYS
            if extra:
                problem(f"the departure notice carries {sorted(extra)}", event)
            if any(event.get("html", {}).get(part) for part in ("row", "message")):
                problem("the departure notice carries content", event)
        else:
            problem(f"an event about conversation {about}, which they may not see", event)
    if closed:
        return problems
    received = set(counts)
    for row in rows:
        if _entitled(sight, row) and row.seq not in received:
            problem(f"missed {row.type} {row.seq} ({row.payload})")
    for gone in before - sight.conversations - announced:
        if any(row.about == gone for row in rows):
            problem(f"conversation {gone} left their sight and they were not told")
    # The socket's heartbeat forwards whatever the log's gate says this user should have had
    # and did not get: it must not disagree with the live path, or the heartbeat would send
    # later what the live path rightly held back.
    if rows:
        user = User.objects.get(pk=persona.user.pk)
        replayable = live_event_ids(user, after=rows[0].seq - 1, until=rows[-1].seq)
        for seq in sorted(set(replayable) - received):
            problem(f"the heartbeat would forward {by_seq[seq].type} {seq}, not sent live")
    return problems


class Floor:
    """The personas' sockets, held open across the actions of a scenario."""

    def __init__(self, users: dict[str, User]) -> None:
        self.personas = {
            name: Persona(name, user, operator_socket(user)) for name, user in users.items()
        }
        self.markers = 0

    def __getitem__(self, name: str) -> Persona:
        return self.personas[name]

    async def connect(self) -> None:
        for persona in self.personas.values():
            persona.started = True
            assert (await persona.socket.connect(timeout=10))[0], persona.name
            persona.open = True

    async def disconnect(self) -> None:
        # Every consumer still running, the ones whose socket the server closed too: such a
        # consumer runs until the client's disconnect reaches it, as the server delivers it.
        # Left running until the test's loop closes, it is cancelled there, in the middle of
        # a blocking Redis read that can swallow the cancellation (redis-py #2028): the loop
        # never finished closing. Cancelled here instead, while the loop runs, the read ends
        # within the layer's 5 s blocking timeout, hence the timeout of 10. A consumer whose
        # task already ended (a failed collect cancels it) has nothing to disconnect.
        # Each on its own: one that fails must not leave the others running. The first
        # failure is raised after all of them (chained to the scenario's, if one is on its way).
        errors: list[Exception] = []
        for persona in self.personas.values():
            persona.open = False
            if persona.started and not persona.socket.future.done():
                try:
                    await persona.socket.disconnect(timeout=10)
                except Exception as error:
                    errors.append(error)
        if errors:
            raise errors[0]

    async def open_thread(self, conversation_id: int) -> list[str]:
        """Every persona who may see the conversation opens it, as the thread page does."""
        opened = []
        sights = await database_sync_to_async(_visible_now)(
            [p.user.pk for p in self.personas.values()]
        )
        for persona in self.personas.values():
            if persona.open and conversation_id in sights[persona.user.pk]:
                await persona.socket.send_json_to(
                    {"type": "subscribe", "conversation_id": conversation_id}
                )
                answer = await persona.socket.receive_json_from(timeout=10)
                assert answer == {"type": "subscribed", "conversation_id": conversation_id}
                opened.append(persona.name)
        return opened

    async def verify_action(self, action: Callable[[], Any]) -> dict[str, list[dict[str, Any]]]:
        """Run `action` (sync, through the real services), collect every persona's events
        until the marker sent after it, check them (`_judge`) and return them by persona."""
        listening = [p for p in self.personas.values() if p.open]
        start = await database_sync_to_async(live_event_latest)()
        before = await database_sync_to_async(_visible_now)([p.user.pk for p in listening])
        await database_sync_to_async(action)()
        self.markers += 1
        marker = {"type": MARKER, "n": self.markers}
        # Sent once the action's events have all been sent: a group keeps the order of what
        # it is sent, but the publisher sends a batch's groups at once.
        assert await sync_to_async(_publisher.flush)()
        await sync_to_async(send_now)(marker, [user_group(p.user.pk) for p in listening])
        received: dict[str, list[dict[str, Any]]] = {}
        closed: set[str] = set()
        for persona in listening:
            received[persona.name] = await self._collect(persona, self.markers)
            if not persona.open:
                closed.add(persona.name)

        def judge_all() -> list[str]:
            rows = _rows_after(start)
            problems: list[str] = []
            for persona in listening:
                got = received[persona.name]
                problems += _judge(
                    persona, got, rows, before[persona.user.pk], persona.name in closed
                )
                persona.ids |= {e["id"] for e in got if "id" in e}
            return problems

        problems = await database_sync_to_async(judge_all)()
        assert not problems, "\n".join(problems)
        return received

    async def _collect(self, persona: Persona, n: int) -> list[dict[str, Any]]:
        events = []
        while True:
            try:
                output = await persona.socket.receive_output(timeout=10)
            except TimeoutError:
                raise AssertionError(f"{persona.name}'s socket never got marker {n}") from None
            if output["type"] == "websocket.close":
                persona.open = False
                return events
            frame = json.loads(output["text"])
            if frame.get("type") == MARKER:
                assert frame["n"] == n, (persona.name, frame)
                return events
            events.append(frame)


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def _fresh(conversation_id: int) -> Conversation:
    return Conversation.objects.get(pk=conversation_id)


# --- the personas --------------------------------------------------------------------------------


@pytest.fixture
def floor_users(
    roles: dict[str, Role],
    admin_user: User,
    operator: User,
    teammate: User,
    outsider: User,
    support: Team,
    delivery: Team,
) -> dict[str, User]:
    assigned_only = factories.make_role(name="Contractor", scope=Role.Scope.ASSIGNED)
    team_lead = factories.make_role(
        name="Team lead",
        scope=Role.Scope.TEAMS,
        can_view_deleted_messages=True,
        can_restore_conversations=True,
    )
    return {
        "admin": admin_user,
        "supervisor": factories.make_user(username="gleb", role=team_lead, teams=[support]),
        "teammate": operator,
        "outsider": outsider,
        "assignee": factories.make_user(username="olga", teams=[delivery]),
        "assigned": factories.make_user(username="ivan", role=assigned_only),
        "member": teammate,
    }


# --- conversations: every action, every persona ----------------------------------------------


def test_each_conversation_event_reaches_exactly_those_who_may_see_it(
    floor_users: dict[str, User], support_inbox: Inbox, support: Team, delivery: Team
) -> None:
    """One conversation through every action that publishes: opened by a customer, noted,
    answered, prioritised, assigned across teams, snoozed and woken, taken, transferred away
    and back, reassigned, unassigned, closed and reopened (by the customer and by hand), a
    message deleted and then edited by the customer, the conversation deleted, edited while
    deleted, restored; and an operator opening another one."""
    customer = factories.make_customer("Svetlana", email="svetlana@x.test")
    floor = Floor(floor_users)
    admin, teammate = floor_users["admin"], floor_users["teammate"]
    assignee, assigned = floor_users["assignee"], floor_users["assigned"]
    state: dict[str, Any] = {}

    def inbound(text: str, external_id: str) -> Callable[[], Any]:
        def run() -> None:
            message, _created = msg_svc.message_receive(
                inbox=support_inbox, customer=customer, body=text, external_id=external_id
            )
            state["conversation"] = message.conversation_id
            state.setdefault("messages", {})[external_id] = message.pk

        return run

    def on(service: Callable[..., Any], **kwargs: Any) -> Callable[[], Any]:
        return lambda: service(conversation=_fresh(state["conversation"]), **kwargs)

    async def scenario() -> None:
        try:
            await floor.connect()
            # a customer writes: a new conversation in Support's queue
            got = await floor.verify_action(inbound("Where is my order?", "m1"))
            pk = state["conversation"]
            assert "message.created" in _types(got["teammate"])
            assert got["outsider"] == got["assignee"] == got["assigned"] == []
            assert await floor.open_thread(pk) == ["admin", "supervisor", "teammate", "member"]

            await floor.verify_action(on(msg_svc.message_note, author=teammate, body="VIP"))
            # answering takes the conversation
            got = await floor.verify_action(on(msg_svc.message_reply, author=teammate, body="Hi"))
            assert {"message.created", "conversation.changed"} <= set(_types(got["member"]))
            await floor.verify_action(
                on(conv_svc.conversation_set_priority, priority=2, actor=admin)
            )

            # assigned to an operator of another team: now they see it, and open it
            got = await floor.verify_action(
                on(conv_svc.conversation_assign, operator=assignee, actor=admin)
            )
            assert _types(got["assignee"]) == ["conversation.changed"]
            assert "assignee" in await floor.open_thread(pk)
            await floor.verify_action(inbound("Any news?", "m2"))

            until = timezone.now() + timedelta(hours=1)
            await floor.verify_action(on(conv_svc.conversation_snooze, actor=assignee, until=until))
            # woken by hand while its operator is offline: back to Support's queue, out of the
            # assignee's sight (their departure notice, then nothing)
            got = await floor.verify_action(on(conv_svc.conversation_unsnooze, actor=assignee))
            assert _types(got["assignee"]) == ["conversation.changed"]
            await floor.verify_action(inbound("Hello?", "m3"))

            # an operator of scope `assigned` takes it
            got = await floor.verify_action(on(conv_svc.conversation_take, actor=assigned))
            assert _types(got["assigned"]) == ["conversation.changed"]
            assert "assigned" in await floor.open_thread(pk)

            # to Delivery's queue: Support and the one who had it lose it, Delivery gains it
            got = await floor.verify_action(
                on(conv_svc.conversation_transfer, actor=admin, team=delivery, reason="courier")
            )
            for name in ("teammate", "member", "assigned"):
                assert _types(got[name]) == ["conversation.changed"], name
            assert got["outsider"], "Delivery hears of its new conversation"
            await floor.verify_action(inbound("Is the courier late?", "m4"))
            assert "outsider" in await floor.open_thread(pk)

            # back to Support, to the operator of scope `assigned`; reassigned by hand out of
            # their sight; given back; then to the queue, out of their sight again
            await floor.verify_action(
                on(
                    conv_svc.conversation_transfer,
                    actor=admin,
                    team=support,
                    operator=assigned,
                    reason="back to support",
                )
            )
            await floor.open_thread(pk)
            got = await floor.verify_action(
                on(conv_svc.conversation_assign, operator=teammate, actor=admin)
            )
            assert _types(got["assigned"]) == ["conversation.changed"]
            await floor.verify_action(inbound("Who is this?", "m5"))
            await floor.verify_action(
                on(conv_svc.conversation_assign, operator=assigned, actor=admin)
            )
            await floor.open_thread(pk)
            got = await floor.verify_action(on(conv_svc.conversation_unassign, actor=admin))
            assert _types(got["assigned"]) == ["conversation.changed"]
            await floor.verify_action(inbound("Still there?", "m5b"))

            # closed, reopened by the customer within the window, closed, reopened by hand
            await floor.verify_action(on(conv_svc.conversation_close, actor=admin))
            got = await floor.verify_action(inbound("One more thing", "m6"))
            assert "conversation.changed" in _types(got["teammate"])
            await floor.verify_action(on(conv_svc.conversation_close, actor=admin))
            await floor.verify_action(on(conv_svc.conversation_reopen, actor=admin))
            await floor.open_thread(pk)

            # a message deleted: greyed out for the admin, gone for the operators
            m1 = state["messages"]["m1"]
            got = await floor.verify_action(
                lambda: msg_svc.message_delete(message=Message.objects.get(pk=m1), actor=admin)
            )
            assert "message.deleted" in _types(got["teammate"])
            # the customer edits the deleted message in their channel: only roles that see
            # deleted messages hear of it
            got = await floor.verify_action(
                lambda: msg_svc.message_edit_from_channel(
                    inbox=support_inbox, external_id="m1", body="Where is my order, please?"
                )
            )
            assert _types(got["admin"]) == _types(got["supervisor"]) == ["message.updated"]
            assert got["teammate"] == got["member"] == []

            # the conversation deleted: only roles that may restore it still see it
            got = await floor.verify_action(on(conv_svc.conversation_delete, actor=admin))
            assert _types(got["teammate"]) == ["conversation.changed"]
            # the customer edits a message of the deleted conversation: only roles that may
            # restore it hear of it
            got = await floor.verify_action(
                lambda: msg_svc.message_edit_from_channel(
                    inbox=support_inbox, external_id="m2", body="Any news at all?"
                )
            )
            assert _types(got["admin"]) == _types(got["supervisor"]) == ["message.updated"]
            assert got["teammate"] == got["member"] == []
            got = await floor.verify_action(on(conv_svc.conversation_restore, actor=admin))
            assert _types(got["teammate"]) == ["conversation.changed"]
            await floor.open_thread(pk)
            await floor.verify_action(inbound("Thanks!", "m7"))

            # an operator opens a conversation with another customer (outreach)
            got = await floor.verify_action(
                lambda: conversation_open_by_operator(
                    customer=factories.make_customer("Oleg"),
                    inbox=support_inbox,
                    actor=teammate,
                    note="called about the refund",
                )
            )
            assert "conversation.changed" in _types(got["member"])
            assert got["outsider"] == got["assigned"] == []
        finally:
            await floor.disconnect()

    async_to_sync(scenario)()


# --- out of sight while open: the subscription ends with the notice ----------------------------


def test_a_conversation_that_leaves_an_open_thread_stops_flowing_to_it(
    floor_users: dict[str, User], support_inbox: Inbox, support: Team
) -> None:
    """Woken by the sweep, reopened by the customer, or reassigned while its operator is away:
    each time out of the sight of an operator who has it open. After the notice, nothing.

    (Before the consumer rechecked a subscription on every `conversation.changed`, each of the
    three kept flowing to the operator: their changes were missing from a hand-kept list.)"""
    admin = floor_users["admin"]
    assignee, assigned, outsider = (
        floor_users["assignee"],
        floor_users["assigned"],
        floor_users["outsider"],
    )
    woken = factories.make_conversation(inbox=support_inbox, assignee=assigned)
    conv_svc.conversation_snooze(
        conversation=woken, actor=assigned, until=timezone.now() + timedelta(minutes=5)
    )
    reopened = factories.make_conversation(inbox=support_inbox, assignee=assignee)
    conv_svc.conversation_close(conversation=reopened, actor=assignee)
    support.reassign_after_minutes = 5
    support.save(update_fields=["reassign_after_minutes"])
    reassigned = factories.make_conversation(inbox=support_inbox, assignee=outsider)
    floor = Floor(floor_users)
    later = timezone.now() + timedelta(minutes=10)

    async def scenario() -> None:
        try:
            await floor.connect()
            for conversation in (woken, reopened, reassigned):
                await floor.open_thread(conversation.pk)

            # the sweep wakes it; its operator is offline, so it goes back to the queue
            got = await floor.verify_action(
                lambda: conv_svc.conversation_wake_if_due(conversation_id=woken.pk, now=later)
            )
            assert _types(got["assigned"]) == ["conversation.changed"]
            got = await floor.verify_action(lambda: factories.receive(woken, "wake up"))
            assert got["assigned"] == []

            # the customer writes to the closed conversation: reopened, to the queue
            got = await floor.verify_action(lambda: factories.receive(reopened, "hello again"))
            assert _types(got["assignee"]) == ["conversation.changed"]
            assert "message.created" in _types(got["teammate"])
            got = await floor.verify_action(lambda: factories.receive(reopened, "anyone?"))
            assert got["assignee"] == []

            # its operator is away too long: back to the queue, with a notice to them
            got = await floor.verify_action(lambda: distribution.reassign_unanswered(now=later))
            # (the two went to different groups: a group keeps its order, two groups of one
            # batch need not, and the page keeps the newest row by event id)
            assert sorted(_types(got["outsider"])) == [
                "conversation.changed",
                "conversation.reassigned",
            ]
            got = await floor.verify_action(lambda: factories.receive(reassigned, "hello?"))
            assert got["outsider"] == []
            # and whatever happens to it next
            got = await floor.verify_action(
                lambda: conv_svc.conversation_set_priority(
                    conversation=_fresh(reassigned.pk), priority=2, actor=admin
                )
            )
            assert got["outsider"] == []
        finally:
            await floor.disconnect()

    async_to_sync(scenario)()


# --- presence and access -----------------------------------------------------------------------


def test_presence_calls_and_access_changes_reach_whom_they_concern(
    floor_users: dict[str, User], support_inbox: Inbox, super_admin: User
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)
    member, assigned, teammate = (
        floor_users["member"],
        floor_users["assigned"],
        floor_users["teammate"],
    )
    pbx = Pbx.objects.create(
        name="Main", host="127.0.0.1", port=1, username="smartdesk", secret="s3cret"
    )
    OperatorProfile.objects.filter(user=teammate).update(phone_extension="PJSIP/101")
    floor = Floor(floor_users)

    def call_rings_teammate() -> None:
        for event in queue_call(agent="PJSIP/101"):
            fields = {key: str(value) for key, value in event.items()}
            telephony_services.call_event_apply(pbx_id=pbx.pk, fields=fields)

    def set_presence(user: User, presence: str) -> Callable[[], Any]:
        return lambda: account_services.presence_set(user=user, presence=presence)

    def remove_from_teams(user: User) -> None:
        profile = OperatorProfile.objects.get(user=user)
        account_services.operator_profile_save(profile=profile, teams=[], actor=super_admin)

    def widen_contractors() -> None:
        role = Role.objects.get(pk=OperatorProfile.objects.get(user=assigned).role_id)
        role.scope = Role.Scope.ALL
        account_services.role_save(role=role, actor=super_admin)

    def deactivate(user: User) -> None:
        user = User.objects.get(pk=user.pk)
        user.is_active = False
        account_services.user_save(user=user, actor=super_admin)

    async def scenario() -> None:
        try:
            await floor.connect()
            await floor.open_thread(conversation.pk)
            got = await floor.verify_action(set_presence(floor_users["outsider"], "online"))
            assert _types(got["admin"]) == _types(got["outsider"]) == ["presence.changed"]
            assert got["teammate"] == []
            await floor.verify_action(set_presence(floor_users["outsider"], "away"))
            # online: Support's waiting conversation is given to them
            got = await floor.verify_action(set_presence(teammate, "online"))
            assert _types(got["teammate"]) == ["presence.changed", "conversation.changed"]
            now_with = await database_sync_to_async(_fresh)(conversation.pk)
            assert now_with.assignee_id == teammate.pk

            # a call: its events are the rung operator's alone
            got = await floor.verify_action(call_rings_teammate)
            assert {"call.ringing", "call.answered", "call.ended"} <= set(_types(got["teammate"]))

            # removed from Support while holding its conversation open
            got = await floor.verify_action(lambda: remove_from_teams(member))
            assert _types(got["member"]) == ["access.changed"]
            got = await floor.verify_action(lambda: factories.receive(conversation, "hi"))
            assert got["member"] == []

            # the role of scope `assigned` widened to `all`: everything reaches them now
            got = await floor.verify_action(widen_contractors)
            assert _types(got["assigned"]) == ["access.changed"]
            got = await floor.verify_action(lambda: factories.receive(conversation, "hey"))
            assert "message.created" in _types(got["assigned"])

            # deactivated: the socket closes and hears nothing more
            await floor.verify_action(lambda: deactivate(teammate))
            assert not floor["teammate"].open
            await floor.verify_action(lambda: factories.receive(conversation, "bye"))
        finally:
            await floor.disconnect()

    async_to_sync(scenario)()


def test_a_reply_that_wakes_a_conversation_out_of_sight_is_not_shown_to_its_old_operator(
    floor_users: dict[str, User], support_inbox: Inbox
) -> None:
    """Snoozed until the customer replies, its operator offline: the reply wakes it into the
    queue. The operator of scope `assigned` who had it gets the notice, not the message."""
    assigned = floor_users["assigned"]
    conversation = factories.make_conversation(inbox=support_inbox, assignee=assigned)
    conv_svc.conversation_snooze(conversation=conversation, actor=assigned, wake_on_reply=True)
    floor = Floor(floor_users)

    async def scenario() -> None:
        try:
            await floor.connect()
            await floor.open_thread(conversation.pk)
            got = await floor.verify_action(lambda: factories.receive(conversation, "I'm back"))
            assert _types(got["assigned"]) == ["conversation.changed"]
        finally:
            await floor.disconnect()

    async_to_sync(scenario)()
