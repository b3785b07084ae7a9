"""The shapes of the API's responses, as published in its OpenAPI document."""

from __future__ import annotations

import base64
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ledger.store.records import Receipt, Record

_HEX32 = r"^[0-9a-f]{64}$"


class ReceiptOut(BaseModel):
    """Proof of recording: keep it beside the clinical record."""

    model_config = ConfigDict(title="Receipt")

    event_id: str = Field(description="The event's id, as sent.")
    seq: int = Field(ge=1, description="Position in the ledger (1-based, dense).")
    leaf_index: int = Field(ge=0, description="Position in the Merkle tree (seq - 1).")
    hash: str = Field(pattern=_HEX32, description="The chain hash of this entry, hexadecimal.")
    prev_hash: str = Field(pattern=_HEX32, description="The chain hash of the entry before, hexadecimal.")
    recorded_at: str = Field(description="When the ledger recorded the event (RFC 3339, UTC).")

    @classmethod
    def of(cls, receipt: Receipt) -> dict[str, Any]:
        """The receipt as JSON."""
        return receipt.to_json()


class BatchReceipts(BaseModel):
    """One receipt per event of the batch, in the batch's order."""

    receipts: list[ReceiptOut]


class RecordOut(BaseModel):
    """One entry of the log: the stored canonical bytes and their place in the chain."""

    model_config = ConfigDict(title="Record")

    seq: int = Field(ge=1)
    leaf_index: int = Field(ge=0)
    event_id: str
    type: str
    recorded_us: int = Field(description="Recording time in microseconds since the epoch (hashed into the entry).")
    recorded_at: str
    body: str = Field(description="The event's canonical bytes, base64 (standard alphabet, padded).")
    prev_hash: str = Field(pattern=_HEX32)
    hash: str = Field(pattern=_HEX32)

    @classmethod
    def of(cls, record: Record) -> dict[str, Any]:
        """The record as JSON."""
        return {
            "seq": record.seq,
            "leaf_index": record.seq - 1,
            "event_id": record.event_id,
            "type": record.type,
            "recorded_us": record.recorded_us,
            "recorded_at": record.recorded_at,
            "body": base64.b64encode(record.body).decode("ascii"),
            "prev_hash": record.prev_hash.hex(),
            "hash": record.hash.hex(),
        }


class LogPage(BaseModel):
    """A page of the log, in seq order."""

    records: list[RecordOut]
    head_seq: int = Field(ge=0, description="The ledger's last seq when the page was read.")
    next_after_seq: int | None = Field(
        description="Pass as after_seq for the next page; null when this page reached the head."
    )
    replica_lag_seconds: float | None = Field(
        default=None,
        ge=0,
        description="Read from a streaming replica: how far behind the primary it was (null: read from the primary).",
    )


class FieldProblem(BaseModel):
    """One defect of one field; never the value."""

    index: int | None = Field(default=None, description="Which event of the batch (0-based); null for a single event.")
    loc: str = Field(description="The field, as a dotted path such as data.output_id ('' for the whole body).")
    msg: str = Field(description="Why it is refused.")


class Problem(BaseModel):
    """Every error response."""

    code: str = Field(description="Machine-readable: invalid_event, event_conflict, unauthorized, ...")
    message: str = Field(description="For people; never contains a value from the request.")
    request_id: str = Field(description="Also in the X-Request-ID header and the server's log.")
    errors: list[FieldProblem] = Field(default_factory=list)
    event_id: str | None = None
    seq: int | None = None
    index: int | None = None


class Health(BaseModel):
    """Liveness or readiness."""

    status: str
    head_seq: int | None = None


class Stats(BaseModel):
    """Group-commit counters since the server started."""

    batches: int
    events: int
    largest_batch: int
    mean_batch: float
    conflict_fallbacks: int
    failed_batches: int
    sizes: dict[str, int] = Field(description="Batch size -> number of transactions of that size.")
