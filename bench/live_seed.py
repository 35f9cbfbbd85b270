"""Seed the floor for bench/live.py, in its own database: teams of operators (one `api` inbox
per team, so every team hears its own share of the inbound traffic), a widget inbox with
visitor sessions, and known customers. Sessions are minted in the session store, not through
the login form: 300 password checks would only measure PBKDF2.

    python -m bench.live_seed --operators 300 --teams 10 --widgets 50 --customers 300

Prints one JSON line (the last line of stdout) with everything the bench needs: per operator
its user id, session cookie and the live groups the consumer will join; per team its inbox key
and secret; per widget its client token and group.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartdesk.settings")

import django

django.setup()

from importlib import import_module  # noqa: E402

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.db import transaction  # noqa: E402

from accounts import services  # noqa: E402
from accounts.models import OperatorProfile, Role, Team, User  # noqa: E402
from chats.channels.client.delivery import client_group  # noqa: E402
from chats.channels.client.sessions import session_start  # noqa: E402
from chats.models import Conversation, Inbox, Message  # noqa: E402
from chats.selectors import live_groups_for  # noqa: E402
from customers.models import Customer  # noqa: E402
from customers.services import customer_identify  # noqa: E402

BACKEND = "django.contrib.auth.backends.ModelBackend"
# The customer's website the widget sockets come from (on the inbox's allow-list).
WIDGET_ORIGIN = "https://shop.bench.example"


def _session_for(user: User) -> str:
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = BACKEND
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def _db_connections() -> str:
    db = settings.DATABASES["default"]
    pool = db.get("OPTIONS", {}).get("pool")
    if pool:
        return f"pool {pool.get('min_size')}..{pool.get('max_size')} per process"
    return f"CONN_MAX_AGE {db.get('CONN_MAX_AGE')}"


def seed(operators: int, teams: int, widgets: int, customers: int) -> dict:
    role = Role.objects.get(slug=Role.OPERATOR)
    with transaction.atomic():
        team_rows = [Team.objects.create(name=f"Bench team {t + 1}") for t in range(teams)]
        inboxes = [
            Inbox.objects.create(name=f"Bench API {t + 1}", kind=Inbox.Kind.API, default_team=team)
            for t, team in enumerate(team_rows)
        ]
        widget_inbox = Inbox.objects.create(
            name="Bench widget",
            kind=Inbox.Kind.WIDGET,
            default_team=team_rows[0],
            allowed_origins=WIDGET_ORIGIN,
        )
        users = []
        for n in range(operators):
            team = team_rows[n % teams]
            users.append(
                services.user_create(
                    username=f"op{n:04d}",
                    password=None,
                    role=role,
                    teams=[team],
                    actor=None,
                    first_name="Operator",
                    last_name=f"{n:04d}",
                    email=f"op{n:04d}@bench.smartdesk.local",
                )
            )
        for n in range(customers):
            customer_identify(
                kind="email", value=f"customer{n}@bench.example", first_name="Customer",
                last_name=str(n),
            )  # fmt: skip
    # The floor is at work: operators online, so new conversations are distributed.
    for user in users:
        with transaction.atomic():
            services.presence_set(user=user, presence=OperatorProfile.Presence.ONLINE)
    ops = []
    for n, user in enumerate(users):
        ops.append(
            {
                "idx": n,
                "user_id": user.pk,
                "team": n % teams,
                "session": _session_for(user),
                "groups": sorted(live_groups_for(user)),
            }
        )
    clients = []
    for _n in range(widgets):
        session = session_start(inbox=widget_inbox)
        clients.append(
            {"token": session.token(), "group": client_group(widget_inbox.pk, session.subject)}
        )
    return {
        "session_cookie": settings.SESSION_COOKIE_NAME,
        "teams": [
            {"team_id": team.pk, "inbox_key": inbox.key, "inbox_secret": inbox.secret}
            for team, inbox in zip(team_rows, inboxes, strict=True)
        ],
        "operators": ops,
        "widget_inbox_key": widget_inbox.key,
        "widget_origin": WIDGET_ORIGIN,
        "widgets": clients,
        "sizes": {
            "users": User.objects.count(),
            "teams": Team.objects.count(),
            "inboxes": Inbox.objects.count(),
            "customers": Customer.objects.count(),
            "conversations": Conversation.objects.count(),
            "messages": Message.objects.count(),
        },
        "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
        "heartbeat": getattr(settings, "LIVE_HEARTBEAT_SECONDS", None),
        "db": _db_connections(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--operators", type=int, required=True)
    parser.add_argument("--teams", type=int, required=True)
    parser.add_argument("--widgets", type=int, required=True)
    parser.add_argument("--customers", type=int, required=True)
    args = parser.parse_args()
    result = seed(args.operators, args.teams, args.widgets, args.customers)
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
