"""The operator's master keys, which wrap the subjects' data keys (ledger.privacy), and where they are configured.

``MasterKey`` is the small interface a KMS can implement; ``LocalMasterKey`` a
256-bit key the operator holds in a file or gives whole. ``MasterKeySource``
says where the keys are (built by ``ledger.config.LedgerSettings``); it reads
them, and reports a missing one, only when the ledger first needs them.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.errors import InputError, IntegrityError, KeyNotConfigured
from ledger.proof.files import read_text


class MasterKey(Protocol):
    """What wraps data keys: a local key today, a KMS tomorrow."""

    @property
    def key_id(self) -> str: ...

    def wrap(self, data_key: bytes, *, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes: ...


@dataclass(frozen=True)
class LocalMasterKey:
    """A 256-bit master key held by the operator (a file or an environment variable)."""

    secret: bytes

    def __repr__(self) -> str:
        return f"LocalMasterKey(key_id={self.key_id})"

    @cached_property
    def key_id(self) -> str:
        """A public name for the key (a hash prefix), stored beside what it wraps."""
        return hashlib.sha256(b"ledger master key id\x00" + self.secret).hexdigest()[:16]

    @cached_property
    def _aead(self) -> AESGCM:
        return AESGCM(self.secret)

    def wrap(self, data_key: bytes, *, context: bytes) -> bytes:
        """AES-256-GCM with a random nonce, bound to ``context``."""
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, data_key, context)

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        """The data key; IntegrityError if the key or context is wrong."""
        try:
            return self._aead.decrypt(wrapped[:12], wrapped[12:], context)
        except InvalidTag as exc:
            raise IntegrityError("a data key does not unwrap under this master key") from exc

    @classmethod
    def from_file(cls, path: Path) -> LocalMasterKey:
        """Read a key file (base64 of 32 bytes); InputError names the file and its defect."""
        text = read_text(path, what="master key file")
        try:
            return cls(_decode_key(text.strip()))
        except InputError as exc:
            raise InputError(f"master key file {path}: {exc}") from exc

    @classmethod
    def create(cls, path: Path) -> LocalMasterKey:
        """Generate a key and save it with mode 0600 (never overwriting)."""
        secret = AESGCM.generate_key(bit_length=256)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(base64.b64encode(secret).decode() + "\n")
        return cls(secret)


MASTER_KEY_ENV = "LEDGER_MASTER_KEY"
MASTER_KEY_FILE_ENV = "LEDGER_MASTER_KEY_FILE"
PREVIOUS_KEYS_ENV = "LEDGER_PREVIOUS_MASTER_KEY_FILES"


@dataclass(frozen=True)
class MasterKeySource:
    """Where the operator's master keys are, as configured; they are read (and a missing one reported) on first use.

    ``secret``: a whole key, base64 ($LEDGER_MASTER_KEY); else the key file
    ``file`` ($LEDGER_MASTER_KEY_FILE, else master.key in the ledger's keys
    folder). ``previous_files``: the keys a rotation in progress retires
    ($LEDGER_PREVIOUS_MASTER_KEY_FILES). Built by ``ledger.config.LedgerSettings``.
    """

    file: Path
    secret: str | None = field(default=None, repr=False)
    previous_files: tuple[str, ...] = ()

    def current(self, *, create: bool) -> LocalMasterKey:
        """The master key: ``secret``, else the key file (made there if ``create``); KeyNotConfigured if none."""
        if self.secret:
            return LocalMasterKey(_decode_key(self.secret))
        if self.file.is_file():
            return LocalMasterKey.from_file(self.file)
        if create:
            return LocalMasterKey.create(self.file)
        raise KeyNotConfigured(f"no master key: set {MASTER_KEY_ENV} or {MASTER_KEY_FILE_ENV} (looked for {self.file})")

    def previous(self) -> list[LocalMasterKey]:
        """Master keys a rotation in progress retires; KeyNotConfigured if a file named is missing.

        They only unwrap data keys wrapped before the rotation rewrapped them; new
        data keys are always wrapped with the current master key.
        """
        missing = [p for p in self.previous_files if not Path(p).is_file()]
        if missing:
            raise KeyNotConfigured(f"{PREVIOUS_KEYS_ENV} names {len(missing)} file(s) that do not exist")
        return [LocalMasterKey.from_file(Path(p)) for p in self.previous_files]


def _decode_key(text: str) -> bytes:
    try:
        secret = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise InputError("the master key is not base64") from exc
    if len(secret) != 32:
        raise InputError("the master key must be 32 bytes (base64)")
    return secret
