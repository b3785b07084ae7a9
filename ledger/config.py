"""Where the ledger keeps what is not in the database: signing keys and published checkpoints.

Each setting comes from the environment, with a default under the working
folder, so the embedded demo needs no configuration at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ORIGIN = "clinical-ai-ledger.example/demo"


@dataclass(frozen=True)
class LedgerPaths:
    """The signing-key folder, the checkpoint folder, and the log's origin line."""

    keys_dir: Path
    checkpoint_dir: Path
    origin: str

    @classmethod
    def from_env(cls, *, keys_dir: str | None = None, checkpoint_dir: str | None = None) -> LedgerPaths:
        """Explicit values, else $LEDGER_KEYS_DIR / $LEDGER_CHECKPOINT_DIR / $LEDGER_ORIGIN, else defaults."""
        return cls(
            Path(keys_dir or os.environ.get("LEDGER_KEYS_DIR") or "var/keys"),
            Path(checkpoint_dir or os.environ.get("LEDGER_CHECKPOINT_DIR") or "var/checkpoints"),
            os.environ.get("LEDGER_ORIGIN") or DEFAULT_ORIGIN,
        )
