"""Verifying a ledger's own database: the proof core's steps over the rows it reads.

The steps are ledger.proof.verify's. On SQLite the rows are streamed through
``verify_rows`` in one pass; on PostgreSQL ``ledger.verify_chunks`` runs the
same steps over chunks of seqs in parallel processes. Either way the database
is only read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ledger.index import IndexStore, committed_events
from ledger.proof.index import IndexClaim
from ledger.proof.keys import Keyring
from ledger.proof.verify import Claim, Report, check_index, verify_rows
from ledger.verify_chunks import verify_chunks


def verify_store(
    ledger: Any,
    *,
    claims: Sequence[Claim] = (),
    keyring: Keyring | None = None,
    origin: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Verify an open Ledger from its database (read-only), with its own checkpoints and ``claims``.

    On PostgreSQL this starts worker processes (multiprocessing's spawn, which
    imports the main module again): a script calling it does so under
    ``if __name__ == "__main__":``, as the ``ledger`` command does.
    """
    report = _verify_log(ledger, claims=claims, keyring=keyring, origin=origin, progress=progress)
    if not report.intact:  # a log found broken is not read again to rebuild an index over it: the findings stand
        report.notes.append("completeness index not recomputed: the log itself failed steps 1-10")
        return report
    check_index(((r.seq, r.body) for r in ledger.records()), index_claims(ledger), report)  # step 11
    return report


def index_claims(ledger: Any) -> list[IndexClaim]:
    """The index roots to check: every ``index.committed`` in the log, every commit in the index's table."""
    store = IndexStore(ledger)
    logged = [IndexClaim("log", seq, size, root) for seq, size, root in committed_events(ledger)]
    return logged + [IndexClaim("database", size, size, root) for size, root in store.commits()]


def _verify_log(
    ledger: Any,
    *,
    claims: Sequence[Claim],
    keyring: Keyring | None,
    origin: str | None,
    progress: Callable[[int], None] | None,
) -> Report:
    """Steps 1-10."""
    stored = [Claim("database", c.note) for c in ledger.checkpoints()]
    source = ledger.copy_source()
    if source is not None:  # PostgreSQL: the same steps over seq chunks, in parallel processes
        return verify_chunks(
            source,
            unchained=ledger.unchained_events,
            claims=[*stored, *claims],
            keyring=keyring,
            origin=origin,
            progress=progress,
        )
    return verify_rows(
        ledger.scan(),
        unchained=ledger.unchained_events,
        claims=[*stored, *claims],
        keyring=keyring,
        origin=origin,
        progress=progress,
    )
