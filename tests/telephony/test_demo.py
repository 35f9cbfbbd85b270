"""The demo telephony seed: a PBX, rules and calls in customers' history; twice is once."""

from __future__ import annotations

import pytest

from telephony.demo import seed_telephony_demo
from telephony.models import Call, CallEvent, Pbx, RouteRule
from tests import factories

pytestmark = pytest.mark.django_db


def test_seeding_twice_gives_the_same_calls(anna, boris) -> None:
    factories.make_customer("Ivan", phone="+79165550102")
    factories.make_customer("Olga", phone="+79165550103")
    seed_telephony_demo()
    counts = (
        Pbx.objects.count(),
        RouteRule.objects.count(),
        Call.objects.count(),
        CallEvent.objects.count(),
    )
    seed_telephony_demo()
    assert counts == (
        Pbx.objects.count(),
        RouteRule.objects.count(),
        Call.objects.count(),
        CallEvent.objects.count(),
    )
    assert counts[2] == 3
    assert not Pbx.objects.get().is_active  # never dials a PBX nobody configured
    states = sorted(Call.objects.values_list("state", flat=True))
    assert states == ["abandoned", "completed", "completed"]
    assert Call.objects.filter(customer__isnull=False).count() == 3
