"""`GET /attachments/<message id>/<n>/`: a message's file, to whoever may see the message.

Files are never served from `MEDIA_URL`: a file a customer sent is theirs and the operators'
whose scope covers the conversation, nobody else's. Who may download:

- an operator (signed in): the message must be one they may see
  (`chats.selectors.message_for`, i.e. `visible_conversations` and the deleted-message rule);
- a REST API client, with the link the API gave (`?conversation=<id>`): authenticated as the
  API authenticates (session, or `Authorization: Token …`), through the conversation gate
  (`chats.selectors.conversation_for`, then the thread's deleted-message rule); without
  credentials a 401, for a conversation they may not see a 404;
- the customer: with a link the client API gave them (`?grant=…`, signed, naming the message,
  the file and the customer; `ATTACHMENT_LINK_MAX_AGE_HOURS`), or with their client token in
  `Authorization: Bearer …` (apps).

Anything else is a 404. Only plain images are shown inline; everything else is sent as a
download (`Content-Disposition: attachment`), always with `X-Content-Type-Options: nosniff`
and a sandboxing Content-Security-Policy, so a file cannot run script on our origin.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.settings import api_settings

from chats import selectors
from chats.attachment_links import GRANT_SALT
from chats.channels.client.sessions import session_from_token
from chats.models import Message
from customers.identities import customer_current

INLINE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


def _customer_may(request: HttpRequest, message: Message, index: int) -> bool:
    if message.deleted_at is not None or message.kind not in (
        Message.Kind.INBOUND,
        Message.Kind.OUTBOUND,
    ):
        return False
    customer_id = message.conversation.customer_id
    grant = request.GET.get("grant")
    if grant:
        try:
            data = signing.loads(
                grant,
                salt=GRANT_SALT,
                max_age=settings.ATTACHMENT_LINK_MAX_AGE_HOURS * 3600,
            )
        except signing.BadSignature:
            return False
        if not isinstance(data, dict) or data.get("m") != message.pk or data.get("n") != index:
            return False
        current = customer_current(int(data.get("c") or 0))
        return current is not None and current.pk == customer_id
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        try:
            session = session_from_token(inbox=message.inbox, token=token.strip())
        except PermissionDenied:
            return False
        return session.customer is not None and session.customer.pk == customer_id
    return False


class _Unauthenticated(Exception):
    """An API link opened without valid credentials."""


def _api_user(request: HttpRequest) -> Any:
    """The user the REST API would see for this request (its authentication classes: the
    session, or `Authorization: Token …`). `_Unauthenticated` for nobody or a bad token."""
    authenticators = [auth() for auth in api_settings.DEFAULT_AUTHENTICATION_CLASSES]
    try:
        user = Request(request, authenticators=authenticators).user
    except APIException as error:  # a wrong or revoked token, an inactive user
        raise _Unauthenticated(str(error.detail)) from error
    if user is None or not user.is_authenticated:
        raise _Unauthenticated(_("Authentication credentials were not provided."))
    return user


def _api_message_for(request: HttpRequest, conversation_id: str, message_id: int) -> Message:
    """The API link: the caller must see the conversation it names (404 otherwise, exactly as
    the API's own endpoints answer), and the message must be in its thread as they see it."""
    user = _api_user(request)
    conversation = selectors.conversation_for(user, conversation_id, include_deleted=True)
    message = (
        selectors.thread_messages_queryset(user, conversation)
        .select_related("conversation", "inbox")
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        raise Http404(_("No such file."))
    return message


def _message_for(request: HttpRequest, message_id: int, index: int) -> Message:
    conversation_id = request.GET.get("conversation")
    if conversation_id is not None:
        return _api_message_for(request, conversation_id, message_id)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return selectors.message_for(user, message_id)
    message = Message.objects.select_related("conversation", "inbox").filter(pk=message_id).first()
    if message is None or not _customer_may(request, message, index):
        raise Http404(_("No such file."))
    return message


@require_GET
def attachment_download(request: HttpRequest, message_id: int, index: int) -> HttpResponse:
    try:
        message = _message_for(request, message_id, index)
    except _Unauthenticated as error:
        response = JsonResponse({"detail": str(error)}, status=401)
        response["WWW-Authenticate"] = "Token"
        return response
    files: list[Any] = message.attachments or []
    item = files[index] if 0 <= index < len(files) else None
    if not isinstance(item, dict) or not item.get("path"):
        raise Http404(_("No such file."))
    path = str(item["path"])
    if not default_storage.exists(path):
        raise Http404(_("The file is no longer stored."))
    content_type = str(item.get("content_type") or "application/octet-stream")
    inline = content_type in INLINE_TYPES
    response = FileResponse(
        default_storage.open(path, "rb"),
        as_attachment=not inline,
        filename=str(item.get("name") or "file"),
        content_type=content_type if inline else content_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=300"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
