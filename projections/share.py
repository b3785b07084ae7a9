"""The helper process of a rebuild split in two, started and stopped: ``python -m projections.share_helper``.

Projector.rebuild starts it (``start``) with subprocess, not multiprocessing: a
spawned multiprocessing child imports the caller's main module again, and a
script without the ``if __name__ == "__main__"`` guard would run a second time
in it (append again, reset the views mid-load). projections.share_helper is the
helper's whole program. It reads one JSON line from stdin: the database URL's parts (the
password among them, so never on the command line), the names of its
projections and the batch size. It loads its share (runner.load_share) and
exits; or at once, its open transaction rolled back by the server, when its
stdin closes, which is when the rebuild's process ends however it ends.

Its output is discarded: a database error may quote values. A share that
stops early is finished, and its cause reported, by the rebuild's ordinary
steps after the load.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from typing import IO, cast

import orjson

from ledger.store import DatabaseUrl


def start(url: DatabaseUrl, names: Sequence[str], batch_size: int) -> subprocess.Popen[bytes]:
    """Start a helper on the named projections; it runs until done, or until ``stop`` (or this process) ends it."""
    helper = subprocess.Popen(  # noqa: S603 - this Python and a module of ours; the orders go by pipe
        [sys.executable, "-m", "projections.share_helper"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    orders = {"url": [url.backend, url.settings, url.display], "names": list(names), "batch_size": batch_size}
    pipe = cast(IO[bytes], helper.stdin)  # stdin=PIPE
    try:
        pipe.write(orjson.dumps(orders) + b"\n")
        pipe.flush()  # kept open: the helper exits when it closes
    except OSError:
        pass  # the helper ended at once: its share is left to the steps after the load
    return helper


def stop(helper: subprocess.Popen[bytes]) -> None:
    """End a helper that is still running (its transaction rolls back), and close its pipe."""
    if helper.poll() is None:
        helper.kill()
        helper.wait()
    cast(IO[bytes], helper.stdin).close()
