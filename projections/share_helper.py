"""The helper process of a rebuild split in two: its whole program (projections.share starts it).

It reads its orders, one JSON line, from stdin, loads its share
(``runner.load_share``) and exits; or at once when its stdin closes, which is
when the rebuild's process ends however it ends.
"""

from __future__ import annotations

import os
import sys
import threading

import orjson

from ledger.store import DatabaseUrl
from projections.runner import load_share


def main() -> int:
    """Read the orders, load the share; 0 when it is loaded (or stopped at a failure the rebuild reports)."""
    orders = orjson.loads(sys.stdin.buffer.readline())
    threading.Thread(target=_exit_at_end_of_input, name="projections-share-parent", daemon=True).start()
    backend, settings, display = orders["url"]
    load_share(DatabaseUrl(backend, settings, display), orders["names"], int(orders["batch_size"]))
    return 0


def _exit_at_end_of_input() -> None:
    # Unbuffered: a thread blocked in the buffered reader would hold its lock at interpreter exit.
    while os.read(sys.stdin.fileno(), 4096):  # b"" when the rebuild's process closes the pipe, or ends
        pass
    os._exit(1)


if __name__ == "__main__":
    raise SystemExit(main())
