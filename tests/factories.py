"""Builders for test data. They go through the services, like the product does."""

from __future__ import annotations

import importlib
import itertools
from typing import Any

from accounts import services
from accounts.models import Role, Team, User

_counter = itertools.count(1)
PASSWORD = "correct-horse-battery"

_builtin = importlib.import_module("accounts.migrations.0002_builtin_roles")


def builtin_roles() -> dict[str, Role]:
    """The built-in roles, recreated if a transactional test flushed them."""
    roles = {}
    for spec in _builtin.BUILTIN_ROLES:
        fields = dict(spec)
        slug = fields.pop("slug")
        roles[slug] = Role.objects.get_or_create(slug=slug, defaults=fields)[0]
    return roles


def make_team(name: str | None = None) -> Team:
    return Team.objects.get_or_create(name=name or f"Team {next(_counter)}")[0]


def make_role(**fields: Any) -> Role:
    n = next(_counter)
    fields.setdefault("name", f"Role {n}")
    fields.setdefault("slug", f"role-{n}")
    return services.role_save(role=Role(**fields), actor=None)


def make_user(
    *, role: Role | str = Role.OPERATOR, teams: list[Team] | tuple[Team, ...] = (), **fields: Any
) -> User:
    if isinstance(role, str):
        role = builtin_roles()[role]
    username = fields.pop("username", None) or f"user{next(_counter)}"
    # Roomy by default so that tests about other things are not stopped by capacity;
    # distribution tests set their own.
    fields.setdefault("max_concurrent_conversations", 50)
    return services.user_create(
        username=username, password=PASSWORD, role=role, teams=teams, actor=None, **fields
    )


# --- conversations ---------------------------------------------------------------------------

from chats.models import Conversation, Inbox, Message  # noqa: E402
from chats.services import messages as message_services  # noqa: E402
from customers.models import Customer  # noqa: E402
from customers.services import customer_identify  # noqa: E402


def make_inbox(*, kind: str = Inbox.Kind.API, team: Team | None = None, **fields: Any) -> Inbox:
    fields.setdefault("name", f"Inbox {next(_counter)}")
    return Inbox.objects.create(kind=kind, default_team=team, **fields)


def make_customer(first_name: str = "Svetlana", last_name: str = "", **identity: str) -> Customer:
    kind, value = (
        next(iter(identity.items())) if identity else ("email", f"c{next(_counter)}@x.test")
    )
    return customer_identify(kind=kind, value=value, first_name=first_name, last_name=last_name)


def make_conversation(
    *,
    inbox: Inbox,
    customer: Customer | None = None,
    text: str = "Здравствуйте! Where is my order?",
    assignee: User | None = None,
) -> Conversation:
    """A conversation opened by a customer message, as a channel would open it."""
    message, _created = message_services.message_receive(
        inbox=inbox, customer=customer or make_customer(), body=text
    )
    conversation = message.conversation
    if assignee is not None:
        from chats.services.conversations import conversation_assign

        conversation = conversation_assign(
            conversation=conversation, operator=assignee, actor=assignee
        )
    return Conversation.objects.get(pk=conversation.pk)


def receive(conversation: Conversation, text: str, external_id: str | None = None) -> Message:
    message, _created = message_services.message_receive(
        inbox=conversation.inbox,
        customer=conversation.customer,
        body=text,
        external_id=external_id,
    )
    return message
