"""The access gate for capabilities: declared once, asked everywhere.

Views, the API, the admin, consumers and tasks ask `has_capability()` (or use the
decorator / DRF permission built on it); none of them read role flags directly. Which
conversations a user sees is `chats.selectors.visible_conversations`, built on `scope_of()`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import connections, models, router
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from accounts.models import OperatorProfile, Role, User
from smartdesk.core.statements import Reusable, Reusables, slot_int


class Capability(models.TextChoices):
    """What a role may do beyond seeing the conversations of its scope.

    Each value has a boolean field `can_<value>` on `Role`.
    """

    VIEW_DELETED_MESSAGES = "view_deleted_messages", _("See deleted messages")
    RESTORE_CONVERSATIONS = "restore_conversations", _("Restore deleted conversations")
    VIEW_STATISTICS = "view_statistics", _("View statistics")
    EXPORT_REPORTS = "export_reports", _("Export reports")
    MANAGE_TEMPLATES = "manage_templates", _("Manage reply templates")
    VIEW_CUSTOMER_PII = "view_customer_pii", _("See customer personal data")
    USE_ADMIN = "use_admin", _("Open the administration site")
    MANAGE_ACCESS = "manage_access", _("Manage roles, users and teams")
    EXCEED_CAPACITY = "exceed_capacity", _("Assign beyond an operator's capacity")
    ADJUST_LOYALTY = "adjust_loyalty", _("Adjust loyalty points and approve goodwill")
    # The write side of the gate (`chats.selectors.actionable_conversations`): without it a role
    # sees the conversations of its scope and acts on none of them.
    HANDLE_CONVERSATIONS = "handle_conversations", _("Work on conversations")
    # Customer-level writes (loyalty adjustments, goodwill decisions) for any customer; without
    # it only for customers of a conversation the user may act on.
    ACT_ON_ALL_CUSTOMERS = "act_on_all_customers", _("Change any customer's loyalty")


def role_field(capability: Capability) -> str:
    return f"can_{capability.value}"


def role_capabilities(role: Role) -> frozenset[Capability]:
    return frozenset(c for c in Capability if getattr(role, role_field(c)))


_CACHE_ATTR = "_smartdesk_profile"


def profile_of(user: Any) -> OperatorProfile | None:
    """The user's profile with its role, read once per user object (once per request)."""
    if user is None or not user.is_authenticated:
        return None
    if not hasattr(user, _CACHE_ATTR):
        if "profile" in user._state.fields_cache:
            # Read with the user (`select_related("profile__role")`, as `with_profile` does);
            # None when they have none.
            profile = user._state.fields_cache["profile"]
        else:
            profile = _read_profile(user.pk)
        setattr(user, _CACHE_ATTR, profile)
    return getattr(user, _CACHE_ATTR)


# Every request of a signed-in user reads their profile: compiled once per database
# (smartdesk/core/statements.py), as building and compiling it cost more than the read.
_profile_statements: Reusables[OperatorProfile] = Reusables(size=8)


def _read_profile(user_pk: int) -> OperatorProfile | None:
    """The profile with its role (a user has at most one)."""
    using = router.db_for_read(OperatorProfile)
    if connections[using].vendor != "postgresql":  # the embedded SQLite: built each time
        return OperatorProfile.objects.select_related("role").filter(user_id=user_pk).first()

    def build() -> Reusable[OperatorProfile]:
        user = slot_int()
        profiles = OperatorProfile.objects.using(using).select_related("role")
        return Reusable(profiles.filter(user_id=user)[:1], {"user": user})

    return next(iter(_profile_statements.get(using, build).run(user=user_pk)), None)


def with_profile(users: QuerySet[User]) -> QuerySet[User]:
    """Users read with their profile and role in the same query: `profile_of` then asks
    nothing more."""
    return users.select_related("profile__role")


def forget(user: Any) -> None:
    """Drop what `profile_of` remembered, after the user's profile changed."""
    if user is not None and hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)
    if user is not None and hasattr(user, "_state"):
        user._state.fields_cache.pop("profile", None)  # read with the user: as old


def capabilities_of(user: Any) -> frozenset[Capability]:
    """Capabilities of an active user: those of their role (archived or not).

    A Django superuser (made with `createsuperuser`) holds every capability: it is the
    break-glass account that works before any role is assigned.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return frozenset(Capability)
    profile = profile_of(user)
    if profile is None:
        return frozenset()
    return role_capabilities(profile.role)


def has_capability(user: Any, capability: Capability) -> bool:
    return capability in capabilities_of(user)


def scope_of(user: Any) -> str | None:
    """The role's access scope (`Role.Scope`), or None for a user who may see nothing."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.Scope.ALL
    profile = profile_of(user)
    return profile.role.scope if profile is not None else None


ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])


def capability_required(capability: Capability) -> Callable[[ViewFunc], ViewFunc]:
    """View decorator: anonymous users go to the login page, others without it get 403."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_capability(request.user, capability):
                raise PermissionDenied(_("Your role does not allow this."))
            return view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def api_capability(capability: Capability) -> type[BasePermission]:
    """A DRF permission class requiring `capability`."""

    class HasCapability(BasePermission):
        message = _("Your role does not allow this.")

        def has_permission(self, request: Any, view: Any) -> bool:
            return has_capability(request.user, capability)

    HasCapability.__name__ = f"Has_{capability.value}"
    return HasCapability
