"""Names the product itself ships are shown in the viewer's language: the built-in roles, the
demo's loyalty tiers and their perks, the regions of the time-zone list (with each zone's UTC
offset). What an admin typed stays as typed."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client
from django.utils import translation

from accounts.models import OperatorProfile, Role
from accounts.timezones import time_zone_choices
from customers.demo import TIERS
from customers.models import LoyaltyTier
from tests import factories
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def signed_in(user, language: str) -> Client:
    OperatorProfile.objects.filter(user=user).update(language=language)
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_built_in_role_names_are_translated_and_typed_ones_are_not(roles) -> None:
    custom = factories.make_role(name="Night shift", slug="night")
    with translation.override("ru"):
        assert roles[Role.OPERATOR].display_name == "Оператор"
        assert roles[Role.ADMIN].display_name == "Администратор"
        assert roles[Role.SUPER_ADMIN].display_name == "Суперадминистратор"
        assert str(roles[Role.OPERATOR]) == "Оператор"
        assert custom.display_name == "Night shift"
    with translation.override("en"):
        assert roles[Role.ADMIN].display_name == "Admin"


def test_a_renamed_built_in_role_keeps_the_name_it_was_given(roles) -> None:
    role = roles[Role.OPERATOR]
    Role.objects.filter(pk=role.pk).update(name="Агент поддержки")
    role.refresh_from_db()
    with translation.override("en"):
        assert role.display_name == "Агент поддержки"


def test_the_home_page_names_the_role_in_russian(operator) -> None:
    html = signed_in(operator, "ru").get("/").content.decode()
    assert re.search(r"<dd>\s*Оператор\s*</dd>", html)
    assert ">Operator<" not in html


def test_the_demo_tiers_and_perks_are_translated_and_admins_tiers_are_not() -> None:
    gold_name, threshold, percent, _priority, perks = TIERS[2]
    gold = LoyaltyTier.objects.create(
        name=gold_name, threshold=threshold, accrual_percent=percent, perks=perks
    )
    own = LoyaltyTier.objects.create(
        name="Platinum", threshold=5000, accrual_percent=12, perks="A chef's table."
    )
    with translation.override("ru"):
        assert gold.display_name == "Золото"
        assert gold.display_perks.startswith("Бесплатная доставка")
        assert (own.display_name, own.display_perks) == ("Platinum", "A chef's table.")
    with translation.override("en"):
        assert gold.display_name == "Gold"


def test_the_time_zone_list_is_grouped_by_region_with_offsets() -> None:
    winter = datetime(2026, 1, 15, 12, tzinfo=UTC)
    with time_machine.travel(winter, tick=False), translation.override("ru"):
        choices = dict(time_zone_choices())
    assert choices["UTC"] == "UTC"
    europe = dict(choices["Европа"])
    assert europe["Europe/Moscow"] == "Москва (UTC+03:00)"
    assert europe["Europe/Berlin"] == "Берлин (UTC+01:00)"  # CLDR's city names, via Babel
    america = dict(choices["Америка"])
    assert america["America/Argentina/Buenos_Aires"] == "Буэнос-Айрес (UTC-03:00)"
    other = dict(choices["Другие"])
    assert other["Etc/GMT-3"] == "UTC+03:00"  # no place: the offset only
    # every zone the profile accepts is still offered; a legacy alias by its zone's city
    assert other["US/Eastern"] == "Нью-Йорк (UTC-05:00)"


def test_the_preferences_page_offers_time_zones_with_offsets(operator) -> None:
    html = signed_in(operator, "ru").get("/accounts/preferences/").content.decode()
    assert '<optgroup label="Европа">' in html
    assert re.search(r'<option value="Europe/Moscow"[^>]*>Москва \(UTC\+03:00\)</option>', html)


def test_the_preferences_form_still_saves_a_time_zone(operator) -> None:
    client = signed_in(operator, "en")
    form = client.get("/accounts/preferences/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and v is not False}
    data["time_zone"] = "Asia/Yekaterinburg"
    response = client.post("/accounts/preferences/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert OperatorProfile.objects.get(user=operator).time_zone == "Asia/Yekaterinburg"
