"""The OpenAPI document: FastAPI's, plus the catalogue's event schema and an example per event type.

The event routes read their bodies themselves (to give field-level 422s that
never echo a value), so their request bodies are declared here: the catalogue's
JSON Schema (draft 2020-12, which OpenAPI 3.1 uses) is moved from ``$defs`` into
``components/schemas`` and the events route gets one named example per type.

The examples are the catalogue's, with the source of the README's emitter key
(``ledger api-keys create --role emitter --source epic-prod``): an emitter key
may append only events of the source bound to it, so that key can send every
example as it is; with another emitter key, set ``source`` to its own.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.models import Problem
from api.settings import MAX_BATCH_EVENTS
from ledger.catalogue import CONTROL_TYPES, json_schema

EVENT: Final = "LedgerEvent"
README_SOURCE: Final = "epic-prod"  # the source bound to the README's emitter key
_KEY_NOTE: Final = (
    f"Each example's source is {README_SOURCE}, the source of the README's emitter key: an emitter key may "
    "append only events of the source bound to it (403 naming `source` otherwise), so with another emitter "
    "key set source to that key's; an admin key may append for any source."
)
_DEFS: Final = "#/$defs/"
_COMPONENTS: Final = "#/components/schemas/"


def event_ref() -> dict[str, str]:
    """A reference to the event schema."""
    return {"$ref": _COMPONENTS + EVENT}


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (_COMPONENTS + v.removeprefix(_DEFS) if k == "$ref" and isinstance(v, str) else _rewrite_refs(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def catalogue_components() -> tuple[dict[str, Any], dict[str, Any]]:
    """(schemas for components/schemas, examples by event type, with the README emitter's source)."""
    document = copy.deepcopy(json_schema())
    defs = _rewrite_refs(document.pop("$defs"))
    root = _rewrite_refs({k: v for k, v in document.items() if k not in ("$schema", "$id")})
    examples = {  # of what the append routes take: never the ledger's own control events
        branch["title"]: {**branch["examples"][0], "source": README_SOURCE}
        for branch in root["oneOf"]
        if branch.get("examples") and branch["title"] not in CONTROL_TYPES
    }
    for branch in root["oneOf"]:
        branch.pop("examples", None)
    defs[EVENT] = root
    return defs, examples


def event_body(examples: dict[str, Any]) -> dict[str, Any]:
    """The requestBody of POST /v1/events."""
    return {
        "required": True,
        "description": "One event in the catalogue's envelope. " + _KEY_NOTE,
        "content": {
            "application/json": {
                "schema": event_ref(),
                "examples": {name: {"summary": name, "value": value} for name, value in examples.items()},
            }
        },
    }


def batch_body(examples: dict[str, Any]) -> dict[str, Any]:
    """The requestBody of POST /v1/events/batch."""
    schema = {
        "type": "object",
        "title": "EventBatch",
        "additionalProperties": False,
        "required": ["events"],
        "properties": {"events": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH_EVENTS, "items": event_ref()}},
    }
    first = list(examples.values())[:3]
    return {
        "required": True,
        "description": f"1 to {MAX_BATCH_EVENTS} events, appended all or nothing. " + _KEY_NOTE,
        "content": {"application/json": {"schema": schema, "example": {"events": first}}},
    }


def _problems_for_validation(schema: dict[str, Any]) -> None:
    """FastAPI documents its parameter 422s as HTTPValidationError; this API answers them with a Problem."""
    problem = {"application/json": {"schema": {"$ref": _COMPONENTS + "Problem"}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            response = operation.get("responses", {}).get("422")
            if response is not None and "HTTPValidationError" in str(response.get("content")):
                response["content"] = problem
                response["description"] = "A path or query parameter is not valid; errors names it."
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with the catalogue merged in; computed once per app."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    defs, examples = catalogue_components()
    clash = sorted(set(defs) & set(components))
    if clash:
        raise RuntimeError(f"catalogue schema names clash with the API's: {clash}")
    components.update(defs)
    components.setdefault("Problem", Problem.model_json_schema())
    _problems_for_validation(schema)
    bodies = {"/v1/events": event_body(examples), "/v1/events/batch": batch_body(examples)}
    for path, body in bodies.items():
        operation = schema.get("paths", {}).get(path, {}).get("post")
        if operation is not None:
            operation["requestBody"] = body
    app.openapi_schema = schema
    return schema
