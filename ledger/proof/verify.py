"""Verifying a ledger from its rows, in numbered steps (docs/auditing.md has the same numbers).

  1. Stream every row of the events table in seq order, read-only.
  2. For each row: its stored event bytes exist (else "missing event").
  3. seq is dense: the row's seq is the previous seq + 1 (else "gap", or
     "duplicate" when a seq repeats).
  4. The link: prev_hash equals the stored hash of the row before (else "broken link").
  5. The hash: SHA-256(0x02 || prev_hash || entry), recomputed from the stored
     canonical bytes, equals the stored hash (else "hash mismatch").
  6. The stored Merkle leaf is SHA-256(0x00 || entry) (else "leaf mismatch"), the
     retry digest matches the bytes (else "digest mismatch"), and recorded time
     never goes backwards (else "time reversed").
  7. Every stored event has a chain position (else "unchained event").
  8. The RFC 6962 root is recomputed from the recomputed leaves at the size of
     every checkpoint: those the database holds, those published in the
     checkpoint folder, and the auditor's own (``--trusted-checkpoint``). A
     checkpoint larger than the log means entries were removed ("log truncated");
     a different root means entries were altered or rewritten ("root mismatch").
  9. Every checkpoint's signature is verified against the trusted keys, and its
     origin must be this log's ("checkpoint signature", "checkpoint origin").
 10. Consistency of each checkpoint with the next follows from 8: every root was
     recomputed from one and the same sequence of leaves, so each smaller tree
     is a prefix of each larger one. A checkpoint that is not consistent with
     the others fails step 8 at its own size.
 11. The completeness index (ledger.proof.index) is recomputed from the events'
     bytes, and its root at every committed size must equal the root the log's
     ``index.committed`` event records ("index root mismatch", at the event's
     seq) and the root the index's own table keeps ("stored index root
     mismatch", at the size); a commit beyond the log is "index beyond log".
 12. Trusted time (ledger.proof.timestamp): every RFC 3161 token kept beside a
     checkpoint must time-stamp that checkpoint's signed note ("timestamp
     mismatch", at its size) and, with the auditor's TSA certificates, be
     signed by a trusted authority ("timestamp untrusted"); each checkpoint's
     earliest verified time bounds its entries: in the log no later than T.
 13. With a witness policy (c2sp.org/tlog-policy): the latest checkpoint, and
     every cosigned one published, must carry verified cosignatures that meet
     the policy's quorum ("witness quorum"); a cosignature by a policy witness
     that does not verify is "witness cosignature". Cosigned notes are also
     claims of steps 8 and 9, so their root and the ledger's signature hold.

Memory does not grow with the log: rows are streamed, the tree is kept as a
compact range (one hash per level), findings are capped.

Nothing here reads a database: the caller streams the rows. ``verify_rows``
is the reference, one pass in seq order; ledger.audit's ``verify_store`` feeds
it a SQLite log's rows, and on PostgreSQL runs the same steps over chunks of
seqs in parallel processes (ledger.verify_chunks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from ledger.errors import InputError, IntegrityError, LedgerError
from ledger.proof.chain import GENESIS, row_hashes
from ledger.proof.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint_body, parse_signed_checkpoint
from ledger.proof.cosignature import Policy, check_quorum
from ledger.proof.index import IndexClaim, recompute_roots
from ledger.proof.keys import Keyring
from ledger.proof.merkle import EMPTY_ROOT, CompactRange
from ledger.proof.note import parse_note

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


@dataclass(frozen=True)
class Stamp:
    """What one verified token says: the checkpoint of ``size`` was in the log no later than ``time``."""

    size: int
    time: datetime
    tsa: str  # the signing certificate's subject, as RFC 4514 text

    @property
    def time_text(self) -> str:
        """The time as RFC 3339 UTC text."""
        return self.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Claim:
    """A signed checkpoint to check against the log, and where it came from."""

    source: str  # "database", "folder", "trusted"
    note: str


@dataclass
class Report:
    """What verification checked and found."""

    events: int = 0
    head_seq: int = 0
    head_hash: bytes = GENESIS
    root: bytes = EMPTY_ROOT
    checkpoints_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    findings_total: int = 0
    notes: list[str] = field(default_factory=list)
    stamps: list[Stamp] = field(default_factory=list)  # step 12: each checkpoint's earliest trusted time

    @property
    def intact(self) -> bool:
        """True when no step found a defect."""
        return self.findings_total == 0

    def add(self, finding: Finding) -> None:
        """Record a finding (the first MAX_FINDINGS are kept in full)."""
        self.findings_total += 1
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(finding)

    def to_json(self) -> dict[str, Any]:
        """The machine-readable report."""
        times = [{"size": s.size, "no_later_than": s.time_text, "tsa": s.tsa} for s in self.stamps]
        return {
            "intact": self.intact,
            "events": self.events,
            "head": {"seq": self.head_seq, "hash": self.head_hash.hex(), "root": self.root.hex()},
            "checkpoints_checked": self.checkpoints_checked,
            "findings_total": self.findings_total,
            "findings": [f.to_json() for f in self.findings],
            "notes": self.notes,
        } | ({"timestamps": times} if times else {})


class LeafSink(Protocol):
    """Where step 8's recomputed leaves go: a CompactRange, or a chunk's list of leaves."""

    def push(self, leaf: bytes) -> None:
        """Take the next leaf hash."""
        ...


@dataclass
class Cursor:
    """The entry before the next row (what steps 3, 4 and 6 compare with), and where leaves go."""

    seq: int = 0
    hash: bytes = GENESIS
    recorded_us: int = 0
    tree: LeafSink = field(default_factory=CompactRange)


def verify_rows(
    rows: Iterable[tuple[Any, ...]],
    *,
    unchained: Callable[[], Iterable[str]] = lambda: (),
    claims: Sequence[Claim] = (),
    keyring: Keyring | None = None,
    origin: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Run every step over rows (seq, event_id, recorded_us, prev_hash, hash, digest, topic, state, leaf_hash)."""
    report, tree = Report(), CompactRange()
    last = Cursor(tree=tree)
    parsed = parse_claims(claims, report)
    wanted = {c.size for _, c in parsed}
    roots: dict[int, bytes] = {}
    for row in rows:  # step 1: the caller streams them in seq order
        for finding in check_row(row, last):
            report.add(finding)
        report.events += 1
        if report.events in wanted:
            roots[report.events] = tree.root()
        if progress is not None and report.events % 10_000 == 0:
            progress(report.events)
    report.head_seq, report.head_hash, report.root = last.seq, last.hash, tree.root()
    finish(report, parsed, roots, unchained=unchained, keyring=keyring, origin=origin)
    return report


def finish(
    report: Report,
    parsed: Sequence[tuple[Claim, Checkpoint]],
    roots: Mapping[int, bytes],
    *,
    unchained: Callable[[], Iterable[str]],
    keyring: Keyring | None,
    origin: str | None,
) -> None:
    """Steps 7 to 10, once every row was checked and the roots at the checkpoints' sizes taken."""
    for event_id in unchained():  # step 7
        report.add(Finding(None, "unchained event", f"event_id {event_id} has no seq or hash"))
    for claim, checkpoint in parsed:
        _check_claim(claim, checkpoint, roots, report, keyring=keyring, origin=origin)


def check_row(row: tuple[Any, ...], last: Cursor) -> list[Finding]:
    """Steps 2 to 6 for one row, against the entry before it; moves ``last`` on to this row.

    The reference check. Its hashes come from one call to ledger.proof.chain's
    ``row_hashes``, which the fast loop of ledger.verify_chunks makes too; that
    loop falls back to this function for any row that is not clean.
    """
    seq, _, recorded_us, prev_hash, stored_hash, digest, topic, state, stored_leaf = row
    findings: list[Finding] = []
    if state is None or topic is None:  # step 2
        findings.append(Finding(seq, "missing event", "the row has no stored event bytes"))
    if recorded_us is None or prev_hash is None or stored_hash is None:
        findings.append(_missing_chain_columns(seq, recorded_us=recorded_us, prev_hash=prev_hash, hash=stored_hash))
        recorded_us = last.recorded_us if recorded_us is None else recorded_us
        prev_hash, stored_hash = prev_hash or b"", stored_hash or b""
    if seq != last.seq + 1:  # step 3
        findings += _check_position(seq, last)
    if prev_hash != last.hash:  # step 4
        findings.append(Finding(seq, "broken link", "prev_hash is not the hash of the entry before",
                                last.hash.hex(), bytes(prev_hash).hex()))  # fmt: skip
    body = state or b""
    computed, leaf, body_digest = row_hashes(seq=seq, recorded_us=recorded_us, prev=prev_hash, body=body)
    if computed != stored_hash:  # step 5
        findings.append(Finding(seq, "hash mismatch", "stored bytes do not hash to the stored hash",
                                computed.hex(), bytes(stored_hash).hex()))  # fmt: skip
    last.tree.push(leaf)  # step 8 recomputes the tree from the bytes, not from stored leaves
    if leaf != stored_leaf:  # step 6
        findings.append(Finding(seq, "leaf mismatch", "the stored Merkle leaf hash does not match the entry"))
    if body_digest != digest:
        findings.append(Finding(seq, "digest mismatch", "the retry digest does not match the stored bytes"))
    if recorded_us < last.recorded_us:
        findings.append(Finding(seq, "time reversed", "recorded before the entry that precedes it"))
    last.seq, last.hash, last.recorded_us = seq, bytes(stored_hash), recorded_us
    return findings


def _missing_chain_columns(seq: int, **columns: object) -> Finding:
    # A row with a seq but without its chain columns can only come from tampering: report it and
    # check the rest of the row with empty hashes, so the link to the next row is reported too.
    missing = ", ".join(name for name, value in columns.items() if value is None)
    return Finding(seq, "missing chain column", f"the row has a seq but no {missing}")


def _check_position(seq: int, last: Cursor) -> list[Finding]:
    if seq == last.seq:
        return [Finding(seq, "duplicate", "this seq appears more than once")]
    missing = f"seq {last.seq + 1}" if seq == last.seq + 2 else f"seqs {last.seq + 1}-{seq - 1}"
    return [Finding(last.seq + 1, "gap", f"{missing} missing before seq {seq}", str(last.seq + 1), str(seq))]


def parse_claims(claims: Sequence[Claim], report: Report) -> list[tuple[Claim, Checkpoint]]:
    """The claims' checkpoints, parsed; a malformed one is a finding."""
    parsed = []
    for claim in claims:
        try:
            parsed.append((claim, parse_checkpoint_body(parse_note(claim.note).text)))
        except InputError as exc:
            report.add(Finding(None, "checkpoint malformed", f"{claim.source} checkpoint: {exc}"))
    return parsed


def _check_claim(
    claim: Claim,
    checkpoint: Checkpoint,
    roots: Mapping[int, bytes],
    report: Report,
    *,
    keyring: Keyring | None,
    origin: str | None,
) -> None:
    report.checkpoints_checked += 1
    size, where = checkpoint.size, f"{claim.source} checkpoint at size {checkpoint.size}"
    if size > report.events:  # step 8
        detail = f"{where}, but the log holds {report.events} entries"
        report.add(Finding(report.events + 1, "log truncated", detail, str(size), str(report.events)))
    elif roots.get(size) != checkpoint.root_hash:
        computed = roots.get(size, EMPTY_ROOT)
        report.add(Finding(size, "root mismatch", f"{where}: the log's first {size} entries have another root",
                           checkpoint.root_hash.hex(), computed.hex()))  # fmt: skip
    if origin is not None and checkpoint.origin != origin:  # step 9
        report.add(Finding(None, "checkpoint origin", f"{where} names origin {checkpoint.origin!r}", origin))
    if keyring is None:
        report.add(Finding(None, "checkpoint unverified", f"{where}: no trusted keys to check its signature"))
        return
    try:
        open_checkpoint(claim.note, keyring)
    except (IntegrityError, LedgerError) as exc:
        report.add(Finding(None, "checkpoint signature", f"{where}: {exc}"))


def check_index(entries: Iterable[tuple[int, bytes]], claims: Sequence[IndexClaim], report: Report) -> None:
    """Step 11: every claimed index root against the index recomputed from ``(seq, event bytes)``."""
    roots = recompute_roots(entries, [c.tree_size for c in claims])
    for claim in claims:
        computed = roots.get(claim.tree_size)
        where = claim.at if claim.source == "log" else claim.tree_size
        if computed is None:
            report.add(Finding(where, "index beyond log", f"an index committed at size {claim.tree_size}"))
        elif computed != claim.root:
            kind = "index root mismatch" if claim.source == "log" else "stored index root mismatch"
            detail = f"the index at size {claim.tree_size}"
            report.add(Finding(where, kind, detail, expected=computed.hex(), actual=claim.root.hex()))
    if claims:
        report.notes.append(f"completeness index: {len(claims)} committed roots recomputed")


def check_witnesses(claims: Sequence[Claim], policy: Policy, report: Report) -> None:
    """Step 13: the latest checkpoint among ``claims``, and every cosigned one, meet the witness quorum."""
    sized = []
    for claim in claims:
        try:
            sized.append((parse_signed_checkpoint(claim.note).size, claim.source == "cosigned", claim))
        except InputError:
            continue  # a malformed claim is parse_claims' finding
    to_check = [claim for _, is_cosigned, claim in sized if is_cosigned]
    if sized:
        head = max(sized, key=lambda item: item[:2])  # at the largest size, its cosigned note if there is one
        if not head[1]:
            to_check.append(head[2])
    else:
        report.add(Finding(None, "witness quorum", "no checkpoint to check against the witness policy"))
    for claim in to_check:
        failure, described = quorum_failure(claim.note, policy, source=claim.source)
        report.notes.append(f"witnesses: {described}")
        if failure is not None:
            report.add(failure)


def quorum_failure(note: str, policy: Policy, *, source: str) -> tuple[Finding | None, str]:
    """A note's cosignatures against ``policy``: the finding if the quorum is not met (else None), and a summary."""
    try:
        result = check_quorum(note, policy)
    except (InputError, IntegrityError) as exc:
        return Finding(None, "witness cosignature", f"{source} checkpoint: {exc}"), f"{source} checkpoint: {exc}"
    described = f"{source} {result.describe()}"
    return (None if result.met else Finding(None, "witness quorum", described)), described
