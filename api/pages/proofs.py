"""The proofs of an incident's events, as JSON for the incident page's Verify control (static/verify-control.js).

The same answer as ``GET /v1/incidents/{incident_id}/proofs`` (api.routes.verification), for a signed-in
reader's session rather than an API key: the browser verifies it with the key its reader pinned.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.deps import StoreDep
from api.errors import ApiError
from api.pages.access import PageError, ReaderPage
from api.routes.queries import WorkerDep
from api.routes.verification import proofs_of_incident
from ledger.catalogue.fields import IDENTIFIER_MAX, IDENTIFIER_PATTERN

router = APIRouter(include_in_schema=False)

IncidentId = Annotated[str, Path(min_length=1, max_length=IDENTIFIER_MAX, pattern=IDENTIFIER_PATTERN)]


@router.get("/incidents/{incident_id}/proofs.json")
def incident_proofs(viewer: ReaderPage, store: StoreDep, worker: WorkerDep, incident_id: IncidentId) -> Response:
    """Every event the incident page shows, its entry and inclusion path, and the latest signed checkpoint."""
    try:
        answer = proofs_of_incident(store.ledger, worker, incident_id)
    except ApiError as exc:  # no such incident
        raise PageError(exc.status, exc.message) from None
    return Response(orjson.dumps(answer), media_type="application/json")
