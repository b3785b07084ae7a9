"""Ed25519 keys for signed notes (c2sp.org/signed-note), in Go's text encodings.

A key is named (``example.org/ledger``) and identified by a 32-bit key id::

    key id = SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]

where 0x01 is the signed-note type byte for Ed25519. The text encodings are
those of golang.org/x/mod/sumdb/note, so keys move between this ledger and Go
tools unchanged::

    verifier key  <name>+<8 hex digits of key id>+base64(0x01 || public key)
    signer key    PRIVATE+KEY+<name>+<8 hex digits of key id>+base64(0x01 || seed)

A ``Keyring`` holds the verifier keys an auditor trusts. It is never empty:
"no trusted keys" must not read as "every trusted key verified".

This module is the one place where cryptography's ``InvalidSignature`` is
translated into the ledger's ``SignatureInvalid``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ledger.errors import InputError, MalformedProof, SignatureInvalid
from ledger.proof.files import read_text

ED25519_TYPE = 0x01
"""The signed-note signature type byte of Ed25519."""

_KEY_LEN = 32
_PRIVATE_PREFIX = "PRIVATE+KEY+"
_HEX_ID = re.compile(r"[0-9a-f]{8}")


def key_name_defect(name: str) -> str | None:
    """Why ``name`` is not a valid key name, or None if it is valid.

    signed-note: non-empty, no Unicode spaces, no '+'. Control characters are
    refused too, since a signed note can never contain them.
    """
    if not name:
        return "key name is empty"
    for char in name:
        if char == "+":
            return f"key name {name!r} contains '+'"
        if char.isspace():
            return f"key name {name!r} contains a space (U+{ord(char):04X})"
        if ord(char) < 0x20:
            return f"key name {name!r} contains control character U+{ord(char):04X}"
        if 0xD800 <= ord(char) <= 0xDFFF:
            return f"key name {name!r} is not valid Unicode (lone surrogate)"
    return None


def check_key_name(name: str) -> str:
    """Return ``name`` if it is a valid key name; raise MalformedProof otherwise."""
    defect = key_name_defect(name)
    if defect is not None:
        raise MalformedProof(defect)
    return name


def compute_key_id(*, name: str, public_key: bytes, key_type: int = ED25519_TYPE) -> int:
    """The signed-note key id of a key of signature type ``key_type`` (Ed25519 unless said), as a big-endian uint32."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([key_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def format_key_id(key_id: int) -> str:
    """A key id as Go prints it: eight lowercase hex digits."""
    return f"{key_id:08x}"


@dataclass(frozen=True)
class VerifierKey:
    """A trusted public key: its name, its key id and its 32 raw Ed25519 bytes."""

    name: str
    key_id: int
    public_key: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.public_key) != _KEY_LEN:
            raise MalformedProof(f"Ed25519 public key is {len(self.public_key)} bytes, expected {_KEY_LEN}")
        expected = compute_key_id(name=self.name, public_key=self.public_key)
        if self.key_id != expected:
            raise MalformedProof(
                f"key id {format_key_id(self.key_id)} does not match key {self.name} "
                f"(computed {format_key_id(expected)})"
            )

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> VerifierKey:
        """The verifier key for ``public_key`` under ``name``, key id computed."""
        check_key_name(name)
        return cls(name, compute_key_id(name=name, public_key=public_key), public_key)

    @property
    def label(self) -> str:
        """``name+keyid``, how messages and signature lookups name this key."""
        return f"{self.name}+{format_key_id(self.key_id)}"

    def verify(self, *, message: bytes, signature: bytes) -> None:
        """Raise SignatureInvalid unless ``signature`` is this key's over ``message``."""
        public = Ed25519PublicKey.from_public_bytes(self.public_key)
        try:
            public.verify(signature, message)
        except InvalidSignature as exc:
            raise SignatureInvalid(f"invalid signature for key {self.label}") from exc


@dataclass(frozen=True, eq=False)
class SigningKey:
    """A named Ed25519 private key. Its repr never shows the key."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)

    @property
    def public_key(self) -> bytes:
        """The 32 raw bytes of the public key."""
        return self.private_key.public_key().public_bytes_raw()

    @property
    def key_id(self) -> int:
        """The signed-note key id of this key under its name."""
        return compute_key_id(name=self.name, public_key=self.public_key)

    def verifier(self) -> VerifierKey:
        """The public half, to hand to verifiers."""
        return VerifierKey(self.name, self.key_id, self.public_key)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self.private_key.sign(message)


def generate(name: str) -> SigningKey:
    """A new random signing key named ``name``."""
    return SigningKey(check_key_name(name), Ed25519PrivateKey.generate())


def format_verifier_key(key: VerifierKey) -> str:
    """``name+keyid+base64(0x01 || public key)``."""
    return f"{key.label}+{encode_base64(bytes([ED25519_TYPE]) + key.public_key)}"


def format_signing_key(key: SigningKey) -> str:
    """``PRIVATE+KEY+name+keyid+base64(0x01 || seed)``: a secret, keep it so."""
    seed = key.private_key.private_bytes_raw()
    label = f"{key.name}+{format_key_id(key.key_id)}"
    return f"{_PRIVATE_PREFIX}{label}+{encode_base64(bytes([ED25519_TYPE]) + seed)}"


def parse_verifier_key(text: str) -> VerifierKey:
    """Parse ``name+keyid+base64(0x01 || public key)``; the key id must match."""
    name, key_id, key = split_key(text, what="verifier key")
    return VerifierKey(name, key_id, key)


def parse_signing_key(text: str) -> SigningKey:
    """Parse ``PRIVATE+KEY+name+keyid+base64(0x01 || seed)``; the key id must match."""
    if not text.startswith(_PRIVATE_PREFIX):
        raise MalformedProof("signer key does not start with PRIVATE+KEY+")
    name, key_id, seed = split_key(text[len(_PRIVATE_PREFIX) :], what="signer key")
    key = SigningKey(name, Ed25519PrivateKey.from_private_bytes(seed))
    if key.key_id != key_id:
        raise MalformedProof(
            f"signer key id {format_key_id(key_id)} does not match key {name} (computed {format_key_id(key.key_id)})"
        )
    return key


def split_key(text: str, *, what: str, key_type: int = ED25519_TYPE) -> tuple[str, int, bytes]:
    """Split ``name+hexid+base64(type || key)``, checking each field's syntax and that the type is ``key_type``."""
    fields = text.split("+", 2)
    if len(fields) != 3:
        raise MalformedProof(f"{what} is not of the form name+keyid+key")
    name, hex_id, encoded = fields
    check_key_name(name)
    if not _HEX_ID.fullmatch(hex_id):
        raise MalformedProof(f"{what} id {hex_id!r} is not 8 lowercase hex digits")
    raw = decode_base64(encoded, what=what)
    if not raw or raw[0] != key_type:
        kind = f"0x{raw[0]:02x}" if raw else "missing"
        expected = "Ed25519 (0x01)" if key_type == ED25519_TYPE else f"0x{key_type:02x}"
        raise MalformedProof(f"{what} type {kind} is not {expected}")
    if len(raw) != 1 + _KEY_LEN:
        raise MalformedProof(f"{what} is {len(raw) - 1} bytes, expected {_KEY_LEN}")
    return name, int(hex_id, 16), raw[1:]


def decode_base64(encoded: str, *, what: str) -> bytes:
    """Decode standard base64, accepting only its canonical spelling.

    A non-zero padding bit would let a flipped character decode to the same
    bytes; refusing it keeps every byte of a signed note significant.
    """
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedProof(f"{what} is not valid base64") from exc
    if encode_base64(raw) != encoded:
        raise MalformedProof(f"{what} is not canonical base64")
    return raw


def encode_base64(raw: bytes) -> str:
    """Standard base64 (RFC 4648 section 4), padded."""
    return base64.b64encode(raw).decode("ascii")


class Keyring:
    """The verifier keys an auditor trusts, looked up by (name, key id). Never empty."""

    def __init__(self, keys: Iterable[VerifierKey]) -> None:
        """Trust ``keys``; refuse none at all, and two keys behind one name+id."""
        self._keys: dict[tuple[str, int], VerifierKey] = {}
        for key in keys:
            known = self._keys.setdefault((key.name, key.key_id), key)
            if known != key:
                raise InputError(f"two different trusted keys are both named {key.label}")
        if not self._keys:
            raise InputError("no trusted keys: a keyring needs at least one verifier key")

    def lookup(self, name: str, key_id: int) -> VerifierKey | None:
        """The trusted key with this name and key id, or None if there is none."""
        return self._keys.get((name, key_id))

    def __iter__(self) -> Iterator[VerifierKey]:
        return iter(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"Keyring({', '.join(key.label for key in self)})"


def parse_keyring(text: str) -> Keyring:
    """A keyring from text: one verifier key a line; blank lines and ``#`` comments skipped.

    MalformedProof names the line at fault (counting from 1).
    """
    keys = []
    for number, line in enumerate((line.strip() for line in text.splitlines()), 1):
        if not line or line.startswith("#"):
            continue
        try:
            keys.append(parse_verifier_key(line))
        except MalformedProof as exc:
            raise MalformedProof(f"line {number}: {exc}") from exc
    return Keyring(keys)


def save_signing_key(key: SigningKey, path: Path) -> None:
    """Write ``key`` to a new file readable by its owner only (mode 0600); never overwrite."""
    data = (format_signing_key(key) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def load_signing_key(path: Path) -> SigningKey:
    """Read a signer key file; refuse one that group or others may read or write."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        raise InputError(f"signer key file {path} has mode {mode:04o}; it must be private (chmod 600)")
    return parse_signing_key(read_text(path, what="signer key file").strip())
