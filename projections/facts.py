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
from typing import Any, Final, NamedTuple, Protocol

import orjson

from ledger.catalogue import SCHEMA_VERSIONS, SENSITIVE_FIELDS, canonical_bytes, parse_stored
from ledger.errors import InvalidEvent
from projections.timefmt import parse_us

# Where an event says when the thing it records took effect, if not at occurred_at.
EFFECTIVE_FIELD: Final[Mapping[str, str]] = {
    "output.shown": "shown_at",
    "output.acted": "acted_at",
    "tool.threshold_changed": "effective_at",
    "clinician.trained": "completed_at",
    "incident.reported_externally": "reported_at",
    "incident.response_step": "performed_at",
    "governance.policy_set": "effective_from",
    "governance.playbook_set": "effective_from",
}
ENTITY_KEYS: Final = ("tool_id", "output_id", "incident_id", "clinician_id", "remediation_id")
# Each type's sensitive fields: (dotted name, path); and the top-level fields they sit in, a quick
# test for the common case of none present.
_SENSITIVE_PATHS: Final = {
    name: tuple((p, tuple(p.split("."))) for p in paths) for name, paths in SENSITIVE_FIELDS.items() if paths
}
_SENSITIVE_HEADS: Final = {name: frozenset(path[0] for _, path in paths) for name, paths in _SENSITIVE_PATHS.items()}


class Stored(Protocol):
    """What the projections read of a stored record (a ledger Record, or a row of a rebuild's stream)."""

    @property
    def seq(self) -> int: ...

    @property
    def type(self) -> str: ...

    @property
    def body(self) -> bytes: ...

    @property
    def recorded_us(self) -> int: ...


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


def read_fact(record: Stored) -> Fact:
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
        occurred_at = raw["occurred_at"]
        occurred_us = effective_us = _time(occurred_at, "occurred_at")
        effective = EFFECTIVE_FIELD.get(event_type)
        if effective is not None:
            value = data.get(effective)
            if value is not None and value != occurred_at:  # the same text is the same moment: parsed once
                effective_us = _time(value, f"data.{effective}")
        return Fact(
            record.seq,
            str(raw["event_id"]),
            event_type,
            occurred_us,
            effective_us,
            record.recorded_us,
            str(actor["id"]),
            str(actor["role"]),
            str(actor["kind"]),
            data,
        )
    except (KeyError, TypeError) as exc:
        raise FactUnreadable(f"the envelope lacks {exc.args[0] if exc.args else 'a field'}") from None


def public_data(fact: Fact) -> tuple[dict[str, Any], list[str]]:
    """The fact's data without its sensitive fields, and the sensitive fields it held."""
    data = dict(fact.data)
    heads = _SENSITIVE_HEADS.get(fact.type)
    if heads is None or heads.isdisjoint(data):
        return data, []
    return data, [name for name, path in _SENSITIVE_PATHS[fact.type] if _pop_path(data, path)]


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
    try:
        return parse_us(value)
    except (ValueError, TypeError):  # TypeError: not a string
        raise FactUnreadable(f"{name} is not a timestamp") from None


def _pop_path(data: dict[str, Any], path: tuple[str, ...]) -> bool:
    head = path[0]
    if head not in data:
        return False
    if len(path) == 1:
        del data[head]
        return True
    inner = data[head]
    if not isinstance(inner, dict):
        return False
    inner = dict(inner)
    data[head] = inner
    return _pop_path(inner, path[1:])
