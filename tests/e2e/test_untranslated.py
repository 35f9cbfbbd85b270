"""No untranslated text on any page the e2e tests visit.

Every page is rendered in Chromium in a pseudo-locale (tests/e2e/pseudo_locale.py) in which each
string Russian translates reads "⟦msgid⟧". Whatever Latin text is left outside the markers never
went through the Russian catalogue: hard-coded in a template, in Python or in JavaScript, or
missing from locale/ru. The text JavaScript inserts counts (the pages run their scripts, the
widget draws in its shadow root), and so do the attributes people hear or read (title,
aria-label, placeholder, alt...) and the strings a page hands its scripts as JSON.

The data the test seeds is Cyrillic or digits, so it cannot pass for English; the few Latin
values it cannot avoid (e-mail domains, phone extensions, keys) are listed in `data`.

The Django admin goes through the same pseudo-locale: its own strings come from Django's
Russian catalogue, which the pseudo catalogue wraps like ours (only the entries Russian
translates), so a page of the admin is held to exactly what a Russian admin sees.

To see what translations not merged yet would fix, name their .po files in
$SMARTDESK_PSEUDO_EXTRA_PO (e.g. `SMARTDESK_PSEUDO_EXTRA_PO=$(ls /tmp/i18n/*.po | paste -sd:)`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from accounts.models import OperatorProfile, Role
from chats.models import Conversation, Inbox
from customers.models import CustomerTag, Identity, LoyaltyTier
from customers.services import identity_normalise
from telephony.models import Call, Pbx
from telephony.services import call_event_apply
from tests import factories
from tests.e2e import pseudo_locale
from tests.e2e.conftest import _wait_until_idle, server_busy
from tests.e2e.pseudo_locale import PSEUDO, Reader
from tests.e2e.test_inbox import in_thread
from tests.telephony.simulator import queue_call

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

# Names that are the same in every language. Keep this short: each entry hides text.
ALLOWED = [
    "Smartdesk",  # the product's name (brand in the header, page titles)
    "CSV",  # file formats of the exports: names of formats, not words
    "XLSX",
    "Parquet",
    "UTC",  # the time standard, written so in Russian too (time zones: "UTC+03:00")
]

# Places whose Latin text is data, not language (matched against the start of an item's place).
IGNORED_PLACES = [
    "div#id_password",  # the admin's password summary: hash algorithm, salt and hash
]

PHONE = "+79161234567"


@pytest.fixture(scope="session")
def pseudo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pseudo_locale.build(tmp_path_factory.mktemp("pseudo-locale"))


@pytest.fixture
def pseudo(pseudo_dir: Path) -> Iterator[None]:
    with pseudo_locale.activated(pseudo_dir):
        yield


@pytest.fixture
def world(pseudo: None, asgi_server: str) -> dict[str, Any]:
    """Operators, a supervisor, a super-admin, an inbox and a widget inbox, a known customer
    with orders, a loyalty tier and an allergy, and a conversation with a reply: all Cyrillic
    or digits, every person speaking the pseudo-locale."""

    def build() -> dict[str, Any]:
        roles = factories.builtin_roles()
        team = factories.make_team("Поддержка")
        people = {
            "анна": ("Анна", "Смирнова", Role.OPERATOR),
            "борис": ("Борис", "Петров", Role.OPERATOR),
            "павел": ("Павел", "Иванов", Role.ADMIN),
            "софья": ("Софья", "Кузнецова", Role.SUPER_ADMIN),
        }
        users = {
            username: factories.make_user(
                username=username,
                first_name=first,
                last_name=last,
                role=roles[role],
                teams=[team],
            )
            for username, (first, last, role) in people.items()
        }
        OperatorProfile.objects.update(language=PSEUDO)
        OperatorProfile.objects.filter(user=users["анна"]).update(phone_extension="PJSIP/101")
        inbox = factories.make_inbox(name="Сайт", team=team)
        widget = factories.make_inbox(
            name="Виджет", kind=Inbox.Kind.WIDGET, team=team, allowed_origins=asgi_server
        )
        LoyaltyTier.objects.create(
            name="Серебро",
            threshold=Decimal("0"),
            accrual_percent=Decimal("5"),
            priority=0,
            perks="Бесплатная доставка",
        )
        for n in range(3):
            order = factories.make_order(
                f"З-{n}",
                customer="крм-1",
                total="30.00",
                currency="RUB",
                items=[
                    {"sku": "101", "name": "Ролл с лососем", "price": "9", "modifiers": []},
                    {"sku": "102", "name": "Мисо-суп", "price": "3"},
                ],
            )
        customer = order.customer
        customer.first_name, customer.last_name = "Светлана", "Орлова"
        customer.save(update_fields=["first_name", "last_name"])
        Identity.objects.create(
            customer=customer, kind=Identity.Kind.PHONE, value=identity_normalise("phone", PHONE)
        )
        CustomerTag.objects.create(customer=customer, kind="allergen", value="sesame")
        conversation = factories.make_conversation(
            inbox=inbox, customer=customer, text="Можно ролл без кунжута?", assignee=users["анна"]
        )
        from chats.services.messages import message_reply

        message_reply(conversation=conversation, author=users["анна"], body="Сейчас посмотрю.")
        factories.make_conversation(
            inbox=inbox,
            customer=factories.make_customer("Олег", phone="+79160000001"),
            text="Здравствуйте!",
        )
        closed = factories.make_conversation(
            inbox=inbox,
            customer=factories.make_customer("Мария", phone="+79160000002"),
            text="Спасибо, всё пришло.",
            assignee=users["анна"],
        )
        from chats.services.conversations import conversation_close
        from chats.services.messages import message_note

        message_note(conversation=closed, author=users["анна"], body="Перезвонить в пятницу.")
        conversation_close(conversation=closed, actor=users["анна"])
        from analytics import rollups

        rollups.rollup_rebuild()
        pbx = Pbx.objects.create(name="АТС", host="127.0.0.1", port=1, username="sd", secret="s")
        return {
            "users": users,
            "conversation": conversation,
            "closed": closed,
            "widget": widget,
            "pbx": pbx,
        }

    return in_thread(build)


def data_values(world: dict[str, Any]) -> list[str]:
    """Latin values the test seeded that a page may show as they are (not product text)."""
    widget: Inbox = world["widget"]
    # "support": the PBX queue the simulated call waits in (tests/telephony/simulator.py).
    # Role slugs: identifiers shown read-only in the admin.
    slugs = [Role.OPERATOR, Role.ADMIN, Role.SUPER_ADMIN]
    return ["PJSIP/101", "RUB", widget.key, "127.0.0.1", "support", *slugs]


def sign_in_as(pages: Reader, username: str) -> None:
    """Signed in through a session made on the server (the sign-in form is checked on its own)."""

    def session() -> str:
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    pages.context.clear_cookies()
    value = in_thread(session)
    pages.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": value, "url": pages.base_url}]
    )


@pytest.fixture
def pages(browser: Browser, asgi_server: str, world: dict[str, Any]) -> Iterator[Reader]:
    before = server_busy(asgi_server)
    context = browser.new_context(base_url=asgi_server, locale=PSEUDO)
    reader = Reader(
        context,
        asgi_server,
        data=data_values(world),
        allowed=ALLOWED,
        ignored=IGNORED_PLACES,
    )
    reader.world = world
    try:
        yield reader
    finally:
        context.close()
        _wait_until_idle(asgi_server, before)


def open_live(page: Page, path: str) -> None:
    page.goto(path)
    expect(page.locator("#workspace")).to_have_attribute("data-live", "live")


def ring(pbx: Pbx, linkedid: str) -> Call:
    """A queued call from the known customer, up to the moment Anna's phone rings."""
    events = queue_call(caller=PHONE, linkedid=linkedid)
    until_ringing = next(i for i, e in enumerate(events) if e["Event"] == "DialBegin") + 1

    def apply() -> Call:
        for fields in events[:until_ringing]:
            call_event_apply(pbx_id=pbx.pk, fields={k: str(v) for k, v in fields.items()})
        return Call.objects.get(linkedid=linkedid)

    return in_thread(apply)


def sign_in_wrongly(page: Page, username: str) -> None:
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill("неверный")
    with page.expect_navigation():
        page.locator("#id_password").press("Enter")


def test_the_sign_in_pages_are_translated(pages: Reader) -> None:
    page = pages.page
    page.goto("/accounts/login/")
    pages.check("login")

    sign_in_wrongly(page, "анна")
    expect(page.locator("#id_username")).to_be_visible()
    pages.check("login, wrong password")

    for _ in range(6):
        page.goto("/accounts/login/")
        if page.locator("#id_username").count() == 0:
            break
        sign_in_wrongly(page, "борис")
    expect(page.locator("#id_username")).to_have_count(0)
    pages.check("locked out")

    assert not pages.found, pages.report()


def test_the_operator_pages_are_translated(pages: Reader) -> None:
    page = pages.page
    conversation: Conversation = pages.world["conversation"]
    sign_in_as(pages, "анна")

    page.goto("/")
    pages.check("home")

    open_live(page, "/inbox/")
    pages.check("inbox")

    open_live(page, f"/inbox/c/{conversation.pk}/")
    expect(page.locator("#customer-card")).to_be_visible()
    expect(page.locator("#customer-card")).to_contain_text("Ролл с лососем")
    pages.check("conversation (thread, card)")

    # the queue view, and a closed conversation with a note and the events of its close
    open_live(page, "/inbox/?view=queue")
    pages.check("inbox, team queue")
    closed: Conversation = pages.world["closed"]
    open_live(page, f"/inbox/c/{closed.pk}/?view=closed")
    expect(page.locator("#thread-log")).to_contain_text("Перезвонить в пятницу.")
    pages.check("closed conversation")

    open_live(page, f"/inbox/c/{conversation.pk}/")
    expect(page.locator("#customer-card")).to_be_visible()

    # the screen-pop of a call from this customer, with the card, before it is answered
    call = ring(pages.world["pbx"], "1700000000.1")
    dialog = page.locator("#callpop")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("data-call-id", str(call.pk))
    expect(dialog.locator("#callpop-body")).not_to_have_attribute("aria-busy", "true")
    expect(dialog.locator(".card-allergies")).to_be_visible()
    pages.check("call pop")

    page.goto("/accounts/preferences/")
    pages.check("preferences")

    response = page.goto("/statistics/")
    assert response is not None and response.status == 403
    pages.check("403")

    response = page.goto("/no-such-page/")
    assert response is not None and response.status == 404
    pages.check("404")

    assert not pages.found, pages.report()


def test_the_supervisor_and_admin_pages_are_translated(pages: Reader) -> None:
    page = pages.page
    sign_in_as(pages, "павел")

    page.goto("/inbox/queue/")
    expect(page.locator("#queue")).to_be_visible()
    pages.check("queue")

    page.goto("/statistics/?period=7d")
    expect(page.locator("canvas").first).to_be_visible()
    page.wait_for_function("() => typeof Chart !== 'undefined'")
    pages.check("statistics")

    page.goto("/statistics/wallboard/")
    pages.check("wallboard")
    tv = page.locator("a.wallboard-tv-link")  # the TV mode, once the wallboard has one
    if tv.count():
        tv.click()
        expect(page).to_have_url(re.compile(r"/statistics/wallboard/tv/"))
        pages.check("wallboard, TV mode")

    page.goto("/admin/")
    pages.check("admin index")

    sign_in_as(pages, "софья")
    role = in_thread(lambda: Role.objects.get(slug=Role.OPERATOR))
    page.goto(f"/admin/accounts/role/{role.pk}/change/")
    expect(page.locator("#role_form")).to_be_visible()
    pages.check("admin role")

    operator = pages.world["users"]["анна"]
    page.goto(f"/admin/accounts/user/{operator.pk}/change/")
    expect(page.locator("#user_form")).to_be_visible()
    pages.check("admin user")

    assert not pages.found, pages.report()


def test_a_user_without_a_profile_is_told_so_in_their_language(pages: Reader) -> None:
    in_thread(lambda: get_user_model().objects.create_superuser("корень", password="x" * 12))
    sign_in_as(pages, "корень")
    response = pages.page.goto("/accounts/preferences/")
    assert response is not None and response.status == 409
    pages.check("no profile")

    assert not pages.found, pages.report()


def test_the_widget_is_translated(pages: Reader) -> None:
    page = pages.page
    widget: Inbox = pages.world["widget"]
    host = page.locator("#smartdesk-widget")
    sign_in_as(pages, "павел")  # the demo page is for the people who set the widget up

    page.goto(f"/widget/{widget.key}/demo/")
    launcher = host.locator("button.launch")
    expect(launcher).to_be_visible()
    launcher.click()
    box = host.locator("textarea").first
    expect(box).to_be_visible()
    pages.check("widget demo, open")

    box.fill("Где мой заказ?")
    box.press("Enter")
    expect(host.locator("li.customer")).to_have_text("Где мой заказ?")
    expect(host).to_have_attribute("data-live", "live")
    pages.check("widget, after a message")

    # the operator closes it: the visitor is asked for a rating
    def close() -> None:
        from chats.services.conversations import conversation_close

        conversation = Conversation.objects.get(inbox=widget)
        conversation_close(conversation=conversation, actor=pages.world["users"]["анна"])

    in_thread(close)
    page.reload()
    host.locator("button.launch").click()
    rating = host.locator(".csat")
    expect(rating).to_be_visible()
    pages.check("widget, rating")
    rating.locator(".rate").click()  # no stars chosen: the widget says what is missing
    pages.check("widget, rating refused")

    # the network fails: what the visitor reads is ours, not the browser's error
    page.route(re.compile(r".*/api/v1/client/.*"), lambda route: route.abort())
    box.fill("Алло?")
    box.press("Enter")
    expect(host.locator(".status.err")).to_be_visible()
    pages.check("widget, network error")

    assert not pages.found, pages.report()
