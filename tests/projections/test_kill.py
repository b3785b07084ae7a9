"""Killing the projection process mid-way (SIGKILL) and restarting it loses and duplicates nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import pytest

from ledger.store import Ledger
from projections import share
from projections.runner import Projector
from projections.views import Views
from scripts.bench_projections import synthetic_events
from tests.ledgers import env_settings
from tests.projections.viewdump import dump

EVENTS = 3000


def projection_process(url: str, *, pause: float) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "scripts.cli", "projections", "run", "--database-url", url, "--batch-size", "25"]
    return subprocess.Popen([*command, "--pause", str(pause)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill_when_past(process: subprocess.Popen[bytes], projector: Projector, seq: int) -> int:
    """SIGKILL the process once the views are past ``seq``; the position it left."""
    deadline = time.monotonic() + 60
    while projector.position() <= seq:
        assert process.poll() is None, process.stderr.read() if process.stderr else b""
        assert time.monotonic() < deadline, "the projection process made no progress"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    return projector.position()


def _load(ledger: Ledger) -> list[dict[str, Any]]:
    """The synthetic hospital's EVENTS events, appended in batches of 1000; returned as sent."""
    events = list(synthetic_events(EVENTS))
    for start in range(0, len(events), 1000):
        ledger.submit(events[start : start + 1000])
    return events


def test_sigkill_mid_way_and_restart_loses_and_duplicates_nothing(store_url: str) -> None:
    with Ledger(env_settings(store_url)) as ledger:
        events = _load(ledger)
        head = ledger.head_seq()
        projector = Projector(ledger)

        stops = []
        for fraction in (0.25, 0.6):  # killed twice, at different points
            process = projection_process(store_url, pause=0.005)
            stops.append(kill_when_past(process, projector, int(head * fraction)))
        assert 0 < stops[0] < stops[1] < head, stops

        finished = projection_process(store_url, pause=0)
        assert finished.wait(120) == 0, finished.stderr.read() if finished.stderr else b""

        views = Views(ledger)
        seqs = [int(r[0]) for r in views.db.select("SELECT seq FROM {events} ORDER BY seq")]
        assert seqs == list(range(1, head + 1))  # nothing lost, nothing twice
        types = Counter(str(e["type"]) for e in events)
        for table, event_type in (
            ("outputs", "output.generated"),
            ("displays", "output.shown"),
            ("actions", "output.acted"),
        ):
            assert views.db.select("SELECT COUNT(*) FROM {" + table + "}")[0][0] == types[event_type], table
        after_kills = dump(views)
        views.projector.rebuild()
        assert dump(views) == after_kills  # row for row what an uninterrupted build gives


@pytest.mark.postgres
def test_a_split_rebuilds_helper_stops_when_its_parent_goes_and_what_it_wrote_holds_exactly_once(pg_url: str) -> None:
    with Ledger(env_settings(pg_url)) as ledger:
        _load(ledger)
        head = ledger.head_seq()
        projector = Projector(ledger)  # fresh views: every position at 0, as after a rebuild's reset
        helper = share.start(ledger.url, ["events"], batch_size=7)
        deadline = time.monotonic() + 60
        while projector.positions()["events"] == 0:
            assert helper.poll() is None and time.monotonic() < deadline, "the helper made no progress"
            time.sleep(0.01)
        assert helper.stdin is not None
        helper.stdin.close()  # as when the rebuild's process ends
        assert helper.wait(10) == 1
        stopped = projector.positions()
        assert 0 < stopped["events"] < head and stopped["outputs"] == 0
        assert seqs(projector) == list(range(1, stopped["events"] + 1))  # its batches, whole, once

        assert projector.catch_up() == head
        assert seqs(projector) == list(range(1, head + 1))


def seqs(projector: Projector) -> list[int]:
    return [int(r[0]) for r in projector.db.select("SELECT seq FROM {events} ORDER BY seq")]
