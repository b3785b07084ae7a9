"""Signed notes (c2sp.org/signed-note): text signed by one or more named keys.

A signed note is its text (ending in a newline), a blank line, then one or
more signature lines, each ``— <key name> base64(key id || signature)`` and a
newline, where ``—`` is the em dash U+2014. The text runs up to the last blank
line and includes its final newline. A note is valid UTF-8 and holds no
control character other than the newline.

Verification, in order:

1. Parse the note strictly (``parse_note``); any defect is ``MalformedProof``.
2. For each signature line whose name and key id match a trusted key, verify
   the signature; one that fails is ``SignatureInvalid`` naming the key.
   Lines from keys not in the keyring are ignored, as the spec requires.
3. If no trusted key verified, the note is refused (``SignatureInvalid``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import MalformedProof, SignatureInvalid
from ledger.proof.keys import (
    Keyring,
    SigningKey,
    VerifierKey,
    decode_base64,
    encode_base64,
    format_key_id,
    key_name_defect,
)

MAX_SIGNATURES = 100
"""Notes with more signature lines are refused; the spec asks for at least 16."""

_PREFIX = "\u2014 "  # em dash, space
_KEY_ID_LEN = 4


@dataclass(frozen=True)
class Signature:
    """One signature line: the key's name and id, and the raw signature bytes."""

    name: str
    key_id: int
    signature: bytes

    def __post_init__(self) -> None:
        defect = key_name_defect(self.name)
        if defect is not None:
            raise MalformedProof(defect)
        if not 0 <= self.key_id < 2**32:
            raise MalformedProof(f"key id {self.key_id} does not fit in 32 bits")
        if not self.signature:
            raise MalformedProof(f"signature by {self.label} is empty")

    @property
    def label(self) -> str:
        """``name+keyid``, as keys are named in messages."""
        return f"{self.name}+{format_key_id(self.key_id)}"

    def line(self) -> str:
        """The signature line, newline included."""
        raw = self.key_id.to_bytes(_KEY_ID_LEN, "big") + self.signature
        return f"{_PREFIX}{self.name} {encode_base64(raw)}\n"


@dataclass(frozen=True)
class Note:
    """A note's text and its signature lines, as parsed; nothing is verified yet."""

    text: str
    signatures: list[Signature]


@dataclass(frozen=True)
class VerifiedNote:
    """A note whose text at least one trusted key has signed."""

    text: str
    verified_by: tuple[VerifierKey, ...]
    ignored: tuple[Signature, ...]
    """Signatures by keys the keyring does not hold (witnesses, retired keys...)."""


def sign_note(text: str, *signers: SigningKey) -> str:
    """The signed note: ``text``, a blank line and one signature line per signer."""
    _check_text(text)
    if not signers:
        raise ValueError("sign_note needs at least one signer")
    labels = [signer.verifier().label for signer in signers]
    if len(set(labels)) != len(labels):
        raise ValueError(f"the same key is given twice among signers {labels}")
    message = text.encode("utf-8")
    lines = [Signature(s.name, s.key_id, s.sign(message)).line() for s in signers]
    return text + "\n" + "".join(lines)


def format_note(note: Note) -> str:
    """The signed-note text of ``note``; ``parse_note`` of the result gives it back."""
    _check_text(note.text)
    if not note.signatures:
        raise MalformedProof("note has no signature lines")
    return note.text + "\n" + "".join(sig.line() for sig in note.signatures)


def parse_note(data: bytes | str) -> Note:
    """Parse a signed note strictly; MalformedProof names the first defect found."""
    message = _decode(data)
    if not message:
        raise MalformedProof("note is empty")
    _check_characters(message)
    split = message.rfind("\n\n")
    if split < 0:
        raise MalformedProof("note has no blank line between its text and its signatures")
    text, block = message[: split + 1], message[split + 2 :]
    return Note(text, _parse_signature_block(block))


def verify_note(data: bytes | str, keyring: Keyring) -> VerifiedNote:
    """Parse ``data`` and verify it against ``keyring`` (see the module's steps)."""
    # 1. Parse strictly.
    note = parse_note(data)
    message = note.text.encode("utf-8")
    verified: dict[str, VerifierKey] = {}
    ignored: list[Signature] = []
    # 2. Verify every signature by a trusted key; ignore the others.
    for sig in note.signatures:
        key = keyring.lookup(sig.name, sig.key_id)
        if key is None:
            ignored.append(sig)
            continue
        key.verify(message=message, signature=sig.signature)
        verified.setdefault(key.label, key)
    # 3. At least one trusted key must have signed.
    if not verified:
        found = ", ".join(sig.label for sig in note.signatures)
        trusted = ", ".join(key.label for key in keyring)
        raise SignatureInvalid(f"note has no signature by a trusted key (signed by {found}; trusted: {trusted})")
    return VerifiedNote(note.text, tuple(verified.values()), tuple(ignored))


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedProof(f"note is not valid UTF-8 (byte {exc.start})") from exc


def _check_characters(message: str) -> None:
    """No control characters but the newline; no lone surrogates (not UTF-8)."""
    for offset, char in enumerate(message):
        code = ord(char)
        if code < 0x20 and char != "\n":
            raise MalformedProof(f"note contains control character U+{code:04X} at offset {offset}")
        if 0xD800 <= code <= 0xDFFF:
            raise MalformedProof(f"note is not valid UTF-8 (lone surrogate at offset {offset})")


def _check_text(text: str) -> None:
    """A note text to be signed: valid characters, ending in a newline."""
    _check_characters(text)
    if not text.endswith("\n"):
        raise MalformedProof("note text does not end with a newline")


def _parse_signature_block(block: str) -> list[Signature]:
    if not block:
        raise MalformedProof("note has no signature lines after its blank line")
    if not block.endswith("\n"):
        raise MalformedProof("last signature line does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedProof(f"note has {len(lines)} signature lines, more than the limit of {MAX_SIGNATURES}")
    return [_parse_signature_line(line, number) for number, line in enumerate(lines, 1)]


def _parse_signature_line(line: str, number: int) -> Signature:
    where = f"signature line {number}"
    if not line.startswith(_PREFIX):
        raise MalformedProof(f"{where} does not start with an em dash (U+2014) and a space")
    name, space, encoded = line[len(_PREFIX) :].partition(" ")
    if not space:
        raise MalformedProof(f"{where} has no space between key name and signature")
    if " " in encoded:
        raise MalformedProof(f"{where} has more than two fields (a key name has no spaces)")
    defect = key_name_defect(name)
    if defect is not None:
        raise MalformedProof(f"{where}: {defect}")
    raw = decode_base64(encoded, what=f"{where}: signature")
    if len(raw) <= _KEY_ID_LEN:
        raise MalformedProof(
            f"{where}: signature is too short ({len(raw)} bytes; needs a {_KEY_ID_LEN}-byte key id and a signature)"
        )
    key_id = int.from_bytes(raw[:_KEY_ID_LEN], "big")
    return Signature(name, key_id, raw[_KEY_ID_LEN:])
