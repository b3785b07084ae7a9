"""Per-subject encryption of sensitive fields, before they are hashed and stored.

What is sealed: every field the catalogue marks sensitive (patient and
encounter references, free text). Each field is sealed with its *subject's*
data key, so destroying that key (crypto-shredding) erases exactly that
subject's data while every byte of the log, and so the chain, the Merkle tree,
checkpoints and old bundles, stays as it was.

Whose key (``subject_of``): the patient's when the event names one
(``patient_ref``); the clinician's for an action's comment; the person's for an
acknowledgement; otherwise the incident's, the tool's, or the event's own.

How an event's sensitive fields are sealed, in its canonical JSON (one AEAD
operation per event; the first sensitive field holds the ciphertext of all)::

    "patient_ref": {"as": "string", "sealed": "<base64>", "subject": "<token>"}
    "explanation": {"as": "string", "sealed_with": "patient_ref"}

* ``subject`` is HMAC-SHA-256(index key, "<kind>:<id>"), first 16 bytes, hex: a
  keyed token, so lookups by patient never use the clear identifier.
* ``sealed`` is AES-256-GCM-SIV (RFC 8452, from ``cryptography``) of a JSON object
  {field: value} of the event's sensitive fields under the subject's data key,
  with the event_id, the holding field's name and
  token as associated data (and a fixed nonce: GCM-SIV's synthetic IV already depends on
  all three). SIV makes sealing deterministic: the same event sealed twice gives
  the same bytes, so a retry is still recognised by its digest, without GCM's
  catastrophic failure on a repeated nonce.
* ``as`` is the value's JSON type, so an erased field reads back as a
  placeholder of the right type.

Data keys are random 256-bit keys, wrapped (AES-256-GCM) by a master key the
operator supplies (``ledger.masterkey.MasterKey``, a small interface a KMS can implement).
Rotating the master key rewraps data keys and touches no event.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from ledger.catalogue import sensitive_fields
from ledger.errors import InputError, IntegrityError, KeyNotConfigured
from ledger.masterkey import PREVIOUS_KEYS_ENV as PREVIOUS_KEYS_ENV
from ledger.masterkey import LocalMasterKey as LocalMasterKey
from ledger.masterkey import MasterKey
from ledger.proof import sealed as sealed_form
from ledger.proof.sealed import ERASED as ERASED
from ledger.proof.sealed import sealed_subject as sealed_subject
from ledger.vault import Vault, WrappedKey

INDEX_SUBJECT = "__index__"


def subject_of(event_type: str, data: Mapping[str, Any], *, event_id: str, actor_id: str) -> str:
    """Whose data key seals this event's sensitive fields, as "<kind>:<id>"."""
    if isinstance(data.get("patient_ref"), str):
        return f"patient:{data['patient_ref']}"
    if event_type == "output.acted":
        return f"clinician:{data['clinician_id']}"
    if event_type == "monitoring.acknowledged":
        return f"person:{actor_id}"
    for kind in ("incident_id", "remediation_id", "tool_id"):
        if isinstance(data.get(kind), str):
            return f"{kind.removesuffix('_id')}:{data[kind]}"
    return f"event:{event_id}"


@dataclass(frozen=True, slots=True)
class NewKey:
    """A data key made for a subject the vault does not hold yet.

    It is stored in the transaction that appends the events sealed under it, and
    cached only once that transaction has committed (``Keys.kept``).
    """

    token: str
    key: bytes = field(repr=False)
    wrapped: bytes
    master_key_id: str
    created_us: int

    def row(self) -> tuple[str, bytes, str, int]:
        """The key table's row: (subject, wrapped, master_key_id, created_us)."""
        return (self.token, self.wrapped, self.master_key_id, self.created_us)


RECHECK_S = 1.0
"""How long sealing trusts the cached keys before asking the vault whether any key was erased.

Another process (``ledger erase`` beside a running server) may erase a subject.
This one asks the vault at most once a second how many keys have been erased
(one indexed count); when the count has grown, every cached key is read again
as it is next used. Opening sealed fields (a reveal) always reads the subject's
row first, so an erased subject is never revealed; an append for one is
refused within this many seconds of the erasure.
"""


class Keys:
    """Data keys by subject: read from the vault and unwrapped with the master key, cached.

    Only keys the vault holds are cached (``None`` for an erased subject); a
    subject without a stored key is looked up again next time. A cached key is
    used as it is until the vault's count of erased keys is seen to grow
    (checked every ``RECHECK_S`` seconds), and read again on its next use after
    that; a reveal reads every key it uses (``recheck``).
    """

    def __init__(self, vault: Vault, master: MasterKey, previous: Iterable[MasterKey] = ()) -> None:
        self.vault = vault
        self.master = master  # wraps every new data key
        self.previous = {k.key_id: k for k in previous}  # unwrap keys a rotation has not rewrapped yet
        self._cache: dict[str, bytes | None] = {}
        # Erasure epochs: the epoch advances whenever the vault's count of erased keys is seen
        # to have changed. A key read from the vault in an epoch was read after that epoch's
        # count, so any erasure it missed is counted by the next check, which moves the epoch on.
        self._epoch = 0
        self._read_in: dict[str, int] = {}  # token -> the epoch of its last read from the vault
        self._erased: int | None = None  # the vault's count of erased keys at the last check
        self._checked_at = -math.inf  # time.monotonic() of that check
        self._tokens: dict[str, str] = {}
        self.index_key = self._index_key()

    def token(self, subject: str) -> str:
        """The keyed lookup token of a subject (never the clear identifier)."""
        token = self._tokens.get(subject)
        if token is None:
            token = hmac.new(self.index_key, subject.encode(), hashlib.sha256).hexdigest()[:32]
            if len(self._tokens) > 100_000:
                self._tokens.clear()
            self._tokens[subject] = token
        return token

    def data_keys(self, tokens: Iterable[str], *, create: bool, recheck: bool = False) -> dict[str, bytes | None]:
        """Data key per token; None where the subject was erased (or is unknown and not created).

        ``create`` stores a fresh key for each unknown subject first, in a transaction
        of its own (a subject another writer created meanwhile keeps that writer's
        key). Appends do not use it: ``for_sealing`` lets the key travel with the events.
        ``recheck`` reads every token's row from the vault, cached or not (a reveal).
        """
        tokens = list(tokens)
        self._load(tokens, recheck=recheck)
        missing = [t for t in set(tokens) if t not in self._cache]
        if missing and create:
            self.vault.add([self._new_key(t).row() for t in missing])
            self._load(missing, recheck=True)
        return {t: self._cache.get(t) for t in tokens}

    def for_sealing(self, tokens: Iterable[str]) -> tuple[dict[str, bytes | None], list[NewKey]]:
        """The key per token (None where erased), and the fresh keys made, in memory, for subjects the vault lacks.

        The fresh keys must be stored with the events sealed under them (in the
        same transaction) and handed to ``kept`` after it commits.
        """
        unique = set(tokens)
        self._load(unique)
        fresh = [self._new_key(t) for t in unique if t not in self._cache]
        found = {t: self._cache[t] for t in unique if t in self._cache}
        found.update((k.token, k.key) for k in fresh)
        return found, fresh

    def kept(self, fresh: Iterable[NewKey]) -> None:
        """Cache fresh keys once the transaction that stored them has committed."""
        for new in fresh:
            self._cache[new.token] = new.key
            self._read_in[new.token] = self._epoch

    def forget(self, token: str) -> None:
        """Drop a cached key (after erasure)."""
        self._cache[token] = None
        self._read_in[token] = self._epoch

    def _load(self, tokens: Iterable[str], *, recheck: bool = False) -> None:
        """Read from the vault every token not cached, or cached before the last erasure seen (all if ``recheck``)."""
        self._check_erasures()
        epoch = self._epoch
        wanted = list(set(tokens)) if recheck else [t for t in set(tokens) if self._read_in.get(t) != epoch]
        if not wanted:
            return
        stored = self.vault.get(wanted)
        for token in wanted:
            row = stored.get(token)
            if row is None:  # no key yet (the ledger never deletes one): nothing to keep
                self._cache.pop(token, None)
                self._read_in.pop(token, None)
                continue
            if row.wrapped is None:  # erased, here or by another process
                self._cache[token] = None
            elif self._cache.get(token) is None:  # a data key never changes: unwrap it once
                self._cache[token] = self.unwrap(row)
            self._read_in[token] = epoch

    def unwrap(self, row: WrappedKey) -> bytes:
        """A stored data key, unwrapped with the master key it names (the current one, or one a rotation retired)."""
        if row.wrapped is None:
            raise IntegrityError("an erased data key cannot be unwrapped")
        master = self.master if row.master_key_id == self.master.key_id else self.previous.get(row.master_key_id)
        if master is None:
            raise KeyNotConfigured(
                f"a data key is wrapped under master key {row.master_key_id}, which is not configured: set it as "
                f"the master key, or list it in {PREVIOUS_KEYS_ENV} until `ledger master-key rotate` has rewrapped it"
            )
        return master.unwrap(row.wrapped, context=row.subject.encode())

    def _check_erasures(self) -> None:
        """Every RECHECK_S seconds, count the erased keys; a new count starts a new epoch."""
        now = time.monotonic()
        if now - self._checked_at <= RECHECK_S:
            return
        erased = self.vault.erased_count()
        self._checked_at = now
        if erased != self._erased:
            self._erased, self._epoch = erased, self._epoch + 1

    def _new_key(self, token: str) -> NewKey:
        key = os.urandom(32)
        wrapped = self.master.wrap(key, context=token.encode())
        return NewKey(token, key, wrapped, self.master.key_id, time.time_ns() // 1000)

    def _index_key(self) -> bytes:
        stored = self.vault.get([INDEX_SUBJECT]).get(INDEX_SUBJECT)
        if stored is None:
            self.vault.add([self._new_key(INDEX_SUBJECT).row()])
            stored = self.vault.get([INDEX_SUBJECT])[INDEX_SUBJECT]
        if stored.wrapped is None:  # the ledger never erases it: only an edit of the key table can
            raise IntegrityError("the lookup-token key has been erased from the key table")
        return self.unwrap(stored)


@dataclass(frozen=True, slots=True)
class Sealed:
    """A batch sealed for appending: the canonical dicts, and the keys made for new subjects."""

    events: list[dict[str, Any]]
    new_keys: list[NewKey]


class Sealer:
    """Seals the sensitive fields of a batch of events before their canonical bytes are made."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    def seal_all(self, canonicals: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each canonical dict with its sensitive fields sealed; new subjects' keys stored first, on their own."""
        plans = self._plans(canonicals)
        keys = self.keys.data_keys({p[2] for p in plans}, create=True)
        return _sealed(canonicals, plans, keys)

    def seal_batch(self, canonicals: list[dict[str, Any]]) -> Sealed:
        """Each canonical dict with its sensitive fields sealed, and the fresh keys to store with them.

        Nothing is written: the caller stores ``new_keys`` in the transaction that
        appends the events (``Ledger.append_batch``).
        """
        plans = self._plans(canonicals)
        keys, fresh = self.keys.for_sealing({p[2] for p in plans})
        return Sealed(_sealed(canonicals, plans, keys), fresh)

    def seal(self, canonical: dict[str, Any]) -> dict[str, Any]:
        """One event's canonical dict with its sensitive fields sealed."""
        return self.seal_all([canonical])[0]

    def _plans(self, canonicals: list[dict[str, Any]]) -> list[_Plan]:
        """(position, the sensitive fields present, subject token) of each event that has any."""
        plans = []
        token = self.keys.token
        for position, canonical in enumerate(canonicals):
            data = canonical["data"]
            fields = [f for f in _sensitive(canonical["type"]) if f in data]
            if fields:
                subject = subject_of(canonical["type"], data, event_id=canonical["event_id"],
                                     actor_id=canonical["actor"]["id"])  # fmt: skip
                plans.append((position, fields, token(subject)))
        return plans


_Plan = tuple[int, list[str], str]


@cache
def _sensitive(event_type: str) -> tuple[str, ...]:
    return tuple(sensitive_fields(event_type))


def _sealed(
    canonicals: list[dict[str, Any]], plans: list[_Plan], keys: Mapping[str, bytes | None]
) -> list[dict[str, Any]]:
    """The canonical dicts with the planned ones sealed (new dicts: the input is left as it was)."""
    sealed = list(canonicals)
    ciphers: dict[str, AESGCMSIV] = {}
    for position, fields, token in plans:
        cipher = ciphers.get(token)
        if cipher is None:
            key = keys[token]
            if key is None:
                raise InputError("a subject of this event has been erased: its data can no longer be recorded")
            cipher = ciphers[token] = sealed_form.cipher(key)
        sealed[position] = _seal(canonicals[position], fields, token, cipher)
    return sealed


def _seal(canonical: dict[str, Any], fields: list[str], token: str, cipher: AESGCMSIV) -> dict[str, Any]:
    """One AEAD per event: the first sensitive field holds the ciphertext of all of them."""
    data, primary = canonical["data"], fields[0]
    values = {name: data[name] for name in fields}
    aad = sealed_form.aad(canonical["event_id"], primary, token)
    ciphertext = base64.b64encode(cipher.encrypt(sealed_form.NONCE, orjson.dumps(values), aad)).decode()
    data = data.copy()
    data[primary] = {"as": _kind(values[primary]), "sealed": ciphertext, "subject": token}
    for name in fields[1:]:
        data[name] = {"as": _kind(values[name]), "sealed_with": primary}
    canonical = canonical.copy()
    canonical["data"] = data
    return canonical


def _kind(value: Any) -> str:
    return "array" if value.__class__ is list else "string"
