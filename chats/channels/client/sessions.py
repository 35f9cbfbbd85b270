"""Who is talking through the widget or the app: signed client tokens and HMAC identify.

A client token is a Django-signed value (salted, time-limited) naming the inbox and either an
anonymous visitor id (`v`) or a customer (`c`). It carries no secret of the inbox: a page can
keep it in localStorage. Identify turns a visitor into a known customer when the host site or
the app's backend vouches for them with an HMAC, signed with the inbox secret on their server:

    payload   = "\\n".join(f"{k}={v}" for k, v in (("user_id", …), ("email", …), ("phone", …)) if v)
    signature = hex(HMAC-SHA256(key=inbox secret, msg=payload))

Signed values may not contain a line break or `=` (they would let one payload read as
another): such a value is a 400. A signature that is not hex is a 400 too.

The visitor's history joins the identified customer only while the visitor is still purely
anonymous (nothing but widget visitor ids, nothing verified). Identify then *claims* the
visitor id (`visitor:<id>` becomes `claimed:<id>`): the old visitor token stops working and
its socket hears nothing more, so a token left behind on a shared computer (or copied) can
neither read the signed-in customer's history nor attach another identity to them. A token
whose visitor became someone else (an admin merged them) identifies without linking.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from chats.models import Inbox
from customers.identities import (
    customer_current,
    customer_identify_verified,
    customer_link_verified,
)
from customers.languages import customer_language_set, language_normalise
from customers.models import Customer, Identity, LanguageSource
from customers.services import customer_identify

SALT = "smartdesk.client-token"
VISITOR_PREFIX = "visitor:"
CLAIMED_PREFIX = "claimed:"
FORBIDDEN_IN_VALUES = ("\r", "\n", "=")
IDENTIFY_FIELDS = (
    ("user_id", Identity.Kind.APP),
    ("email", Identity.Kind.EMAIL),
    ("phone", Identity.Kind.PHONE),
)


@dataclass
class ClientSession:
    inbox: Inbox
    visitor: str = ""
    customer: Customer | None = None
    # The language the widget's browser (or the app) said at the start, and how firmly
    # (a `LanguageSource`): the customer created on the first message gets it
    # (customers.languages).
    language: str = ""
    language_source: int = LanguageSource.HINT

    @property
    def subject(self) -> str:
        """Who the token speaks for, stable for the token's life: namespaces the client's own
        message ids (one client cannot collide with another) and names its socket group."""
        if self.visitor:
            return f"v{self.visitor}"
        assert self.customer is not None  # noqa: S101 - a session is a visitor or a customer
        return f"c{self.customer.pk}"

    def token(self) -> str:
        data: dict[str, Any] = {"i": self.inbox.pk}
        if self.language:
            data["l"] = self.language
            data["ls"] = int(self.language_source)
        if self.visitor:
            data["v"] = self.visitor
        else:
            data["c"] = self.customer.pk if self.customer is not None else None
        return signing.dumps(data, salt=SALT, compress=True)

    def customer_or_create(self) -> Customer:
        """The customer behind this session, created on the visitor's first message (a page
        view alone creates nobody)."""
        if self.customer is None:
            self.customer = customer_identify(
                kind=Identity.Kind.WIDGET, value=f"visitor:{self.visitor}"
            )
            customer_language_set(
                customer=self.customer, language=self.language, source=self.language_source
            )
        return self.customer


def _source(raw: Any) -> LanguageSource:
    """A token's language source; a token from before the ranking says a browser's guess."""
    try:
        return LanguageSource(raw)
    except ValueError:
        return LanguageSource.HINT


def session_start(
    *, inbox: Inbox, language: str = "", language_source: int = LanguageSource.HINT
) -> ClientSession:
    return ClientSession(
        inbox=inbox,
        visitor=secrets.token_hex(16),
        language=language_normalise(language),
        language_source=_source(language_source),
    )


def session_from_token(*, inbox: Inbox, token: str) -> ClientSession:
    """The session a token names; PermissionDenied for a forged, expired or foreign one."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.CLIENT_TOKEN_MAX_AGE_DAYS * 86400)
    except signing.BadSignature:
        raise PermissionDenied(_("The client token is invalid or expired.")) from None
    if not isinstance(data, dict) or data.get("i") != inbox.pk:
        raise PermissionDenied(_("The client token is for another inbox."))
    language = language_normalise(data.get("l"))
    source = _source(data.get("ls"))
    if "c" in data:
        customer = customer_current(int(data["c"]))
        if customer is None:
            raise PermissionDenied(_("The client token is invalid or expired."))
        return ClientSession(
            inbox=inbox, customer=customer, language=language, language_source=source
        )
    visitor = str(data.get("v") or "")
    if not visitor:
        raise PermissionDenied(_("The client token is invalid or expired."))
    values = Identity.objects.filter(
        kind=Identity.Kind.WIDGET,
        value__in=[VISITOR_PREFIX + visitor, CLAIMED_PREFIX + visitor],
    )
    known = None
    for identity in values.select_related("customer"):
        if identity.value.startswith(CLAIMED_PREFIX):
            # The visitor signed in: this token no longer speaks for anyone.
            raise PermissionDenied(_("This chat session ended when the visitor signed in."))
        known = identity
    session = ClientSession(inbox=inbox, visitor=visitor, language=language, language_source=source)
    if known is not None:
        session.customer = customer_current(known.customer_id)
    return session


def identify_payload(values: dict[str, str]) -> str:
    return "\n".join(
        f"{name}={values[name]}" for name, _kind in IDENTIFY_FIELDS if values.get(name)
    )


def identify_signature(secret: str, values: dict[str, str]) -> str:
    """What the host's server computes (documented in docs/channels.md)."""
    return hmac.new(secret.encode(), identify_payload(values).encode(), hashlib.sha256).hexdigest()


@transaction.atomic
def session_identify(
    *,
    inbox: Inbox,
    values: dict[str, str],
    signature: str,
    name: str = "",
    session: ClientSession | None = None,
    language: str = "",
    language_source: int = LanguageSource.HINT,
) -> ClientSession:
    """A verified identify: the signature must match (PermissionDenied otherwise, nothing
    stored). The customer is the one those identities name; an anonymous visitor's history
    joins them (their visitor record is merged in). `language` said by `language_source`
    (else the visitor session's) is stored on the customer by the ranking of
    customers.languages: a browser's guess never replaces a language set on purpose."""
    if not identify_payload(values):
        raise ValidationError(_("Identify needs a user_id, an email or a phone."))
    for field, _kind in IDENTIFY_FIELDS:
        if any(char in (values.get(field) or "") for char in FORBIDDEN_IN_VALUES):
            raise ValidationError(
                _("The %(field)s may not contain a line break or “=”.") % {"field": field}
            )
    given = (signature or "").strip().lower()
    if not given or len(given) > 128 or any(c not in "0123456789abcdef" for c in given):
        raise ValidationError(_("The signature must be a hex HMAC-SHA256."))
    expected = identify_signature(inbox.secret, values)
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise PermissionDenied(_("The identity signature does not match."))
    pairs = [(kind, values[field]) for field, kind in IDENTIFY_FIELDS if values.get(field)]
    first, _sep, last = (name or "").strip().partition(" ")
    visitor_identity = None
    if session is not None and session.visitor:
        visitor_identity = (
            Identity.objects.select_for_update()
            .filter(kind=Identity.Kind.WIDGET, value=VISITOR_PREFIX + session.visitor)
            .first()
        )
    anonymous = (
        visitor_identity is not None
        and session is not None
        and session.customer is not None
        and session.customer.pk == visitor_identity.customer_id
        and customer_is_anonymous(session.customer)
    )
    if anonymous:
        assert session is not None and session.customer is not None  # noqa: S101 - checked above
        customer = customer_link_verified(
            customer=session.customer, identities=pairs, first_name=first, last_name=last
        )
    else:
        customer = customer_identify_verified(identities=pairs, first_name=first, last_name=last)
    if visitor_identity is not None:
        _claim_visitor(visitor_identity)
    source = _source(language_source)
    language = language_normalise(language)
    if not language and session is not None:
        language, source = session.language, _source(session.language_source)
    customer_language_set(customer=customer, language=language, source=source)
    return ClientSession(inbox=inbox, customer=customer, language=language, language_source=source)


def customer_is_anonymous(customer: Customer) -> bool:
    """Nothing but widget visitor ids, nothing verified, no back-office id: a record nobody
    has vouched for, which an identify may join to the customer it names."""
    identities = Identity.objects.filter(customer_id=customer.pk)
    if identities.exclude(kind=Identity.Kind.WIDGET).exists():
        return False
    if identities.filter(verified=True).exists():
        return False
    return not getattr(customer, "external_id", None)


def _claim_visitor(identity: Identity) -> None:
    """Retire a visitor id after an identify: its token is refused from now on and its socket
    group gets no more replies."""
    Identity.objects.filter(pk=identity.pk).update(
        value=CLAIMED_PREFIX + identity.value.removeprefix(VISITOR_PREFIX)
    )
