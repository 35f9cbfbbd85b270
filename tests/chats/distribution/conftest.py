"""Helpers for distribution tests: put operators online with a capacity, run what commits
trigger (Celery is eager in tests, so the tasks run in-process when the callbacks do)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest

from accounts.models import OperatorProfile, Skill, User
from accounts.services import operator_profile_save, presence_set


def set_capacity(user: User, capacity: int | None) -> OperatorProfile:
    profile = OperatorProfile.objects.get(user=user)
    profile.max_concurrent_conversations = capacity
    return operator_profile_save(profile=profile, teams=profile.teams.all(), actor=None)


def give_skills(user: User, *skills: Skill) -> None:
    profile = OperatorProfile.objects.get(user=user)
    operator_profile_save(
        profile=profile, teams=profile.teams.all(), skills=list(skills), actor=None
    )


def profile(user: User) -> OperatorProfile:
    return OperatorProfile.objects.get(user=user)


@pytest.fixture
def triggers(django_capture_on_commit_callbacks: Any) -> Callable[[], AbstractContextManager]:
    """`with triggers(): ...` runs the on-commit callbacks of the block (events, tasks),
    including those the callbacks themselves register."""

    @contextmanager
    def run() -> Iterator[None]:
        with django_capture_on_commit_callbacks(execute=True):
            yield

    return run


@pytest.fixture
def go_online(triggers: Callable[[], AbstractContextManager]) -> Callable[..., OperatorProfile]:
    def online(
        user: User, capacity: int | None = None, presence: str = "online"
    ) -> OperatorProfile:
        with triggers():
            if capacity is not None:
                set_capacity(user, capacity)
            presence_set(user=user, presence=presence)
        return profile(user)

    return online
