"""FHIR OperationOutcome: how the FHIR routes answer errors (and successes), instead of the API's Problem.

Each field error becomes an issue whose ``expression`` is the element at fault
(FHIRPath-like, e.g. ``Bundle.entry[3].resource.agent``) and whose
``diagnostics`` says why; never a value from the request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

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
