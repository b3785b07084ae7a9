"""Many organisations, one deployment: a ledger per organisation, and a top-level ledger of their checkpoints.

A network of hospitals is many trust domains, not one. Each organisation has
its own ledger: its database (a SQLite file, or a PostgreSQL schema), chain,
tree, signing keys, checkpoints and state folder, exactly as a lone ledger
has. The deployment adds a small top-level ledger that records, as its own
control fact (``ledger.organisation_checkpoint_recorded``), each checkpoint a
member signed, so a regulator reads every member's head in one place.

    deployment = Deployment.from_json(text)             # the composition root reads the file
    record_heads(top, {"north": north_ledger, ...})      # idempotent: once per (organisation, size)
    problems = verify_heads(top, {"north": Member(north_ledger, keyring, origin), ...})

``verify_heads`` checks, for every checkpoint the top-level ledger recorded,
in the log's order:

  1. it was recorded by the ledger itself (its reserved source) for a known member;
  2. its signed note verifies under the member's trusted keys and origin;
  3. the note's size and root are the recorded ``tree_size`` and ``root_hash``;
  4. the member's log has that root at that size (recomputed from its stored tree);
  5. it is consistent with the member's previous recorded checkpoint (an RFC 6962
     consistency proof from the member's tree, verified against both roots);
  6. and, at the end, each member's latest checkpoint is recorded.

The top-level ledger itself is verified like any other (``verify_store``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson

from ledger.catalogue import RESERVED_SOURCE, recorded_by_ledger
from ledger.config import LedgerPaths, LedgerSettings
from ledger.errors import InputError, IntegrityError, MalformedProof
from ledger.proof import merkle
from ledger.proof.checkpoint import Checkpoint, open_checkpoint
from ledger.proof.keys import Keyring
from ledger.store import Ledger
from ledger.store.records import Receipt, StoredCheckpoint

RECORDED: Final = "ledger.organisation_checkpoint_recorded"
TOP: Final = "top"  # the top-level ledger's name in a deployment file; no organisation may take it
_NAMESPACE: Final = uuid.UUID("5b0f6a53-6f0e-4f7e-9b7e-2d1c0a9e4c11")  # event ids: one per (organisation, size)
_ACTOR: Final = {"id": "ledger", "role": "ledger_operator", "kind": "system"}


@dataclass(frozen=True)
class Organisation:
    """One member: its id, its database, its state folder (keys/, checkpoints/) and its checkpoints' origin."""

    id: str
    database_url: str
    state_dir: Path
    origin: str

    def paths(self) -> LedgerPaths:
        """Its own signing-key and checkpoint folders, never another's."""
        return LedgerPaths(self.state_dir / "keys", self.state_dir / "checkpoints", self.origin, self.state_dir)


@dataclass(frozen=True)
class Deployment:
    """The members and the top-level ledger (itself described as an Organisation named ``top``)."""

    top: Organisation
    members: Mapping[str, Organisation]

    @classmethod
    def from_json(cls, text: str | bytes) -> Deployment:
        """``{"top": {...}, "organisations": {"<id>": {"database_url", "state_dir", "origin"}, ...}}``;
        InputError naming the entry at fault."""
        try:
            data = orjson.loads(text)
            top = _organisation(TOP, data["top"])
            members = {name: _organisation(name, entry) for name, entry in data["organisations"].items()}
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise InputError("the deployment file needs top and organisations, each entry with database_url, "
                             "state_dir and origin") from exc  # fmt: skip
        if not members or TOP in members:
            raise InputError("the deployment file needs at least one organisation, none named top")
        places = [o.database_url for o in (top, *members.values())]
        if len(set(places)) != len(places):
            raise InputError("two organisations of the deployment share a database: each needs its own")
        return cls(top, members)


def _organisation(name: str, entry: Mapping[str, Any]) -> Organisation:
    fields = (entry["database_url"], entry["state_dir"], entry["origin"])
    if not all(isinstance(value, str) and value for value in fields):
        raise InputError(f"organisation {name}: database_url, state_dir and origin must be non-empty strings")
    return Organisation(name, fields[0], Path(fields[1]), fields[2])


@dataclass(frozen=True)
class Member:
    """What a verifier needs of one organisation: its log, its trusted keys and its origin."""

    ledger: Ledger
    keyring: Keyring
    origin: str


@dataclass(frozen=True)
class RecordedCheckpoint:
    """One ``ledger.organisation_checkpoint_recorded`` fact of the top-level ledger."""

    seq: int
    organisation: str
    tree_size: int
    root_hash: str
    note: str


def recorded_checkpoints(top: Ledger) -> list[RecordedCheckpoint]:
    """Every member checkpoint the top-level ledger recorded itself, in its log's order."""
    found = []
    for record in top.events_of_types([RECORDED]):
        envelope = orjson.loads(record.body)
        if not recorded_by_ledger(envelope, event_type=RECORDED):
            continue  # not the ledger's own: never believed (ledger.catalogue.control)
        data = envelope["data"]
        found.append(RecordedCheckpoint(record.seq, data["organisation"], data["tree_size"], data["root_hash"],
                                        data["checkpoint"]))  # fmt: skip
    return found


def record_heads(top: Ledger, members: Mapping[str, Ledger]) -> list[Receipt]:
    """Record in the top-level ledger every checkpoint a member stored and the top has not recorded yet.

    Idempotent: the event id is derived from (organisation, size), so a second
    run, or two recorders at once, record each checkpoint once.
    """
    done = {(r.organisation, r.tree_size) for r in recorded_checkpoints(top)}
    events = [
        _recorded_event(name, checkpoint)
        for name, ledger in sorted(members.items())
        for checkpoint in ledger.checkpoints()
        if (name, checkpoint.size) not in done
    ]
    return top.submit(events) if events else []


def _recorded_event(organisation: str, checkpoint: StoredCheckpoint) -> dict[str, Any]:
    origin = checkpoint.note.split("\n", 1)[0]
    signed_at = datetime.fromtimestamp(checkpoint.signed_us / 1_000_000, tz=UTC)
    return {
        "event_id": str(uuid.uuid5(_NAMESPACE, f"{organisation}\n{checkpoint.size}")),
        "type": RECORDED,
        "occurred_at": signed_at.isoformat().replace("+00:00", "Z"),
        "source": RESERVED_SOURCE,
        "actor": dict(_ACTOR),
        "data": {
            "organisation": organisation,
            "origin": origin,
            "tree_size": checkpoint.size,
            "root_hash": checkpoint.root.hex(),
            "checkpoint": checkpoint.note,
        },
    }


def verify_heads(top: Ledger, members: Mapping[str, Member]) -> list[str]:
    """Steps 1-6 of the module docstring; one line per problem found (none: everything recorded verifies)."""
    problems: list[str] = []
    last: dict[str, Checkpoint] = {}
    for recorded in recorded_checkpoints(top):  # 1
        member = members.get(recorded.organisation)
        if member is None:
            problems.append(f"seq {recorded.seq}: organisation {recorded.organisation} is not a member")
            continue
        checkpoint = _checked(recorded, member, last.get(recorded.organisation), problems)
        if checkpoint is not None:
            last[recorded.organisation] = checkpoint
    for name, member in sorted(members.items()):  # 6
        latest = member.ledger.latest_checkpoint()
        if latest is not None and (name not in last or last[name].size < latest.size):
            problems.append(f"organisation {name}: its latest checkpoint (size {latest.size}) is not recorded")
    return problems


def _checked(
    recorded: RecordedCheckpoint, member: Member, previous: Checkpoint | None, problems: list[str]
) -> Checkpoint | None:
    where = f"seq {recorded.seq} ({recorded.organisation}, size {recorded.tree_size})"
    try:
        checkpoint = open_checkpoint(recorded.note, member.keyring, origin=member.origin)  # 2
    except (InputError, IntegrityError) as exc:
        problems.append(f"{where}: the signed checkpoint does not verify: {exc}")
        return None
    if (checkpoint.size, checkpoint.root_hash.hex()) != (recorded.tree_size, recorded.root_hash):  # 3
        problems.append(f"{where}: the recorded size or root is not the signed checkpoint's")
        return None
    ledger = member.ledger
    if checkpoint.size > ledger.head_seq() or merkle.root(checkpoint.size, ledger) != checkpoint.root_hash:  # 4
        problems.append(f"{where}: the organisation's log has another root at that size")
        return None
    if previous is not None and previous.size < checkpoint.size:  # 5
        proof = merkle.consistency_proof(size1=previous.size, size2=checkpoint.size, reader=ledger)
        try:
            merkle.verify_consistency(size1=previous.size, size2=checkpoint.size, root1=previous.root_hash,
                                      root2=checkpoint.root_hash, proof=proof)  # fmt: skip
        except (IntegrityError, MalformedProof):
            problems.append(f"{where}: not consistent with the checkpoint recorded before it (size {previous.size})")
            return None
    return checkpoint


def open_members(deployment: Deployment, settings: Callable[[Organisation], LedgerSettings]) -> dict[str, Ledger]:
    """Each member's ledger, opened with the settings the composition root gives it (the caller closes them)."""
    opened: dict[str, Ledger] = {}
    try:
        for name, organisation in deployment.members.items():
            opened[name] = Ledger(settings(organisation))
    except BaseException:
        for ledger in opened.values():
            ledger.close()
        raise
    return opened


__all__: Sequence[str] = (
    "RECORDED",
    "Deployment",
    "Member",
    "Organisation",
    "RecordedCheckpoint",
    "open_members",
    "record_heads",
    "recorded_checkpoints",
    "verify_heads",
)
