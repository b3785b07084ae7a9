"""The typed, versioned catalogue of ledger events.

Every event is an envelope (event_id, type, schema_version, occurred_at,
source, actor, data, optional correlation_id and causation_id) whose ``data``
is validated by the model of its type and version. The catalogue refuses only
what is malformed; it never refuses a well-formed fact because the fact reveals
a failure, and it never cross-checks one event against another.

    validate_event(raw)     -> Event          or InvalidEvent([FieldError(loc, msg), ...])
    canonical_bytes(event)  -> bytes          the stored, hashed form
    parse_stored(bytes)     -> Event          upcast to the type's current version
    sensitive_fields(type)  -> list[str]      PHI / free-text paths in data
    json_schema()           -> dict           draft 2020-12, one document
    EVENT_TYPES, SCHEMA_VERSIONS              type -> current data model / version
    CONTROL_TYPES, RESERVED_SOURCE            the ledger's own events, and its own source
    emitted_defect(raw)     -> FieldError | None   why an emitter may not append this event

Who may append what (ledger.catalogue.control draws the line):

    control types      legal_hold.placed, legal_hold.released, subject.erased,
                       access.recorded, ledger.master_key_rotated,
                       ledger.signing_key_activated, ledger.signing_key_retired,
                       ledger.organisation_checkpoint_recorded:
                       only the ledger's own operations (admin routes, CLI commands),
                       always with the source ``ledger``; no API key, admin included,
                       appends them through the emitters' routes or ``ledger import``
    any other type     an emitter key, for the source bound to it; an admin key, for
                       any source but ``ledger``, which no key can be bound to
    reader, auditor    append nothing (a reader's reveal makes the ledger record
                       ``access.recorded``)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from ledger.catalogue.base import DataModel
from ledger.catalogue.builtin import CATALOGUE
from ledger.catalogue.control import CONTROL_TYPES, RESERVED_SOURCE, emitted_defect, recorded_by_ledger
from ledger.catalogue.envelope import Actor, Event, canonical_bytes
from ledger.catalogue.examples import EXAMPLES
from ledger.catalogue.registry import Catalogue, EventSpec, Upcaster
from ledger.catalogue.schema import build_json_schema

EVENT_TYPES: Final[Mapping[str, type[DataModel]]] = CATALOGUE.event_types
SCHEMA_VERSIONS: Final[Mapping[str, int]] = CATALOGUE.schema_versions
SENSITIVE_FIELDS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {name: tuple(CATALOGUE.sensitive_fields(name)) for name in EVENT_TYPES}
)


def validate_event(raw: object) -> Event:
    """Validate one parsed JSON event; raise InvalidEvent naming every defect (never a value)."""
    return CATALOGUE.validate_event(raw)


def parse_stored(canonical: bytes) -> Event:
    """Read an event back from its stored canonical bytes, upcast to the current schema version."""
    return CATALOGUE.parse_stored(canonical)


def sensitive_fields(event_type: str) -> list[str]:
    """Dotted paths within ``data`` of the type's PHI and free-text fields (KeyError if unknown)."""
    return CATALOGUE.sensitive_fields(event_type)


def json_schema() -> dict[str, Any]:
    """The whole catalogue as one JSON Schema (draft 2020-12) document, with examples."""
    return build_json_schema(CATALOGUE, EXAMPLES)


__all__ = [
    "CONTROL_TYPES",
    "EVENT_TYPES",
    "RESERVED_SOURCE",
    "SCHEMA_VERSIONS",
    "SENSITIVE_FIELDS",
    "Actor",
    "Catalogue",
    "DataModel",
    "Event",
    "EventSpec",
    "Upcaster",
    "canonical_bytes",
    "emitted_defect",
    "json_schema",
    "parse_stored",
    "recorded_by_ledger",
    "sensitive_fields",
    "validate_event",
]
