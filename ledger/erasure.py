"""Crypto-shredding, legal holds, retention and master-key rotation.

Erasure of a subject, in order:

  1. Name the subject by its keyed token (the clear identifier never reaches the log).
  2. Refuse if any legal hold in force covers it: a hold on the subject itself,
     or on an incident whose events carry fields sealed under its key.
  3. Record ``subject.erased`` (who, when, the legal basis) in the log. Its
     event_id is derived from the token, so a rerun after a failure finds it.
  4. Destroy the subject's data key. From then on every sealed field of the
     subject reads as ``[erased]``, in the API, the views and the exports; every
     byte of the log, and so the chain, the tree, the checkpoints and bundles
     exported earlier, are unchanged and keep verifying.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ledger.catalogue import RESERVED_SOURCE, recorded_by_ledger
from ledger.errors import EventConflict, InputError
from ledger.masterkey import MasterKey
from ledger.privacy import sealed_subject
from ledger.store import Ledger, Record
from ledger.vault import Vault

NAMESPACE = uuid.UUID("0b9c4d52-8a1e-4f3b-9d6a-5e2f7c1a8b30")
HOLD_PLACED = "legal_hold.placed"
HOLD_TYPES = (HOLD_PLACED, "legal_hold.released")
ERASED = "subject.erased"


class ErasureRefused(InputError):
    """The subject may not be erased (a legal hold), or has nothing to erase."""


@dataclass(frozen=True)
class Hold:
    """A legal hold in force."""

    hold_id: str
    subject: str | None
    incident_id: str | None
    seq: int


def holds_in_force(ledger: Ledger) -> list[Hold]:
    """Every hold the ledger placed and did not release since, from the log.

    Only holds the ledger recorded itself count (ledger.catalogue.control): a
    hold event of another source, which only a ledger older than that rule could
    hold, neither places nor releases anything.
    """
    placed: dict[str, Hold] = {}
    for record in ledger.events_of_types(HOLD_TYPES):
        envelope = orjson.loads(record.body)
        if not recorded_by_ledger(envelope, event_type=record.type):
            continue
        data = envelope["data"]
        if record.type == HOLD_PLACED:
            placed[data["hold_id"]] = Hold(data["hold_id"], data.get("subject"), data.get("incident_id"), record.seq)
        else:
            placed.pop(data["hold_id"], None)
    return list(placed.values())


def _sealed_tokens(body: bytes) -> tuple[dict[str, Any], set[str]]:
    envelope = orjson.loads(body)
    data = envelope.get("data", {})
    return data, {token for v in data.values() if (token := sealed_subject(v)) is not None}


class HoldIndex:
    """Which legal holds forbid erasing which subjects, kept current as the log grows.

    A hold names a subject directly, or an incident: then it covers the incident's
    own token and every subject whose fields are sealed in the incident's events.
    The subjects sealed in each incident's events are gathered once, then only
    from the events appended since, so a retention run erasing thousands of
    subjects reads the log once, not once a subject. The holds in force are read
    again at every question (by topic: a few rows), so a hold placed or released
    meanwhile counts at once. Safe to share between threads (a server's requests).
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._by_incident: dict[str, set[str]] = {}  # incident_id -> subjects sealed in its events
        self._read_to = 0  # the seq up to which the log has been read for them
        self._lock = threading.Lock()

    def covering(self, token: str) -> list[str]:
        """The ids of the holds in force that forbid erasing the subject with this token."""
        return self.by_subject().get(token, [])

    def by_subject(self) -> dict[str, list[str]]:
        """Subject token -> ids of the holds in force that forbid its erasure."""
        holds = holds_in_force(self.ledger)
        covered: dict[str, list[str]] = {}
        for hold in holds:
            if hold.subject is not None:
                covered.setdefault(hold.subject, []).append(hold.hold_id)
        on_incidents = [h for h in holds if h.incident_id is not None]
        if not on_incidents:
            return covered
        with self._lock:
            self._catch_up()
            sealed_in = {h.hold_id: sorted(self._by_incident.get(str(h.incident_id), ())) for h in on_incidents}
        for hold in on_incidents:
            own = self.ledger.keys.token(f"incident:{hold.incident_id}")
            for token in (own, *sealed_in[hold.hold_id]):
                ids = covered.setdefault(token, [])
                if hold.hold_id not in ids:
                    ids.append(hold.hold_id)
        return covered

    def _catch_up(self) -> None:
        for record in self.ledger.records(after_seq=self._read_to):
            data, tokens = _sealed_tokens(record.body)
            if tokens and "incident_id" in data:
                self._by_incident.setdefault(str(data["incident_id"]), set()).update(tokens)
            self._read_to = record.seq


@dataclass(frozen=True)
class Erasure:
    """What an erasure did (or, on a dry run, would do)."""

    token: str
    seq: int  # the subject.erased event's seq; 0 on a dry run that would record it
    key_destroyed: bool
    resumed: bool = False  # an earlier run recorded the erasure and stopped before destroying the key


def erase(
    ledger: Ledger,
    *,
    subject: str,
    legal_basis: str,
    actor: dict[str, str],
    request_ref: str | None = None,
    dry_run: bool = False,
    holds: HoldIndex | None = None,
) -> Erasure:
    """Erase ``subject`` ("patient:Patient/123", or "token:<hex>" from a retention report), steps 1-4.

    Resumable: if an earlier run recorded ``subject.erased`` (its event_id is fixed
    by the subject) and stopped before destroying the key, this run destroys it
    under that event, whatever this run's legal basis says: the recorded fact stands.
    Only the ledger's own record of this subject's erasure counts: anything else
    under that event_id is an EventConflict, and nothing is destroyed.
    ``holds``: an index kept across many erasures (a retention run), else one is made.
    """
    kind, token = subject_token(ledger, subject)  # step 1
    held = (holds or HoldIndex(ledger)).covering(token)  # step 2
    if held:
        names = ", ".join(sorted(held))
        raise ErasureRefused(f"erasure refused: the subject is under legal hold ({names}); release it first")
    stored = ledger.keys.vault.get([token]).get(token)
    if stored is None:
        raise ErasureRefused("nothing to erase: no data is sealed under this subject's key")
    if stored.wrapped is None:
        raise ErasureRefused("already erased: the subject's key was destroyed before")
    event = erasure_event(token, kind=kind, legal_basis=legal_basis, actor=actor, request_ref=request_ref)
    recorded = recorded_erasure(ledger, event["event_id"], token=token)
    if dry_run:
        return Erasure(token, recorded.seq if recorded else 0, key_destroyed=False, resumed=recorded is not None)
    seq = recorded.seq if recorded else _record(ledger, event)  # step 3
    destroyed = ledger.keys.vault.erase(token, erased_us=time.time_ns() // 1000)  # step 4
    ledger.keys.forget(token)
    return Erasure(token, seq, destroyed, resumed=recorded is not None)


def erasure_event(
    token: str, *, kind: str, legal_basis: str, actor: dict[str, str], request_ref: str | None = None
) -> dict[str, Any]:
    """The subject.erased event for ``token``: its event_id depends on the subject alone."""
    return {
        "event_id": str(uuid.uuid5(NAMESPACE, f"erase:{token}")),
        "type": ERASED,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": RESERVED_SOURCE,
        "actor": actor,
        "data": {"subject": token, "subject_kind": kind, "legal_basis": legal_basis}
        | ({"request_ref": request_ref} if request_ref else {}),
    }


def _record(ledger: Ledger, event: dict[str, Any]) -> int:
    """Append the erasure event; if another run recorded it meanwhile, that one's seq."""
    try:
        return ledger.submit([event])[0].seq
    except EventConflict:
        recorded = recorded_erasure(ledger, event["event_id"], token=event["data"]["subject"])
        if recorded is None:  # the conflict named this event_id: it is recorded
            raise
        return recorded.seq


def recorded_erasure(ledger: Ledger, event_id: str, *, token: str) -> Record | None:
    """The ledger's own record of erasing ``token`` under ``event_id``, or None if nothing is recorded there.

    Any other record under that event_id (another type, another subject, another
    source) is not a finished erasure: EventConflict.
    """
    record = ledger.get(event_id)
    if record is None:
        return None
    envelope = orjson.loads(record.body)
    if recorded_by_ledger(envelope, event_type=ERASED) and envelope.get("data", {}).get("subject") == token:
        return record
    raise EventConflict(record.event_id, seq=record.seq)


def subject_token(ledger: Ledger, subject: str) -> tuple[str, str]:
    """(kind, keyed token) of a subject named KIND:ID or token:<hex>."""
    kind, sep, ident = subject.partition(":")
    if not sep or not ident:
        raise InputError("--subject must be KIND:ID, e.g. patient:Patient/123, or token:<32 hex digits>")
    if kind == "token":
        if len(ident) != 32 or any(c not in "0123456789abcdef" for c in ident):
            raise InputError("a subject token is 32 lowercase hex digits")
        return "unknown", ident
    if kind not in ("patient", "clinician", "person", "incident", "remediation", "tool", "event"):
        raise InputError("subject kind must be patient, clinician, person, incident, remediation, tool or event")
    return kind, ledger.keys.token(subject)


@dataclass
class Due:
    """A subject whose retention period has ended."""

    token: str
    last_recorded_us: int
    events: int = 0
    held: list[str] = field(default_factory=list)


def retention_due(
    ledger: Ledger, *, years: float, now_us: int | None = None, holds: HoldIndex | None = None
) -> list[Due]:
    """Subjects whose last sealed event is older than ``years`` and whose key still exists, with their holds."""
    now_us = now_us if now_us is not None else time.time_ns() // 1000
    cutoff = now_us - int(timedelta(days=365.25 * years).total_seconds() * 1_000_000)
    last: dict[str, Due] = {}
    for record in ledger.records():
        for token in _sealed_tokens(record.body)[1]:
            due = last.setdefault(token, Due(token, 0))
            due.last_recorded_us = max(due.last_recorded_us, record.recorded_us)
            due.events += 1
    alive = {k.subject for k in ledger.keys.vault.get(list(last)).values() if k.wrapped is not None}
    found = [d for d in last.values() if d.token in alive and d.last_recorded_us < cutoff]
    held = (holds or HoldIndex(ledger)).by_subject() if found else {}
    for due in found:
        due.held = held.get(due.token, [])
    return sorted(found, key=lambda d: d.last_recorded_us)


ROTATION_PASSES = 3
"""Rewrap passes of one rotation: a writer still wrapping new subjects' keys under an old master key
adds rows while a pass runs, and the next pass takes them."""


@dataclass(frozen=True)
class Rotation:
    """What a rotation did: keys rewrapped, and live keys still wrapped under other master keys."""

    rewrapped: int
    remaining: dict[str, int]  # master key id -> live data keys wrapped under it


def rotate_master_key(ledger: Ledger, new: MasterKey, *, actor: dict[str, str]) -> Rotation:
    """Rewrap every live data key not wrapped under ``new`` (one transaction a pass), record it.

    Keys are unwrapped with the master key each row names: the current one, or one
    listed in $LEDGER_PREVIOUS_MASTER_KEY_FILES. ``new`` becomes this handle's
    current master key, the old one a previous key.
    """
    keys = ledger.keys
    old = keys.master
    rewrapped, retired = 0, Counter[str]()
    for _ in range(ROTATION_PASSES):
        stale = [k for k in keys.vault.all() if k.wrapped is not None and k.master_key_id != new.key_id]
        if not stale:
            break
        retired.update(k.master_key_id for k in stale)
        rows = [(k.subject, new.wrap(keys.unwrap(k), context=k.subject.encode()), new.key_id, k.master_key_id)
                for k in stale]  # fmt: skip
        rewrapped += keys.vault.rewrap(rows)
    if old.key_id != new.key_id:
        keys.previous[old.key_id] = old
        keys.master = new
    ledger.submit([{
        "event_id": str(uuid.uuid4()), "type": "ledger.master_key_rotated",
        "occurred_at": datetime.now(UTC).isoformat(), "source": RESERVED_SOURCE, "actor": actor,
        "data": {"old_key_id": _retired_id(old, new, retired), "new_key_id": new.key_id, "keys_rewrapped": rewrapped},
    }])  # fmt: skip
    return Rotation(rewrapped, master_key_use(ledger, besides=new.key_id))


def _retired_id(old: MasterKey, new: MasterKey, retired: Counter[str]) -> str:
    """The master key the rotation retires: the handle's own, or (run with the new key already current) the one
    that wrapped most of the keys it rewrapped."""
    if old.key_id != new.key_id or not retired:
        return old.key_id
    return retired.most_common(1)[0][0]


def master_key_use(ledger: Ledger, *, besides: str | None = None) -> dict[str, int]:
    """How many live data keys each master key wraps (``besides`` left out).

    It reads the key table only, so it needs no master key: it also tells an
    operator which key a handle that cannot unwrap is missing.
    """
    use: dict[str, int] = {}
    vault = Vault(ledger.datastore, ledger.url.backend)
    for key in vault.all() if vault.exists() else []:
        if key.wrapped is not None and key.master_key_id != besides:
            use[key.master_key_id] = use.get(key.master_key_id, 0) + 1
    return use
