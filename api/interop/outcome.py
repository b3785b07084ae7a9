"""FHIR OperationOutcome: how the FHIR routes answer errors (and successes), instead of the API's Problem.

Each field error becomes an issue whose ``expression`` is the element at fault
(FHIRPath-like, e.g. ``Bundle.entry[3].resource.agent``) and whose
``diagnostics`` says why; never a value from the request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from starlette.responses import Response

FHIR_BASE: Final = "/fhir"
FHIR_JSON: Final = "application/fhir+json"

# HTTP status -> OperationOutcome issue type (http://hl7.org/fhir/issue-type).
ISSUE_TYPES: Final[Mapping[int, str]] = {
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "duplicate",
    413: "too-long",
    415: "not-supported",
    422: "invalid",
    500: "exception",
    503: "transient",
}


# What the OpenAPI document says a FHIR route answers: FHIR JSON, never the API's Problem JSON.
OUTCOME_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"const": "OperationOutcome"},
        "issue": {"type": "array", "items": {"type": "object"}},
    },
}
BUNDLE_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["resourceType", "type"],
    "properties": {"resourceType": {"const": "Bundle"}, "type": {"type": "string"}},
}


class FhirResponse(Response):
    """A response in FHIR JSON, so that the OpenAPI document names the media type the route really sends."""

    media_type = FHIR_JSON


def fhir_content(schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry whose body is FHIR JSON of ``schema``."""
    return {"description": description, "content": {FHIR_JSON: {"schema": dict(schema)}}}


def as_outcomes(responses: Mapping[int | str, Mapping[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """The error entries of ``api.errors.documented`` as the FHIR routes send them: OperationOutcomes, FHIR JSON."""
    entries: dict[int | str, dict[str, Any]] = {}
    for status, entry in responses.items():
        kept = {name: value for name, value in entry.items() if name != "model"}
        entries[status] = {**kept, **fhir_content(OUTCOME_SCHEMA, str(entry["description"]))}
    return entries


def is_fhir_path(path: str) -> bool:
    """The request is for a FHIR route."""
    return path == FHIR_BASE or path.startswith(FHIR_BASE + "/")


def operation_outcome(status: int, message: str, errors: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """An error as an OperationOutcome: one issue per field error, or one for the message."""
    code = ISSUE_TYPES.get(status, "processing")
    issues = [
        {"severity": "error", "code": code, "diagnostics": str(e["msg"]), "expression": [str(e["loc"])]}
        for e in errors
        if e.get("loc")
    ]
    return {
        "resourceType": "OperationOutcome",
        "issue": issues or [{"severity": "error", "code": code, "diagnostics": message}],
    }


def information(message: str) -> dict[str, Any]:
    """A success as an OperationOutcome of one informational issue."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational", "diagnostics": message}],
    }
