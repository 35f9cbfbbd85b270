"""Idempotent demo data: run it any number of times, the counts stay the same."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts import services
from accounts.models import OperatorProfile, Role, Skill, Team, User
from chats.channels.demo import seed_channel_demo
from chats.models import Inbox, ReplyTemplate
from chats.services import conversations as conversation_services
from chats.services import messages as message_services
from customers.demo import seed_customers_demo
from customers.languages import customer_language_set
from customers.models import LanguageSource
from customers.services import customer_identify
from smartdesk.management.demo_history.seed import seed_history
from telephony.demo import seed_telephony_demo

DEMO_PASSWORD = "smartdesk-demo"  # noqa: S105 - printed on purpose: demo data only

TEAMS = ["General support", "Delivery", "Complaints"]
SKILLS = ["English", "Russian", "Complaints", "VIP"]

# username, first name, last name, role slug, teams, skills, language, extension
PEOPLE: list[tuple[str, str, str, str, list[str], list[str], str, str]] = [
    ("superadmin", "Sofia", "Orlova", Role.SUPER_ADMIN, [], [], "en", ""),
    ("admin", "Pavel", "Smirnov", Role.ADMIN, TEAMS, [], "ru", ""),
    (
        "anna",
        "Anna",
        "Ivanova",
        Role.OPERATOR,
        ["General support"],
        ["Russian", "English"],
        "ru",
        "101",
    ),
    (
        "boris",
        "Boris",
        "Kuznetsov",
        Role.OPERATOR,
        ["General support", "Delivery"],
        ["Russian"],
        "ru",
        "102",
    ),
    ("vera", "Vera", "Popova", Role.OPERATOR, ["Delivery"], ["Russian", "English"], "en", "103"),
    (
        "grigory",
        "Grigory",
        "Volkov",
        Role.OPERATOR,
        ["Complaints"],
        ["Russian", "Complaints"],
        "ru",
        "104",
    ),
    (
        "diana",
        "Diana",
        "Sokolova",
        Role.OPERATOR,
        ["Complaints", "General support"],
        ["English", "VIP"],
        "en",
        "105",
    ),
]


INBOXES = [
    # name, kind, team
    ("Website chat", Inbox.Kind.WIDGET, "General support"),
    ("Courier app", Inbox.Kind.MOBILE, "Delivery"),
    ("Partner API", Inbox.Kind.API, "Complaints"),
]

TEMPLATES = [
    (
        "hello",
        "Greeting",
        "Здравствуйте, {{ customer.first_name }}! Меня зовут {{ operator.first_name }}, "
        "чем могу помочь?",
        "ru",
    ),
    (
        "hello",
        "Greeting",
        "Hello {{ customer.first_name }}, this is {{ operator.first_name }}. How can I help?",
        "en",
    ),
    (
        "delay",
        "Delivery delay",
        "{{ customer.first_name }}, простите за задержку: курьер будет у вас в течение 20 минут.",
        "ru",
    ),
    (
        "thanks",
        "Thanks",
        "Спасибо, что написали нам, {{ customer.first_name }}! Хорошего дня.",
        "ru",
    ),
]

# The language each demo customer writes in (the channel or the back office would say it):
# names are as the customer writes them, so a Russian template greets "Светлана".
CUSTOMER_LANGUAGES = {"sv": "ru", "iv": "ru", "ol": "en", "ma": "ru", "js": "en", "al": "ru"}

# key, inbox, (identity kind, value), first, last, messages, then: (action, args)
CONVERSATIONS: list[
    tuple[str, str, tuple[str, str], str, str, list[str], list[tuple[str, str]]]
] = [
    (
        "sv",
        "Website chat",
        ("email", "svetlana@example.com"),
        "Светлана",
        "Морозова",
        ["Здравствуйте! Можно ли заказать ролл без кунжута?", "У меня аллергия на кунжут."],
        [
            ("take", "anna"),
            ("note", "Regular customer: always asks to leave out the sesame."),
            ("reply", "Конечно, Светлана! Отметили в заказе: без кунжута."),
        ],
    ),
    (
        "iv",
        "Courier app",
        ("phone", "+7 916 555-01-02"),
        "Иван",
        "Петров",
        ["Курьер опаздывает уже на 40 минут, где мой заказ?"],
        [("priority", "2")],
    ),
    (
        "ol",
        "Website chat",
        ("email", "olga.k@example.com"),
        "Olga",
        "Kuznetsova",
        ["Do you deliver to Khimki?"],
        [
            ("take", "boris"),
            ("reply", "Yes, we do! Delivery takes about an hour."),
            ("snooze", "waiting for the restaurant to confirm"),
        ],
    ),
    (
        "ma",
        "Partner API",
        ("email", "maria@partner.example"),
        "Мария",
        "Соколова",
        ["Заказ пришёл холодным, хочу вернуть деньги."],
        [("take", "grigory")],
    ),
    (
        "js",
        "Website chat",
        ("email", "john.smith@example.com"),
        "John",
        "Smith",
        ["Thanks, everything arrived!"],
        [("take", "anna"), ("reply", "Great to hear, John!"), ("close", "")],
    ),
    (
        "al",
        "Courier app",
        ("phone", "+7 903 555-77-88"),
        "Алексей",
        "Волков",
        ["Можно поменять адрес доставки?"],
        [],
    ),
]


class Command(BaseCommand):
    help = "Create (or complete) the demo teams, roles and users, and print the demo logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even with DEBUG off (demo accounts with a known password!).",
        )
        parser.add_argument(
            "--history",
            type=int,
            default=0,
            metavar="DAYS",
            help="Also play DAYS days of past traffic (chats, calls, CSAT, orders) through the "
            "services and build the statistics from it. Idempotent.",
        )
        parser.add_argument(
            "--history-seed",
            type=int,
            default=0,
            help="Seed of the past traffic (the same seed gives the same history).",
        )
        parser.add_argument(
            "--if-debug",
            action="store_true",
            help="Do nothing, successfully, when DEBUG is off (for scripts that serve either way).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            if options["if_debug"]:
                self.stdout.write("DEBUG is off: no demo data seeded.")
                return
            raise CommandError(
                "DEBUG is off: refusing to create demo accounts with a known password. "
                "Use --force if this really is a demo installation."
            )
        with transaction.atomic():
            self._seed()
        days = options["history"]
        if days < 0 or days > 366:
            raise CommandError("--history takes 0 to 366 days.")
        if days:
            # Outside the seeding transaction: each replayed action commits at its moment, so
            # what it triggers (tasks, CSAT surveys) happens at that moment too.
            started = time.monotonic()
            added = seed_history(days=days, seed=options["history_seed"])
            self.stdout.write(
                f"History: {days} days ({added['days']} new: {added['conversations']} "
                f"conversations, {added['calls']} calls, {added['orders']} orders) "
                f"in {time.monotonic() - started:.1f} s."
            )
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {DEMO_PASSWORD}):"))
        roles = dict(Role.objects.values_list("slug", "name"))
        for username, first, last, role, *_rest in PEOPLE:
            self.stdout.write(f"  {username:<11} {roles[role]:<12} {first} {last}")

    def _seed(self) -> None:
        teams = {name: Team.objects.get_or_create(name=name)[0] for name in TEAMS}
        skills = {name: Skill.objects.get_or_create(name=name)[0] for name in SKILLS}
        self._seed_people(teams, skills)
        self._seed_conversations(teams)
        # The demo floor is at work: operators online, so waiting conversations are
        # distributed (the sweep makes them away after a silent minute and a half; signing in
        # brings them back).
        for profile in OperatorProfile.objects.filter(user__username__in=[p[0] for p in PEOPLE]):
            services.presence_set(user=profile.user, presence=OperatorProfile.Presence.ONLINE)
        seed_customers_demo()  # orders, allergies, loyalty for the demo customers
        seed_channel_demo(teams)  # Telegram and widget inboxes (docs/channels.md)
        seed_telephony_demo()  # a PBX, routing rules, calls in customers' history

    def _seed_people(self, teams: dict[str, Team], skills: dict[str, Skill]) -> None:
        roles = {r.slug: r for r in Role.objects.filter(slug__in=Role.BUILTIN_SLUGS)}
        for username, first, last, role, team_names, skill_names, language, ext in PEOPLE:
            if User.objects.filter(username=username).exists():
                continue
            services.user_create(
                username=username,
                password=DEMO_PASSWORD,
                role=roles[role],
                teams=[teams[t] for t in team_names],
                skills=[skills[s] for s in skill_names],
                actor=None,
                first_name=first,
                last_name=last,
                email=f"{username}@demo.smartdesk.local",
                language=language,
                phone_extension=f"PJSIP/{ext}" if ext else "",
                time_zone="Europe/Moscow",
            )

    def _seed_conversations(self, teams: dict[str, Team]) -> None:
        inboxes = {}
        for name, kind, team in INBOXES:
            inboxes[name] = Inbox.objects.get_or_create(
                name=name, defaults={"kind": kind, "default_team": teams[team]}
            )[0]
        for shortcut, name, body, language in TEMPLATES:
            ReplyTemplate.objects.get_or_create(
                shortcut=shortcut,
                language=language,
                team=None,
                defaults={"name": name, "body": body},
            )
        users = {u.username: u for u in User.objects.filter(username__in=[p[0] for p in PEOPLE])}
        for key, inbox, (kind, value), first, last, texts, actions in CONVERSATIONS:
            customer = customer_identify(kind=kind, value=value, first_name=first, last_name=last)
            customer_language_set(
                customer=customer,
                language=CUSTOMER_LANGUAGES.get(key, ""),
                source=LanguageSource.CHANNEL,
            )
            created_any = False
            for n, text in enumerate(texts):
                message, created = message_services.message_receive(
                    inbox=inboxes[inbox],
                    customer=customer,
                    body=text,
                    external_id=f"demo-{key}-{n}",
                )
                created_any = created_any or created
            if not created_any:
                continue  # seeded before: the follow-up actions happened then
            conversation = message.conversation
            actor = None
            for action, arg in actions:
                if action == "take":
                    actor = users[arg]
                    conversation_services.conversation_take(conversation=conversation, actor=actor)
                elif action == "reply":
                    message_services.message_reply(
                        conversation=conversation, author=actor, body=arg
                    )
                elif action == "note":
                    message_services.message_note(conversation=conversation, author=actor, body=arg)
                elif action == "priority":
                    conversation_services.conversation_set_priority(
                        conversation=conversation, priority=int(arg), actor=actor
                    )
                elif action == "snooze":
                    conversation_services.conversation_snooze(
                        conversation=conversation,
                        actor=actor,
                        until=timezone.now() + timedelta(hours=3),
                        reason=arg,
                    )
                elif action == "close":
                    conversation_services.conversation_close(conversation=conversation, actor=actor)
