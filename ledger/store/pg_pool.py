"""The ledger's PostgreSQL connections: eventsourcing's pool, pinging only connections that sat idle.

With ``POSTGRES_PRE_PING`` (the API sets it, so that a server outlives a
database restart without answering 503 on a dead pooled connection),
eventsourcing's pool sends an empty query before handing out every connection:
one more round trip per transaction. On the group committer's path that ping
was a quarter of the writer thread's time (docs/performance.md, API section).

A connection that was handed out less than ``ALIVE_WINDOW_S`` ago, and came
back in a working state (the pool discards one that did not), is handed out
again without the ping; one idle for longer is pinged as before. HikariCP does
the same (``aliveBypassWindowMs``, 500 ms). A connection the database dropped
within that window fails its next use with StoreUnavailable (503 with
Retry-After), and the pool replaces it.
"""

from __future__ import annotations

import threading
import weakref
from time import monotonic
from typing import Any

from eventsourcing.postgres import ConnectionPool, PostgresDatastore

ALIVE_WINDOW_S = 0.5


class RecentlyAlive:
    """The pool's ``check``: ping a connection only if it was last handed out over ``window`` seconds ago."""

    def __init__(self, window: float = ALIVE_WINDOW_S) -> None:
        self.window = window
        self._handed_out: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, conn: Any) -> None:
        """Raise (as the pool's own check does) if an idle connection no longer answers."""
        now = monotonic()
        with self._lock:
            last = self._handed_out.get(conn)
        if last is None or now - last > self.window:
            ConnectionPool.check_connection(conn)
        with self._lock:
            self._handed_out[conn] = now


def use_ledger_pool(datastore: PostgresDatastore) -> None:
    """Give ``datastore`` a pool that pings only idle connections, before it opens any (if it pre-pings)."""
    old = datastore.pool
    if not datastore.pre_ping or not old.closed:
        return
    datastore.pool = ConnectionPool(
        get_password_func=old.get_password_func,
        connection_class=old.connection_class,
        kwargs=old.kwargs,
        min_size=old.min_size,
        max_size=old.max_size,
        open=False,
        configure=datastore.after_connect_func(),
        timeout=old.timeout,
        max_waiting=old.max_waiting,
        max_lifetime=old.max_lifetime,
        check=RecentlyAlive(),
    )
