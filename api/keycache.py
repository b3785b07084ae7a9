"""Keys recently authenticated, kept a few seconds so that most requests need no lookup."""

from __future__ import annotations

import hashlib
import threading
import time

from ledger.apikeys import ApiKey


class KeyCache:
    """Keys recently authenticated, by SHA-256 of their token, for a few seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._keys: dict[bytes, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()

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
