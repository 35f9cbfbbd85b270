from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from chats.models import Conversation, ReplyTemplate
from chats.services import conversations as svc
from tests import factories

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_inbox_secret_is_never_shown_back_in_full(super_admin, support_inbox) -> None:
    page = (
        _client(super_admin)
        .get(reverse("admin:chats_inbox_change", args=[support_inbox.pk]))
        .content.decode()
    )

    assert support_inbox.secret not in page
    assert f"…{support_inbox.secret[-4:]}" in page


def test_a_template_with_an_unknown_placeholder_is_refused(admin_user) -> None:
    response = _client(admin_user).post(
        reverse("admin:chats_replytemplate_add"),
        {"name": "Hi", "shortcut": "hi", "body": "Hi {{ customer.password }}", "is_active": "on"},
    )

    assert response.status_code == 200
    assert "customer.password" in response.content.decode()
    assert not ReplyTemplate.objects.exists()


def test_templates_are_managed_only_with_the_capability(admin_user, operator) -> None:
    assert (
        _client(admin_user).get(reverse("admin:chats_replytemplate_changelist")).status_code == 200
    )
    assert _client(operator).get(reverse("admin:chats_replytemplate_changelist")).status_code == 403


def test_an_admin_restores_a_deleted_conversation_from_the_admin(
    admin_user, operator, support_inbox
) -> None:
    conversation = factories.make_conversation(inbox=support_inbox)
    svc.conversation_delete(conversation=conversation, actor=operator)

    response = _client(admin_user).post(
        reverse("admin:chats_conversation_changelist"),
        {"action": "restore_selected", "_selected_action": [str(conversation.pk)]},
    )

    assert response.status_code == 302
    assert Conversation.objects.get(pk=conversation.pk).deleted_at is None


def test_a_role_that_only_views_inboxes_cannot_rotate_their_secret(
    admin_user, super_admin, support_inbox
) -> None:
    before = support_inbox.secret
    url = reverse("admin:chats_inbox_changelist")
    action = {"action": "rotate_secret", "_selected_action": [str(support_inbox.pk)]}

    _client(admin_user).post(url, action)
    support_inbox.refresh_from_db()
    assert support_inbox.secret == before

    response = _client(super_admin).post(url, action, follow=True)
    support_inbox.refresh_from_db()
    assert support_inbox.secret != before
    assert support_inbox.secret in response.content.decode()  # shown once, when issued
