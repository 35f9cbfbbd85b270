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
_grants = importlib.import_module("accounts.migrations.0003_distribution_and_loyalty_access")
_write_grants = importlib.import_module("accounts.migrations.0005_write_gate_and_goodwill_period")
_auto_grants = importlib.import_module("accounts.migrations.0006_role_receives_auto_assignment")


def builtin_roles() -> dict[str, Role]:
    """The built-in roles, recreated if a transactional test flushed them."""
    roles = {}
    for spec in _builtin.BUILTIN_ROLES:
        fields = dict(spec)
        slug = fields.pop("slug")
        fields.update(_grants.BUILTIN_GRANTS.get(slug, {}))
        fields.update(_write_grants.BUILTIN_GRANTS.get(slug, {}))
        fields.update(_auto_grants.BUILTIN_GRANTS.get(slug, {}))
        roles[slug] = Role.objects.get_or_create(slug=slug, defaults=fields)[0]
    return roles


def make_team(name: str | None = None) -> Team:
    return Team.objects.get_or_create(name=name or f"Team {next(_counter)}")[0]


def make_role(**fields: Any) -> Role:
    n = next(_counter)
    fields.setdefault("name", f"Role {n}")
    fields.setdefault("slug", f"role-{n}")
    # Roles built here work conversations unless a test says otherwise (the model's default is
    # off: a new role in the product acts on nothing until granted).
    fields.setdefault("can_handle_conversations", True)
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


# --- customers: orders, loyalty, back office ---------------------------------------------------

from datetime import datetime as _datetime  # noqa: E402
from decimal import Decimal  # noqa: E402

from django.utils import timezone as _timezone  # noqa: E402

from customers.models import LoyaltyTier, Order  # noqa: E402
from customers.orders import orders_upsert  # noqa: E402


def make_tiers() -> dict[str, LoyaltyTier]:
    """Bronze from the first order (3 %), Silver from 500 (5 %), Gold from 2,000 (10 %,
    conversations at high priority)."""
    specs = [("Bronze", "0", "3", 0), ("Silver", "500", "5", 0), ("Gold", "2000", "10", 1)]
    return {
        name: LoyaltyTier.objects.get_or_create(
            name=name,
            defaults={
                "threshold": Decimal(threshold),
                "accrual_percent": Decimal(percent),
                "priority": priority,
                "perks": f"{name} perks",
            },
        )[0]
        for name, threshold, percent, priority in specs
    }


def order_row(
    external_id: str | None = None,
    *,
    customer: str = "crm-1",
    total: str = "100.00",
    status: str = Order.Status.COMPLETED,
    placed_at: _datetime | None = None,
    items: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """An order as the back office sends it (JSON-ready)."""
    placed = placed_at or _timezone.now()
    row: dict[str, Any] = {
        "external_id": external_id or f"ord-{next(_counter)}",
        "customer": {"external_id": customer, "first_name": "Svetlana"},
        "placed_at": placed.isoformat(),
        "status": status,
        "total": total,
        "currency": "EUR",
        "items": items
        if items is not None
        else [{"sku": "ROLL-1", "name": "Salmon roll", "quantity": 1, "price": total}],
        **fields,
    }
    return row


def make_order(external_id: str | None = None, **kwargs: Any) -> Order:
    """Store one order through the same path as the API (validated by its serializer)."""
    from customers.serializers import BulkOrderSerializer

    serializer = BulkOrderSerializer(data=order_row(external_id, **kwargs))
    serializer.is_valid(raise_exception=True)
    result = orders_upsert(rows=[(0, serializer.validated_data)])
    return Order.objects.get(pk=result.orders[0].pk)
