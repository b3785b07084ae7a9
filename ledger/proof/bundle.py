"""Evidence bundles: one JSON file that proves, offline, that events are in the log.

A bundle holds an incident's events (their canonical bytes), each with its
chain hashes and an RFC 6962 inclusion proof against one signed C2SP
checkpoint, plus the verifier keys. Verification needs no database and no
network, and imports nothing but the ledger's own small modules.

Verification, in numbered steps (docs/auditing.md has the same numbers):

  1. Parse the file strictly: UTF-8 JSON, the format tag, every field, its
     type, the checkpoint's signed note and body (not yet its signature);
     unknown fields are refused. A file that fails here is not a bundle
     (InvalidBundle): it proves nothing either way.
  2. Take the verifier keys: the auditor's own (``--trusted-keys``) or, only
     when the auditor asks for self-consistency alone, the bundle's (which
     shows only that the bundle agrees with itself, not who signed it).
  3. Verify the checkpoint's signed note with those keys, and parse it.
  4. For every entry: rebuild the entry bytes (seq, recorded time, event bytes);
     its chain hash must be SHA-256(0x02 || prev_hash || entry); its leaf hash
     SHA-256(0x00 || entry) must lead, through its inclusion proof, to the
     checkpoint's root at leaf index seq - 1.
  5. The events must be well-formed catalogue events, and the incident named by
     the bundle must be among them.
  6. Completeness, when the bundle carries an index section: its
     ``index.committed`` entry (verified in step 4, recorded by the ledger
     itself) gives the index root at size N; every index proof must lead to that
     root (ledger.proof.index), the incident's own key must be proven, and every
     seq a proof names must be an entry of the bundle ("seq S, named by the index
     for KEY, is missing from the bundle").
  7. Trusted time, when the bundle carries a timestamps section
     (ledger.proof.timestamp): each item's checkpoint is signed by the trusted
     keys, of the same origin, and consistent with the bundle's checkpoint
     (its consistency proof); each of its RFC 3161 tokens time-stamps that
     checkpoint's signed note and, with the auditor's TSA root certificates, is
     signed by a trusted authority. Each entry is then in the log no later than
     the earliest verified time of a checkpoint that covers its seq.

What a bundle proves: each event, byte for byte, is entry ``seq`` of the log
whose head the key holder signed; with an index section, also that its events
are all the events naming each proven key among the first N entries. What it
cannot prove: events after N, or naming keys not proven, that the events are
true (only that they were recorded, when and in what order), or who holds the
key (compare key ids with those published by the hospital).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from ledger.errors import InputError, IntegrityError, InvalidBundle, LedgerError
from ledger.proof import merkle, strict_json
from ledger.proof.chain import entry_bytes, link_hash
from ledger.proof.checkpoint import MAX_SIZE, Checkpoint, open_checkpoint, parse_signed_checkpoint
from ledger.proof.files import decode_text
from ledger.proof.index import IndexProof, parse_index_proof, verify_index_proof
from ledger.proof.keys import Keyring, parse_verifier_key
from ledger.proof.sealed import open_event
from ledger.proof.timestamp import TimedCheckpoint, bound_of, parse_token, verify_timed
from ledger.proof.verify import Stamp

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

FORMAT = "clinical-ai-ledger/evidence-bundle/v1"
ABOUT = (
    "Each entry is an event's canonical bytes (base64) with its seq, recording time, chain hashes and an RFC 6962 "
    "inclusion proof against the signed checkpoint. Verify with `ledger verify-bundle FILE --trusted-keys KEYS`. "
    "This text is not covered by any signature."
)
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_ENTRY_FIELDS = {"seq", "recorded_us", "event", "prev_hash", "hash", "inclusion_proof"}
_BUNDLE_FIELDS = {"format", "about", "incident_id", "checkpoint", "verifier_keys", "entries"}
_INDEX_FIELDS = {"commit_seq", "proofs"}
_TIMED_FIELDS = {"checkpoint", "consistency_proof", "tokens"}
_OPTIONAL = {"index", "timestamps"}
COMMITTED = "index.committed"


@dataclass(frozen=True)
class BundleIndex:
    """The completeness proofs: the seq of the ``index.committed`` entry, and one proof per key."""

    commit_seq: int
    proofs: list[IndexProof]

    def to_json(self) -> dict[str, Any]:
        """The section as the file holds it."""
        return {"commit_seq": self.commit_seq, "proofs": [p.to_json() for p in self.proofs]}


@dataclass(frozen=True)
class BundleEntry:
    """One event with what proves it."""

    seq: int
    recorded_us: int
    event: bytes
    prev_hash: bytes
    hash: bytes
    inclusion_proof: list[bytes]

    def to_json(self) -> dict[str, Any]:
        """The entry as the file holds it."""
        return {
            "seq": self.seq,
            "recorded_us": self.recorded_us,
            "event": base64.b64encode(self.event).decode(),
            "prev_hash": self.prev_hash.hex(),
            "hash": self.hash.hex(),
            "inclusion_proof": [p.hex() for p in self.inclusion_proof],
        }


@dataclass(frozen=True)
class Bundle:
    """The incident's evidence, its checkpoint and keys."""

    incident_id: str
    checkpoint: str
    verifier_keys: list[str]
    entries: list[BundleEntry]
    index: BundleIndex | None = None
    timestamps: list[TimedCheckpoint] | None = None

    def to_bytes(self) -> bytes:
        """The file's bytes (indented JSON)."""
        document: dict[str, Any] = {
            "format": FORMAT,
            "about": ABOUT,
            "incident_id": self.incident_id,
            "checkpoint": self.checkpoint,
            "verifier_keys": self.verifier_keys,
            "entries": [e.to_json() for e in self.entries],
        }
        if self.index is not None:
            document["index"] = self.index.to_json()
        if self.timestamps:
            document["timestamps"] = [t.to_json() for t in self.timestamps]
        return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


@dataclass
class BundleReport:
    """What verification established, entry by entry."""

    checkpoint: Checkpoint | None = None
    keys_from_bundle: bool = False
    verified: list[tuple[int, str]] = field(default_factory=list)  # (seq, event type)
    failures: list[str] = field(default_factory=list)
    complete: list[tuple[str, int, int]] = field(default_factory=list)  # (key, events, among the first N)
    stamps: list[Stamp] = field(default_factory=list)  # step 7: each timed checkpoint's earliest trusted time

    def bound(self, seq: int) -> Stamp | None:
        """When entry ``seq`` was in the log at the latest, by a trusted time-stamp (step 7), or None."""
        return bound_of(seq, self.stamps)

    @property
    def ok(self) -> bool:
        """True when the checkpoint and every entry verified."""
        return not self.failures and self.checkpoint is not None and bool(self.verified)

    @property
    def result(self) -> str:
        """The verdict: ``verified`` (trusted keys), ``self-consistent`` (the bundle's own keys) or ``failed``."""
        if not self.ok:
            return "failed"
        return "self-consistent" if self.keys_from_bundle else "verified"

    def to_json(self) -> dict[str, Any]:
        """The machine-readable report."""
        checkpoint = self.checkpoint
        return {
            "result": self.result,
            "keys": "bundle" if self.keys_from_bundle else "trusted",
            "checkpoint": None
            if checkpoint is None
            else {"origin": checkpoint.origin, "size": checkpoint.size, "root": checkpoint.root_hash.hex()},
            "entries": [self._entry_json(seq, event_type) for seq, event_type in self.verified],
            "complete": [{"key": k, "events": n, "tree_size": size} for k, n, size in self.complete],
            "failures": list(self.failures),
        }

    def _entry_json(self, seq: int, event_type: str) -> dict[str, Any]:
        bound = self.bound(seq)
        time = {} if bound is None else {"in_log_no_later_than": bound.time_text, "tsa": bound.tsa}
        return {"seq": seq, "type": event_type, **time}


def parse_bundle(data: bytes) -> Bundle:
    """Step 1: the bundle, strictly; InvalidBundle naming the first defect."""
    _require(data.strip() != b"", "the file is empty")
    try:
        document = strict_json.loads(decode_text(data, what="the bundle"))
    except strict_json.DuplicateKey as exc:  # one bundle must not mean two things (before InputError, its base)
        raise InvalidBundle(str(exc.field_error(_BUNDLE_FIELDS | _ENTRY_FIELDS))) from None
    except InputError as exc:
        raise InvalidBundle(str(exc)) from exc
    except orjson.JSONDecodeError as exc:
        raise InvalidBundle(f"not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise InvalidBundle(f"the bundle is a JSON {_json_kind(document)}, not an object")
    optional = " and ".join(sorted(_OPTIONAL))
    _require(set(document) - _OPTIONAL == _BUNDLE_FIELDS,
             f"fields must be exactly {sorted(_BUNDLE_FIELDS)}, and {optional} if any")  # fmt: skip
    _require(document["format"] == FORMAT, f"format must be {FORMAT!r}")
    _require(isinstance(document["incident_id"], str) and document["incident_id"] != "", "incident_id: not a string")
    _require(isinstance(document["about"], str), "about: not a string")
    _checkpoint(document["checkpoint"])
    keys = document["verifier_keys"]
    _require(isinstance(keys, list) and keys != [], "verifier_keys: not a non-empty list")
    for index, key in enumerate(keys):  # each parsed, used or not: a malformed key is a defect of the bundle
        _require(isinstance(key, str), f"verifier_keys[{index}]: not a string")
        try:
            parse_verifier_key(key)
        except LedgerError as exc:
            raise InvalidBundle(f"verifier_keys[{index}]: {exc}") from exc
    entries = document["entries"]
    _require(isinstance(entries, list) and entries != [], "entries: not a non-empty list")
    section = _index(document["index"]) if "index" in document else None
    parsed = [_entry(e, i) for i, e in enumerate(entries)]
    timed = _timestamps(document["timestamps"]) if "timestamps" in document else None
    return Bundle(document["incident_id"], document["checkpoint"], keys, parsed, section, timed)


def _timestamps(raw: Any) -> list[TimedCheckpoint]:
    _require(isinstance(raw, list) and raw != [], "timestamps: not a non-empty list")
    return [_timed(item, f"timestamps[{i}]") for i, item in enumerate(raw)]


def _timed(raw: Any, where: str) -> TimedCheckpoint:
    _require(isinstance(raw, dict) and set(raw) == _TIMED_FIELDS, f"{where}: fields must be {sorted(_TIMED_FIELDS)}")
    _checkpoint(raw["checkpoint"], where=f"{where}.checkpoint")
    proof, tokens = raw["consistency_proof"], raw["tokens"]
    _require(isinstance(proof, list), f"{where}.consistency_proof: not a list")
    _require(isinstance(tokens, list) and tokens != [], f"{where}.tokens: not a non-empty list")
    parsed = [_base64(t, f"{where}.tokens[{i}]") for i, t in enumerate(tokens)]
    for i, token in enumerate(parsed):
        try:
            parse_token(token)
        except InputError as exc:
            raise InvalidBundle(f"{where}.tokens[{i}]: {exc}") from exc
    hashes = [_hash(p, f"{where}.consistency_proof[{i}]") for i, p in enumerate(proof)]
    return TimedCheckpoint(raw["checkpoint"], hashes, parsed)


def _index(raw: Any) -> BundleIndex:
    _require(isinstance(raw, dict) and set(raw) == _INDEX_FIELDS, f"index: fields must be {sorted(_INDEX_FIELDS)}")
    _require(_is_int(raw["commit_seq"]) and 1 <= raw["commit_seq"] <= MAX_SIZE, "index.commit_seq: not a seq")
    proofs = raw["proofs"]
    _require(isinstance(proofs, list) and proofs != [], "index.proofs: not a non-empty list")
    try:
        return BundleIndex(
            raw["commit_seq"], [parse_index_proof(p, f"index.proofs[{i}]") for i, p in enumerate(proofs)]
        )
    except InputError as exc:
        raise InvalidBundle(str(exc)) from exc


def _checkpoint(value: Any, *, where: str = "checkpoint") -> None:
    """The checkpoint must be a signed note holding a checkpoint; its signature is step 3's."""
    _require(isinstance(value, str), f"{where}: not a string")
    try:
        parse_signed_checkpoint(value)
    except InputError as exc:
        raise InvalidBundle(f"{where}: {exc}") from exc


def _entry(raw: Any, index: int) -> BundleEntry:
    where = f"entries[{index}]"
    _require(isinstance(raw, dict) and set(raw) == _ENTRY_FIELDS, f"{where}: fields must be {sorted(_ENTRY_FIELDS)}")
    _require(_is_int(raw["seq"]) and 1 <= raw["seq"] <= MAX_SIZE, f"{where}.seq: not an integer in 1..2^64-1")
    _require(_is_int(raw["recorded_us"]) and _I64_MIN <= raw["recorded_us"] <= _I64_MAX,
             f"{where}.recorded_us: not a 64-bit signed integer")  # fmt: skip
    proof = raw["inclusion_proof"]
    _require(isinstance(proof, list), f"{where}.inclusion_proof: not a list")
    return BundleEntry(
        seq=raw["seq"],
        recorded_us=raw["recorded_us"],
        event=_base64(raw["event"], f"{where}.event"),
        prev_hash=_hash(raw["prev_hash"], f"{where}.prev_hash"),
        hash=_hash(raw["hash"], f"{where}.hash"),
        inclusion_proof=[_hash(p, f"{where}.inclusion_proof[{i}]") for i, p in enumerate(proof)],
    )


def verify_bundle(
    bundle: Bundle, *, trusted: Keyring | None, tsa_roots: list[Certificate] | None = None
) -> BundleReport:
    """Steps 2-7; every failure is named with the entry's seq (``tsa_roots``: the auditor's TSA roots, step 7)."""
    report = BundleReport(keys_from_bundle=trusted is None)
    keyring = trusted if trusted is not None else _bundle_keyring(bundle, report)  # step 2
    if keyring is None:
        return report
    try:
        report.checkpoint = open_checkpoint(bundle.checkpoint, keyring)  # step 3
    except LedgerError as exc:
        report.failures.append(f"checkpoint: {exc}")
        return report
    for entry in bundle.entries:  # step 4
        _verify_entry(entry, report.checkpoint, report)
    _check_incident(bundle, report)  # step 5
    if bundle.index is not None:  # step 6
        _check_complete(bundle, bundle.index, report)
    if bundle.timestamps:  # step 7
        report.stamps, failures = verify_timed(
            bundle.timestamps, head=report.checkpoint, keyring=keyring, roots=tsa_roots
        )
        report.failures += failures
    return report


def _check_complete(bundle: Bundle, index: BundleIndex, report: BundleReport) -> None:
    committed = _committed_root(bundle, index.commit_seq, report)
    if committed is None:
        return
    size, root = committed
    present = {seq for seq, _ in report.verified}
    keys = {p.key for p in index.proofs}
    if f"incident:{bundle.incident_id}" not in keys:
        report.failures.append("index: the bundle's incident has no completeness proof")
    for proof in index.proofs:
        if proof.tree_size != size:
            report.failures.append(f"index proof for {proof.key}: size {proof.tree_size}, not the committed {size}")
            continue
        try:
            seqs = verify_index_proof(proof, root=root)
        except IntegrityError as exc:
            report.failures.append(str(exc))
            continue
        missing = [s for s in seqs if s not in present]
        report.failures += [f"seq {s}, named by the index for {proof.key}, is missing from the bundle" for s in missing]
        if not missing:
            report.complete.append((proof.key, len(seqs), size))


def _committed_root(bundle: Bundle, seq: int, report: BundleReport) -> tuple[int, bytes] | None:
    """The (size, root) of the verified ``index.committed`` entry at ``seq`` the ledger recorded itself."""
    entry = next((e for e in bundle.entries if e.seq == seq), None)
    if entry is None or (seq, COMMITTED) not in report.verified:
        report.failures.append(f"index: the commit at seq {seq} is not a verified index.committed entry")
        return None
    envelope = orjson.loads(entry.event)
    if envelope.get("source") != "ledger":
        report.failures.append(f"index: the commit at seq {seq} was not recorded by the ledger itself")
        return None
    data = envelope["data"]
    return int(data["tree_size"]), bytes.fromhex(data["root"])


def _bundle_keyring(bundle: Bundle, report: BundleReport) -> Keyring | None:
    try:
        return Keyring([parse_verifier_key(k) for k in bundle.verifier_keys])
    except LedgerError as exc:
        report.failures.append(f"verifier_keys: {exc}")
        return None


def _verify_entry(entry: BundleEntry, checkpoint: Checkpoint, report: BundleReport) -> None:
    where = f"entry seq {entry.seq}"
    entry_data = entry_bytes(seq=entry.seq, recorded_us=entry.recorded_us, body=entry.event)
    if link_hash(prev=entry.prev_hash, entry=entry_data) != entry.hash:
        report.failures.append(f"{where}: the chain hash does not match the event bytes")
        return
    if entry.seq > checkpoint.size:
        report.failures.append(f"{where}: beyond the checkpoint's {checkpoint.size} entries")
        return
    try:
        merkle.verify_inclusion(
            index=entry.seq - 1,
            size=checkpoint.size,
            leaf_hash=merkle.leaf_hash(entry_data),
            proof=entry.inclusion_proof,
            root=checkpoint.root_hash,
        )
    except (IntegrityError, LedgerError) as exc:
        report.failures.append(f"{where}: the inclusion proof does not lead to the checkpoint's root ({exc})")
        return
    report.verified.append((entry.seq, _event_type(entry.event, where, report)))


def _event_type(event: bytes, where: str, report: BundleReport) -> str:
    try:
        return open_event(event, None).event().type  # sealed fields stay sealed: no keys offline
    except LedgerError as exc:
        report.failures.append(f"{where}: not a well-formed event ({exc})")
        return "?"


def _check_incident(bundle: Bundle, report: BundleReport) -> None:
    needle = orjson.dumps(bundle.incident_id)
    if not any(b'"incident_id":' + needle in e.event for e in bundle.entries):
        report.failures.append("the incident named by the bundle is not among its events")


def _json_kind(value: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidBundle(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _hash(value: Any, where: str) -> bytes:
    _require(isinstance(value, str) and len(value) == 64, f"{where}: not a 64-digit hex hash")
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise InvalidBundle(f"{where}: not hex") from exc
    _require(raw.hex() == value, f"{where}: not lowercase hex")
    return raw


def _base64(value: Any, where: str) -> bytes:
    _require(isinstance(value, str), f"{where}: not a string")
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise InvalidBundle(f"{where}: not base64") from exc
    _require(base64.b64encode(raw).decode() == value, f"{where}: not canonical base64")
    return raw
