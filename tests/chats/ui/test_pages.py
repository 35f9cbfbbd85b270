"""The inbox page, the conversation page and their htmx fragments: what each persona sees,
and what it costs in queries."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.models import User
from chats.models import Conversation, Message
from chats.services import conversations as conversation_services
from chats.services import messages as message_services
from tests import factories
from tests.chats.ui.conftest import HTMX, page_text, refreshed

pytestmark = pytest.mark.django_db

ROW_LINK = re.compile(r'class="row-link" id="row-(\d+)"')


def listed(response) -> list[int]:
    return [int(pk) for pk in ROW_LINK.findall(page_text(response))]


def item_with(html: str, text: str) -> str:
    """The thread item (its <li> up to the text) that holds `text`."""
    at = html.index(text)
    return html[html.rindex("<li ", 0, at) : at]


# --- the inbox page ---------------------------------------------------------------------------


def test_the_inbox_asks_an_anonymous_visitor_to_sign_in(client) -> None:
    response = client.get(reverse("inbox"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_inbox_lists_my_conversations_with_what_a_row_needs(
    client_for, operator, conversation
) -> None:
    conversation_services.conversation_set_priority(
        conversation=conversation, priority=Conversation.Priority.URGENT, actor=operator
    )

    response = client_for(operator).get(reverse("inbox"))

    assert response.status_code == 200
    html = page_text(response)
    assert listed(response) == [conversation.pk]
    row = html[html.index(f'id="row-{conversation.pk}"') :]
    assert "Svetlana Morozova" in row
    assert "API" in row  # the channel
    assert "Можно ролл без кунжута?" in row  # last message
    assert "Waiting:" in row and "<time" in row  # the customer waits for us
    assert "Urgent" in row
    assert "1 unread" in row
    assert "Assignee: anna" in row
    # Three panes minus the side panel: an empty thread pane invites a choice.
    assert "Choose a conversation from the list." in html
    assert 'id="panel"' not in html


def test_a_row_shows_a_dash_when_nobody_waits(client_for, operator, conversation) -> None:
    message_services.message_reply(conversation=conversation, author=operator, body="Да, можно.")

    html = page_text(client_for(operator).get(reverse("inbox")))

    assert "Waiting: —" in html


def test_the_tabs_are_the_views_of_the_role(client_for, operator, admin_user) -> None:
    operator_html = page_text(client_for(operator).get(reverse("inbox")))
    admin_html = page_text(client_for(admin_user).get(reverse("inbox")))

    for view in ("mine", "queue", "team", "snoozed", "closed"):
        assert f'href="/inbox/?view={view}"' in operator_html
        assert f'href="/inbox/?view={view}"' in admin_html
    for view in ("all", "deleted"):
        assert f'href="/inbox/?view={view}"' not in operator_html
        assert f'href="/inbox/?view={view}"' in admin_html
    assert 'href="/inbox/?view=mine" aria-current="page"' in operator_html


def test_a_view_the_role_does_not_have_is_not_found(client_for, operator) -> None:
    assert client_for(operator).get(reverse("inbox"), {"view": "all"}).status_code == 404


def test_the_queue_and_team_views_list_what_the_selector_gives(
    client_for, operator, teammate, support_inbox, conversation, foreign
) -> None:
    queued = factories.make_conversation(inbox=support_inbox)
    client = client_for(teammate)

    assert listed(client.get(reverse("inbox"), {"view": "queue"})) == [queued.pk]
    assert set(listed(client.get(reverse("inbox"), {"view": "team"}))) == {
        queued.pk,
        conversation.pk,
    }
    assert listed(client.get(reverse("inbox"), {"view": "mine"})) == []


def test_search_finds_within_the_gate_only(client_for, operator, conversation, foreign) -> None:
    factories.receive(foreign, "кунжут тоже")

    response = client_for(operator).get(reverse("inbox"), {"q": "кунжут"})

    assert listed(response) == [conversation.pk]
    assert "Search results for “кунжут”" in page_text(response)


def test_the_list_is_paginated_by_fifty(client_for, operator, support_inbox) -> None:
    operator.profile.max_concurrent_conversations = 60
    from accounts.services import operator_profile_save

    operator_profile_save(profile=operator.profile, teams=operator.profile.teams.all(), actor=None)
    for n in range(51):
        factories.make_conversation(inbox=support_inbox, text=f"question {n}", assignee=operator)
    client = client_for(operator)

    first = client.get(reverse("inbox"))
    second = client.get(reverse("inbox"), {"page": 2})

    assert len(listed(first)) == 50
    assert 'href="/inbox/?view=mine&amp;page=2"' in page_text(first)
    assert len(listed(second)) == 1
    assert not set(listed(first)) & set(listed(second))
    assert 'href="/inbox/?view=mine"' in page_text(second)  # back to the first page


@pytest.mark.parametrize("size", [3, 30])
def test_the_inbox_page_costs_the_same_whatever_the_number_of_rows(
    client_for, operator, support_inbox, django_assert_num_queries, size
) -> None:
    for n in range(size):
        conversation = factories.make_conversation(
            inbox=support_inbox, text=f"question {n}", assignee=operator
        )
        if n % 3 == 0:
            conversation_services.conversation_snooze(
                conversation=conversation, actor=operator, reason="waiting for the kitchen"
            )
    client = client_for(operator)
    client.get(reverse("inbox"))  # warm up: nothing cached between requests anyway

    # 1 session, 2 user, 3 profile with role (middleware; cached for the request),
    # 4 the newest live-event id the socket resumes from,
    # 5 one page of rows with customer, inbox, assignee, team and AI label joined in.
    with django_assert_num_queries(5):
        response = client.get(reverse("inbox"), {"view": "mine"})
    with django_assert_num_queries(5):
        snoozed = client.get(reverse("inbox"), {"view": "snoozed"})

    assert len(listed(response)) + len(listed(snoozed)) == size


# --- the conversation page --------------------------------------------------------------------


def test_the_conversation_page_has_the_list_the_thread_the_panel_and_the_composer(
    client_for, operator, conversation
) -> None:
    response = client_for(operator).get(reverse("conversation", args=[conversation.pk]))

    assert response.status_code == 200
    html = page_text(response)
    assert listed(response) == [conversation.pk]
    assert f'id="row-{conversation.pk}"' in html and 'aria-current="true"' in html
    assert 'id="thread"' in html and "Можно ролл без кунжута?" in html
    assert 'id="panel"' in html and "Previous conversations" in html
    assert 'id="composer"' in html
    # The page keeps the list where it was: actions come back to the same view.
    assert f'action="/inbox/c/{conversation.pk}/take/?view=mine"' not in html  # mine already
    assert f'action="/inbox/c/{conversation.pk}/close/?view=mine"' in html


def test_opening_it_as_the_assignee_marks_it_read(
    client_for, operator, teammate, conversation
) -> None:
    assert conversation.unread_count == 1

    client_for(teammate).get(reverse("conversation", args=[conversation.pk]))
    assert refreshed(conversation).unread_count == 1  # not theirs: still unread

    client_for(operator).get(reverse("conversation", args=[conversation.pk]))
    assert refreshed(conversation).unread_count == 0


@pytest.mark.parametrize(
    "name", ["conversation", "conversation-thread", "conversation-panel", "conversation-templates"]
)
def test_an_outsider_gets_not_found_for_every_page_of_a_conversation(
    client_for, outsider, conversation, name
) -> None:
    assert client_for(outsider).get(reverse(name, args=[conversation.pk])).status_code == 404


def test_a_missing_conversation_is_the_same_not_found(client_for, operator) -> None:
    assert client_for(operator).get(reverse("conversation", args=[999_999])).status_code == 404


@pytest.mark.parametrize("persona", ["operator", "teammate", "admin_user", "super_admin"])
def test_everyone_in_scope_opens_it(request, client_for, conversation, persona) -> None:
    user: User = request.getfixturevalue(persona)
    client = client_for(user)

    for name in ("conversation", "conversation-thread", "conversation-panel"):
        assert client.get(reverse(name, args=[conversation.pk])).status_code == 200, name


def test_the_fragments_are_fragments(client_for, operator, conversation) -> None:
    client = client_for(operator)

    thread = client.get(reverse("conversation-thread", args=[conversation.pk]), headers=HTMX)
    panel = client.get(reverse("conversation-panel", args=[conversation.pk]), headers=HTMX)
    rows = client.get(reverse("inbox-list"), {"view": "mine", "current": conversation.pk})

    assert page_text(thread).lstrip().startswith('<div id="thread"')
    assert page_text(panel).lstrip().startswith('<div id="panel"')
    assert page_text(rows).lstrip().startswith('<div id="list"')
    assert listed(rows) == [conversation.pk]
    assert 'aria-current="true"' in page_text(rows)
    assert "<html" not in page_text(thread) + page_text(panel) + page_text(rows)


# --- the thread -------------------------------------------------------------------------------


def test_the_thread_tells_replies_notes_and_events_apart(
    client_for, operator, teammate, conversation, delivery
) -> None:
    message_services.message_reply(conversation=conversation, author=operator, body="Да, можно.")
    message_services.message_note(
        conversation=conversation, author=operator, body="Проверить соус."
    )
    conversation_services.conversation_transfer(
        conversation=conversation, actor=operator, reason="Нужен курьер", operator=teammate
    )
    failed = message_services.message_reply(
        conversation=conversation, author=teammate, body="Курьер уже в пути."
    )
    Message.objects.filter(pk=failed.pk).update(
        delivery_status=Message.Delivery.FAILED, delivery_error="Bot blocked by the user"
    )

    page = page_text(client_for(teammate).get(reverse("conversation", args=[conversation.pk])))
    html = page[page.index('<div id="thread"') :]

    assert 'class="msg msg-inbound"' in html
    reply = item_with(html, "Да, можно.")
    assert "msg-outbound" in reply and "Reply" in reply and "Queued" in reply
    note = item_with(html, "Проверить соус.")
    assert "msg-note" in note and "Internal note" in note  # a label, not only a colour
    assert "anna took the conversation." in html
    assert "anna transferred the conversation to Support / boris." in html
    assert "Reason: Нужен курьер" in html
    assert "Not delivered: Bot blocked by the user" in html
    # Interleaved by time: the transfer sits between the note and the last reply.
    assert html.index("Проверить соус.") < html.index("Нужен курьер") < html.index("Курьер уже")


def test_the_thread_lists_attachments_and_links_only_safe_urls(
    client_for, operator, conversation
) -> None:
    message_services.message_receive(
        inbox=conversation.inbox,
        customer=conversation.customer,
        body="",
        attachments=[
            {"name": "receipt.pdf", "url": "https://files.example.com/receipt.pdf"},
            {"name": "evil.html", "url": "javascript:alert(1)"},
        ],
    )

    html = page_text(client_for(operator).get(reverse("conversation", args=[conversation.pk])))

    assert '<a href="https://files.example.com/receipt.pdf"' in html
    assert "evil.html" in html
    assert "javascript:" not in html


def test_a_deleted_message_is_greyed_for_the_admin_and_absent_for_the_operator(
    client_for, operator, admin_user, conversation
) -> None:
    message = factories.receive(conversation, "Мой номер карты 4111 1111 1111 1111")
    factories.receive(conversation, "Ой, не то отправила")
    message_services.message_delete(message=message, actor=operator)

    operator_html = page_text(
        client_for(operator).get(reverse("conversation-thread", args=[conversation.pk]))
    )
    admin_html = page_text(
        client_for(admin_user).get(reverse("conversation-thread", args=[conversation.pk]))
    )

    assert "4111" not in operator_html
    assert f'id="message-{message.pk}"' not in operator_html
    assert "4111" in admin_html
    item = item_with(admin_html, "Мой номер карты")
    assert 'class="msg msg-inbound is-deleted"' in item
    assert "Deleted by anna at" in item


def test_a_deleted_last_message_does_not_stay_in_the_list_preview(
    client_for, operator, conversation
) -> None:
    message = factories.receive(conversation, "Мой номер карты 4111 1111 1111 1111")
    message_services.message_delete(message=message, actor=operator)

    html = page_text(client_for(operator).get(reverse("inbox")))

    assert "4111" not in html


def test_the_customer_name_is_escaped_everywhere(client_for, operator, support_inbox) -> None:
    customer = factories.make_customer("<script>alert(1)</script>")
    conversation = factories.make_conversation(
        inbox=support_inbox, customer=customer, assignee=operator
    )

    html = page_text(client_for(operator).get(reverse("conversation", args=[conversation.pk])))

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("size", [5, 50])
def test_the_thread_page_costs_the_same_whatever_the_number_of_messages(
    client_for, operator, teammate, admin_user, conversation, django_assert_num_queries, size
) -> None:
    for n in range(size - 1):
        if n % 3 == 0:
            message_services.message_reply(
                conversation=conversation, author=operator if n % 2 else teammate, body=f"r{n}"
            )
        elif n % 3 == 1:
            message_services.message_note(conversation=conversation, author=operator, body=f"n{n}")
        else:
            message = factories.receive(conversation, f"c{n}")
            if n % 4 == 0:
                message_services.message_delete(message=message, actor=teammate)
    conversation_services.conversation_set_priority(
        conversation=conversation, priority=1, actor=operator
    )
    client = client_for(admin_user)  # sees deleted messages too, with who deleted them
    url = reverse("conversation", args=[conversation.pk])
    client.get(url)

    # 1 session, 2 user, 3 profile with role, 4 the conversation through the gate,
    # 5 the newest live-event id, 6 the list, 7 the messages with authors and deleters,
    # 8 the audit events with actors, 9 the operators those events name, 10 teams for the
    # transfer form, 11 operators for the transfer form, 12 the customer's identities,
    # 13 the customer's other conversations, 14 the thread's AI label, 15 the admin's AI topics,
    # 16 the rows' AI labels.
    with django_assert_num_queries(16):
        response = client.get(url)

    assert page_text(response).count('class="msg msg-') == size


def test_a_non_ascii_digit_in_the_list_parameters_is_ignored_not_a_500(
    client_for, operator
) -> None:
    response = client_for(operator).get(reverse("inbox-list"), {"current": "²"})

    assert response.status_code == 200
