"""The catalogue as one JSON Schema (draft 2020-12) document.

Layout: ``$defs`` holds the envelope (``Event``), the actor and every type's
data model at every version; the root is the envelope plus a ``oneOf`` with one
branch per type, selected by the ``type`` constant, whose ``anyOf`` selects the
data model by ``schema_version`` (absent means 1). Pydantic writes each model's
schema; this module only assembles them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from ledger.catalogue.control import CONTROL_TYPES, RESERVED_SOURCE
from ledger.catalogue.envelope import UntypedEvent
from ledger.catalogue.registry import DEFAULT_VERSION, Catalogue

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID: Final = "urn:ledger:catalogue:event"
_REF: Final = "#/$defs/{model}"


def build_json_schema(catalogue: Catalogue, examples: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """One schema for every event of ``catalogue``; ``examples`` (type -> event) are embedded."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(UntypedEvent, "validation")]
    models += [(m, "validation") for spec in catalogue.specs.values() for m in spec.versions.values()]
    refs, document = models_json_schema(models, ref_template=_REF)
    defs: dict[str, Any] = document.get("$defs", {})
    defs["Event"] = _envelope(defs.pop(_name(refs[(UntypedEvent, "validation")])), list(catalogue.specs))
    branches = []
    for name, spec in catalogue.specs.items():
        versions = {v: _name(refs[(m, "validation")]) for v, m in spec.versions.items()}
        example = examples.get(name)
        if example is not None:
            defs[versions[spec.current]]["examples"] = [example["data"]]
        branches.append(_branch(name, versions, example))
    return {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": "Ledger event",
        "$ref": "#/$defs/Event",
        "oneOf": branches,
        "$defs": dict(sorted(defs.items())),
    }


def _name(ref: Mapping[str, Any]) -> str:
    return str(ref["$ref"]).removeprefix("#/$defs/")


def _envelope(schema: dict[str, Any], type_names: list[str]) -> dict[str, Any]:
    properties = schema["properties"]
    properties["type"] = {"type": "string", "enum": type_names, "title": "Type"}
    properties["data"] = {"type": "object", "title": "Data", "description": "The type's data; see oneOf."}
    schema["title"] = "Event"
    schema["description"] = "The envelope every event shares."
    return schema


def _branch(name: str, versions: Mapping[int, str], example: dict[str, Any] | None) -> dict[str, Any]:
    by_version = [
        {
            "properties": {"schema_version": {"const": version}, "data": {"$ref": _REF.format(model=model)}},
            **({} if version == DEFAULT_VERSION else {"required": ["schema_version"]}),
        }
        for version, model in sorted(versions.items())
    ]
    properties: dict[str, Any] = {"type": {"const": name}}
    if name in CONTROL_TYPES:  # recorded by the ledger itself (ledger.catalogue.control)
        properties["source"] = {"const": RESERVED_SOURCE}
    branch: dict[str, Any] = {
        "title": name,
        "properties": properties,
        "required": ["type"],
        "anyOf": by_version,
    }
    if example is not None:
        branch["examples"] = [example]
    return branch
