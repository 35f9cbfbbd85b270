"""Every export dataset keeps its gate: a user scoped to one team exports only rows of
what it may see, in the files and in the API, dataset by dataset. Taking the gate out of any
one dataset (`visible_conversations`, `visible_calls`, `stat_scope`) fails this test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from analytics import exports
from tests.analytics.export_seed import (
    TwoTeams,
    api_rows,
    as_user,
    csv_rows,
    file_body,
    seed_two_teams,
)

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Gate:
    """Which column says whose a row is, and the owners the team user may and may not see."""

    column: str
    allowed: Callable[[TwoTeams], set[int]]
    hidden: Callable[[TwoTeams], set[int]]


GATES = {
    "conversations": Gate(
        "id", lambda s: {c.pk for c in s.mine}, lambda s: {c.pk for c in s.theirs}
    ),
    "events": Gate(
        "conversation_id", lambda s: {c.pk for c in s.mine}, lambda s: {c.pk for c in s.theirs}
    ),
    "messages": Gate(
        "conversation_id", lambda s: {c.pk for c in s.mine}, lambda s: {c.pk for c in s.theirs}
    ),
    "calls": Gate("id", lambda s: {s.my_call.pk}, lambda s: {s.their_call.pk}),
    "hourly": Gate("team_id", lambda s: {s.support.pk}, lambda s: {s.delivery.pk}),
    "operators": Gate("operator_id", lambda s: s.support_people, lambda s: s.delivery_people),
}


def test_the_table_covers_every_dataset() -> None:
    assert set(GATES) == set(exports.DATASETS)


@pytest.fixture
def seeded(support, delivery, support_inbox, delivery_inbox, operator, outsider) -> TwoTeams:
    return seed_two_teams(
        support=support,
        delivery=delivery,
        support_inbox=support_inbox,
        delivery_inbox=delivery_inbox,
        operator=operator,
        outsider=outsider,
    )


def _owners(rows: list[dict], column: str) -> set[int]:
    return {int(r[column]) for r in rows if r[column] not in (None, "")}


@pytest.mark.parametrize("dataset", sorted(GATES))
def test_a_team_scoped_exporter_gets_only_its_rows(seeded, admin_user, dataset) -> None:
    gate = GATES[dataset]
    allowed, hidden = gate.allowed(seeded), gate.hidden(seeded)
    # the seed has rows on both sides: somebody who sees everything gets the hidden ones
    everything = _owners(api_rows(as_user(admin_user), dataset), gate.column)
    assert hidden & everything, f"{dataset}: the seed should have rows outside the team"
    lead = as_user(seeded.lead)
    from_api = _owners(api_rows(lead, dataset), gate.column)
    from_file = _owners(csv_rows(file_body(lead, dataset, "csv")), gate.column)
    for seen in (from_api, from_file):
        assert seen, f"{dataset}: the team's own rows are exported"
        assert seen <= allowed, f"{dataset}: rows outside the scope: {seen - allowed}"
        assert not seen & hidden
