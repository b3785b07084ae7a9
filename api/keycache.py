"""Keys recently authenticated, kept a few seconds so that most requests need no lookup.

When a key's entry expires under load, many requests miss at once; ``fetch``
lets them share one lookup (one database connection, one thread hop) instead
of each opening its own, which made a latency spike every ``ttl`` seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Awaitable, Callable

from ledger.apikeys import ApiKey
from ledger.errors import StoreUnavailable


class KeyCache:
    """Keys recently authenticated, by SHA-256 of their token, for a few seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._keys: dict[bytes, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()
        self._inflight: dict[bytes, asyncio.Future[ApiKey | None]] = {}  # used from the event loop only

    async def fetch(self, token: str, lookup: Callable[[], Awaitable[ApiKey | None]]) -> ApiKey | None:
        """The key for ``token``: cached if fresh, else from ``lookup``, awaited once for all who ask meanwhile."""
        key = self.get(token)
        if key is not None:
            return key
        digest = hashlib.sha256(token.encode()).digest()
        pending = self._inflight.get(digest)
        if pending is None:
            pending = asyncio.ensure_future(self._look_up(digest, token, lookup))
            self._inflight[digest] = pending
        try:
            return await asyncio.shield(pending)
        except StoreUnavailable as exc:  # a fresh exception per waiter: each request raises its own
            raise StoreUnavailable(str(exc)) from exc.__cause__

    async def _look_up(
        self, digest: bytes, token: str, lookup: Callable[[], Awaitable[ApiKey | None]]
    ) -> ApiKey | None:
        try:
            key = await lookup()
            if key is not None:
                self.put(token, key)
            return key
        finally:
            del self._inflight[digest]

    def get(self, token: str) -> ApiKey | None:
        """The cached key for ``token``, if still fresh."""
        digest = hashlib.sha256(token.encode()).digest()
        with self._lock:
            entry = self._keys.get(digest)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, token: str, key: ApiKey) -> None:
        """Remember an authenticated key."""
        if self.ttl <= 0:
            return
        digest = hashlib.sha256(token.encode()).digest()
        with self._lock:
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[digest] = (key, time.monotonic() + self.ttl)
