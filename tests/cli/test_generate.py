"""`ledger generate`: the demo hospital's shape at any volume, the same events for the same seed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest

from ledger.audit import verify_store
from ledger.proof.canonical import canonical_json
from ledger.store import Ledger
from scripts.cli import main
from scripts.demo_hospital import volume
from tests.ledgers import env_settings


def _bytes(seed: int, count: int) -> list[bytes]:
    return [canonical_json(event) for event in volume.events(seed, count)]


def test_the_same_seed_gives_the_same_event_bytes_and_another_seed_others() -> None:
    """Two runs with one seed agree byte for byte; another seed changes the events, not their number."""
    first, again, other = _bytes(7, 3000), _bytes(7, 3000), _bytes(8, 3000)

    assert first == again and len(first) == 3000
    assert len(other) == 3000 and other != first
    assert len({orjson.loads(b)["event_id"] for b in first}) == 3000


def test_a_large_count_keeps_the_hospitals_shape() -> None:
    """At several times the demo's volume: every event type of the story, the five incidents, mostly care."""
    types = Counter(str(orjson.loads(b)["type"]) for b in _bytes(3, 30_000))

    assert sum(types.values()) == 30_000
    assert types["incident.reported"] == 5 and types["tool.approved"] == 5
    assert types["output.generated"] > 9000 and 0 <= types["output.generated"] - types["output.shown"] < 10  # the cut


@pytest.mark.slow
def test_generate_appends_the_events_once_and_the_ledger_verifies(tmp_path: Path) -> None:
    """Two ledgers filled with one seed hold the same events (sealed fields aside: their ciphertexts differ); a
    rerun appends none."""
    urls = [f"sqlite:///{tmp_path}/{name}.sqlite3" for name in ("a", "b")]
    for url in urls:
        assert main(["generate", "--events", "2500", "--seed", "5", "--database-url", url]) == 0
    assert main(["generate", "--events", "2500", "--seed", "5", "--database-url", urls[0]]) == 0

    opened = []
    for url in urls:
        with Ledger(env_settings(url), create_tables=False) as ledger:
            assert ledger.head_seq() == 2500
            assert verify_store(ledger).intact
            opened.append([ledger.open(r, reveal=False).envelope for r in ledger.read(limit=3000)])
    assert opened[0] == opened[1]


def test_a_count_that_is_not_a_positive_number_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--events 0 exits 2 with one line, before any database is opened."""
    with pytest.raises(SystemExit) as stopped:
        main(["generate", "--events", "0", "--database-url", "sqlite:////nonexistent/dir/x.sqlite3"])
    assert stopped.value.code == 2
    assert "--events: must be 1 to" in capsys.readouterr().err
