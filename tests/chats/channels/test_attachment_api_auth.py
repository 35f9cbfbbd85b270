"""The REST API's attachment links open with the API's own authentication: a client holding
`Authorization: Token …` downloads the files of the messages it lists, through the
conversation gate (404 for a conversation it may not see), and nobody without credentials
gets anything."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from chats.channels.attachments import attachment_store
from chats.models import Conversation, Inbox
from chats.services import messages as message_services
from tests import factories

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4 receipt"


def _token_client(user) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def conversation(support_inbox: Inbox) -> Conversation:
    """A support conversation whose customer sent a receipt (a stored file)."""
    conversation = factories.make_conversation(inbox=support_inbox)
    stored = attachment_store(name="receipt.pdf", content=PDF, content_type="application/pdf")
    message_services.message_receive(
        inbox=support_inbox, customer=conversation.customer, body="", attachments=[stored]
    )
    return conversation


def _listed_url(client: APIClient, conversation: Conversation) -> str:
    listed = client.get(f"/api/v1/conversations/{conversation.pk}/messages/")
    assert listed.status_code == 200, listed.content
    [url] = [a["url"] for m in listed.json()["results"] for a in m["attachments"]]
    return url


def test_a_token_client_downloads_the_file_the_api_listed(operator, conversation) -> None:
    client = _token_client(operator)
    url = _listed_url(client, conversation)

    opened = client.get(url)

    assert opened.status_code == 200
    assert b"".join(opened.streaming_content) == PDF
    assert opened["Content-Disposition"].startswith("attachment")
    assert opened["X-Content-Type-Options"] == "nosniff"


def test_the_link_opens_with_a_session_too(operator, conversation) -> None:
    client = APIClient()
    client.force_login(operator)
    opened = client.get(_listed_url(client, conversation))
    assert opened.status_code == 200
    assert b"".join(opened.streaming_content) == PDF


def test_an_operator_who_may_not_see_the_conversation_gets_404(
    operator, outsider, conversation
) -> None:
    url = _listed_url(_token_client(operator), conversation)
    assert _token_client(outsider).get(url).status_code == 404


def test_a_link_naming_another_conversation_does_not_open_the_file(
    operator, conversation, support_inbox
) -> None:
    # a conversation the caller may see, named in the link, does not unlock another one's file
    url = _listed_url(_token_client(operator), conversation)
    other = factories.make_conversation(inbox=support_inbox)
    forged = url.replace(f"conversation={conversation.pk}", f"conversation={other.pk}")
    assert forged != url
    assert _token_client(operator).get(forged).status_code == 404


def test_without_credentials_or_with_a_wrong_token_nothing_is_served(
    operator, conversation
) -> None:
    url = _listed_url(_token_client(operator), conversation)

    anonymous = APIClient().get(url)
    wrong = APIClient().get(url, HTTP_AUTHORIZATION="Token not-a-token")

    assert anonymous.status_code in (401, 403)
    assert wrong.status_code in (401, 403)
    assert not hasattr(anonymous, "streaming_content")


def test_the_file_of_a_deleted_message_is_gone_for_a_role_that_cannot_see_deleted_ones(
    operator, conversation
) -> None:
    client = _token_client(operator)
    url = _listed_url(client, conversation)
    message = conversation.messages.exclude(attachments=[]).get()
    message_services.message_delete(message=message, actor=operator)

    assert client.get(url).status_code == 404
