"""`ledger serve --demo` mints its API keys once per ledger and reuses them: a restart leaves no new active key."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from ledger.apikeys import KeyStore, Role
from scripts.demo_keys import DEMO_KEYS_FILE, demo_keys
from tests.ledgers import env_settings

ROOT = Path(__file__).parents[2]


def test_the_second_start_returns_the_same_keys_and_mints_none(store_url: str, tmp_path: Path) -> None:
    store = KeyStore(store_url)
    first = demo_keys(store, tmp_path)
    listed = store.list()

    second = demo_keys(store, tmp_path)

    assert (second.tokens, second.minted) == (first.tokens, ())
    assert store.list() == listed
    assert first.minted == ("admin", "emitter", "reader")
    assert [(k.role, k.source) for k in listed] == [
        (Role.ADMIN, None),
        (Role.EMITTER, "epic-prod"),
        (Role.READER, None),
    ]


def test_the_kept_keys_are_readable_by_their_owner_only(store_url: str, tmp_path: Path) -> None:
    keys = demo_keys(KeyStore(store_url), tmp_path / "state")

    assert keys.path == tmp_path / "state" / DEMO_KEYS_FILE
    assert stat.S_IMODE(keys.path.stat().st_mode) == 0o600


def test_a_revoked_demo_key_is_replaced_and_the_others_kept(store_url: str, tmp_path: Path) -> None:
    store = KeyStore(store_url)
    first = demo_keys(store, tmp_path)
    emitter = store.authenticate(first.tokens["emitter"])
    assert emitter is not None
    store.revoke(emitter.key_id)

    second = demo_keys(store, tmp_path)

    assert second.minted == ("emitter",)
    assert second.tokens["admin"] == first.tokens["admin"] and second.tokens["emitter"] != first.tokens["emitter"]
    assert orjson.loads(second.path.read_bytes()) == second.tokens


def test_keys_kept_for_another_database_are_not_trusted_but_replaced(tmp_path: Path) -> None:
    kept = demo_keys(KeyStore(f"sqlite:///{tmp_path}/a.sqlite3"), tmp_path)  # the same state folder, by mistake

    other = demo_keys(KeyStore(f"sqlite:///{tmp_path}/b.sqlite3"), tmp_path)

    assert other.minted == ("admin", "emitter", "reader")
    assert not set(other.tokens.values()) & set(kept.tokens.values())


def test_a_malformed_keys_file_is_replaced_not_a_crash(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / DEMO_KEYS_FILE).write_bytes(b"\x00[1, 2")

    keys = demo_keys(KeyStore(sqlite_url), tmp_path)

    assert len(keys.minted) == 3 and orjson.loads(keys.path.read_bytes()) == keys.tokens


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_demo_once(url: str, log: Path) -> str:
    """Start `ledger serve --demo` on a free port, wait for its summary, stop it; its stderr."""
    port = _free_port()
    env = {**os.environ, "LEDGER_DATABASE_URL": url, "LEDGER_CHECKPOINT_INTERVAL": "0"}
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.cli", "serve", "--demo", "--port", str(port)],
            cwd=ROOT, env=env, stderr=handle, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "verify the ledger:" not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return log.read_text()


@pytest.mark.slow
def test_serve_demo_restarted_prints_the_same_keys_and_leaves_no_new_key(sqlite_url: str, tmp_path: Path) -> None:
    first = _serve_demo_once(sqlite_url, tmp_path / "first.log")
    listed = KeyStore(sqlite_url).list()

    second = _serve_demo_once(sqlite_url, tmp_path / "second.log")

    assert KeyStore(sqlite_url).list() == listed
    lines = [[line for line in text.splitlines() if line.startswith("    ")] for text in (first, second)]
    assert lines[0] == lines[1] and len(lines[0]) == 3
    assert "minted now" in first and "kept from an earlier start" in second
    assert "/docs" in first and f"verify --database-url {sqlite_url}" in second
    assert f"{env_settings(sqlite_url).paths.state_dir}/{DEMO_KEYS_FILE}" in second
