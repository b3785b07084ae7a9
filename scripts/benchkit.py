"""What the benchmark's commands share: rates, the machine, the privacy table's sides, the unsealed ledger; and the
baseline's event class.

The event class is here, in an importable module, so that its eventsourcing topic resolves.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.domain import DomainEvent

from ledger.catalogue import Event
from ledger.store import Ledger
from ledger.store.app import Fact


class PlainRecorded(DomainEvent):
    """The same fact, as a plain eventsourcing domain event (transcoded to JSON by the library)."""

    event_type: str
    body: str

    @classmethod
    def of(cls, fact: Fact) -> PlainRecorded:
        """The baseline twin of a ledger fact."""
        return cls(  # type: ignore[call-arg]
            originator_id=UUID(str(fact.originator_id)),
            originator_version=1,
            timestamp=DomainEvent.create_timestamp(),
            event_type=fact.event_type,
            body=fact.body.decode(),
        )


def rate(count: int, seconds: float) -> float:
    """Events per second."""
    return count / seconds if seconds > 0 else float("inf")


def machine() -> str:
    """What the figures were measured on."""
    return f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}"


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value at ``fraction`` of the sorted values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# The sides of the privacy benchmark: two unsealed ledgers (the A/A control) and a sealed one.
_SIDES = ("unsealed", "unsealed again", "sealed")


@dataclass
class _Side:
    """One side's totals over a round: wall and CPU seconds, events."""

    wall: float = 0.0
    cpu: float = 0.0
    events: int = 0

    def rate(self) -> float:
        return rate(self.events, self.wall)

    def cpu_us(self) -> float:
        return self.cpu / self.events * 1e6 if self.events else float("nan")


def _privacy_row(name: str, *, plain: list[_Side], sealed: list[_Side], batch: str = "100") -> str:
    costs = [1 - s.rate() / p.rate() for s, p in zip(sealed, plain, strict=True)]
    cells = [
        name,
        batch,
        f"{statistics.median(p.rate() for p in plain):,.0f}",
        f"{statistics.median(s.rate() for s in sealed):,.0f}",
        f"{statistics.median(costs):.0%}",  # 1 - the median of the per-round ratios
        ", ".join(f"{c:.0%}" for c in costs),
        f"{statistics.median(p.cpu_us() for p in plain):.0f} / {statistics.median(s.cpu_us() for s in sealed):.0f}",
    ]
    return "| " + " | ".join(cells) + " |"


class UnsealedLedger(Ledger):
    """A Ledger that stores sensitive fields in clear: the other side of the benchmark of what sealing costs.

    Only ``python -m scripts.bench privacy`` opens one; nothing else may (the API's
    twin is scripts.bench_apps.create_app_without_sealing).
    """

    def _seals(self, events: Sequence[Event]) -> bool:
        return False
