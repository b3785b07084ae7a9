"""A witness (c2sp.org/tlog-witness): cosigns a log's checkpoints only while the log grows, never back or aside.

A regulator, an insurer or a partner hospital runs one (``ledger witness
serve``) for the ledgers it watches. For each log, named by its origin line,
it knows the log's verifier keys (``WitnessLogs``, from a text file of lines
``log <origin> <vkey> [<vkey>...]``) and keeps, in a SQLite file of its own,
the size and root of the last checkpoint it cosigned.

``Witness.add_checkpoint`` answers one ``POST /add-checkpoint`` body::

    old <size>
    <consistency proof hash, base64>      (zero to 63 lines)
    <empty line>
    <the signed checkpoint>

in the order the spec gives:

  1. Parse the request (400 if malformed) and the checkpoint note (400).
  2. An origin the witness does not know: 404. No signature by a key it
     trusts for that origin: 403. An old size above the checkpoint's: 400.
  3. In one write transaction of the state file (BEGIN IMMEDIATE, so two
     requests, threads or processes, never interleave check and update):
     a. ``old`` must be the size it last cosigned (0 if none): else 409, with
        its size as the body (``text/x.tlog.size``);
     b. at the same size the root must be the one it cosigned: else 409;
     c. otherwise the consistency proof from its own recorded root to the new
        root must verify: else 422;
     d. record the new size, root and note, and commit.
  4. Reply 200 with its cosignature line (c2sp.org/tlog-cosignature).

The state file is the witness's memory: a witness that forgot it would cosign
a rolled-back log. It is never shared with the log's operator.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import InputError, IntegrityError, MalformedProof, SignatureInvalid
from ledger.proof import merkle
from ledger.proof.checkpoint import HASH_LEN, Checkpoint, parse_checkpoint_body
from ledger.proof.cosignature import cosign
from ledger.proof.keys import Keyring, SigningKey, decode_base64, parse_verifier_key
from ledger.proof.note import parse_note, verify_note

MAX_PROOF_LINES = 63
MAX_BODY = 64 * 1024
"""A request body larger than this is refused before it is parsed (a checkpoint is a few hundred bytes)."""
SIZE_CONTENT_TYPE = "text/x.tlog.size"
_OLD = re.compile(r"old (0|[1-9][0-9]*)")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS witnessed (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    checkpoint TEXT NOT NULL,
    cosigned_at INTEGER NOT NULL
)
"""


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, content type and body."""

    status: int
    content_type: str
    body: bytes

    @classmethod
    def text(cls, status: int, message: str) -> Reply:
        """A plain-text answer (an error says its defect in one line)."""
        return cls(status, "text/plain; charset=utf-8", (message + "\n").encode("utf-8"))


class WitnessLogs:
    """The logs a witness watches: origin -> the verifier keys trusted for it."""

    def __init__(self, logs: Mapping[str, Keyring]) -> None:
        """Watch ``logs``; a witness of no log is refused."""
        if not logs:
            raise InputError("the witness knows no log: its logs file needs at least one `log` line")
        self._logs = dict(logs)

    def keyring(self, origin: str) -> Keyring | None:
        """The keys trusted for ``origin``, or None if the witness does not watch it."""
        return self._logs.get(origin)

    def origins(self) -> list[str]:
        """The origins watched, sorted."""
        return sorted(self._logs)


def parse_witness_logs(text: str) -> WitnessLogs:
    """The logs file: ``log <origin> <vkey>...`` lines, blanks and ``#`` comments; MalformedProof names the line."""
    logs: dict[str, Keyring] = {}
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        try:
            if fields[0] != "log" or len(fields) < 3:
                raise MalformedProof("expected `log <origin> <vkey> [<vkey>...]`")
            if fields[1] in logs:
                raise MalformedProof(f"origin {fields[1]!r} is listed twice")
            logs[fields[1]] = Keyring(parse_verifier_key(vkey) for vkey in fields[2:])
        except MalformedProof as exc:
            raise MalformedProof(f"logs file line {number}: {exc}") from exc
    return WitnessLogs(logs)


@dataclass(frozen=True)
class Request:
    """A parsed add-checkpoint body."""

    old: int
    proof: list[bytes]
    note: str
    checkpoint: Checkpoint


def parse_request(body: bytes) -> Request:
    """Step 1: the old size, the proof and the checkpoint; MalformedProof names the defect."""
    if len(body) > MAX_BODY:
        raise MalformedProof(f"request body is larger than {MAX_BODY} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedProof("request body is not UTF-8") from exc
    head, blank, note = text.partition("\n\n")
    if not blank:
        raise MalformedProof("request has no empty line before the checkpoint")
    old_line, *proof_lines = head.split("\n")
    match = _OLD.fullmatch(old_line)
    if match is None:
        raise MalformedProof("the first line is not `old <size>` (decimal, no leading zeros)")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise MalformedProof(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = [decode_base64(line, what=f"proof line {n}") for n, line in enumerate(proof_lines, 1)]
    if any(len(node) != HASH_LEN for node in proof):
        raise MalformedProof(f"a proof line is not a {HASH_LEN}-byte hash")
    checkpoint = parse_checkpoint_body(parse_note(note).text)
    return Request(int(match.group(1)), proof, note, checkpoint)


class Witness:
    """One witness: its signing key, the logs it watches and its state file."""

    def __init__(self, key: SigningKey, logs: WitnessLogs, state: Path) -> None:
        """Use (and create if absent) the state file ``state``."""
        self.key = key
        self.logs = logs
        self.state = state
        with self._transaction() as db:
            db.execute(_SCHEMA)

    def add_checkpoint(self, body: bytes) -> Reply:
        """Answer one add-checkpoint request (the module's steps)."""
        try:
            request = parse_request(body)  # 1
        except MalformedProof as exc:
            return Reply.text(400, f"malformed request: {exc}")
        checkpoint = request.checkpoint
        keyring = self.logs.keyring(checkpoint.origin)  # 2
        if keyring is None:
            return Reply.text(404, "unknown log origin")
        try:
            verify_note(request.note, keyring)
        except (SignatureInvalid, MalformedProof):
            return Reply.text(403, "the checkpoint has no valid signature by a key trusted for its origin")
        if request.old > checkpoint.size:
            return Reply.text(400, f"old size {request.old} is larger than the checkpoint's size {checkpoint.size}")
        return self._check_and_record(request)

    def latest(self, origin: str) -> tuple[int, bytes] | None:
        """The size and root last cosigned for ``origin``, or None."""
        with self._transaction() as db:
            row = db.execute("SELECT size, root FROM witnessed WHERE origin = ?", (origin,)).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def _check_and_record(self, request: Request) -> Reply:
        checkpoint = request.checkpoint
        with self._transaction() as db:  # 3: check and update in one write transaction
            row = db.execute("SELECT size, root FROM witnessed WHERE origin = ?", (checkpoint.origin,)).fetchone()
            size, root = (0, None) if row is None else (int(row[0]), bytes(row[1]))
            if request.old != size:  # 3a
                return _conflict(size)
            if checkpoint.size == size and root is not None and checkpoint.root_hash != root:  # 3b
                return _conflict(size)
            if not _consistent(request, root):  # 3c
                return Reply.text(422, f"the consistency proof from size {size} does not verify")
            now = int(time.time())
            line = cosign(checkpoint.body(), self.key, timestamp=now).line()
            db.execute(  # 3d
                "INSERT INTO witnessed (origin, size, root, checkpoint, cosigned_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, "
                "checkpoint = excluded.checkpoint, cosigned_at = excluded.cosigned_at",
                (checkpoint.origin, checkpoint.size, checkpoint.root_hash, request.note, now),
            )
        return Reply(200, "text/plain; charset=utf-8", line.encode("utf-8"))  # 4

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at its start (BEGIN IMMEDIATE); committed unless an exception leaves it."""
        db = sqlite3.connect(self.state, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")  # the reply promises the new size is on disk
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()


def _conflict(size: int) -> Reply:
    return Reply(409, SIZE_CONTENT_TYPE, f"{size}\n".encode("ascii"))


def _consistent(request: Request, root: bytes | None) -> bool:
    """The proof from the witness's own root at ``request.old`` to the new root verifies (empty from size 0)."""
    checkpoint = request.checkpoint
    if request.old == 0 or root is None:
        return not request.proof
    if request.old == checkpoint.size:
        return not request.proof and checkpoint.root_hash == root
    try:
        merkle.verify_consistency(
            size1=request.old, size2=checkpoint.size, root1=root, root2=checkpoint.root_hash, proof=request.proof
        )
    except (IntegrityError, MalformedProof):
        return False
    return True
