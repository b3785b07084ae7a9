"""The raw log, page by page, for auditors and replicas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.deps import AuditorKey, StoreDep
from api.errors import documented
from api.models import LogPage, RecordOut
from api.replica import note_lag
from api.settings import DEFAULT_PAGE, MAX_PAGE

router = APIRouter(tags=["log"])


@router.get(
    "/v1/log",
    response_model=LogPage,
    summary="Read the log after a seq",
    responses=documented(401, 403, 422, 503),
)
def read_log(
    key: AuditorKey,
    store: StoreDep,
    request: Request,
    after_seq: Annotated[int, Query(ge=0, le=2**62, description="Records with seq greater than this.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"At most {MAX_PAGE}.")] = DEFAULT_PAGE,
) -> dict[str, Any]:
    """Records in seq order: canonical bytes (base64), hashes (hex), seq. Page with next_after_seq.

    With a streaming replica configured, read there: ``head_seq`` is the replica's, and
    ``replica_lag_seconds`` (and the Ledger-Replica-Lag-Seconds header) say how far behind it is.
    """
    reader = store.reader()
    lag = None if store.replica is None else note_lag(request, store.replica)  # measured before the read
    records = reader.read(after_seq=after_seq, limit=limit)
    head = reader.head_seq()
    last = records[-1].seq if records else after_seq
    request.state.log_fields.update(after_seq=after_seq, limit=limit, records=len(records))
    return {
        "records": [RecordOut.of(r) for r in records],
        "head_seq": head,
        "next_after_seq": last if last < head else None,
        "replica_lag_seconds": lag,
    }
