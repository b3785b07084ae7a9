"""FHIR exports (R4 or R5) of an incident, a tool or an output, for the reader role.

Each answer is a FHIR Bundle (``application/fhir+json``) built by
``projections.fhir``: the AI device, the AI-asserted outputs labelled AIAST with
their Provenance, every display and action as an AuditEvent, the incident as
an AdverseEvent; each resource names the ledger event (seq and hash) it comes from.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Query, Response

from api.deps import ReaderKey
from api.errors import NotFound, documented
from api.interop.outcome import BUNDLE_SCHEMA, FHIR_JSON, fhir_content
from api.routes.queries import Identifier, Limit, MinSeq, WorkerDep, views_at
from ledger.errors import StoreUnavailable
from projections import fhir
from projections.errors import NotFound as ViewNotFound
from projections.errors import ProjectionError

router = APIRouter(tags=["fhir"])

_MIME_VERSION: Final = {"R4": "4.0", "R5": "5.0"}
_RESPONSES = {200: fhir_content(BUNDLE_SCHEMA, "A collection Bundle."), **documented(401, 403, 404, 422, 503)}
FhirVersion = Annotated[fhir.Version, Query(description="R4 (valid for R4 and R4B: what most hospitals run) or R5.")]


def bundle_response(build: Any, *args: Any, version: fhir.Version, **kwargs: Any) -> Response:
    """The bundle as FHIR JSON; NotFound as 404, a stopped projection as 503."""
    try:
        bundle = build(*args, version=version, **kwargs)
    except ViewNotFound as exc:
        raise NotFound(str(exc)) from None
    except ProjectionError as exc:
        raise StoreUnavailable(str(exc)) from exc
    return Response(orjson.dumps(bundle), media_type=f"{FHIR_JSON}; fhirVersion={_MIME_VERSION[version]}")


@router.get(
    "/v1/incidents/{incident_id}/fhir",
    summary="An incident as a FHIR Bundle",
    responses=_RESPONSES,
)
def incident_fhir(
    key: ReaderKey, worker: WorkerDep, incident_id: Identifier, fhir_version: FhirVersion = "R4", min_seq: MinSeq = None
) -> Response:
    """The incident (AdverseEvent), its outputs, who saw and acted on them, and its tools' governance."""
    return bundle_response(fhir.incident_bundle, views_at(worker, min_seq), incident_id, version=fhir_version)


@router.get(
    "/v1/tools/{tool_id}/fhir",
    summary="A tool as a FHIR Bundle",
    responses=_RESPONSES,
)
def tool_fhir(
    key: ReaderKey,
    worker: WorkerDep,
    tool_id: Identifier,
    fhir_version: FhirVersion = "R4",
    limit: Limit = 1000,
    min_seq: MinSeq = None,
) -> Response:
    """The tool's versions (Device), governance history, first ``limit`` outputs and their displays and actions."""
    return bundle_response(fhir.tool_bundle, views_at(worker, min_seq), tool_id, version=fhir_version, limit=limit)


@router.get(
    "/v1/outputs/{output_id}/fhir",
    summary="An output as a FHIR Bundle",
    responses=_RESPONSES,
)
def output_fhir(
    key: ReaderKey, worker: WorkerDep, output_id: Identifier, fhir_version: FhirVersion = "R4", min_seq: MinSeq = None
) -> Response:
    """The output (RiskAssessment, AIAST) with its Provenance, displays, actions and its tool's governance."""
    return bundle_response(fhir.output_bundle, views_at(worker, min_seq), output_id, version=fhir_version)
