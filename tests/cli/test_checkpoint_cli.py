"""`ledger checkpoint` takes turns with every other signer of the same folder (the server's workers)."""

from __future__ import annotations

import threading
from pathlib import Path

from ledger.proof.checkpoint import CheckpointDirectory
from ledger.signing import KeyFolder
from ledger.store import Ledger
from scripts.cli import main
from tests.factories import many_shown
from tests.ledgers import env_settings

ACTOR = {"id": "ops", "role": "ledger_operator", "kind": "person"}


def test_the_command_waits_for_the_folders_signing_lock_then_signs(sqlite_url: str, tmp_path: Path) -> None:
    keys, published = tmp_path / "keys", tmp_path / "published"
    published.mkdir()
    with Ledger(env_settings(sqlite_url)) as ledger:
        KeyFolder(keys).activate_new("ledger.test.example", ledger=ledger, actor=ACTOR, reason=None)
        ledger.submit(many_shown(5))
    args = ["checkpoint", "--database-url", sqlite_url, "--keys-dir", str(keys), "--checkpoint-dir", str(published)]
    codes: list[int] = []
    command = threading.Thread(target=lambda: codes.append(main(args)))
    folder = CheckpointDirectory(published)

    with folder.signing_lock():  # another signer, for example a server worker, is signing
        command.start()
        command.join(timeout=2.0)
        assert command.is_alive(), "the command signed while another signer held the folder's lock"
        assert folder.sizes() == []

    command.join(timeout=60.0)
    assert codes == [0]
    assert folder.sizes() == [7]  # 6 events, then the index committed in the log
