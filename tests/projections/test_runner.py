"""Exactly once, in seq order, never skipping: the projector's guarantees, on both stores."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from typing import Any

import pytest

from ledger.store import Ledger, Record
from projections import share
from projections.db import PositionMoved
from projections.errors import ProjectionFailed, ViewsOutdated
from projections.facts import Fact, FactUnreadable
from projections.logic import EVENTS, OUTPUTS, Change, Projection
from projections.queries import list_incidents
from projections.runner import Projector
from projections.views import Views
from scripts.bench_projections import synthetic_events
from tests.attacker import Attacker
from tests.factories import many_shown
from tests.ledgers import env_settings
from tests.projections.conftest import Opened
from tests.projections.scenarios import false_negative
from tests.projections.viewdump import dump


def count(projector: Projector, table: str) -> int:
    return int(projector.db.select("SELECT COUNT(*) FROM {" + table + "}")[0][0])


def seqs(projector: Projector) -> list[int]:
    return [int(r[0]) for r in projector.db.select("SELECT seq FROM {events} ORDER BY seq")]


def test_catch_up_projects_every_record_once_in_seq_order(opened: Opened) -> None:
    opened.ledger.submit(many_shown(25))
    projector = opened.views.projector
    assert projector.catch_up(batch_size=7) == 25
    assert seqs(projector) == list(range(1, 26))
    assert count(projector, "displays") == 25
    assert projector.step() == 0  # nothing new: nothing written
    assert projector.positions() == {"events": 25, "outputs": 25, "incidents": 25}


def test_a_position_that_moved_refuses_the_write_and_writes_nothing(opened: Opened) -> None:
    opened.ledger.submit(many_shown(5))
    projector = opened.views.projector
    projector.catch_up()
    with pytest.raises(PositionMoved), projector.db.writing() as writer:
        writer.execute(
            "INSERT INTO {displays} (seq, event_id, output_id, clinician_id, surface, shown_us, recorded_us) "
            "VALUES (99, 'x', 'o', 'c', 's', 0, 0)"
        )
        writer.advance("outputs", expected=0, seq=5)  # as if replaying the first batch
    assert count(projector, "displays") == 5  # the row written before the refusal was rolled back


def test_concurrent_projectors_write_each_event_exactly_once(store_url: str) -> None:
    with Ledger(env_settings(store_url)) as ledger:
        ledger.submit(many_shown(600))
        Projector(ledger)  # create the tables once
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with Ledger(env_settings(store_url)) as own:
                Projector(own).catch_up(batch_size=25)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Ledger(env_settings(store_url)) as ledger:
        projector = Projector(ledger)
        assert seqs(projector) == list(range(1, 601))
        assert count(projector, "displays") == 600
        assert projector.position() == 600


def _refuse_actions(fact: Fact) -> list[Change]:
    raise FactUnreadable("this projection cannot read actions")


BROKEN = Projection(
    name="outputs",
    version=OUTPUTS.version,
    tables=OUTPUTS.tables,
    handlers={**OUTPUTS.handlers, "output.acted": _refuse_actions},
)


def test_a_failing_projection_stops_at_the_seq_names_the_event_type_and_never_skips_it(opened: Opened) -> None:
    s = false_negative()
    opened.ledger.submit(s.events)
    failing = s.seq("dismissed")
    broken = Projector(opened.ledger, projections=(EVENTS, BROKEN))
    with pytest.raises(ProjectionFailed, match=f"seq {failing} \\(output.acted\\)") as raised:
        broken.catch_up(batch_size=4)
    assert raised.value.projection == "outputs" and raised.value.seq == failing
    assert broken.positions() == {"events": failing - 1, "outputs": failing - 1}  # everything before, nothing after
    assert seqs(broken) == list(range(1, failing))
    with pytest.raises(ProjectionFailed, match=f"seq {failing}"):
        broken.catch_up()  # again: it does not move past the event
    status = {st.name: st for st in Projector(opened.ledger).status()}
    assert status["outputs"].state == "failed" and status["outputs"].failure is not None
    assert status["outputs"].failure["seq"] == failing and status["outputs"].failure["event_type"] == "output.acted"

    fixed = Projector(opened.ledger)  # the cause fixed: it resumes at the failed seq, and the failure clears
    assert fixed.catch_up() == len(s.events)
    assert seqs(fixed) == list(range(1, len(s.events) + 1))
    assert {st.state for st in fixed.status()} == {"current"}


class _LedgerWithAHole:
    """A ledger whose reads lose one record, as if a row had been deleted."""

    def __init__(self, ledger: Ledger, missing: int) -> None:
        self._ledger, self._missing = ledger, missing

    def read(self, *, after_seq: int = 0, limit: int = 1000) -> list[Record]:
        return [r for r in self._ledger.read(after_seq=after_seq, limit=limit) if r.seq != self._missing]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)


def test_a_missing_seq_stops_the_projection_rather_than_skip_it(opened: Opened) -> None:
    opened.ledger.submit(many_shown(10))
    projector = Projector(_LedgerWithAHole(opened.ledger, 6))  # type: ignore[arg-type]
    with pytest.raises(ProjectionFailed, match="seq 6 is missing"):
        projector.catch_up()
    assert projector.position() == 5


def _unreadable_at_4(url: str) -> Ledger:
    """A ledger of 8 events whose 4th stored event's bytes an attacker replaced with what is not JSON."""
    with Ledger(env_settings(url)) as ledger:
        ledger.submit(many_shown(8))
    Attacker(url).run("UPDATE {events} SET state = %s WHERE seq = 4", params=(b"{not json",))
    return Ledger(env_settings(url))


def test_a_stored_event_that_cannot_be_read_stops_the_projection_at_its_seq(store_url: str) -> None:
    with _unreadable_at_4(store_url) as ledger:
        projector = Projector(ledger)
        with pytest.raises(ProjectionFailed, match="seq 4 \\(output.shown\\): the stored bytes are not JSON"):
            projector.catch_up()
        assert projector.position() == 3


def test_status_reports_position_head_and_lag(opened: Opened) -> None:
    opened.ledger.submit(many_shown(10))
    projector = opened.views.projector
    projector.catch_up()
    opened.ledger.submit(many_shown(4, prefix="later"))
    status = projector.status()
    assert {(s.position, s.head, s.lag_events, s.state) for s in status} == {(10, 14, 4, "behind")}
    assert all(s.lag_seconds is not None and s.lag_seconds >= 0 for s in status)
    projector.catch_up()
    assert {(s.position, s.lag_events, s.lag_seconds, s.state) for s in projector.status()} == {(14, 0, 0.0, "current")}


def test_views_built_by_another_version_refuse_to_answer_until_rebuilt(opened: Opened) -> None:
    opened.append(false_negative())
    with opened.views.db.writing() as writer:
        writer.execute("UPDATE {meta} SET version = 0 WHERE name = 'incidents'")
    projector = Projector(opened.ledger)
    assert projector.outdated == ["incidents"]
    with pytest.raises(ViewsOutdated, match="ledger projections rebuild"):
        projector.step()
    assert {s.name: s.state for s in projector.status()}["incidents"] == "outdated"
    report = projector.rebuild()
    assert report.events == len(false_negative().events) and projector.outdated == []
    from projections.views import Views

    assert list_incidents(Views(opened.ledger, projector=projector))["total"] == 1


@pytest.mark.parametrize("split", [False, True], ids=["one process", "split"])
def test_a_bulk_rebuild_writes_the_rows_projecting_step_by_step_writes_the_first_output_of_an_id_kept(
    opened: Opened, split: bool
) -> None:
    events = list(synthetic_events(2400))
    generated = [i for i, e in enumerate(events) if e["type"] == "output.generated"]
    repeated = []
    # Rebuilt in batches of 1100 records: an output repeated within the second batch, and one
    # repeated in a later batch than its first. Inserted from the end, so that each index still
    # names the event it did.
    within = next(i for i in generated if i > 1200)
    for at, original in ((2000, within), (1500, generated[5])):
        repeat = {**events[original], "event_id": str(uuid.uuid4())}
        events.insert(at, {**repeat, "data": {**repeat["data"], "score": 0.123}})
        repeated.append(repeat["data"]["output_id"])
    opened.ledger.submit(events)
    projector = opened.views.projector
    projector.catch_up(batch_size=50)
    live = dump(opened.views)
    projector.rebuild(batch_size=1100, split=split)  # batches of more than 1000 records take the bulk path
    assert dump(opened.views) == live
    kept = {str(r[0]): int(r[1]) for r in projector.db.select("SELECT output_id, seq FROM {outputs}")}
    for output_id in repeated:
        first = next(i for i, e in enumerate(events) if e["data"].get("output_id") == output_id)
        assert kept[output_id] == first + 1


@pytest.mark.postgres
def test_a_rebuild_split_in_two_processes_stops_at_an_unreadable_event_in_every_projection(pg_url: str) -> None:
    with _unreadable_at_4(pg_url) as ledger:
        projector = Projector(ledger)
        with pytest.raises(ProjectionFailed, match="seq 4 \\(output.shown\\): the stored bytes are not JSON"):
            projector.rebuild(split=True)
        assert projector.positions() == {"events": 3, "outputs": 3, "incidents": 3}
        assert seqs(projector) == [1, 2, 3]
        assert {s.state for s in projector.status()} == {"failed"}


@pytest.mark.postgres
def test_a_split_rebuild_whose_helper_cannot_run_still_builds_every_view_exactly(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_helper(*_: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"], stdin=subprocess.PIPE)

    with Ledger(env_settings(pg_url)) as ledger:
        ledger.submit(list(synthetic_events(1500)))
        projector = Projector(ledger)
        projector.catch_up()
        live = dump(projector_views(ledger, projector))
        monkeypatch.setattr(share, "start", failing_helper)
        assert projector.rebuild(batch_size=200, split=True).events == ledger.head_seq()
        assert dump(projector_views(ledger, projector)) == live


def projector_views(ledger: Ledger, projector: Projector) -> Views:
    return Views(ledger, projector=projector)


@pytest.mark.postgres
@pytest.mark.parametrize("split", [False, True])
def test_a_stored_event_without_its_bytes_stops_the_projection_and_the_rebuild_at_its_seq(
    pg_url: str, split: bool
) -> None:
    # SQLite declares the column NOT NULL; on PostgreSQL only an edit of the table can empty it.
    with Ledger(env_settings(pg_url)) as ledger:
        ledger.submit(many_shown(8))
    Attacker(pg_url).run("UPDATE {events} SET state = NULL WHERE seq = 4")
    with Ledger(env_settings(pg_url)) as ledger:
        projector = Projector(ledger)
        with pytest.raises(ProjectionFailed, match="seq 4 .*missing chain column: the row has a seq but no state"):
            projector.catch_up()
        assert projector.position() < 4  # the page holding it stops whole: nothing at or after seq 4
        with pytest.raises(ProjectionFailed, match="seq 4"):
            projector.rebuild(split=split)
        assert projector.position() < 4  # nothing at or after the unreadable record
