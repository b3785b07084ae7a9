"""Witnesses for tests: a real ``ledger witness`` app on 127.0.0.1 over its own state file, and a toy log."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ledger.proof import merkle
from ledger.proof.checkpoint import Checkpoint, sign_checkpoint
from ledger.proof.cosignature import cosigner_key, format_cosigner_key
from ledger.proof.keys import SigningKey, format_verifier_key, generate, save_signing_key
from ledger.witness import Witness, parse_witness_logs
from scripts.witness import app_for
from tests.serving import serving


@dataclass
class WitnessFiles:
    """One witness's key and state file, kept across restarts."""

    key: SigningKey
    state: Path
    logs_text: str

    @property
    def vkey(self) -> str:
        """The witness's cosigner vkey, for a policy's ``witness`` line."""
        return format_cosigner_key(cosigner_key(self.key))

    def policy_line(self, name: str, url: str) -> str:
        """``witness <name> <vkey> <url>``."""
        return f"witness {name} {self.vkey} {url}"


def witness_files(folder: Path, name: str, *, origin: str, log_keys: list[SigningKey]) -> WitnessFiles:
    """A new witness named ``name`` watching ``origin`` signed by ``log_keys``; files under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    key = generate(name)
    save_signing_key(key, folder / f"{name.replace('/', '_')}.key")
    vkeys = " ".join(format_verifier_key(k.verifier()) for k in log_keys)
    return WitnessFiles(key, folder / f"{name.replace('/', '_')}.sqlite3", f"log {origin} {vkeys}\n")


@contextmanager
def running(files: WitnessFiles) -> Iterator[str]:
    """The witness served over real HTTP on 127.0.0.1 (its submission prefix URL); stopped on exit."""
    witness = Witness(files.key, parse_witness_logs(files.logs_text), files.state)
    with serving(app_for(witness), name=f"witness-{files.key.name}") as url:
        yield url


class ToyLog:
    """A log in memory: leaves, its tree's perfect nodes, and checkpoints signed by its key."""

    def __init__(self, key: SigningKey, origin: str, *, salt: bytes = b"") -> None:
        self.key, self.origin, self.salt = key, origin, salt
        self.nodes = merkle.MemoryNodes()
        self.size = 0

    def grow(self, count: int) -> None:
        """Append ``count`` leaves (their bytes depend on the salt, so two salts fork)."""
        leaves = [merkle.leaf_hash(hashlib.sha256(self.salt + bytes([i % 256])).digest())
                  for i in range(self.size, self.size + count)]  # fmt: skip
        self.nodes.add(merkle.nodes_for_append(start_index=self.size, leaf_hashes=leaves, reader=self.nodes))
        self.size += count

    def checkpoint(self, size: int | None = None) -> str:
        """The signed checkpoint at ``size`` (default: now)."""
        size = self.size if size is None else size
        return sign_checkpoint(Checkpoint(self.origin, size, merkle.root(size, self.nodes)), self.key)

    def proof(self, old: int, size: int | None = None) -> list[bytes]:
        """The consistency proof from ``old`` to ``size`` (empty from 0 or to the same size)."""
        size = self.size if size is None else size
        if old in (0, size):
            return []
        return merkle.consistency_proof(size1=old, size2=size, reader=self.nodes)
