"""Read queries for users and teams."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Team, User


def user_teams(*, user: User) -> QuerySet[Team]:
    return Team.objects.filter(members__user=user).order_by("name")


def assignable_operators() -> QuerySet[User]:
    """Who a conversation can be given to: active users with an operator profile whose role
    works on conversations (`chats.services.conversations` refuses the others)."""
    return User.objects.filter(
        is_active=True, profile__isnull=False, profile__role__can_handle_conversations=True
    ).order_by("first_name", "last_name", "username")


def teams_by_name() -> QuerySet[Team]:
    return Team.objects.order_by("name")
