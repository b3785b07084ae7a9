"""Verifying a ledger's own database: the proof core's steps over the rows it reads.

The steps are ledger.proof.verify's. On SQLite the rows are streamed through
``verify_rows`` in one pass; on PostgreSQL ``ledger.verify_chunks`` runs the
same steps over chunks of seqs in parallel processes. Either way the database
is only read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ledger.errors import InputError
from ledger.index import IndexStore, committed_events
from ledger.proof.checkpoint import Checkpoint, parse_signed_checkpoint
from ledger.proof.index import IndexClaim
from ledger.proof.keys import Keyring
from ledger.proof.timestamp import TokenClaim, check_timestamps
from ledger.proof.verify import Claim, Report, check_index, verify_rows
from ledger.timestamping import TimestampStore
from ledger.verify_chunks import verify_chunks

if TYPE_CHECKING:
    from cryptography.x509 import Certificate


def verify_store(
    ledger: Any,
    *,
    claims: Sequence[Claim] = (),
    keyring: Keyring | None = None,
    origin: str | None = None,
    progress: Callable[[int], None] | None = None,
    tokens: Sequence[TokenClaim] = (),
    tsa_roots: list[Certificate] | None = None,
) -> Report:
    """Verify an open Ledger from its database (read-only), with its own checkpoints and ``claims``.

    Step 12 checks the database's time-stamp tokens and ``tokens`` (the
    published ones), against ``tsa_roots`` when the auditor gave them.

    On PostgreSQL this starts worker processes (multiprocessing's spawn, which
    imports the main module again): a script calling it does so under
    ``if __name__ == "__main__":``, as the ``ledger`` command does.
    """
    report = _verify_log(ledger, claims=claims, keyring=keyring, origin=origin, progress=progress)
    if not report.intact:  # a log found broken is not read again to rebuild an index over it: the findings stand
        report.notes.append("completeness index not recomputed: the log itself failed steps 1-10")
    else:
        check_index(((r.seq, r.body) for r in ledger.records()), index_claims(ledger), report)  # step 11
    checkpoints = _parsed([*(Claim("database", c.note) for c in ledger.checkpoints()), *claims])
    check_timestamps(report, checkpoints, [*stored_tokens(ledger), *tokens], tsa_roots)  # step 12
    return report


def stored_tokens(ledger: Any) -> list[TokenClaim]:
    """The time-stamp tokens the database keeps, each named by its authority."""
    return [
        TokenClaim(f"in the database from {tsa}", size, token) for size, tsa, token in TimestampStore(ledger).tokens()
    ]


def _parsed(claims: Sequence[Claim]) -> list[tuple[Claim, Checkpoint]]:
    """The claims that parse (one that does not is already step 8's finding)."""
    parsed = []
    for claim in claims:
        with contextlib.suppress(InputError):
            parsed.append((claim, parse_signed_checkpoint(claim.note)))
    return parsed


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
