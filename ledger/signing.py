"""The checkpoint-signing keys on disk, and their rotation recorded in the log.

A keys folder holds:

    <name>-<keyid>.key   each signing key ever generated (mode 0600)
    active               the file name of the key that signs now
    trusted.keys         the verifier key of every key ever active, one per line:
                         the list to hand to auditors (``ledger verify --trusted-keys``)

Activating a key appends ``ledger.signing_key_activated`` (and
``ledger.signing_key_retired`` for the key it replaces) to the log, so the log
says which key signed when. Retired keys stay listed as trusted: the
checkpoints they signed keep verifying.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ledger.catalogue import RESERVED_SOURCE, recorded_by_ledger
from ledger.errors import InputError
from ledger.proof.files import read_text
from ledger.proof.keys import (
    Keyring,
    SigningKey,
    VerifierKey,
    format_key_id,
    format_verifier_key,
    generate,
    load_signing_key,
    parse_keyring,
    save_signing_key,
)
from ledger.store import Ledger, Record

ACTIVE = "active"
TRUSTED = "trusted.keys"
SIGNING_KEY_FILE = re.compile(r".+-[0-9a-f]{8}\.key")
"""How a signing key's file is named: ``<name>-<keyid>.key``."""


@dataclass(frozen=True)
class KeyInfo:
    """One key in the folder."""

    file: str
    name: str
    key_id: str
    verifier_key: str
    active: bool


class KeyFolder:
    """The signing keys of one ledger."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def active_key(self) -> SigningKey:
        """The key that signs checkpoints now."""
        pointer = self.path / ACTIVE
        if not pointer.is_file():
            raise InputError(f"no active signing key in {self.path}: run `ledger signing-keys generate`")
        return load_signing_key(self.path / read_text(pointer, what="active key pointer").strip())

    def has_active_key(self) -> bool:
        """True once a key has been generated."""
        return (self.path / ACTIVE).is_file()

    def keyring(self) -> Keyring:
        """Every key ever active, as verifier keys (refused if there are none)."""
        trusted = self.path / TRUSTED
        if not trusted.is_file():
            raise InputError(f"no trusted keys in {self.path}")
        return parse_keyring(read_text(trusted, what="trusted keys file"))

    def list(self) -> list[KeyInfo]:
        """Every signing key file (``<name>-<keyid>.key``), marking the active one.

        Other files are not signing keys and are passed over without a word:
        ``master.key``, the master key, is kept here by default.
        """
        active = read_text(self.path / ACTIVE, what="active key pointer").strip() if self.has_active_key() else ""
        found = []
        for file in sorted(f for f in self.path.glob("*.key") if SIGNING_KEY_FILE.fullmatch(f.name)):
            key = load_signing_key(file)
            verifier = key.verifier()
            found.append(
                KeyInfo(file.name, key.name, format_key_id(verifier.key_id), format_verifier_key(verifier),
                        file.name == active)
            )  # fmt: skip
        return found

    def activate_new(self, name: str, *, ledger: Ledger, actor: dict[str, str], reason: str | None) -> Activated:
        """Generate a key, record its activation (and the old key's retirement), make it trusted and active.

        Resumable: if a rotation was cut off after recording its events (the log's
        last activation names a key this folder holds that is not active), that
        rotation is finished instead, and no other key is made: otherwise the log
        would say the old key was retired while it kept signing.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        recorded = self._recorded_not_active(ledger)
        if recorded is not None:
            self._make_active(recorded)
            return Activated(load_signing_key(recorded), resumed=True)
        previous = self.active_key() if self.has_active_key() else None
        key = generate(name)
        file = self.path / f"{name}-{format_key_id(key.verifier().key_id)}.key"
        save_signing_key(key, file)
        ledger.submit(_rotation_events(key.verifier(), previous, actor=actor, reason=reason))
        self._make_active(file)
        return Activated(key, resumed=False)

    def _make_active(self, file: Path) -> None:
        """List the key's verifier key as trusted (once), then point ``active`` at it."""
        line = format_verifier_key(load_signing_key(file).verifier())
        trusted = self.path / TRUSTED
        if line not in (trusted.read_text("utf-8").splitlines() if trusted.is_file() else []):
            with trusted.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        _replace(self.path / ACTIVE, file.name + "\n")

    def _recorded_not_active(self, ledger: Ledger) -> Path | None:
        """The file of the key the log last recorded as activated, if this folder holds it and it is not active."""
        activations = key_activations(ledger)
        if not activations:
            return None
        key_id = str(orjson.loads(activations[-1].body)["data"]["key_id"])
        file = next(iter(sorted(self.path.glob(f"*-{key_id}.key"))), None)
        active = (self.path / ACTIVE).read_text("utf-8").strip() if self.has_active_key() else None
        return None if file is None or file.name == active else file


@dataclass(frozen=True)
class Activated:
    """The key made active, and whether it finished a rotation an earlier run had recorded."""

    key: SigningKey
    resumed: bool


ACTIVATED = "ledger.signing_key_activated"


def key_activations(ledger: Ledger) -> list[Record]:
    """Every ledger.signing_key_activated the ledger recorded itself, in order (read by type, not by scanning).

    An activation of another source (only a ledger older than the control-plane
    rule of ledger.catalogue.control could hold one) is not believed.
    """
    return [
        record
        for record in ledger.events_of_types([ACTIVATED])
        if recorded_by_ledger(orjson.loads(record.body), event_type=ACTIVATED)
    ]


def _rotation_events(
    new: VerifierKey, previous: SigningKey | None, *, actor: dict[str, str], reason: str | None
) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    events: list[dict[str, Any]] = []
    base = {"occurred_at": now, "source": RESERVED_SOURCE, "actor": actor}
    if previous is not None:
        old = previous.verifier()
        retired = {"key_name": old.name, "key_id": format_key_id(old.key_id), "reason": reason}
        events.append({**base, "event_id": str(uuid.uuid4()), "type": "ledger.signing_key_retired",
                       "data": {k: v for k, v in retired.items() if v is not None}})  # fmt: skip
    activated = {
        "key_name": new.name,
        "key_id": format_key_id(new.key_id),
        "verifier_key": format_verifier_key(new),
        "replaces_key_id": format_key_id(previous.verifier().key_id) if previous else None,
        "reason": reason,
    }
    events.append({**base, "event_id": str(uuid.uuid4()), "type": ACTIVATED,
                   "data": {k: v for k, v in activated.items() if v is not None}})  # fmt: skip
    return events


def _replace(path: Path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, "utf-8")
    temporary.replace(path)
