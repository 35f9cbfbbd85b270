"""Back-office clients: how they authenticate (a bearer key) and sign webhooks (HMAC).

A client sends `Authorization: Bearer <key>.<secret>`. Only a SHA-256 of the secret is stored
(the secret is long and random, so a slow hash buys nothing); the comparison is constant-time.
Webhooks carry `X-Smartdesk-Timestamp` and `X-Smartdesk-Signature: sha256=<hex>`, the
HMAC-SHA256 of `<timestamp>.<raw body>` with the client's webhook secret; a signature older
than five minutes is refused, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission

from customers.models import IntegrationClient

SIGNATURE_MAX_AGE = 300  # seconds


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewClient:
    client: IntegrationClient
    token: str  # shown once: `<key>.<secret>`


@transaction.atomic
def integration_client_create(*, name: str) -> NewClient:
    """A new back-office client. Its token and webhook secret are only ever shown here."""
    key = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    client = IntegrationClient.objects.create(
        name=name,
        key=key,
        secret_hash=_hash(secret),
        webhook_secret=secrets.token_urlsafe(32),
    )
    return NewClient(client, f"{key}.{secret}")


def client_for_token(token: str) -> IntegrationClient | None:
    key, _dot, secret = token.partition(".")
    if not key or not secret:
        return None
    client = IntegrationClient.objects.filter(key=key, is_active=True).first()
    # Compare even when there is no such client, so timing does not tell which keys exist.
    expected = client.secret_hash if client else _hash("no-such-client")
    if not hmac.compare_digest(expected, _hash(secret)) or client is None:
        return None
    return client


class BackOfficeCaller:
    """`request.user` for a back-office client: authenticated, never a person, no role."""

    is_authenticated = True
    is_active = True
    is_superuser = False
    is_staff = False
    pk = None
    id = None

    def __init__(self, client: IntegrationClient) -> None:
        self.client = client

    def __str__(self) -> str:
        return str(self.client)


class BackOfficeAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[BackOfficeCaller, IntegrationClient] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid Authorization header."))
        try:
            token = header[1].decode()
        except UnicodeError as error:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from error
        client = client_for_token(token)
        if client is None:
            raise exceptions.AuthenticationFailed(_("Invalid or inactive back-office token."))
        # At most one write a minute per client: "last used" is for humans, not a counter.
        now = timezone.now()
        if client.last_used_at is None or (now - client.last_used_at).total_seconds() > 60:
            IntegrationClient.objects.filter(pk=client.pk).update(last_used_at=now)
        return BackOfficeCaller(client), client

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


class BackOfficeAuthenticationScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema documents the back-office token."""

    target_class = BackOfficeAuthentication
    name = "backOfficeToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "<key>.<secret>",
            "description": "A back-office client token (Django admin: back-office clients).",
        }


class IsBackOfficeClient(BasePermission):
    message = _("A back-office client token is required.")

    def has_permission(self, request: Any, view: Any) -> bool:
        return isinstance(request.auth, IntegrationClient)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def signature_valid(
    client: IntegrationClient,
    *,
    timestamp: str,
    signature: str,
    body: bytes,
    now: float | None = None,
) -> bool:
    """Constant-time check of a webhook signature, fresh within SIGNATURE_MAX_AGE."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - sent_at) > SIGNATURE_MAX_AGE:
        return False
    expected = sign(client.webhook_secret, timestamp, body)
    return hmac.compare_digest(expected.encode(), (signature or "").encode())
