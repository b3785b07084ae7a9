"""`ledger bench --quick` runs every measurement on SQLite and PostgreSQL and writes its JSON and its table.

A smoke run: it proves the harness works end to end; no timing is asserted.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ledger.config import STATE_DIR_ENV
from scripts.cli import main


@pytest.mark.slow
def test_the_quick_run_writes_every_figure_beside_its_peer(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each store gets append, verify, proof and projection rows; every peer figure is there; the table lists them."""
    monkeypatch.chdir(tmp_path)  # a PostgreSQL ledger's default state folder is under ./var: here, not the tree's
    for name in (STATE_DIR_ENV, "LEDGER_MASTER_KEY"):  # each benchmark ledger's state and key beside it, as
        monkeypatch.delenv(name)  # its helpers (which open ledgers by URL alone) find them
    json_path, table_path = tmp_path / "r.json", tmp_path / "r.md"
    server = pg_url.split("?")[0]  # the harness makes (and drops) its own schemas there

    code = main(["bench", "--quick", "--postgres-url", server, "--json", str(json_path), "--table", str(table_path)])

    assert code == 0
    result = orjson.loads(json_path.read_bytes())
    rows = result["rows"]
    measures = {(r["store"], r["measure"].split(",")[0]) for r in rows}
    for store in ("SQLite", "PostgreSQL"):
        for measure in (
            "library append",
            "verify",
            "inclusion proof p95",
            "projection rebuild",
            "timeline query p50 / p95",
        ):
            assert (store, measure) in measures
    assert ("PostgreSQL", "HTTP append") in measures
    assert ("PostgreSQL", "HTTP append with the completeness index kept") in measures  # issue 20, where emitters append
    for store in ("SQLite", "PostgreSQL"):
        assert (store, "library append") in measures and (store, "index build over the whole log") in measures
    peers = {r["peer"] for r in rows if r["peer_figure"]}
    assert {"plain eventsourcing", "binary COPY of the same rows", "bare SHA-256 chaining, same bytes",
            "bare COPY read of the log", "pymerkle (in memory), same size"} <= peers  # fmt: skip
    http = [r for r in rows if r["measure"].startswith("HTTP append")]
    if not http[0]["note"].startswith("not measured"):  # said in the table when the server could not be driven
        assert {"a do-nothing handler (same stack)", "the library, batches of 100"} <= peers
    assert all(r["ratio"] is None or r["ratio"] > 0 for r in rows if r not in http)
    table = table_path.read_text()
    assert result["machine"] in table and table.count("\n| ") == len(rows) + 1
