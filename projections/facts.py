"""A ledger record as the projections read it: a Fact with times in microseconds.

The stored bytes were validated by the catalogue when they were appended, and
``ledger verify`` proves they are unchanged since, so the fast path reads them
with orjson. An event stored at an older schema version is upcast through the
catalogue (``parse_stored``) first. Anything unreadable raises FactUnreadable,
which the runner turns into ProjectionFailed naming the seq: never a skip.

Sensitive fields (patient references, free text: ``sensitive_fields(type)``)
never leave this module in ``public_data``; the view tables hold only which of
them were present (``withheld``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import orjson

from ledger.catalogue import SCHEMA_VERSIONS, SENSITIVE_FIELDS, canonical_bytes, parse_stored
from ledger.errors import InvalidEvent
from ledger.store.records import Record
from projections.timefmt import parse_us

# Where an event says when the thing it records took effect, if not at occurred_at.
EFFECTIVE_FIELD: Final[Mapping[str, str]] = {
    "output.shown": "shown_at",
    "output.acted": "acted_at",
    "tool.threshold_changed": "effective_at",
    "clinician.trained": "completed_at",
    "incident.reported_externally": "reported_at",
}
ENTITY_KEYS: Final = ("tool_id", "output_id", "incident_id", "clinician_id", "remediation_id")
_SENSITIVE_PATHS: Final = {name: tuple(tuple(p.split(".")) for p in paths) for name, paths in SENSITIVE_FIELDS.items()}


class FactUnreadable(Exception):
    """A record the projections cannot read; the message names no value."""


class Fact(NamedTuple):
    """One event as the projections see it (a NamedTuple: immutable and cheap to build)."""

    seq: int
    event_id: str
    type: str
    occurred_us: int
    effective_us: int
    recorded_us: int
    actor_id: str
    actor_role: str
    actor_kind: str
    data: Mapping[str, Any]

    def get(self, name: str) -> Any:
        """An optional data field (None when absent)."""
        return self.data.get(name)

    def need(self, name: str) -> Any:
        """A required data field; FactUnreadable when missing."""
        try:
            return self.data[name]
        except KeyError:
            raise FactUnreadable(f"data.{name} is missing") from None

    def time(self, name: str) -> int | None:
        """An optional timestamp field of data, in microseconds."""
        value = self.data.get(name)
        return None if value is None else _time(value, f"data.{name}")


def read_fact(record: Record) -> Fact:
    """The record's event as a Fact (upcast if stored at an older schema version)."""
    if not record.body:
        raise FactUnreadable("the stored event body is missing (run `ledger verify`)")
    raw = _load(record.body)
    event_type = raw.get("type")
    if event_type != record.type:
        raise FactUnreadable("the event's type differs from its stored topic (run `ledger verify`)")
    current = SCHEMA_VERSIONS.get(event_type)
    if current is None:
        raise FactUnreadable("the event type is not in this version's catalogue")
    if raw.get("schema_version", 1) != current:
        raw = _upcast(record.body)
    try:
        actor = raw["actor"]
        data = raw["data"]
        occurred_us = _time(raw["occurred_at"], "occurred_at")
        fact = Fact(
            seq=record.seq,
            event_id=str(raw["event_id"]),
            type=event_type,
            occurred_us=occurred_us,
            effective_us=occurred_us,
            recorded_us=record.recorded_us,
            actor_id=str(actor["id"]),
            actor_role=str(actor["role"]),
            actor_kind=str(actor["kind"]),
            data=data,
        )
    except (KeyError, TypeError) as exc:
        raise FactUnreadable(f"the envelope lacks {exc.args[0] if exc.args else 'a field'}") from None
    effective = EFFECTIVE_FIELD.get(event_type)
    if effective is not None and data.get(effective) is not None:
        return fact._replace(effective_us=_time(data[effective], f"data.{effective}"))
    return fact


def public_data(fact: Fact) -> tuple[dict[str, Any], list[str]]:
    """The fact's data without its sensitive fields, and the sensitive fields it held."""
    paths = _SENSITIVE_PATHS.get(fact.type, ())
    if not any(path[0] in fact.data for path in paths):
        return dict(fact.data), []
    data = dict(fact.data)
    withheld = [".".join(path) for path in paths if _pop_path(data, list(path))]
    return data, withheld


def _load(body: bytes) -> dict[str, Any]:
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise FactUnreadable("the stored bytes are not JSON (run `ledger verify`)") from None
    if not isinstance(raw, dict):
        raise FactUnreadable("the stored bytes are not a JSON object")
    return raw


def _upcast(body: bytes) -> dict[str, Any]:
    try:
        return _load(canonical_bytes(parse_stored(body)))
    except InvalidEvent as exc:
        # InvalidEvent messages name fields and rules, never values.
        raise FactUnreadable(f"the stored event does not upcast: {exc}") from None


def _time(value: Any, name: str) -> int:
    if not isinstance(value, str):
        raise FactUnreadable(f"{name} is not a timestamp")
    try:
        return parse_us(value)
    except ValueError:
        raise FactUnreadable(f"{name} is not a timestamp") from None


def _pop_path(data: dict[str, Any], path: list[str]) -> bool:
    head, *rest = path
    if head not in data:
        return False
    if not rest:
        del data[head]
        return True
    inner = data[head]
    if not isinstance(inner, dict):
        return False
    inner = dict(inner)
    data[head] = inner
    return _pop_path(inner, rest)
