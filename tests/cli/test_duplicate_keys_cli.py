"""``ledger import`` and bundle reading refuse a JSON object with a key given twice, as the API does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.errors import InvalidBundle
from ledger.proof.bundle import parse_bundle
from ledger.store import Ledger
from scripts.cli import main
from tests.cli.test_bundle import exported  # noqa: F401 - the module's fixture, reused
from tests.factories import shown
from tests.ledgers import env_settings


def test_import_refuses_a_line_with_a_repeated_key_naming_line_and_field(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = json.dumps(shown()).replace('"source": ', '"source": "lis.cerner", "source": ', 1)
    file = tmp_path / "events.jsonl"
    file.write_text(json.dumps(shown(output_id="out-2")) + "\n" + line + "\n")
    assert main(["import", str(file), "--database-url", sqlite_url]) == 2
    err = capsys.readouterr().err
    assert "line 2: source: appears more than once in its object" in err and "lis.cerner" not in err
    with Ledger(env_settings(sqlite_url)) as ledger:
        assert ledger.head_seq() == 0


def test_a_bundle_with_a_repeated_key_is_malformed(exported: tuple[bytes, Path]) -> None:  # noqa: F811
    data, _ = exported
    text = data.decode()
    assert text.startswith("{")
    with pytest.raises(InvalidBundle, match="incident_id: appears more than once"):
        parse_bundle(('{"incident_id": "INC-other", ' + text[1:]).encode())
