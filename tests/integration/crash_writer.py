"""A writer for the crash tests: appends numbered batches until killed, printing each acknowledgement.

Run as ``python -m tests.integration.crash_writer URL FIRST``: appends batch FIRST,
FIRST + 1, ... and prints ``<batch> <first seq>`` (flushed) after each append
returns. The batches are a function of their number alone, so the test can
rebuild the one that was in flight when the process died and send it again.
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

from ledger.store import Ledger
from tests.ledgers import env_settings

BATCH = 10
_NAMESPACE = uuid.UUID("5f0c2d1e-8b7a-4c3d-9e2f-1a0b9c8d7e6f")


def batch(number: int) -> list[dict[str, Any]]:
    """Batch ``number``: sealed output.generated events, a first-seen patient in every batch."""
    return [
        {
            "event_id": str(uuid.uuid5(_NAMESPACE, f"{number}-{i}")),
            "type": "output.generated",
            "occurred_at": "2026-04-08T02:14:00Z",
            "source": "acme-inference",
            "actor": {"id": "acme-inference", "role": "inference_service", "kind": "system"},
            "data": {
                "output_id": f"out-{number}-{i}",
                "tool_id": "sepsis-watch",
                "model_version": "3.2.0",
                "site": "northside",
                "unit": "ed",
                "population": "adults_18_plus",
                "patient_ref": f"Patient/crash-{number}" if i % 2 else f"Patient/crash-{number // 3}",
                "encounter_ref": f"Encounter/crash-{number}-{i}",
                "score": 0.64,
                "label": "low",
                "priority": "routine",
                "threshold_in_effect": 0.7,
                "explanation": "lactate rising",
            },
        }
        for i in range(BATCH)
    ]


def main(url: str, first: int) -> None:
    """Append batches from ``first`` on, forever (until killed)."""
    with Ledger(env_settings(url)) as ledger:
        number = first
        while True:
            receipts = ledger.submit(batch(number))
            print(number, receipts[0].seq, flush=True)
            number += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
