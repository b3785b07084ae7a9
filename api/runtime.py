"""What the app holds while it runs: the ledger, its group committer and the API keys.

The lifespan starts a Runtime and stops it. The app must start, and answer
503, even when the database is down: if the store cannot be opened at startup,
a background thread tries again every ``reconnect_interval_s`` until it can,
and until then every route that needs the store raises StoreUnavailable.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from api.keycache import KeyCache
from api.replica import Replica, open_replica
from api.settings import Settings
from ledger.apikeys import KeyStore
from ledger.config import LedgerSettings
from ledger.erasure import HoldIndex
from ledger.errors import StoreUnavailable
from ledger.store import Ledger, parse_database_url
from ledger.store.group import GroupCommitter
from projections.worker import ProjectionWorker

log = logging.getLogger("api.runtime")


@dataclass(frozen=True)
class Store:
    """The open store: the ledger, the committer of single appends, the key store, the legal holds' index."""

    ledger: Ledger
    committer: GroupCommitter
    keys: KeyStore
    holds: HoldIndex  # kept for the server's life: an erasure reads only what was appended since the last
    replica: Replica | None = None  # where the log and the views are read, if a streaming replica is configured

    def reader(self) -> Ledger:
        """The ledger reads go to: the replica if there is one, else the primary."""
        return self.ledger if self.replica is None else self.replica.ledger

    def close(self) -> None:
        """Finish queued appends, then release every connection."""
        self.committer.close()
        self.ledger.close()
        self.keys.close()
        if self.replica is not None:
            self.replica.close()


def store_settings(settings: Settings) -> LedgerSettings:
    """The ledger's settings, its database URL given the pool settings the API wants (pre-ping, short timeouts)."""
    ledger = settings.ledger_settings()
    url = ledger.database
    if url.backend != "postgres":
        return ledger
    extra = {"POSTGRES_PRE_PING": "y", "POSTGRES_CONNECT_TIMEOUT": str(settings.db_connect_timeout_s)}
    return replace(ledger, database=replace(url, settings={**url.settings, **extra}))


LedgerOpener = Callable[[LedgerSettings], Ledger]
"""How the app opens its ledger: ``Ledger`` itself, except where the benchmark measures what sealing costs."""


def open_store(settings: Settings, open_ledger: LedgerOpener = Ledger) -> Store:
    """Open the ledger (creating its tables) and the key store; StoreUnavailable if the database is down."""
    ledger_settings = store_settings(settings)
    keys = KeyStore(ledger_settings.database)
    ledger = open_ledger(ledger_settings)
    try:  # the master keys are read now: a wrong configuration stops the server here, not at its first sealed append
        _ = ledger.keys
    except BaseException:
        ledger.close()
        keys.close()
        raise
    try:
        replica = _replica(settings, ledger)
    except BaseException:
        ledger.close()
        keys.close()
        raise
    committer = GroupCommitter(ledger, max_batch=settings.group_max_events, max_wait=settings.group_max_wait_ms / 1000)
    return Store(ledger, committer, keys, HoldIndex(ledger), replica)


def _replica(settings: Settings, primary: Ledger) -> Replica | None:
    if settings.read_database_url is None:
        return None
    url = parse_database_url(settings.read_database_url)
    return open_replica(url, primary=primary, connect_timeout_s=settings.db_connect_timeout_s)


class Runtime:
    """The store, once it could be opened, and the thread that keeps trying until then."""

    def __init__(self, settings: Settings, open_ledger: LedgerOpener = Ledger) -> None:
        self.settings = settings
        self.open_ledger = open_ledger
        self.display = settings.ledger_settings().database.display
        self.key_cache = KeyCache(settings.key_cache_s)
        self._store: Store | None = None
        self.projections: ProjectionWorker | None = None  # keeps the read models current
        self._stopping = threading.Event()
        self._opener: threading.Thread | None = None

    def start(self) -> None:
        """Try to open the store now; if the database is down, keep trying in the background."""
        if self._try_open():
            return
        self._opener = threading.Thread(target=self._keep_trying, name="ledger-store-opener", daemon=True)
        self._opener.start()

    def store(self) -> Store:
        """The open store, or StoreUnavailable while the database has not been reached."""
        store = self._store
        if store is None:
            raise StoreUnavailable("the database has not been reachable since the server started")
        return store

    def opened(self) -> Store | None:
        """The open store, or None while the database has not been reached."""
        return self._store

    def stop(self) -> None:
        """Finish queued appends, then close everything."""
        self._stopping.set()
        if self._opener is not None:
            self._opener.join(timeout=self.settings.db_connect_timeout_s + 5)
        store, self._store = self._store, None
        if self.projections is not None:
            self.projections.stop()
        if store is not None:
            store.close()

    def _try_open(self) -> bool:
        try:
            store = open_store(self.settings, self.open_ledger)
        except StoreUnavailable as exc:
            log.warning("store unavailable", extra={"fields": {"database": self.display, "error": str(exc)}})
            return False
        if self._stopping.is_set():
            store.close()
            return True
        self._store = store
        self.projections = ProjectionWorker(store.ledger)
        self.projections.start()
        log.info("store open", extra={"fields": {"database": self.display}})
        return True

    def _keep_trying(self) -> None:
        while not self._stopping.wait(self.settings.reconnect_interval_s):
            if self._try_open():
                return
