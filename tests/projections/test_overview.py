"""The incident overview the pages' list shows: filters, counts by the other filters, overdue and gapped first."""

from __future__ import annotations

from projections import queries
from projections.answers import to_json
from projections.policy import DEFAULT_POLICY
from projections.queries.loading import load_incident, load_incidents
from projections.queries.overview import FILTERS, _item
from tests.projections.conftest import Opened
from tests.projections.governance_scenarios import gaps_story, recurrence_story
from tests.projections.scenarios import ALL


def test_overdue_incidents_come_first_then_those_with_open_gaps_and_every_filter_is_counted(
    opened_sqlite: Opened,
) -> None:
    opened_sqlite.append(*(scenario() for scenario in ALL))
    found = to_json(queries.incident_overview(opened_sqlite.views))
    order = [(i["incident_id"], i["deadline"], i["open_gaps"] > 0) for i in found["incidents"]]
    overdue = [incident for incident, deadline, _ in order if deadline in ("missed", "late")]
    assert [incident for incident, _, _ in order[: len(overdue)]] == overdue and overdue
    rest = [gapped for _, deadline, gapped in order[len(overdue) :]]
    assert rest == sorted(rest, reverse=True)  # gapped (True) before the others
    assert found["total"] == found["of"] == 5
    assert sum(found["counts"]["unit"].values()) == 5 and set(found["counts"]) == set(FILTERS)


def test_a_filter_narrows_the_list_and_the_counts_of_the_other_filters_but_not_its_own(opened_sqlite: Opened) -> None:
    opened_sqlite.append(*(scenario() for scenario in ALL))
    found = to_json(queries.incident_overview(opened_sqlite.views, unit="ed"))
    assert [i["incident_id"] for i in found["incidents"]] == ["INC-FN"]
    assert found["counts"]["harm"] == {"severe_harm": 1}
    assert len(found["counts"]["unit"]) == 5  # what choosing another unit would show


def test_the_incident_pages_dossier_is_the_timeline_and_the_report_from_one_snapshot(opened_sqlite: Opened) -> None:
    """incident_dossier answers what incident_timeline and accountability_report answer, read once."""
    opened_sqlite.append(*(scenario() for scenario in ALL))
    now = 1_800_000_000_000_000
    dossier = to_json(queries.incident_dossier(opened_sqlite.views, "INC-MP", now=now))
    assert dossier["timeline"] == to_json(queries.incident_timeline(opened_sqlite.views, "INC-MP"))
    assert dossier["report"] == to_json(queries.accountability_report(opened_sqlite.views, "INC-MP", now=now))


def test_the_list_loads_every_incident_at_once_and_judges_each_as_its_own_page_would(opened: Opened) -> None:
    """load_incidents (a few selects for all incidents, whole tool histories) gives each incident the deadline
    state, units, tools and open gaps that load_incident (one incident at a time) gives it, on both stores:
    the five error scenarios, a remediated recurrence and the gaps story."""
    opened.append(*(scenario() for scenario in ALL), recurrence_story(), gaps_story())
    now = 1_800_000_000_000_000
    with opened.views.reading() as snap:
        rows = snap.incidents("1 = 1", {})
        alone = [to_json(_item(load_incident(snap, row.incident_id), now=now, policy=DEFAULT_POLICY)) for row in rows]
        at_once = [to_json(_item(ctx, now=now, policy=DEFAULT_POLICY)) for ctx in load_incidents(snap, rows)]
    assert len(rows) >= 7 and at_once == alone
