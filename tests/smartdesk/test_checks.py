"""A deployment variable that is no longer read is reported by `manage.py check`."""

from __future__ import annotations

from django.core import checks


def test_a_variable_no_longer_read_is_reported(monkeypatch) -> None:
    monkeypatch.delenv("DISTRIBUTION_PRIORITY_HOOKS", raising=False)
    assert [m.id for m in checks.run_checks() if m.id == "smartdesk.W001"] == []

    monkeypatch.setenv("DISTRIBUTION_PRIORITY_HOOKS", "customers.selectors.loyalty_priority")
    found = [m for m in checks.run_checks() if m.id == "smartdesk.W001"]

    assert len(found) == 1
    assert "DISTRIBUTION_PRIORITY_HOOKS" in found[0].msg
    assert found[0].level == checks.WARNING
