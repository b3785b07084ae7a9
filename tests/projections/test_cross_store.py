"""The same answers on SQLite and PostgreSQL, after live updates and after a rebuild, compared row for row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ledger.store import Ledger
from projections.answers import to_json
from projections.queries import (
    accountability_report,
    blast_radius,
    governance_gaps,
    incident_timeline,
    list_incidents,
    output_detail,
    reliance_metrics,
    tool_state,
)
from projections.timefmt import parse_us
from projections.views import Views
from projections.worker import ProjectionWorker
from tests.ledgers import env_settings
from tests.projections.scenarios import ALL, NOW
from tests.projections.viewdump import Dump, dump, strip

Question = Callable[[Views], Any]
NOW_US = parse_us(NOW)
QUESTIONS: dict[str, Question] = {
    "incidents": lambda v: list_incidents(v),
    "timeline": lambda v: incident_timeline(v, "INC-WA"),
    "accountability": lambda v: [
        accountability_report(v, i, now=NOW_US) for i in ("INC-FN", "INC-FP", "INC-MP", "INC-FR", "INC-WA")
    ],
    "tool": lambda v: tool_state(v, "sepsis-watch", as_of=parse_us("2026-04-08T02:14:00Z")),
    "output": lambda v: output_detail(v, "out-wa-11"),
    "blast": lambda v: blast_radius(
        v, "deteriorate-ai", start=parse_us("2026-04-10T20:00:00Z"), end=parse_us("2026-04-10T20:30:00Z")
    ),
    "reliance": lambda v: reliance_metrics(v, now=NOW_US),
    "gaps": lambda v: governance_gaps(v, now=NOW_US),
}


def live_then_rebuilt(url: str) -> tuple[Dump, Dump, dict[str, Any]]:
    """Append the five scenarios while a worker follows; dump the views; rebuild; dump again; ask every question."""
    with Ledger(env_settings(url)) as ledger:
        worker = ProjectionWorker(ledger, interval=0.01, batch_size=7)
        worker.start()
        try:
            for build in ALL:
                events = build().events
                for start in range(0, len(events), 5):  # small appends, as emitters send them
                    ledger.submit(events[start : start + 5])
            worker.wait_for(ledger.head_seq(), timeout=30)
        finally:
            worker.stop()
        views = Views(ledger)
        live = dump(views)
        answers = {name: to_json(ask(views)) for name, ask in QUESTIONS.items()}
        views.projector.rebuild(batch_size=11, split=True)  # in two processes on PostgreSQL
        assert dump(views) == live
        views.projector.rebuild(batch_size=11, split=False)
        rebuilt = dump(views)
        assert {name: to_json(ask(views)) for name, ask in QUESTIONS.items()} == answers
    return live, rebuilt, answers


@pytest.mark.postgres
def test_live_and_rebuilt_views_agree_row_for_row_on_sqlite_and_on_postgres(sqlite_url: str, pg_url: str) -> None:
    sqlite_live, sqlite_rebuilt, sqlite_answers = live_then_rebuilt(sqlite_url)
    pg_live, pg_rebuilt, pg_answers = live_then_rebuilt(pg_url)

    assert sqlite_live == sqlite_rebuilt  # every column, recorded_us included
    assert pg_live == pg_rebuilt
    assert len(sqlite_live["events"]) == sum(len(build().events) for build in ALL)
    assert all(sqlite_live[table] for table in sqlite_live)  # every table has rows to compare

    # Across stores every row is the same but for when each ledger recorded it (its own clock).
    with Ledger(env_settings(sqlite_url)) as a, Ledger(env_settings(pg_url)) as b:
        assert dump(Views(a), without=("recorded_us",)) == dump(Views(b), without=("recorded_us",))
    for name in QUESTIONS:
        assert strip(sqlite_answers[name]) == strip(pg_answers[name]), name
