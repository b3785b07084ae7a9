"""The story builder: events named, dated relative to one anchor, and ordered as the systems emitted them.

Every time in the demo is an offset from the anchor (the moment of the first
load), so "a deadline due tomorrow" stays true of a fresh demo. Event ids are
UUID 5 of the seed and a name, so the same seed and anchor give the same bytes,
and loading twice appends nothing the second time.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

NAMESPACE = uuid.UUID("0c7d3f5e-9a41-4b2e-8f6d-1e2a3b4c5d6e")
DAY = 86_400.0


def event_id(seed: int, name: str) -> str:
    """The event id of the story event ``name`` for ``seed``."""
    return str(uuid.uuid5(NAMESPACE, f"{seed}/{name}"))


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Story:
    """The events of one demo: a seed, an anchor ("now" at the first load), and what happened before it."""

    seed: int
    anchor: datetime
    events: list[dict[str, Any]] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # name -> event_id
    rng: random.Random = field(default=None)  # type: ignore[assignment]  # default: seeded with ``seed``

    def __post_init__(self) -> None:
        if self.rng is None:
            self.rng = random.Random(self.seed)  # noqa: S311 - a demo's shape, not a secret

    def at(self, days: float) -> datetime:
        """The moment ``days`` before the anchor (negative: after)."""
        return self.anchor - timedelta(seconds=round(days * DAY))

    def add(
        self, name: str, event_type: str, when: datetime, actor: dict[str, str], source: str, data: dict[str, Any]
    ) -> str:
        """Append one event to the story; its event id."""
        if name in self.names:
            raise ValueError(f"story event {name} named twice")
        identifier = event_id(self.seed, name)
        self.names[name] = identifier
        self.events.append(
            {
                "event_id": identifier,
                "type": event_type,
                "occurred_at": iso(when),
                "source": source,
                "actor": actor,
                "data": data,
            }
        )
        return identifier

    def ordered(self) -> list[dict[str, Any]]:
        """The events in time order (stable: same-second events keep the order they were told in)."""
        return sorted(self.events, key=lambda e: str(e["occurred_at"]))
