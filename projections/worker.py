"""The background projector the server runs: keeps the views current while appends arrive.

    worker = ProjectionWorker(ledger)    # or a database URL (then it opens and closes its own)
    worker.start()                       # a daemon thread polling the log every `interval` seconds
    worker.wait_for(seq, timeout=5)      # read-your-writes: block until the views hold seq
    worker.stop()

A ProjectionFailed stops the thread (it never skips the event) and is kept in
``worker.failure``; ``status()`` and ``ledger projections status`` show it. A
database that is briefly unreachable is retried with backoff.
"""

from __future__ import annotations

import logging
import threading
import time

from ledger.errors import StoreUnavailable
from ledger.store import DatabaseUrl, Ledger
from projections.errors import ProjectionError, ProjectionFailed
from projections.runner import DEFAULT_BATCH, ProjectionStatus, Projector
from projections.views import Views

log = logging.getLogger("projections.worker")

_MAX_BACKOFF = 5.0


class ProjectionWorker:
    """A thread that projects new records as they are appended."""

    def __init__(
        self,
        ledger: Ledger | str | DatabaseUrl,
        *,
        interval: float = 0.1,
        batch_size: int = DEFAULT_BATCH,
        projector: Projector | None = None,
    ) -> None:
        self._owns_ledger = not isinstance(ledger, Ledger)
        self.ledger = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        self.projector = projector if projector is not None else Projector(self.ledger)
        self.views = Views(self.ledger, projector=self.projector)
        self.interval = interval
        self.batch_size = batch_size
        self.failure: ProjectionError | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._advanced = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start following the log in a daemon thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="projections-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread after its current batch; close the ledger if the worker opened it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._owns_ledger:
            self.ledger.close()

    def catch_up(self) -> int:
        """Project everything appended so far, in this thread; the position reached."""
        position = self.projector.catch_up(batch_size=self.batch_size)
        self._notify()
        return position

    def wake(self) -> None:
        """Ask the thread to look for new records now (e.g. right after an append)."""
        self._wake.set()

    def log_head(self) -> int:
        """The last seq the log holds (what a reader may ask the views to reach)."""
        return self.ledger.head_seq()

    def position(self) -> int:
        """The seq up to which every view is current."""
        return self.projector.position()

    def wait_for(self, seq: int, *, timeout: float = 5.0) -> int:
        """Block until the views hold ``seq``; the failure, or TimeoutError, if they do not in time.

        Without a running thread, it catches up in the calling thread instead.
        """
        deadline = time.monotonic() + timeout
        position = self.position()
        while position < seq:
            if self.failure is not None:
                raise self.failure
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the views reached seq {position}, not {seq}, within {timeout:g} s")
            if self.running:
                self.wake()
                with self._advanced:
                    self._advanced.wait(min(remaining, 0.05))
                position = self.position()
            else:
                position = self.catch_up()
                if position < seq:
                    time.sleep(min(remaining, 0.05))
        return position

    @property
    def running(self) -> bool:
        """True while the thread follows the log."""
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> list[ProjectionStatus]:
        """Each projection's position, lag and health."""
        return self.projector.status()

    def _run(self) -> None:
        backoff = self.interval
        while not self._stop.is_set():
            try:
                done = self.projector.step(batch_size=self.batch_size)
            except ProjectionFailed as exc:
                self._fail(exc)
                return
            except ProjectionError as exc:
                self._fail(exc)
                return
            except StoreUnavailable as exc:
                log.warning("projections: database unavailable, retrying in %.1f s (%s)", backoff, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                continue
            backoff = self.interval
            if done:
                self._notify()
            if done >= self.batch_size:
                continue  # a backlog: keep going
            # Current, or nearly: let appends accumulate for up to `interval` before the next step
            # (unless a reader asks for a position), so that under load each step projects many
            # records in one read, one write and one commit rather than one commit's worth each.
            self._wake.wait(self.interval)
            self._wake.clear()

    def _fail(self, exc: ProjectionError) -> None:
        self.failure = exc
        log.error("projections stopped: %s", exc)
        self._notify()

    def _notify(self) -> None:
        with self._advanced:
            self._advanced.notify_all()


class ReplicaWorker(ProjectionWorker):
    """The views as a streaming replica holds them: read there, never projected there.

    The primary's worker projects; its view tables stream to the replica with
    the log. ``catch_up`` only reads the replica's position, so ``wait_for``
    waits for the replica to replay up to a seq; ``log_head`` is the primary's
    (a seq the primary holds will reach the replica).
    """

    def __init__(self, replica: Ledger, *, primary: Ledger) -> None:
        super().__init__(replica, projector=Projector(replica, read_only=True))
        self.primary = primary

    def start(self) -> None:
        """Nothing to run: the primary projects."""

    def catch_up(self) -> int:
        """The replica's position (nothing is projected here)."""
        return self.position()

    def log_head(self) -> int:
        """The primary's last seq."""
        return self.primary.head_seq()
