"""The server secret that signs the pages' session and form tokens.

From the settings (``$LEDGER_API_SESSION_SECRET``) when set; otherwise 32
random bytes generated once and kept in the ledger's state folder as
``session.key`` (mode 0600), so that sessions survive a restart and every
worker of one server signs with the same secret. Deleting the file signs every
reader out.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Final

from api.settings import Settings

SECRET_FILE: Final = "session.key"  # noqa: S105 - the file's name, not a secret
_SECRET_BYTES: Final = 32


def session_secret(settings: Settings) -> bytes:
    """The configured secret, else the state folder's (generated on first use)."""
    if settings.session_secret:
        return settings.session_secret.encode()
    paths = settings.ledger_paths()
    folder = paths.state_dir or paths.keys_dir.parent
    return _kept(folder / SECRET_FILE)


def _kept(path: Path) -> bytes:
    """The file's secret; created if absent, whole or not at all (written aside, then linked into place), so
    two workers starting together read the one that won."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, aside = tempfile.mkstemp(dir=path.parent, prefix=".session-", suffix=".tmp")  # 0600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(_SECRET_BYTES) + "\n")
            os.link(aside, path)
        except FileExistsError:
            pass  # another worker's is in place: use it
        finally:
            os.unlink(aside)
    return path.read_text("ascii").strip().encode()
