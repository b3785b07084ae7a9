"""Sealed fields as stored: how to recognise them and open them (the pure half of ledger.privacy).

ledger.privacy seals an event's sensitive fields before its canonical bytes
are made; the stored form is::

    "patient_ref": {"as": "string", "sealed": "<base64>", "subject": "<token>"}
    "explanation": {"as": "string", "sealed_with": "patient_ref"}

Reading needs no database: with no keys, every sealed field reads as
``[sealed]`` (what an offline verifier of a bundle sees); with the subjects'
data keys (``DataKeys``, which ledger.privacy's ``Keys`` implements over the
key vault) the fields are decrypted, or read as ``[erased]`` where the key was
destroyed.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from ledger.catalogue import Event, parse_stored
from ledger.errors import IntegrityError

ERASED = "[erased]"
SEALED = "[sealed]"


class DataKeys(Protocol):
    """Where the subjects' data keys come from (ledger.privacy.Keys, over the key vault)."""

    def data_keys(self, tokens: Iterable[str], *, create: bool, recheck: bool = False) -> dict[str, bytes | None]:
        """Data key per token; None where the subject was erased (or is unknown)."""
        ...


# GCM-SIV derives its synthetic IV from the key, the associated data and the plaintext, so
# a fixed nonce is safe (RFC 8452 s. 9: repeating it reveals only whether the same event
# was sealed twice, which is what a retry is). The associated data names the event, the
# field that holds the ciphertext and the subject, so no two events share an IV.
NONCE = bytes(12)


def aad(event_id: str, field: str, token: str) -> bytes:
    """The associated data of a sealed field: the event, the field holding the ciphertext, the subject."""
    return f"{event_id}\x00{field}\x00{token}".encode()


@lru_cache(maxsize=4096)
def cipher(key: bytes) -> AESGCMSIV:
    """The AES-256-GCM-SIV of a data key (cached: one per subject in use)."""
    return AESGCMSIV(key)


CIPHERTEXT_FIELD = frozenset({"as", "sealed", "subject"})  # the keys of the field holding the ciphertext
SEALED_WITH_FIELD = frozenset({"as", "sealed_with"})  # the keys of a field sealed with it


def is_sealed(value: Any) -> bool:
    """True for a sealed field's stored form (the one holding the ciphertext, or one sealed with it)."""
    return isinstance(value, dict) and value.keys() in (CIPHERTEXT_FIELD, SEALED_WITH_FIELD)


def sealed_subject(value: Any) -> str | None:
    """The subject token of the field that holds an event's ciphertext, else None."""
    return value["subject"] if is_sealed(value) and "subject" in value else None


@dataclass
class Opened:
    """An event read back: its envelope with fields opened, and what could not be."""

    envelope: dict[str, Any]
    erased: list[str]
    subjects: dict[str, str]  # field -> subject token

    def event(self) -> Event:
        """The event validated by the catalogue (placeholders where fields are erased or withheld)."""
        return parse_stored(orjson.dumps(self.envelope))


def open_event(body: bytes, keys: DataKeys | None) -> Opened:
    """Open stored bytes: sealed fields decrypted, or ``[erased]`` (no key any more) or ``[sealed]`` (no keys given)."""
    envelope = orjson.loads(body)
    data = envelope.get("data", {})
    opened = Opened(envelope, [], {})
    sealed = {f: v for f, v in data.items() if is_sealed(v)}
    if not sealed:
        return opened
    primaries = {f: v for f, v in sealed.items() if "subject" in v}
    members = {p: [p, *(f for f, v in sealed.items() if v.get("sealed_with") == p)] for p in primaries}
    if sum(len(m) for m in members.values()) != len(sealed):
        raise IntegrityError("a sealed field names no field that holds a ciphertext")
    tokens = [v["subject"] for v in primaries.values()]
    key_by_token = keys.data_keys(tokens, create=False, recheck=True) if keys else {}  # an erasure counts at once
    for primary, value in primaries.items():
        fields = members[primary]
        opened.subjects.update(dict.fromkeys(fields, value["subject"]))
        key = key_by_token.get(value["subject"])
        if keys is None or key is None:
            for field in fields:
                data[field] = _placeholder(sealed[field], SEALED if keys is None else ERASED)
            opened.erased += fields if keys is not None else []
            continue
        values = _open_value(key, value, event_id=envelope["event_id"], field=primary)
        if set(values) != set(fields):
            raise IntegrityError(f"the ciphertext in {primary} does not hold exactly the fields sealed with it")
        data.update(values)
    return opened


def _placeholder(value: Mapping[str, str], text: str) -> Any:
    return [text] if value["as"] == "array" else text


def _open_value(key: bytes, value: Mapping[str, str], *, event_id: str, field: str) -> dict[str, Any]:
    ciphertext = base64.b64decode(value["sealed"])
    try:
        plaintext = cipher(key).decrypt(NONCE, ciphertext, aad(event_id, field, value["subject"]))
    except InvalidTag as exc:
        raise IntegrityError(f"sealed fields ({field}) do not open under their subject's key") from exc
    opened: dict[str, Any] = orjson.loads(plaintext)
    return opened
