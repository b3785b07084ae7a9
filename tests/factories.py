"""Small builders of valid event envelopes for tests (raw dicts, as an emitter sends them)."""

from __future__ import annotations

import uuid
from typing import Any

from ledger.catalogue import CONTROL_TYPES, RESERVED_SOURCE

ACTOR = {"id": "dr-ada", "role": "attending_physician", "kind": "person"}


def envelope(event_type: str, data: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A complete envelope around ``data`` (a control event carries the ledger's own source, as it must)."""
    event = {
        "event_id": str(uuid.uuid4()),
        "type": event_type,
        "occurred_at": "2026-03-01T10:15:00+01:00",
        "source": RESERVED_SOURCE if event_type in CONTROL_TYPES else "ehr.epic-prod",
        "actor": dict(ACTOR),
        "data": data,
    }
    event.update(overrides)
    return event


def shown(output_id: str = "out-1", clinician_id: str = "dr-ada", **overrides: Any) -> dict[str, Any]:
    """An output.shown event."""
    data = {
        "output_id": output_id,
        "clinician_id": clinician_id,
        "surface": "epic.sepsis_banner",
        "shown_at": "2026-03-01T10:15:00+01:00",
    }
    return envelope("output.shown", data, **overrides)


def many_shown(count: int, *, prefix: str = "out") -> list[dict[str, Any]]:
    """``count`` distinct output.shown events."""
    return [shown(f"{prefix}-{i}") for i in range(count)]
