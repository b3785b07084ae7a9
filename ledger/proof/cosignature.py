"""Witness cosignatures (c2sp.org/tlog-cosignature, Ed25519) and witness policies (c2sp.org/tlog-policy).

A cosignature is a signed-note signature line on a checkpoint, made by a
witness's key, that says "as of time T, the largest consistent tree head I
have seen for this origin has this root"::

    — <witness name> base64(key id[4] || timestamp[8, big-endian] || Ed25519 signature[64])

    key id          = SHA-256(name || 0x0A || 0x04 || 32-byte public key)[:4]
    signed message  = "cosignature/v1\\n" "time <T>\\n" || the checkpoint's note text

The witness's verifier key (vkey) is ``name+keyid+base64(0x04 || public key)``.
A witness keeps an ordinary signed-note signer key (type 0x01) on disk; its
cosigner key is the same Ed25519 key under type 0x04 (as transparency-dev's
witness does), so ``cosigner_key`` derives the vkey from it.

A policy is a text file of ``log``, ``witness``, ``group`` and ``quorum``
lines; ``parse_policy`` reads it strictly (MalformedProof names the line), and
``check_quorum`` decides, in order:

1. Parse the signed checkpoint strictly.
2. If the policy lists logs, one of them must have signed it, under the name
   that is the checkpoint's origin (SignatureInvalid otherwise).
3. Verify every signature line whose name and key id are a policy witness's;
   one that does not verify is SignatureInvalid naming the witness. Lines by
   other keys are ignored, as the specs require.
4. Evaluate the quorum over the witnesses whose cosignature verified.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ledger.errors import MalformedProof, SignatureInvalid
from ledger.proof.checkpoint import Checkpoint, parse_checkpoint_body
from ledger.proof.keys import (
    Keyring,
    SigningKey,
    VerifierKey,
    compute_key_id,
    encode_base64,
    format_key_id,
    key_name_defect,
    parse_verifier_key,
    split_key,
)
from ledger.proof.note import Signature, parse_note, verify_note

COSIGNATURE_V1_TYPE = 0x04
"""The signed-note signature type byte of Ed25519 cosignature/v1."""

HEADER = "cosignature/v1\n"
MAX_TIMESTAMP = 2**63 - 1
_TIMESTAMP_LEN = 8
_SIGNATURE_LEN = 64
_KEY_LEN = 32


@dataclass(frozen=True)
class CosignerKey:
    """A witness's public key for cosignature/v1: its name, key id (type 0x04) and 32 raw Ed25519 bytes."""

    name: str
    key_id: int
    public_key: bytes

    def __post_init__(self) -> None:
        defect = key_name_defect(self.name)
        if defect is not None:
            raise MalformedProof(defect)
        if len(self.public_key) != _KEY_LEN:
            raise MalformedProof(f"Ed25519 public key is {len(self.public_key)} bytes, expected {_KEY_LEN}")
        expected = _key_id(self.name, self.public_key)
        if self.key_id != expected:
            raise MalformedProof(
                f"cosigner key id {format_key_id(self.key_id)} does not match key {self.name} "
                f"(computed {format_key_id(expected)})"
            )

    @property
    def label(self) -> str:
        """``name+keyid``, how messages name this key."""
        return f"{self.name}+{format_key_id(self.key_id)}"

    def matches(self, signature: Signature) -> bool:
        """True if ``signature`` is a line by this key (its name and key id), verified or not."""
        return signature.name == self.name and signature.key_id == self.key_id

    def verify(self, *, body: str, signature: Signature) -> int:
        """The cosignature's timestamp, once its signature over ``body`` verifies; SignatureInvalid otherwise."""
        timestamp = cosignature_timestamp(signature)
        raw = signature.signature[_TIMESTAMP_LEN:]
        # The Ed25519 check is the signed-note key's: the same 32 bytes under the log's type byte.
        as_note_key = VerifierKey.from_public_key(self.name, self.public_key)
        try:
            as_note_key.verify(message=cosigned_message(body, timestamp=timestamp), signature=raw)
        except SignatureInvalid as exc:
            raise SignatureInvalid(f"invalid cosignature by witness key {self.label}") from exc
        return timestamp


def _key_id(name: str, public_key: bytes) -> int:
    return compute_key_id(name=name, public_key=public_key, key_type=COSIGNATURE_V1_TYPE)


def cosigner_key(key: SigningKey) -> CosignerKey:
    """The cosignature/v1 verifier key of a witness's signing key."""
    return CosignerKey(key.name, _key_id(key.name, key.public_key), key.public_key)


def format_cosigner_key(key: CosignerKey) -> str:
    """``name+keyid+base64(0x04 || public key)``: the vkey to put in a policy's ``witness`` line."""
    return f"{key.label}+{encode_base64(bytes([COSIGNATURE_V1_TYPE]) + key.public_key)}"


def parse_cosigner_key(text: str) -> CosignerKey:
    """Parse ``name+keyid+base64(0x04 || public key)``; the key id must match."""
    name, key_id, public_key = split_key(text, what="witness key", key_type=COSIGNATURE_V1_TYPE)
    return CosignerKey(name, key_id, public_key)


def cosigned_message(body: str, *, timestamp: int) -> bytes:
    """What a cosignature signs: the header line, the time line, then the checkpoint's note text."""
    _check_timestamp(timestamp)
    if not body.endswith("\n"):
        raise MalformedProof("checkpoint body does not end with a newline")
    return f"{HEADER}time {timestamp}\n{body}".encode()


def cosign(body: str, key: SigningKey, *, timestamp: int) -> Signature:
    """``key``'s cosignature over the checkpoint note text ``body`` at POSIX time ``timestamp``."""
    signature = key.sign(cosigned_message(body, timestamp=timestamp))
    cosigner = cosigner_key(key)
    return Signature(cosigner.name, cosigner.key_id, timestamp.to_bytes(_TIMESTAMP_LEN, "big") + signature)


def cosignature_timestamp(signature: Signature) -> int:
    """The timestamp a cosignature line carries (not verified); MalformedProof if it is not 8 + 64 bytes."""
    raw = signature.signature
    if len(raw) != _TIMESTAMP_LEN + _SIGNATURE_LEN:
        raise MalformedProof(
            f"cosignature by {signature.label} is {len(raw)} bytes, expected {_TIMESTAMP_LEN + _SIGNATURE_LEN}"
        )
    timestamp = int.from_bytes(raw[:_TIMESTAMP_LEN], "big")
    _check_timestamp(timestamp)
    return timestamp


def _check_timestamp(timestamp: int) -> None:
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise MalformedProof(f"cosignature timestamp {timestamp} is outside 0..2^63-1")


# -- Policies (c2sp.org/tlog-policy) -------------------------------------------------------------

NONE = "none"
"""The predefined name a quorum may use to require no cosignature at all."""

_WHITESPACE = re.compile(r"[ \t]+")
_THRESHOLD = re.compile(r"[1-9][0-9]*")
_ALLOWED_BYTE = re.compile(rb"[^\x09\x0a\x20-\x7e\x80-\xff]")


@dataclass(frozen=True)
class PolicyWitness:
    """A ``witness`` line: the policy's name for it, its cosigner key and its submission URL, if given."""

    name: str
    key: CosignerKey
    url: str | None


@dataclass(frozen=True)
class Group:
    """A ``group`` line: witnessed when at least ``threshold`` of its members are."""

    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    """The logs accepted, the witnesses known, their groups, and the quorum a checkpoint must meet."""

    logs: tuple[VerifierKey, ...]
    witnesses: Mapping[str, PolicyWitness]
    groups: Mapping[str, Group]
    quorum: str

    def satisfied_by(self, cosigned: set[str]) -> bool:
        """True if the witnesses named in ``cosigned`` (policy names) meet the quorum."""
        return self._witnessed(self.quorum, cosigned)

    def _witnessed(self, name: str, cosigned: set[str]) -> bool:
        if name == NONE:
            return True
        group = self.groups.get(name)
        if group is None:
            return name in cosigned
        return sum(self._witnessed(member, cosigned) for member in group.members) >= group.threshold


def parse_policy(data: bytes | str) -> Policy:
    """Parse a tlog-policy file strictly; MalformedProof names the line (from 1) and its defect."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    bad = _ALLOWED_BYTE.search(raw)
    if bad is not None:
        raise MalformedProof(f"policy contains the control byte 0x{bad.group()[0]:02x} at offset {bad.start()}")
    builder = _PolicyBuilder()
    for number, line in enumerate(raw.decode("utf-8", "surrogateescape").split("\n"), 1):
        fields = [f for f in _WHITESPACE.split(line.strip(" \t")) if f]
        if not fields or fields[0].startswith("#"):
            continue
        try:
            builder.add(fields)
        except MalformedProof as exc:
            raise MalformedProof(f"policy line {number}: {exc}") from exc
    return builder.build()


class _PolicyBuilder:
    """The policy read so far; each line may refer only to names defined on lines before it."""

    def __init__(self) -> None:
        self.logs: list[VerifierKey] = []
        self.witnesses: dict[str, PolicyWitness] = {}
        self.groups: dict[str, Group] = {}
        self.quorum: str | None = None

    def add(self, fields: list[str]) -> None:
        keyword, args = fields[0], fields[1:]
        handlers = {"log": self._log, "witness": self._witness, "group": self._group, "quorum": self._quorum}
        handler = handlers.get(keyword)
        if handler is None:
            raise MalformedProof(f"unknown keyword {keyword!r} (expected log, witness, group or quorum)")
        handler(args)

    def build(self) -> Policy:
        if self.quorum is None:
            raise MalformedProof("policy has no quorum line")
        return Policy(tuple(self.logs), dict(self.witnesses), dict(self.groups), self.quorum)

    def _log(self, args: list[str]) -> None:
        if len(args) not in (1, 2):
            raise MalformedProof("a log line is `log <vkey> [<url>]`")
        key = parse_verifier_key(args[0])
        if any(known.public_key == key.public_key for known in self.logs):
            raise MalformedProof(f"log key {key.label} duplicates an earlier log's key")
        self.logs.append(key)

    def _witness(self, args: list[str]) -> None:
        if len(args) not in (2, 3):
            raise MalformedProof("a witness line is `witness <name> <vkey> [<url>]`")
        name = self._new_name(args[0])
        key = parse_cosigner_key(args[1])
        if any(known.key.public_key == key.public_key for known in self.witnesses.values()):
            raise MalformedProof(f"witness {name}'s key duplicates an earlier witness's key")
        self.witnesses[name] = PolicyWitness(name, key, args[2] if len(args) == 3 else None)

    def _group(self, args: list[str]) -> None:
        if len(args) < 3:
            raise MalformedProof("a group line is `group <name> <all|any|k> <member>...`")
        name, spec, members = self._new_name(args[0]), args[1], args[2:]
        for member in members:
            self._defined(member, what="group member")
        if len(set(members)) != len(members):
            raise MalformedProof(f"group {name} lists a member more than once")
        threshold = {"all": len(members), "any": 1}.get(spec)
        if threshold is None:
            if not _THRESHOLD.fullmatch(spec):
                raise MalformedProof(f"group {name}'s threshold {spec!r} is not all, any or a decimal number")
            threshold = int(spec)
            if threshold > len(members):
                raise MalformedProof(f"group {name}'s threshold {threshold} exceeds its {len(members)} members")
        self.groups[name] = Group(name, threshold, tuple(members))

    def _quorum(self, args: list[str]) -> None:
        if len(args) != 1:
            raise MalformedProof("a quorum line is `quorum <name>`")
        if self.quorum is not None:
            raise MalformedProof("policy has more than one quorum line")
        if args[0] != NONE:
            self._defined(args[0], what="quorum")
        self.quorum = args[0]

    def _new_name(self, name: str) -> str:
        if name == NONE:
            raise MalformedProof("`none` is predefined and cannot name a witness or group")
        if name in self.witnesses or name in self.groups:
            raise MalformedProof(f"the name {name!r} is defined twice")
        return name

    def _defined(self, name: str, *, what: str) -> None:
        if name == NONE:
            raise MalformedProof(f"`none` cannot be a {what}")
        if name not in self.witnesses and name not in self.groups:
            raise MalformedProof(f"{what} {name!r} is not defined on an earlier line")


# -- Checking a checkpoint against a policy ------------------------------------------------------


@dataclass(frozen=True)
class QuorumResult:
    """What a cosigned checkpoint shows under a policy: who cosigned it, when, and whether that is enough."""

    checkpoint: Checkpoint
    cosigned_at: Mapping[str, int]
    """Policy witness name -> the POSIX time its verified cosignature carries."""
    met: bool
    quorum: str

    def describe(self) -> str:
        """One line for a report: the quorum, and who cosigned."""
        who = ", ".join(f"{name} at {t}" for name, t in sorted(self.cosigned_at.items())) or "no witness"
        state = "met" if self.met else "NOT met"
        return f"checkpoint at size {self.checkpoint.size}: quorum {self.quorum} {state}; cosigned by {who}"


def check_quorum(signed: str | bytes, policy: Policy) -> QuorumResult:
    """Check a signed checkpoint's cosignatures against ``policy`` (the module's steps 1-4)."""
    note = parse_note(signed)  # 1
    checkpoint = parse_checkpoint_body(note.text)
    if policy.logs:  # 2
        verify_note(signed, Keyring(policy.logs))
        if checkpoint.origin not in {key.name for key in policy.logs}:
            raise SignatureInvalid(f"checkpoint origin {checkpoint.origin!r} is not the name of a log in the policy")
    cosigned_at: dict[str, int] = {}
    for witness in policy.witnesses.values():  # 3
        for sig in note.signatures:
            if witness.key.matches(sig):
                cosigned_at[witness.name] = witness.key.verify(body=note.text, signature=sig)
    met = policy.satisfied_by(set(cosigned_at))  # 4
    return QuorumResult(checkpoint, cosigned_at, met, policy.quorum)
