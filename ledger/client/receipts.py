"""The receipt an emitter keeps for each event the ledger recorded, as the client reads it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the ledger answered for one event: keep it beside the clinical record."""

    event_id: str
    seq: int
    leaf_index: int
    hash: str
    prev_hash: str
    recorded_at: str
    created: bool  # False when the ledger already held this event (a retry)

    @classmethod
    def from_json(cls, body: Mapping[str, Any], *, created: bool) -> Receipt:
        """A receipt from its JSON form."""
        return cls(
            str(body["event_id"]),
            int(body["seq"]),
            int(body["leaf_index"]),
            str(body["hash"]),
            str(body["prev_hash"]),
            str(body["recorded_at"]),
            created,
        )
