"""The API keys `ledger serve --demo` hands out: minted once per ledger, kept in its state folder, reused.

The file ``demo-keys.json`` (mode 0600) in the ledger's state folder holds the
tokens. At each start a kept token is used again while it still opens this
ledger with the same role (and source); one that does not (revoked, or the
database was replaced) is replaced by a new key. So restarting the demo
prints the same keys and leaves no trail of active keys behind.

These are demo conveniences: a real deployment creates its keys with
`ledger api-keys create` and keeps no token on disk.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import orjson

from ledger.apikeys import KeyStore, Role

DEMO_KEYS_FILE = "demo-keys.json"
DEMO_SOURCE = "epic-prod"


@dataclass(frozen=True)
class DemoKey:
    """One demo key: what it is for, and its grant."""

    name: str
    role: Role
    source: str | None
    label: str


DEMO_KEYS = (
    DemoKey("admin", Role.ADMIN, None, "demo admin"),
    DemoKey("emitter", Role.EMITTER, DEMO_SOURCE, "demo emitter"),
    DemoKey("reader", Role.READER, None, "demo reader"),
)


@dataclass(frozen=True)
class DemoKeys:
    """The demo's tokens by name, where they are kept, and which were minted by this call."""

    tokens: dict[str, str]
    path: Path
    minted: tuple[str, ...]


def demo_keys(store: KeyStore, state_dir: Path) -> DemoKeys:
    """The kept tokens that still open this ledger; new keys (saved) for the others."""
    path = state_dir / DEMO_KEYS_FILE
    kept = _read(path)
    tokens: dict[str, str] = {}
    minted: list[str] = []
    for wanted in DEMO_KEYS:
        token = kept.get(wanted.name)
        key = store.authenticate(token) if token else None
        if token is None or key is None or (key.role, key.source) != (wanted.role, wanted.source):
            token = store.create(wanted.role, source=wanted.source, label=wanted.label).token
            minted.append(wanted.name)
        tokens[wanted.name] = token
    if minted:
        _write(path, tokens)
    return DemoKeys(tokens, path, tuple(minted))


def _read(path: Path) -> dict[str, str]:
    """The kept tokens; an unreadable or malformed file keeps none (its keys are minted again)."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, str)}


def _write(path: Path, tokens: dict[str, str]) -> None:
    """Replace the file in one step, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(orjson.dumps(tokens, option=orjson.OPT_INDENT_2) + b"\n")
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
