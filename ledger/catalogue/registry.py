"""The catalogue: which event types exist, at which schema versions, and how to read them.

A type's data model may change over time. Every published version stays in the
catalogue, so an event emitted at an older version is still accepted and stored
as it was emitted (its bytes are the fact). Reading stored bytes upcasts older
versions to the current one, one step at a time, with the type's upcasters:
``upcasters[v]`` turns the stored JSON form of version ``v`` data into version
``v + 1`` data. Stored rows are never rewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, get_args

import orjson
from pydantic import BaseModel, ValidationError

from ledger.catalogue.base import DataModel
from ledger.catalogue.control import control_source_defect
from ledger.catalogue.envelope import Event, UntypedEvent, envelope_for
from ledger.catalogue.fields import STORED_CONTEXT
from ledger.catalogue.messages import field_errors
from ledger.catalogue.sensitive import sensitive_paths
from ledger.errors import FieldError, InvalidEvent

# The validation context of an event read back from the log (see fields.STORED_CONTEXT).
_STORED: Final = MappingProxyType({STORED_CONTEXT: True})

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

DEFAULT_VERSION: Final = 1  # the version of an event that does not state one


@dataclass(frozen=True)
class EventSpec:
    """One event type: its data model at every published version, and the upcasters between them."""

    name: str
    versions: Mapping[int, type[DataModel]]
    upcasters: Mapping[int, Upcaster] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.versions:
            raise ValueError(f"{self.name}: a type needs at least one version")
        for version, model in self.versions.items():
            if (model.event_type, model.schema_version) != (self.name, version):
                raise ValueError(f"{self.name} v{version}: {model.__name__} declares another type or version")
        missing = [v for v in self.versions if v != self.current and v not in self.upcasters]
        if missing:
            raise ValueError(f"{self.name}: no upcaster from version(s) {missing}")

    @property
    def current(self) -> int:
        """The newest version: what ``parse_stored`` returns."""
        return max(self.versions)


class Catalogue:
    """A set of event types; validates, reads back and describes events of those types."""

    def __init__(self, specs: Iterable[EventSpec]) -> None:
        self._specs = {spec.name: spec for spec in specs}
        self._envelopes = {
            (spec.name, version): envelope_for(model, version=version)
            for spec in self._specs.values()
            for version, model in spec.versions.items()
        }
        self._union_tags = _union_tags(self._all_models())
        self._sensitive = {
            name: tuple(sensitive_paths(spec.versions[spec.current])) for name, spec in self._specs.items()
        }
        self.event_types: Mapping[str, type[DataModel]] = MappingProxyType(
            {name: spec.versions[spec.current] for name, spec in self._specs.items()}
        )
        self.schema_versions: Mapping[str, int] = MappingProxyType(
            {name: spec.current for name, spec in self._specs.items()}
        )

    @property
    def specs(self) -> Mapping[str, EventSpec]:
        """Every event type by name."""
        return MappingProxyType(self._specs)

    def validate_event(self, raw: object, *, stored: bool = False) -> Event:
        """Validate one event (a parsed JSON object); raise InvalidEvent naming every defect.

        A new event (``stored`` false) meets today's rules: each type's model, the
        range of timestamps, and the control plane's rule that a control type
        carries the ledger's own source (ledger.catalogue.control). ``stored``: the
        event was read back from the log and is validated by the rules of the day
        it was appended; rules added since that would refuse a stored fact (the
        range of timestamps, the control source) are not applied to it: readers judge it.
        """
        if stored:
            return self._validated(raw, stored=True)
        event = self._validated(raw, stored=False)
        defect = control_source_defect(event.type, event.source)
        if defect is not None:
            raise InvalidEvent([defect])
        return event

    def _validated(self, raw: object, *, stored: bool) -> Event:
        """``raw`` against its type's model at its version."""
        if not isinstance(raw, dict):
            raise InvalidEvent([FieldError("", "must be a JSON object")])
        envelope, problems = self._envelope_class(raw)
        try:
            event = envelope.model_validate(raw, context=_STORED if stored else None)
        except ValidationError as exc:
            # Not chained: pydantic's exception carries the input values (PHI).
            errors = field_errors(exc, union_tags=self._union_tags, document=raw)
            raise InvalidEvent(_merge(errors, problems)) from None
        if problems:
            raise InvalidEvent(problems)
        return event

    def parse_stored(self, canonical: bytes) -> Event:
        """Read stored canonical bytes back, upcast to the type's current schema version."""
        try:
            raw = orjson.loads(canonical)
        except orjson.JSONDecodeError:
            raise InvalidEvent([FieldError("", "stored bytes are not valid JSON")]) from None
        return self.upcast(self.validate_event(raw, stored=True))

    def upcast(self, event: Event) -> Event:
        """``event`` at its type's current version, applying each upcaster in turn."""
        spec = self._specs[event.type]
        if event.schema_version == spec.current:
            return event
        raw = event.to_canonical_dict()
        for version in range(event.schema_version, spec.current):
            raw["data"] = spec.upcasters[version](raw["data"])
        raw["schema_version"] = spec.current
        return self.validate_event(raw, stored=True)

    def sensitive_fields(self, event_type: str) -> list[str]:
        """Dotted paths, relative to ``data``, of the type's PHI and free-text fields."""
        if event_type not in self._sensitive:
            raise KeyError(f"unknown event type {event_type!r}")
        return list(self._sensitive[event_type])

    def _envelope_class(self, raw: dict[Any, Any]) -> tuple[type[Event], list[FieldError]]:
        name = raw.get("type")
        if not isinstance(name, str):
            return UntypedEvent, []  # "field required" / "must be a string" from validation
        spec = self._specs.get(name)
        if spec is None:
            known_types = ", ".join(self._specs)
            return UntypedEvent, [FieldError("type", f"unknown event type; known types: {known_types}")]
        version = raw.get("schema_version", DEFAULT_VERSION)
        if type(version) is not int:
            return UntypedEvent, []  # "must be an integer" from validation
        envelope = self._envelopes.get((name, version))
        if envelope is None:
            known = ", ".join(str(v) for v in sorted(spec.versions))
            message = f"unknown schema version for {name}; known: {known}"
            return UntypedEvent, [FieldError("schema_version", message)]
        return envelope, []

    def _all_models(self) -> Iterator[type[BaseModel]]:
        for spec in self._specs.values():
            yield from spec.versions.values()


def _merge(errors: list[FieldError], problems: list[FieldError]) -> list[FieldError]:
    """``errors`` plus each of ``problems`` at a location not already reported."""
    reported = {error.loc for error in errors}
    return errors + [problem for problem in problems if problem.loc not in reported]


def _union_tags(models: Iterable[type[BaseModel]]) -> dict[str, frozenset[str]]:
    """Field name -> member tags, for every tagged-union field (pydantic puts the tag in error locations)."""
    tags: dict[str, frozenset[str]] = {}
    seen: set[type[BaseModel]] = set()
    pending = list(models)
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            members = list(_nested_models(info.annotation))
            pending.extend(members)
            key = info.discriminator
            if isinstance(key, str):
                found = {str(tag) for m in members for tag in get_args(m.model_fields[key].annotation)}
                tags[name] = tags.get(name, frozenset()) | found
    return tags


def _nested_models(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in get_args(annotation):
        yield from _nested_models(arg)
