"""The demo installation `make run` serves, for browser tests that look at every screen.

`seed_demo` plays its data through the services (teams, roles, the demo people, the demo
conversations with their customer cards, calls, widget inbox, `--history` days of traffic for
the statistics). It takes seconds, so a module seeds once and its tests only look: the data
is committed for the ASGI server with the database unblocked for the whole module (no
per-test flush), and flushed when the module is done, as a transactional test leaves it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import _wait_until_idle, server_busy
from tests.e2e.test_inbox import in_thread

DEMO_PASSWORD = "smartdesk-demo"  # smartdesk/management/commands/seed_demo.py
VIEWPORT = {"width": 1440, "height": 900}
LOCALES = {"en": "en-US", "ru": "ru-RU"}


@dataclass(frozen=True)
class Demo:
    """What the tests open, by primary key."""

    card: int  # Svetlana: open, assigned to anna; orders, allergies, loyalty
    snoozed: int  # Olga: snoozed
    closed: int  # John: closed
    deleted: int  # Alexei: deleted by the admin (who may restore)
    role: int  # the built-in operator role
    user: int  # anna
    customer: int  # Svetlana
    widget_key: str  # the demo "Website chat" widget inbox, this server allowed
    pbx: int
    caller: str  # a known customer's phone, with allergies


def _seed(history: int, server_url: str) -> Demo:
    from django.core.management import call_command

    from accounts import services
    from accounts.models import Role, Team, User
    from analytics import exports
    from chats.models import Conversation, Inbox
    from chats.services.conversations import conversation_delete
    from telephony.models import Pbx
    from tests import factories

    factories.builtin_roles()  # an earlier transactional test may have flushed them
    call_command("seed_demo", force=True, history=history, verbosity=0)
    admin = User.objects.get(username="admin")
    # An operator whose team has no inbox: the empty inbox.
    services.user_create(
        username="elena",
        password=DEMO_PASSWORD,
        role=Role.objects.get(slug=Role.OPERATOR),
        teams=[Team.objects.get_or_create(name="Night shift")[0]],
        actor=None,
        first_name="Elena",
    )

    def demo(key: str) -> Conversation:
        """A conversation of seed_demo's CONVERSATIONS, by its key (names may change)."""
        return Conversation.objects.get(messages__external_id=f"demo-{key}-0")

    deleted = demo("al")
    conversation_delete(conversation=deleted, actor=admin, reason="duplicate")
    exports.export_job_create(
        user=admin, dataset="conversations", fmt="csv", query=exports.Query()
    )  # eager Celery in tests: done, with a Download link
    widget = Inbox.objects.filter(kind=Inbox.Kind.WIDGET, name="Website chat").get()
    widget.allowed_origins = f"{widget.allowed_origins}\n{server_url}".strip()
    widget.save(update_fields=["allowed_origins"])
    card = demo("sv")
    return Demo(
        card=card.pk,
        snoozed=demo("ol").pk,
        closed=demo("js").pk,
        deleted=deleted.pk,
        role=Role.objects.get(slug=Role.OPERATOR).pk,
        user=User.objects.get(username="anna").pk,
        customer=card.customer_id,
        widget_key=widget.key,
        pbx=Pbx.objects.earliest("pk").pk,
        caller="+79165550102",  # Ivan Petrov (seed_customers_demo): nuts
    )


def _in_thread(work: Callable[[], Any]) -> Any:
    """`in_thread` without its 30 seconds' limit: seeding history takes longer on a busy
    machine (about 4 s a day of history)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        from django.db import connection

        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the calling thread below
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="demo-seed")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _flush() -> None:
    from django.core.management import call_command

    from tests import factories

    call_command("flush", interactive=False, verbosity=0)
    # Leave the database as the migrations made it: the tests that follow on this worker
    # (plain `db` tests such as seed_demo's) expect the built-in roles to be there.
    factories.builtin_roles()


@contextmanager
def demo_database(django_db_blocker: Any, server_url: str, *, history: int) -> Iterator[Demo]:
    """Seed the demo data (committed) for the length of the block, then flush it.

    pytest-django creates the test database only for a session with a test that asks for it:
    the module's tests request a `db` fixture of their own (a no-op named like pytest-django's),
    not a `django_db` mark, whose per-test transaction or flush the shared data cannot have.
    The flush below must never meet another database than the test one.
    """
    with django_db_blocker.unblock():
        from django.db import connection

        name = connection.settings_dict["NAME"]
        assert str(name).startswith("test_"), f"not a test database: {name}"
        before = server_busy(server_url)
        try:
            yield _in_thread(lambda: _seed(history, server_url))
        finally:
            _wait_until_idle(server_url, before)
            _in_thread(_flush)


def set_preferences(username: str, *, language: str, high_contrast: bool) -> None:
    from accounts.models import OperatorProfile

    in_thread(
        lambda: OperatorProfile.objects.filter(user__username=username).update(
            language=language, high_contrast=high_contrast
        )
    )


class Sessions:
    """One signed-in browser context per (user, language), reused by a module's tests: the
    login rate limit and the time it takes make one sign-in per test too many."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: dict[tuple[str, str], BrowserContext] = {}

    def page(self, username: str, language: str = "en") -> Page:
        key = (username, language)
        if key not in self.contexts:
            context = self.browser.new_context(
                base_url=self.base_url, locale=LOCALES[language], viewport=VIEWPORT
            )
            page = context.new_page()
            if username:
                page.goto("/accounts/login/")
                page.locator("#id_username").fill(username)
                page.locator("#id_password").fill(DEMO_PASSWORD)
                page.locator("form[action$='/login/'] button[type=submit]").click()
                expect(page.locator("form[action$='/logout/']")).to_be_attached()
            self.contexts[key] = context
        return self.contexts[key].pages[0]

    def close(self) -> None:
        for context in self.contexts.values():
            context.close()
        self.contexts.clear()
