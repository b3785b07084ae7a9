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

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.errors import InputError
from ledger.keys import (
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
from ledger.store import Ledger

ACTIVE = "active"
TRUSTED = "trusted.keys"


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
        return load_signing_key(self.path / pointer.read_text("utf-8").strip())

    def has_active_key(self) -> bool:
        """True once a key has been generated."""
        return (self.path / ACTIVE).is_file()

    def keyring(self) -> Keyring:
        """Every key ever active, as verifier keys (refused if there are none)."""
        trusted = self.path / TRUSTED
        if not trusted.is_file():
            raise InputError(f"no trusted keys in {self.path}")
        return parse_keyring(trusted.read_text("utf-8"))

    def list(self) -> list[KeyInfo]:
        """Every key file, marking the active one."""
        active = (self.path / ACTIVE).read_text("utf-8").strip() if (self.path / ACTIVE).is_file() else ""
        found = []
        for file in sorted(self.path.glob("*.key")):
            key = load_signing_key(file)
            verifier = key.verifier()
            found.append(
                KeyInfo(file.name, key.name, format_key_id(verifier.key_id), format_verifier_key(verifier),
                        file.name == active)
            )  # fmt: skip
        return found

    def activate_new(self, name: str, *, ledger: Ledger, actor: dict[str, str], reason: str | None) -> SigningKey:
        """Generate a key, record its activation (and the old key's retirement), make it active."""
        self.path.mkdir(parents=True, exist_ok=True)
        previous = self.active_key() if self.has_active_key() else None
        key = generate(name)
        verifier = key.verifier()
        file = self.path / f"{name}-{format_key_id(verifier.key_id)}.key"
        save_signing_key(key, file)
        ledger.submit(_rotation_events(key.verifier(), previous, actor=actor, reason=reason))
        with (self.path / TRUSTED).open("a", encoding="utf-8") as trusted:
            trusted.write(format_verifier_key(verifier) + "\n")
        _replace(self.path / ACTIVE, file.name + "\n")
        return key


def _rotation_events(
    new: VerifierKey, previous: SigningKey | None, *, actor: dict[str, str], reason: str | None
) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    events: list[dict[str, Any]] = []
    base = {"occurred_at": now, "source": "ledger", "actor": actor}
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
    events.append({**base, "event_id": str(uuid.uuid4()), "type": "ledger.signing_key_activated",
                   "data": {k: v for k, v in activated.items() if v is not None}})  # fmt: skip
    return events


def _replace(path: Path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, "utf-8")
    temporary.replace(path)
