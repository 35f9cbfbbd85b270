"""Alerts for an operator whose Smartdesk tab is in the background: a count in the
tab title, a desktop notification and a tone when a customer writes in one of their
conversations or one is assigned to them (static/js/alerts.js, fed by the operator socket).
Permission for notifications is asked only when the operator clicks for it.

Two pages of one browser context are two tabs of one operator; a tab is "in the background"
through an init script that overrides `document.visibilityState` (headless Chromium shows every
page), and `Notification` and `AudioContext` are spied on so that nothing is really shown or
played. Expectations auto-wait; nothing here sleeps."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect

from accounts import services as account_services
from accounts.models import OperatorProfile, User
from chats.models import Conversation, Inbox
from tests import factories
from tests.e2e.test_inbox import customer_writes, in_thread, open_live, row
from tests.e2e.test_login import sign_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

# Runs before any script of every page of the context.
SPY = """
(function () {
  var record = { notifications: [], instances: [], permissionRequests: 0, tones: 0 };
  window.__alerts = record;

  var visibility = null; // null: what the browser says
  var real = Object.getOwnPropertyDescriptor(Document.prototype, "visibilityState");
  function state() { return visibility || real.get.call(document); }
  Object.defineProperty(document, "visibilityState", { configurable: true, get: state });
  Object.defineProperty(document, "hidden", {
    configurable: true, get: function () { return state() === "hidden"; },
  });
  window.__setVisibility = function (value) {
    visibility = value;
    document.dispatchEvent(new Event("visibilitychange"));
  };

  var Real = window.Notification;
  function Spy(title, options) {
    record.notifications.push({ title: title, body: (options && options.body) || "",
                                tag: (options && options.tag) || "" });
    record.instances.push(this);
    this.close = function () {};
  }
  Object.defineProperty(Spy, "permission", {
    get: function () { return window.__permission || (Real ? Real.permission : "denied"); },
  });
  Spy.requestPermission = function () {
    record.permissionRequests += 1;
    return Promise.resolve(window.__permission || "default");
  };
  window.Notification = Spy;

  var RealAudio = window.AudioContext;
  if (RealAudio) {
    window.AudioContext = function () {
      var context = new RealAudio();
      var create = context.createOscillator.bind(context);
      context.createOscillator = function () {
        var oscillator = create();
        var start = oscillator.start.bind(oscillator);
        oscillator.start = function () { record.tones += 1; return start.apply(null, arguments); };
        return oscillator;
      };
      return context;
    };
  }
})();
"""

TEXT = "Курьер у двери? Я на пятом этаже, домофон не работает, позвоните, пожалуйста, на мобильный"


def prefer(user: User, **preferences: Any) -> None:
    profile = OperatorProfile.objects.get(user=user)
    account_services.profile_update_preferences(profile=profile, **preferences)


@pytest.fixture
def conversation(support_inbox: Inbox, operator: User) -> Conversation:
    return in_thread(
        lambda: factories.make_conversation(
            inbox=support_inbox,
            customer=factories.make_customer("Svetlana", "Morozova", email="sveta@example.com"),
            text="Здравствуйте!",
            assignee=operator,
        )
    )


def two_tabs(live_page: Page, path: str = "/inbox/") -> tuple[Page, Page]:
    """Anna signed in with two tabs on `path`; the second one in the background."""
    context: BrowserContext = live_page.context
    context.add_init_script(SPY)
    sign_in(live_page, "anna")
    open_live(live_page, path)
    background = context.new_page()
    open_live(background, path)
    background.evaluate("window.__setVisibility('hidden')")
    return live_page, background


def notifications(page: Page) -> list[dict[str, str]]:
    return page.evaluate("window.__alerts.notifications")


def test_a_customer_message_counts_in_the_background_tab_s_title_and_notifies(
    live_page: Page,
    playwright: Playwright,
    asgi_server: str,
    operator: User,
    teammate: User,
    support_inbox: Inbox,
    conversation: Conversation,
) -> None:
    prefer(operator, alert_desktop=True, alert_title_count=True)
    live_page.context.grant_permissions(["notifications"])
    front, background = two_tabs(live_page)
    expect(background).to_have_title("Inbox · Smartdesk")

    customer_writes(playwright, asgi_server, support_inbox, conversation, TEXT)

    # the background tab counts it and shows who wrote and the start of what they wrote
    expect(background).to_have_title("(1) Inbox · Smartdesk")
    background.wait_for_function("() => window.__alerts.notifications.length === 1")
    [shown] = notifications(background)
    assert "Svetlana" in shown["title"]
    assert shown["body"].startswith(TEXT[:60])
    assert len(shown["body"]) <= 81
    # the tab in front heard it too (its row moved), and stays quiet
    expect(row(front, conversation).locator(".row-preview")).to_contain_text("Курьер у двери?")
    expect(front).to_have_title("Inbox · Smartdesk")
    assert notifications(front) == []

    # coming back to the tab clears the count
    background.evaluate("window.__setVisibility('visible')")
    expect(background).to_have_title("Inbox · Smartdesk")

    # a conversation assigned to Anna while she is away counts and notifies too
    background.evaluate("window.__setVisibility('hidden')")
    other = in_thread(
        lambda: factories.make_conversation(
            inbox=support_inbox,
            customer=factories.make_customer("Oleg", "Ivanov", email="oleg@example.com"),
            text="Где мой заказ?",
        )
    )
    from chats.services.conversations import conversation_assign

    in_thread(lambda: conversation_assign(conversation=other, operator=operator, actor=teammate))
    expect(background).to_have_title("(1) Inbox · Smartdesk")
    background.wait_for_function("() => window.__alerts.notifications.length === 2")
    assert "Oleg" in notifications(background)[1]["title"]

    # clicking the notification brings the conversation up in that tab
    background.evaluate("window.__alerts.instances[0].onclick(new Event('click'))")
    expect(background).to_have_url(f"{asgi_server}/inbox/c/{conversation.pk}/")


def test_a_message_in_someone_else_s_conversation_does_not_alert(
    live_page: Page,
    playwright: Playwright,
    asgi_server: str,
    operator: User,
    teammate: User,
    support_inbox: Inbox,
) -> None:
    prefer(operator, alert_desktop=True, alert_title_count=True)
    live_page.context.grant_permissions(["notifications"])
    theirs = in_thread(
        lambda: factories.make_conversation(inbox=support_inbox, text="Привет", assignee=teammate)
    )
    _front, background = two_tabs(live_page, "/inbox/?view=team")
    expect(row(background, theirs)).to_be_visible()

    in_thread(lambda: factories.receive(theirs, "Это для Бориса"))

    expect(row(background, theirs).locator(".row-preview")).to_have_text("Это для Бориса")
    expect(background).to_have_title("Inbox · Smartdesk")
    assert notifications(background) == []


def test_reduced_distraction_silences_every_alert(
    live_page: Page,
    playwright: Playwright,
    asgi_server: str,
    operator: User,
    support_inbox: Inbox,
    conversation: Conversation,
) -> None:
    prefer(
        operator,
        alert_desktop=True,
        alert_title_count=True,
        alert_sound=True,
        reduced_distraction=True,
    )
    live_page.context.grant_permissions(["notifications"])
    _front, background = two_tabs(live_page)
    background.locator("#live-status").click()  # the tab was used: a tone would be allowed

    customer_writes(playwright, asgi_server, support_inbox, conversation, "Вы тут?")

    # the background tab got the message (its row shows it) and said nothing about it
    expect(row(background, conversation).locator(".row-preview")).to_have_text("Вы тут?")
    expect(background).to_have_title("Inbox · Smartdesk")
    assert notifications(background) == []
    assert background.evaluate("window.__alerts.tones") == 0


def test_a_tone_plays_in_a_tab_the_operator_has_used(
    live_page: Page,
    playwright: Playwright,
    asgi_server: str,
    operator: User,
    support_inbox: Inbox,
    conversation: Conversation,
) -> None:
    prefer(operator, alert_sound=True, alert_title_count=False)
    _front, background = two_tabs(live_page)
    background.locator("#live-status").click()  # autoplay policy: only after the user interacted
    background.evaluate("window.__setVisibility('hidden')")

    customer_writes(playwright, asgi_server, support_inbox, conversation, "Алло?")

    background.wait_for_function("() => window.__alerts.tones > 0")
    expect(background).to_have_title("Inbox · Smartdesk")  # no count: switched off


def test_permission_is_asked_only_when_the_operator_clicks_for_it(
    live_page: Page, operator: User, conversation: Conversation
) -> None:
    prefer(operator, alert_desktop=True)
    context = live_page.context
    context.add_init_script(SPY)
    context.add_init_script("window.__permission = 'default';")
    sign_in(live_page, "anna")
    open_live(live_page, "/inbox/")
    assert live_page.evaluate("window.__alerts.permissionRequests") == 0

    live_page.goto("/accounts/preferences/")
    button = live_page.get_by_role("button", name="Enable desktop notifications")
    expect(button).to_be_visible()  # the script ran: it shows the button
    assert live_page.evaluate("window.__alerts.permissionRequests") == 0

    button.click()

    live_page.wait_for_function("() => window.__alerts.permissionRequests === 1")


def test_no_permission_button_while_desktop_notifications_are_off(
    live_page: Page, operator: User
) -> None:
    context = live_page.context
    context.add_init_script(SPY)
    context.add_init_script("window.__permission = 'default';")
    sign_in(live_page, "anna")
    live_page.goto("/accounts/preferences/")
    button = live_page.get_by_role("button", name="Enable desktop notifications")
    expect(button).to_be_hidden()

    # ticking the box is a click: the browser may ask then, and the button offers it again
    live_page.get_by_label("desktop notifications").check()

    live_page.wait_for_function("() => window.__alerts.permissionRequests === 1")
    expect(button).to_be_visible()
