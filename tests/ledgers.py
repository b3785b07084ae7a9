"""The ledger's settings as the command line builds them, for tests that open a Ledger themselves.

``Ledger`` reads no environment: a composition root does and passes the
settings down. A test stands in for that root: ``env_settings(url)`` reads the
test's environment (conftest.py gives it a master key and state folders) the
way ``scripts.common.ledger_settings`` does.
"""

from __future__ import annotations

import os

from ledger.config import LedgerSettings
from ledger.store.url import DatabaseUrl


def env_settings(
    database: str | DatabaseUrl | None = None, *, keys_dir: str | None = None, checkpoint_dir: str | None = None
) -> LedgerSettings:
    """The settings of the ledger at ``database`` (else $LEDGER_DATABASE_URL), the rest from the environment."""
    return LedgerSettings.from_environ(os.environ, database, keys_dir=keys_dir, checkpoint_dir=checkpoint_dir)
