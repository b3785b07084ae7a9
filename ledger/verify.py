"""Verifying the chain from the database, in numbered steps.

The steps match docs/auditing.md:

  1. Stream every chain row joined with its stored event, in seq order.
  2. For each row: the stored event exists (else "missing event").
  3. seq is dense: the row's seq is the previous seq + 1 (else "gap", or
     "duplicate" when a seq repeats).
  4. The link: prev_hash equals the stored hash of the row before (else "broken link").
  5. The hash: SHA-256(0x02 || prev_hash || entry) recomputed from the stored
     canonical bytes equals the stored hash (else "hash mismatch").
  6. The stored Merkle leaf hash is SHA-256(0x00 || entry) (else "leaf mismatch"),
     the idempotency digest matches the stored bytes (else "digest mismatch"),
     and recorded time never goes backwards (else "time reversed").
  7. Every stored event has a chain position (else "unchained event").

Memory does not grow with the log: rows are streamed, findings are capped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ledger.chain import GENESIS, content_digest, entry_bytes, link_hash
from ledger.merkle import leaf_hash

MAX_FINDINGS = 1000


@dataclass(frozen=True)
class Finding:
    """One defect: where (seq, or the event_id of an unchained event) and what kind."""

    seq: int | None
    kind: str
    detail: str = ""
    expected: str = ""
    actual: str = ""

    def to_json(self) -> dict[str, Any]:
        """The finding as the JSON report prints it."""
        return {k: v for k, v in vars(self).items() if v not in ("", None) or k == "seq"}

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "no seq"
        text = f"{where}: {self.kind}"
        if self.expected or self.actual:
            text += f" (expected {self.expected or '-'}, found {self.actual or '-'})"
        return text + (f": {self.detail}" if self.detail else "")


@dataclass
class Report:
    """What verification checked and found."""

    events: int = 0
    head_seq: int = 0
    head_hash: bytes = GENESIS
    findings: list[Finding] = field(default_factory=list)
    findings_total: int = 0

    @property
    def intact(self) -> bool:
        """True when every step passed over at least the rows that exist."""
        return self.findings_total == 0

    def add(self, finding: Finding) -> None:
        """Record a finding (the first MAX_FINDINGS are kept in full)."""
        self.findings_total += 1
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(finding)

    def to_json(self) -> dict[str, Any]:
        """The machine-readable report."""
        return {
            "intact": self.intact,
            "events": self.events,
            "head": {"seq": self.head_seq, "hash": self.head_hash.hex()},
            "findings_total": self.findings_total,
            "findings": [f.to_json() for f in self.findings],
        }


@dataclass
class _Cursor:
    seq: int = 0
    hash: bytes = GENESIS
    recorded_us: int = 0


def verify_rows(
    rows: Iterable[tuple[Any, ...]],
    *,
    unchained: Callable[[], Iterable[str]] = lambda: (),
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Run steps 2-7 over rows (seq, event_id, recorded_us, prev_hash, hash, digest, topic, state, leaf_hash)."""
    report, last = Report(), _Cursor()
    for row in rows:  # step 1: the caller streams them in seq order
        for finding in _check_row(row, last):
            report.add(finding)
        report.events += 1
        if progress is not None and report.events % 10_000 == 0:
            progress(report.events)
    for event_id in unchained():  # step 7
        report.add(Finding(None, "unchained event", f"event_id {event_id} has no seq or hash"))
    report.head_seq, report.head_hash = last.seq, last.hash
    return report


def _check_row(row: tuple[Any, ...], last: _Cursor) -> Iterator[Finding]:
    seq, _, recorded_us, prev_hash, stored_hash, digest, topic, state, stored_leaf = row
    prev_hash, stored_hash = bytes(prev_hash), bytes(stored_hash)
    if state is None or topic is None:  # step 2
        yield Finding(seq, "missing event", "the chain row has no stored event")
    yield from _check_position(seq, last)  # step 3
    if prev_hash != last.hash:  # step 4
        yield Finding(
            seq, "broken link", "prev_hash is not the hash of the entry before", last.hash.hex(), prev_hash.hex()
        )
    if state is not None:
        body = bytes(state)
        entry = entry_bytes(seq=seq, recorded_us=recorded_us, body=body)
        computed = link_hash(prev=prev_hash, entry=entry)
        if computed != stored_hash:  # step 5
            yield Finding(
                seq, "hash mismatch", "stored bytes do not hash to the stored hash", computed.hex(), stored_hash.hex()
            )
        if leaf_hash(entry) != bytes(stored_leaf or b""):  # step 6
            yield Finding(seq, "leaf mismatch", "the stored Merkle leaf hash does not match the entry")
        if content_digest(body) != bytes(digest):
            yield Finding(seq, "digest mismatch", "idempotency digest does not match the stored bytes")
    if recorded_us < last.recorded_us:
        yield Finding(seq, "time reversed", "recorded before the entry that precedes it")
    last.seq, last.hash, last.recorded_us = seq, stored_hash, recorded_us


def _check_position(seq: int, last: _Cursor) -> Iterator[Finding]:
    if seq == last.seq:
        yield Finding(seq, "duplicate", "this seq appears more than once")
    elif seq != last.seq + 1:
        missing = f"seq {last.seq + 1}" if seq == last.seq + 2 else f"seqs {last.seq + 1}-{seq - 1}"
        yield Finding(last.seq + 1, "gap", f"{missing} missing before seq {seq}", str(last.seq + 1), str(seq))


def verify_store(ledger: Any, *, progress: Callable[[int], None] | None = None) -> Report:
    """Verify an open Ledger from its database (read-only)."""
    return verify_rows(ledger.scan(), unchained=ledger.unchained_events, progress=progress)
