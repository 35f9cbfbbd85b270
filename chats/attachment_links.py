"""The links to a message's file, one for each kind of reader. Opening one goes through
`chats.channels.downloads.attachment_download`, which checks access; building one checks
nothing."""

from __future__ import annotations

from django.core import signing
from django.urls import reverse

from chats.models import Message

GRANT_SALT = "smartdesk.attachment-grant"


def attachment_url(message: Message, index: int) -> str:
    """The operator's link to a message's file (access checked when it is opened)."""
    return reverse("attachment-download", args=[message.pk, index])


def attachment_api_url(message: Message, index: int) -> str:
    """The REST API's link: names the conversation, so that opening it goes through the
    conversation gate with the API's own authentication (a token works, not only a session)."""
    return f"{attachment_url(message, index)}?conversation={message.conversation_id}"


def attachment_client_url(message: Message, index: int, customer_id: int) -> str:
    """The customer's link: carries a signed grant for this one file, not their token."""
    grant = signing.dumps(
        {"m": message.pk, "n": index, "c": customer_id}, salt=GRANT_SALT, compress=True
    )
    return f"{attachment_url(message, index)}?grant={grant}"
