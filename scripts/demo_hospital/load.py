"""Loading the demo hospital: through the API's client (``ledger serve --demo``) or the library (``ledger demo``).

Either way the anchor is read back from the ledger first, so a second load
tells the same story with the same bytes and appends nothing.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

import orjson

from ledger.client.http import LedgerApiError, LedgerClient
from scripts.demo_hospital import anchor_event_id, anchor_from, build
from scripts.demo_hospital.story import iso

if TYPE_CHECKING:
    from ledger.store import Ledger

BATCH: Final = 1000  # events per request: a few seconds of work for the server at most


@dataclass(frozen=True)
class Loaded:
    """What a load did."""

    anchor: datetime
    events: int
    created: int


def through_api(client: LedgerClient, *, seed: int) -> Loaded:
    """Append the story in batches through the REST API."""
    try:
        record = client.get_event(anchor_event_id(seed))
    except LedgerApiError as exc:
        if exc.status != 404:
            raise
        recorded = None
    else:
        recorded = _occurred_at(base64.b64decode(record["body"]))
    anchor = anchor_from(recorded)
    events = build(seed, anchor)
    receipts = client.send_batch(events, size=BATCH)
    return Loaded(anchor, len(events), sum(r.created for r in receipts))


def through_library(ledger: Ledger, *, seed: int) -> Loaded:
    """Append the story in batches with the library (no server)."""
    record = ledger.get(anchor_event_id(seed))
    anchor = anchor_from(None if record is None else _occurred_at(record.body))
    events = build(seed, anchor)
    created = 0
    for start in range(0, len(events), BATCH):
        created += sum(r.created for r in ledger.submit(events[start : start + BATCH]))
    return Loaded(anchor, len(events), created)


def _occurred_at(body: bytes) -> str:
    return str(orjson.loads(body)["occurred_at"])


def where_to_look(base: str) -> list[str]:
    """Lines saying where the story shows (the API's queries; read them with the reader key)."""
    return [
        f"  the story in the pages: {base}/incidents (five incidents; INC-D03's report is due soon, INC-D04's late)",
        f"  the story, through the API ({base}/docs; send the reader key as 'Authorization: Bearer ...'):",
        f"  - governance gaps:      {base}/v1/gaps?tool=sepsis-watch   (and ?tool=cxr-triage: none, all governed)",
        f"  - five incidents:       {base}/v1/incidents   (each: /v1/incidents/INC-D01/accountability ...)",
        f"  - deadlines:            {base}/v1/gaps?kind=report_deadline_near&kind=report_deadline_missed",
        f"  - alert flood:          {base}/v1/metrics/reliance?unit=ward-4b",
        f"  - accepts in seconds:   {base}/v1/metrics/reliance?tool=ed-triage&clinician=clin-ned-03",
        f"  - a tool as of a day:   {base}/v1/tools/deterioration-index",
    ]


def describe(loaded: Loaded) -> str:
    """One line about the load."""
    kept = loaded.events - loaded.created
    return (
        f"demo hospital: {loaded.created} events appended, {kept} already recorded "
        f"(story anchored at {iso(loaded.anchor)})"
    )
