"""The operator page as a full-height application, measured in Chromium.

At 1280×720 and up the list, the thread and the customer card scroll on their own and the
composer and the conversation's actions stay in view, whatever the length of the thread. At
200 % browser zoom (a 640×360 or 720×450 CSS viewport at device scale 2) and at the largest
font scale the page reflows to fewer columns: nothing scrolls sideways and no text is cut.
Boxes are measured with getBoundingClientRect; nothing here sleeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from chats.models import Inbox
from chats.services import messages as message_services
from chats.services.conversations import conversation_snooze
from tests import factories
from tests.e2e.test_inbox import in_thread
from tests.e2e.test_login import describe, sign_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

DESKTOP = [(1280, 720), (1440, 900)]
ZOOMED = [(640, 360), (720, 450)]  # 1280×720 and 1440×900 windows at 200 % zoom
LONG = "Очень длинное название позиции с дополнительным соусом и без кунжута"

OpenPage = Callable[..., Page]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # not committed: for a reviewer's eyes


def screenshot(page: Page, name: str, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"layout-{name}.png", full_page=full_page)


def _customer_with_a_full_card() -> Any:
    """A customer whose card has allergies, preferences, loyalty and several long orders."""
    from customers.orders import customer_upsert
    from customers.serializers import CustomerUpsertSerializer

    factories.make_tiers()
    for n in range(4):
        factories.make_order(
            f"L-{n}",
            customer="crm-layout",
            total="1234.50",
            items=[
                {"sku": f"SKU-{n}-{i}", "name": f"{LONG} {i}", "quantity": 2, "price": "10.00"}
                for i in range(3)
            ],
        )
    serializer = CustomerUpsertSerializer(
        data={
            "first_name": "Svetlana",
            "last_name": "Konstantinopolskaya-Rimskaya",
            "allergies": ["sesame", "peanuts", "shellfish", "celery"],
            "favourites": ["Филадельфия с лососем и сливочным сыром", "Унаги маки"],
            "dislikes": ["Острый соус шрирача"],
            "preferences": ["Звонить перед доставкой, домофон не работает"],
        }
    )
    serializer.is_valid(raise_exception=True)
    customer, _created, _notes = customer_upsert(
        data={**serializer.validated_data, "external_id": "crm-layout"}
    )
    return customer


def _make_conversations(inbox: Inbox, operator: User) -> tuple[int, int]:
    customer = _customer_with_a_full_card()
    busy = factories.make_conversation(
        inbox=inbox, customer=customer, text="Здравствуйте!", assignee=operator
    )
    for n in range(40):  # 80 messages and more: a long thread
        factories.receive(busy, f"Сообщение клиента номер {n}: где мой заказ? {LONG}")
        message_services.message_reply(
            conversation=busy, author=operator, body=f"Ответ оператора номер {n}."
        )
    sleepy = factories.make_conversation(
        inbox=inbox,
        customer=factories.make_customer("Boris", "Snoozer", email="boris@example.com"),
        text="Перезвоните мне завтра, пожалуйста.",
        assignee=operator,
    )
    for n in range(12):
        factories.receive(sleepy, f"Ещё одно сообщение {n}")
    conversation_snooze(
        conversation=sleepy,
        actor=operator,
        until=timezone.now() + timedelta(days=1),
        wake_on_reply=True,
        reason="Клиент просил перезвонить завтра после обеда, когда будет дома",
    )
    for n in range(30):  # a long list too
        factories.make_conversation(
            inbox=inbox,
            customer=factories.make_customer(f"Client{n}", "Longsurname-Doublebarrel"),
            text=f"Вопрос {n}: {LONG}",
            assignee=operator,
        )
    return busy.pk, sleepy.pk


@pytest.fixture
def conversations(support_inbox: Inbox, operator: User) -> tuple[int, int]:
    return in_thread(lambda: _make_conversations(support_inbox, operator))


@pytest.fixture
def open_page(browser: Browser, live_server: Any) -> Iterator[OpenPage]:
    """Sign in as `username` in a fresh context of the given viewport; return its page."""
    contexts = []

    def open_(username: str, width: int, height: int, scale: int = 1, js: bool = True) -> Page:
        context = browser.new_context(
            base_url=live_server.url,
            locale="en-US",
            viewport={"width": width, "height": height},
            device_scale_factor=scale,
            java_script_enabled=js,
        )
        contexts.append(context)
        page = context.new_page()
        sign_in(page, username)
        expect(page.get_by_role("button", name="Sign out")).to_be_attached()
        return page

    yield open_
    for context in contexts:
        context.close()


def set_font_scale(user: User, scale: int) -> None:
    from accounts.services import profile_update_preferences

    in_thread(lambda: profile_update_preferences(profile=user.profile, font_scale=scale))


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not rendered"
    return found


def assert_in_viewport(page: Page, selector: str) -> None:
    size = page.viewport_size
    assert size is not None
    b = box(page, selector)
    assert b["x"] >= 0 and b["y"] >= 0, f"{selector} starts outside the viewport: {b}"
    assert b["x"] + b["width"] <= size["width"], f"{selector} ends right of the viewport: {b}"
    assert b["y"] + b["height"] <= size["height"], f"{selector} ends below the viewport: {b}"


def page_scroll(page: Page) -> dict[str, int]:
    return page.evaluate(
        """() => {
          const s = document.scrollingElement;
          return {scrollHeight: s.scrollHeight, scrollWidth: s.scrollWidth,
                  clientWidth: s.clientWidth, innerHeight: window.innerHeight};
        }"""
    )


# The scroll container of a pane: the element itself or its nearest scrolling ancestor.
SCROLLER = """(el) => {
  for (let node = el; node && node !== document.documentElement; node = node.parentElement) {
    const style = getComputedStyle(node);
    if (/(auto|scroll)/.test(style.overflowY) && node.scrollHeight > node.clientHeight) return node;
  }
  return null;
}"""

SCROLLERS = f"""() => {{
  const find = {SCROLLER};
  const panes = {{list: document.querySelector('#list .rows'),
                 thread: document.querySelector('#thread-log'),
                 card: document.querySelector('#customer-card')}};
  window.__scrollers = {{}};
  const out = {{}};
  for (const [name, el] of Object.entries(panes)) {{
    const scroller = el && find(el);
    window.__scrollers[name] = scroller;
    out[name] = scroller ? (scroller.id || scroller.className || scroller.tagName) : null;
  }}
  return out;
}}"""


def test_composer_and_actions_stay_in_view_on_a_long_thread(
    open_page: OpenPage, conversations: tuple[int, int]
) -> None:
    busy, sleepy = conversations
    for width, height in DESKTOP:
        page = open_page("anna", width, height)
        for pk in (busy, sleepy):
            page.goto(f"/inbox/c/{pk}/")
            expect(page.locator("#composer-body")).to_be_visible()
            where = f"conversation {pk} at {width}×{height}"
            for selector in ("#composer-body", "#composer-send", "#action-close"):
                assert_in_viewport(page, selector)
            if pk == busy:
                assert_in_viewport(page, "#action-snooze")
                assert_in_viewport(page, "#action-transfer")
            else:
                assert_in_viewport(page, "#action-unsnooze")
            screenshot(page, f"{'thread' if pk == busy else 'snoozed'}-{width}x{height}")
            scroll = page_scroll(page)
            assert scroll["scrollHeight"] <= scroll["innerHeight"], f"the page scrolls: {where}"
            assert scroll["scrollWidth"] <= scroll["clientWidth"], f"sideways scroll: {where}"


def test_list_thread_and_card_each_scroll_on_their_own(
    open_page: OpenPage, conversations: tuple[int, int]
) -> None:
    busy, _sleepy = conversations
    for width, height in DESKTOP:
        page = open_page("anna", width, height)
        page.goto(f"/inbox/c/{busy}/")
        expect(page.locator("#customer-card .orders")).to_be_visible()
        found = page.evaluate(SCROLLERS)
        assert all(found.values()), f"a pane has no scroll container of its own: {found}"
        assert len(set(found.values())) == 3, f"panes share a scroll container: {found}"
        composer = box(page, "#composer-body")
        for name in ("list", "thread", "card"):
            before = page.evaluate(
                "() => Object.fromEntries(Object.entries(window.__scrollers)"
                ".map(([k, el]) => [k, el.scrollTop]))"
            )
            # Scroll this pane with the mouse wheel over it, as an operator would.
            target = page.evaluate(
                """(name) => { const r = window.__scrollers[name].getBoundingClientRect();
                   return {x: r.left + r.width / 2, y: r.top + Math.min(r.height / 2, 40)}; }""",
                name,
            )
            page.mouse.move(target["x"], target["y"])
            direction = -1 if before[name] > 0 else 1  # the thread starts at its bottom
            page.mouse.wheel(0, direction * 300)
            page.wait_for_function(
                "([name, top]) => window.__scrollers[name].scrollTop !== top",
                arg=[name, before[name]],
            )
            after = page.evaluate(
                "() => Object.fromEntries(Object.entries(window.__scrollers)"
                ".map(([k, el]) => [k, el.scrollTop]))"
            )
            others = {k: v for k, v in after.items() if k != name}
            assert others == {k: v for k, v in before.items() if k != name}, (name, after)
            assert box(page, "#composer-body") == composer, f"the composer moved with {name}"
            assert page.evaluate("document.scrollingElement.scrollTop") == 0


# Every visible element with text of its own inside `roots` must stay within the viewport and
# within its nearest clipping ancestor, and a clipping element must not cut its own text (an
# ellipsis on a one-line preview is a deliberate truncation). Only a data table may scroll
# sideways, inside its own region (WCAG 1.4.10 allows it); nothing else scrolls sideways.
CUT_TEXT = """(roots) => {
  const vw = document.documentElement.clientWidth;
  const problems = new Set();
  const hasText = (el) => [...el.childNodes].some(
    (n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
  const scrolls = (style) => /(auto|scroll)/.test(style.overflowX);
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className.trim()
      ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
    ' "' + el.textContent.trim().replace(/\\s+/g, ' ').slice(0, 40) + '"';
  for (const root of roots.flatMap((s) => [...document.querySelectorAll(s)])) {
    for (const el of [root, ...root.querySelectorAll('*')]) {
      if (!hasText(el) && !['BUTTON', 'INPUT', 'SELECT', 'SUMMARY'].includes(el.tagName)) continue;
      if (!el.checkVisibility() || el.closest('.visually-hidden, [hidden]')) continue;
      const rect = el.getBoundingClientRect();
      if (rect.width <= 1 || rect.height <= 1) continue;  // visually hidden, for screen readers
      const style = getComputedStyle(el);
      if (style.overflowX !== 'visible' && !scrolls(style) && style.textOverflow !== 'ellipsis'
          && el.scrollWidth > el.clientWidth + 1) {
        problems.add(`${describe(el)} cuts its text (${el.scrollWidth} > ${el.clientWidth})`);
      }
      let clip = el.parentElement;
      while (clip && clip !== document.body && getComputedStyle(clip).overflowX === 'visible') {
        clip = clip.parentElement;
      }
      if (clip && clip !== document.body) {
        const r = clip.getBoundingClientRect();
        if (scrolls(getComputedStyle(clip)) && clip.scrollWidth > clip.clientWidth + 1) {
          if (!clip.querySelector('table')) {
            problems.add(`${describe(clip).slice(0, 70)} scrolls sideways`);
          } else if (r.right > vw + 1 || r.left < -1) {
            problems.add(`${describe(clip).slice(0, 70)} leaves the viewport`);
          }
          continue;  // a data table in its own scrolling region
        }
        if (rect.right > r.right + 1 || rect.left < r.left - 1) {
          problems.add(`${describe(el)} is cut by ${describe(clip).slice(0, 60)} ` +
                       `(${rect.left}–${rect.right} outside ${r.left}–${r.right})`);
          continue;
        }
      }
      if (rect.right > vw + 1 || rect.left < -1) {
        problems.add(`${describe(el)} leaves the viewport (${rect.left}–${rect.right} of ${vw})`);
      }
    }
  }
  return [...problems];
}"""


def assert_reflows(page: Page, roots: list[str], where: str) -> None:
    scroll = page_scroll(page)
    assert scroll["scrollWidth"] <= scroll["clientWidth"], f"sideways scroll on {where}: {scroll}"
    problems = page.evaluate(CUT_TEXT, roots)
    assert not problems, f"cut or overflowing text on {where}:\n" + "\n".join(problems)


INBOX_ROOTS = ["header.topbar", "#list", ".pane-list", "#thread", "#composer", "#panel"]


@pytest.mark.parametrize(("width", "height"), ZOOMED)
def test_at_200_percent_zoom_the_inbox_reflows_without_sideways_scroll_or_cut_text(
    open_page: OpenPage, conversations: tuple[int, int], width: int, height: int
) -> None:
    busy, sleepy = conversations
    page = open_page("anna", width, height, scale=2)
    for pk in (busy, sleepy):
        page.goto(f"/inbox/c/{pk}/")
        expect(page.locator("#customer-card[data-customer-id]")).to_be_attached()
        assert_reflows(page, INBOX_ROOTS, f"conversation {pk} at {width}×{height}@2x")
        screenshot(page, f"zoom200-{'thread' if pk == busy else 'snoozed'}-{width}x{height}", True)
    page.goto("/inbox/")
    assert_reflows(page, INBOX_ROOTS, f"the inbox at {width}×{height}@2x")


@pytest.mark.parametrize("scale", [175, 200])
def test_at_the_largest_font_scales_the_inbox_reflows_without_sideways_scroll_or_cut_text(
    open_page: OpenPage, conversations: tuple[int, int], operator: User, scale: int
) -> None:
    busy, sleepy = conversations
    set_font_scale(operator, scale)
    page = open_page("anna", 1280, 720)
    for pk in (busy, sleepy):
        page.goto(f"/inbox/c/{pk}/")
        assert page.evaluate(f"document.documentElement.classList.contains('font-{scale}')")
        font = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
        assert font == pytest.approx(16 * scale / 100), "the font scale has no CSS"
        expect(page.locator("#customer-card[data-customer-id]")).to_be_attached()
        assert_reflows(page, INBOX_ROOTS, f"conversation {pk} at font {scale} %")


OTHER_PAGES = {
    "/statistics/": ["header.topbar", "main"],
    "/inbox/queue/": ["header.topbar", "main"],
    "/accounts/preferences/": ["header.topbar", "main"],
    "/statistics/wallboard/": ["header.topbar", "main"],
}


@pytest.mark.parametrize(("width", "height", "font"), [(640, 360, 100), (1280, 720, 200)])
def test_other_pages_do_not_scroll_sideways_at_200_percent(
    open_page: OpenPage,
    admin_user: User,
    conversations: tuple[int, int],
    width: int,
    height: int,
    font: int,
) -> None:
    set_font_scale(admin_user, font)
    page = open_page("pavel", width, height, scale=2 if width < 1000 else 1)
    for path, roots in OTHER_PAGES.items():
        response = page.goto(path)
        assert response is not None and response.ok, path
        assert_reflows(page, roots, f"{path} at {width}×{height}, font {font} %")


def test_a_skip_link_goes_to_the_conversation_list(
    open_page: OpenPage, conversations: tuple[int, int]
) -> None:
    busy, _sleepy = conversations
    page = open_page("anna", 1280, 720)
    page.goto(f"/inbox/c/{busy}/")
    # Second in the tab order, right after "Skip to content".
    links = page.evaluate(
        "() => [...document.querySelectorAll('a[href], button, input, select, textarea')]"
        ".slice(0, 2).map((el) => el.textContent.trim())"
    )
    assert links == ["Skip to content", "Skip to conversations"]
    skip = page.get_by_role("link", name="Skip to conversations")
    skip.focus()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("#conversations")).to_be_focused()
    page.keyboard.press("Tab")
    # The next Tab lands in the list pane: the first view of the list.
    expect(page.locator(".pane-list .views a").first).to_be_focused()


def test_the_high_contrast_theme_keeps_the_full_height_layout(
    open_page: OpenPage,
    conversations: tuple[int, int],
    operator: User,
    axe_violations: Callable[..., list[dict[str, Any]]],
) -> None:
    from accounts.services import profile_update_preferences

    in_thread(lambda: profile_update_preferences(profile=operator.profile, high_contrast=True))
    busy, _sleepy = conversations
    page = open_page("anna", 1280, 720)
    page.goto(f"/inbox/c/{busy}/")
    assert page.evaluate("document.documentElement.classList.contains('theme-high-contrast')")
    for selector in ("#composer-body", "#composer-send", "#action-close"):
        assert_in_viewport(page, selector)
    pane = page.evaluate("getComputedStyle(document.querySelector('.pane-thread')).borderTopColor")
    assert pane == "rgb(255, 255, 255)"
    scroll = page_scroll(page)
    assert scroll["scrollHeight"] <= scroll["innerHeight"]
    screenshot(page, "high-contrast-1280x720")
    found = axe_violations(page)
    assert not found, describe(found)


def test_an_open_snooze_form_is_reachable_without_scrolling_the_page(
    open_page: OpenPage, conversations: tuple[int, int]
) -> None:
    busy, _sleepy = conversations
    page = open_page("anna", 1280, 720)
    page.goto(f"/inbox/c/{busy}/")
    page.locator("#action-snooze").click()
    submit = page.locator("#snooze-submit")
    submit.scroll_into_view_if_needed()
    assert_in_viewport(page, "#snooze-submit")
    assert_in_viewport(page, "#composer-send")
    scroll = page_scroll(page)
    assert scroll["scrollHeight"] <= scroll["innerHeight"]


def test_without_javascript_the_full_height_layout_holds(
    open_page: OpenPage, conversations: tuple[int, int]
) -> None:
    busy, sleepy = conversations
    page = open_page("anna", 1280, 720, js=False)
    for pk in (busy, sleepy):
        page.goto(f"/inbox/c/{pk}/")
        for selector in ("#composer-body", "#composer-send", "#action-close"):
            assert_in_viewport(page, selector)
        scroll = page_scroll(page)
        assert scroll["scrollHeight"] <= scroll["innerHeight"]
    page = open_page("anna", 640, 360, scale=2, js=False)
    page.goto(f"/inbox/c/{busy}/")
    assert_reflows(page, INBOX_ROOTS, "the conversation without JavaScript at 640×360@2x")
