"""The ledger's own source and control events stay out of the command line's foreign entry points.

``ledger api-keys create`` binds no key to the source ``ledger``, and ``ledger
import`` (a backfill of other systems' events) refuses every control event and
every event of that source: one line, exit 2, nothing appended.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.apikeys import KeyStore
from ledger.catalogue import CONTROL_TYPES, RESERVED_SOURCE
from ledger.catalogue.examples import EXAMPLES
from ledger.store import Ledger
from scripts.cli import main
from tests.factories import many_shown, shown
from tests.ledgers import env_settings


def test_no_emitter_key_can_be_bound_to_the_ledgers_own_source(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["api-keys", "create", "--role", "emitter", "--source", RESERVED_SOURCE,
                 "--database-url", store_url]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "reserved for the ledger's own events" in err
    assert KeyStore(store_url).list() == []


@pytest.mark.parametrize("event_type", sorted(CONTROL_TYPES))
def test_import_refuses_a_file_holding_a_control_event_and_appends_nothing(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], event_type: str
) -> None:
    events = [*many_shown(3), EXAMPLES[event_type], shown()]  # the example carries the ledger's own source
    file = tmp_path / "history.jsonl"
    file.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert main(["import", str(file), "--database-url", store_url]) == 2
    err = capsys.readouterr().err
    assert "line 4: type: this event type is a control event" in err and "nothing was appended" in err
    with Ledger(env_settings(store_url)) as ledger:
        assert ledger.head_seq() == 0


def test_import_refuses_an_event_of_the_ledgers_own_source(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "history.jsonl"
    file.write_text(json.dumps(shown(source=RESERVED_SOURCE)) + "\n")
    assert main(["import", str(file), "--database-url", sqlite_url]) == 2
    assert "line 1: source: this source is reserved" in capsys.readouterr().err
    with Ledger(env_settings(sqlite_url)) as ledger:
        assert ledger.head_seq() == 0
