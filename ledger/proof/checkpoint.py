"""Checkpoints (c2sp.org/tlog-checkpoint): the signed head of the ledger's tree.

A checkpoint is a signed note whose text is::

    <origin>
    <tree size, decimal, no leading zeros>
    <base64 of the 32-byte RFC 6962 root hash>
    [extension lines, each non-empty]

The spec calls extension lines NOT RECOMMENDED (monitors cannot audit them),
so the ledger writes none and records signing time elsewhere; it still parses
them, as opaque lines.

``CheckpointDirectory`` keeps every signed checkpoint in a directory outside
the database, one write-once file per tree size, standing in for immutable
storage: a checkpoint once published is never replaced. Once witnesses have
cosigned one, the same note with their cosignature lines after the ledger's
signature is published beside it, ``<size>.cosigned``, write-once too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import InconsistentCheckpoint, MalformedProof
from ledger.proof.files import read_text
from ledger.proof.keys import Keyring, SigningKey, decode_base64, encode_base64
from ledger.proof.note import parse_note, sign_note, verify_note

HASH_LEN = 32
MAX_SIZE = 2**64 - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log's origin, its size and its root hash."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, what="origin")
        if type(self.size) is not int:  # bool is an int too
            raise MalformedProof(f"tree size {self.size!r} is not an integer")
        if not 0 <= self.size <= MAX_SIZE:
            raise MalformedProof(f"tree size {self.size} is outside 0..2^64-1")
        if len(self.root_hash) != HASH_LEN:
            raise MalformedProof(f"root hash is {len(self.root_hash)} bytes, expected {HASH_LEN}")
        for number, line in enumerate(self.extensions, 1):
            _check_line(line, what=f"extension line {number}")

    def body(self) -> str:
        """The note text: origin, size and root hash lines, then any extensions."""
        lines = [self.origin, str(self.size), encode_base64(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint_body(text: str) -> Checkpoint:
    """Parse a checkpoint's note text strictly; MalformedProof names the defect."""
    if not text.endswith("\n"):
        raise MalformedProof("checkpoint body does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedProof(f"checkpoint body has {len(lines)} line(s), needs origin, tree size and root hash")
    origin, size, root, *extensions = lines
    if not _DECIMAL.fullmatch(size):
        raise MalformedProof(f"tree size {size!r} is not a decimal number without leading zeros")
    root_hash = decode_base64(root, what="root hash")
    return Checkpoint(origin, int(size), root_hash, tuple(extensions))


def parse_signed_checkpoint(signed: str | bytes) -> Checkpoint:
    """A signed checkpoint's note and body, parsed strictly but not verified; MalformedProof names the defect."""
    return parse_checkpoint_body(parse_note(signed).text)


def sign_checkpoint(checkpoint: Checkpoint, *signers: SigningKey) -> str:
    """The checkpoint as a signed note, signed by each of ``signers``."""
    return sign_note(checkpoint.body(), *signers)


def open_checkpoint(signed: str | bytes, keyring: Keyring, *, origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint against ``keyring``, then parse its body.

    With ``origin``, a checkpoint of any other log is refused
    (InconsistentCheckpoint) even if a trusted key signed it.
    """
    checkpoint = parse_checkpoint_body(verify_note(signed, keyring).text)
    if origin is not None and checkpoint.origin != origin:
        raise InconsistentCheckpoint(f"checkpoint is for origin {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint


def _check_line(line: str, *, what: str) -> None:
    if not line:
        raise MalformedProof(f"{what} is empty")
    for char in line:
        if ord(char) < 0x20:
            raise MalformedProof(f"{what} contains control character U+{ord(char):04X}")


class CheckpointDirectory:
    """Signed checkpoints kept as write-once files, ``<size:020d>.checkpoint``.

    The directory is the operator's, outside the database. A file is written
    to a temporary name, synced, then hard-linked into place, which fails
    rather than replace an existing file. Publishing the same checkpoint twice
    is harmless; publishing a different one for a published size is refused.
    """

    SUFFIX = ".checkpoint"
    COSIGNED_SUFFIX = ".cosigned"
    LOCK_FILE = ".signing.lock"
    _NAME = re.compile(r"([0-9]{20})\.checkpoint")

    def __init__(self, path: Path | str) -> None:
        """Use the existing directory ``path``."""
        self.path = Path(path)
        if not self.path.is_dir():
            raise NotADirectoryError(f"checkpoint directory {self.path} does not exist")

    @contextlib.contextmanager
    def signing_lock(self) -> Iterator[None]:
        """Hold the folder's exclusive signing lock; other signers (processes or threads) wait for it.

        Every signer of this folder (the server's workers, ``ledger checkpoint``)
        takes it, so none reads a smaller head after another signed a larger one
        and is then refused as inconsistent: a false integrity alarm.
        """
        with (self.path / self.LOCK_FILE).open("a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def file_for(self, size: int) -> Path:
        """Where the checkpoint of tree size ``size`` is kept."""
        return self.path / f"{size:020d}{self.SUFFIX}"

    def write(self, signed: str) -> Path:
        """Publish a signed checkpoint once; return its file.

        Refuses (InconsistentCheckpoint) if a different checkpoint of the same
        size is already published. The signature is not checked here: the
        directory stores, auditors verify with ``open_checkpoint``.
        """
        return self.write_beside(self.file_for(_size_of(signed)).name, signed.encode("utf-8"))

    def write_beside(self, name: str, data: bytes) -> Path:
        """Publish another write-once file beside the checkpoints (a time-stamp token); refused as ``write`` is."""
        target = self.path / name
        if not target.exists():
            self._link_new(target, data)
        self._check_same(target, data)
        return target

    def sizes(self) -> list[int]:
        """The tree sizes published, smallest first."""
        found = (self._NAME.fullmatch(entry.name) for entry in self.path.iterdir())
        return sorted(int(match.group(1)) for match in found if match)

    def read(self, size: int) -> str:
        """The signed checkpoint of tree size ``size``, checked against its file name."""
        path = self.file_for(size)
        signed = read_text(path, what="published checkpoint")
        found = _size_of(signed)
        if found != size:
            raise InconsistentCheckpoint(f"{path.name} holds a checkpoint of size {found}")
        return signed

    def latest(self) -> str | None:
        """The signed checkpoint of the largest tree size, or None if none yet."""
        sizes = self.sizes()
        return self.read(sizes[-1]) if sizes else None

    def write_cosigned(self, cosigned: str) -> Path:
        """Publish the published checkpoint with its witnesses' cosignature lines appended, once; return its file.

        Refused (InconsistentCheckpoint) unless it begins with the published
        note of its size, byte for byte (the ledger's signature stays first and
        the stored checkpoint is never rewritten), or if a different cosigned
        note of that size is already published.
        """
        size = _size_of(cosigned)
        if not cosigned.startswith(self.read(size)):
            raise InconsistentCheckpoint(f"the cosigned note of size {size} does not extend the published checkpoint")
        target = self.cosigned_file_for(size)
        data = cosigned.encode("utf-8")
        if not target.exists():
            self._link_new(target, data)
        self._check_same(target, data)
        return target

    def cosigned_file_for(self, size: int) -> Path:
        """Where the cosigned checkpoint of tree size ``size`` is kept."""
        return self.path / f"{size:020d}{self.COSIGNED_SUFFIX}"

    def read_cosigned(self, size: int) -> str | None:
        """The cosigned checkpoint of tree size ``size``, or None if witnesses have not cosigned it yet."""
        path = self.cosigned_file_for(size)
        return read_text(path, what="cosigned checkpoint") if path.is_file() else None

    def _link_new(self, target: Path, data: bytes) -> None:
        """Write ``data`` to a synced temporary file, then link it at ``target``."""
        fd, temporary = tempfile.mkstemp(dir=self.path, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fchmod(handle.fileno(), 0o444)
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # lost a race: compare below
                os.link(temporary, target)
            _fsync_directory(self.path)
        finally:
            os.unlink(temporary)

    def _check_same(self, target: Path, data: bytes) -> None:
        if target.read_bytes() != data:
            raise InconsistentCheckpoint(f"{target.name} already holds a different checkpoint; it is never overwritten")


def _size_of(signed: str) -> int:
    """The tree size a signed checkpoint claims (parsed, not verified)."""
    return parse_signed_checkpoint(signed).size


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
