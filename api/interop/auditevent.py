"""A FHIR AuditEvent (R4/R4B or R5) of an AI output read by a user, as an ``output.shown`` envelope.

The pattern is IHE BALP's "read of a resource by a user" (IHE.BasicAudit.Read):

    AuditEvent element                                      output.shown
    R4 type rest + subtype read / R5 category rest + code read
    action R, outcome 0 (success) or absent
    agent with requestor true: who.identifier.value         data.clinician_id (or who.reference)
    entity whose what is the output: what.identifier with
      system urn:clinical-ai-ledger:output, or a reference
      RiskAssessment|DetectedIssue|GuidanceResponse|Observation/{id}   data.output_id
    entity.detail "surface" (valueString), else source.observer       data.surface
    R4 period.start / R5 occurredDateTime|occurredPeriod.start,
      else recorded                                         data.shown_at and occurred_at
    source.observer (identifier value, else reference)      actor {id, role fhir_audit_source, kind system}
    identifier (system|value), else id                      event_id (uuid5 with the source): the
                                                            idempotency key; correlation_id the id

Anything the mapping cannot place (another action or interaction, a failed
read, no requestor, no output entity, two of them, no id) raises InvalidEvent
naming the element: nothing is stored half-understood. The elements it reads
are type-checked where they are read, and the top-level elements must be the
version's (names from fhir.resources' models); the rest of the resource is not
validated: IHE BALP asks audit consumers not to reject non-conformant events,
and a whole-resource fhir.resources validation costs 2.6 ms per AuditEvent
(docs/interoperability.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import cache
from typing import Any, Final

from ledger.catalogue import Event, validate_event
from ledger.errors import FieldError, InvalidEvent

OUTPUT_SYSTEM: Final = "urn:clinical-ai-ledger:output"
OUTPUT_TYPES: Final = frozenset({"RiskAssessment", "DetectedIssue", "GuidanceResponse", "Observation"})
REST: Final = ("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest")
READ: Final = ("http://hl7.org/fhir/restful-interaction", "read")
_NAMESPACE: Final = uuid.UUID("3b0d7f52-8f3e-5c61-a0d4-9c1e6b2f7a18")
ACTOR_ROLE: Final = "fhir_audit_source"


@cache
def element_names(version: str) -> frozenset[str]:
    """The top-level elements of an AuditEvent of this version, from fhir.resources' model (R4B for R4)."""
    if version == "R4":
        from fhir.resources.R4B.auditevent import AuditEvent as Model
    else:
        from fhir.resources.auditevent import AuditEvent as Model  # type: ignore[assignment]
    fields = Model.model_fields
    names = {name for name in fields if not name.endswith("__ext") and name != "fhir_comments"}
    return frozenset(names | {f.alias for f in fields.values() if f.alias} | {"resourceType"})


def version_of(raw: Mapping[str, Any], root: str) -> str:
    """R5 when the resource has ``code`` and no ``type`` (R5 made ``code`` required), R4 when it has ``type``."""
    if "type" in raw and "code" not in raw:
        return "R4"
    if "code" in raw and "type" not in raw:
        return "R5"
    raise InvalidEvent.from_message(f"{root}.type", "an R4 AuditEvent has type, an R5 one code: exactly one of them")


def check_elements(raw: Mapping[str, Any], version: str, root: str) -> None:
    """Every top-level element is one of the version's (an R4 element on an R5 resource is refused)."""
    unknown = sorted(set(raw) - element_names(version))
    if unknown:
        raise InvalidEvent(
            [FieldError(f"{root}.{name}", f"not an element of an {version} AuditEvent") for name in unknown[:20]]
        )


class Node:
    """A JSON object at a FHIRPath-like location, read with type checks that name the element at fault."""

    def __init__(self, value: object, path: str) -> None:
        if not isinstance(value, dict):
            raise InvalidEvent.from_message(path, "must be a JSON object")
        self.value: dict[str, Any] = value
        self.path = path

    def has(self, name: str) -> bool:
        """The element is present (and not null)."""
        return self.value.get(name) is not None

    def node(self, name: str) -> Node | None:
        """A child object, or None when absent."""
        return Node(self.value[name], f"{self.path}.{name}") if self.has(name) else None

    def nodes(self, name: str) -> list[Node]:
        """A child array of objects (absent: empty)."""
        items = self.value.get(name)
        if items is None:
            return []
        if not isinstance(items, list):
            raise InvalidEvent.from_message(f"{self.path}.{name}", "must be an array")
        return [Node(item, f"{self.path}.{name}[{i}]") for i, item in enumerate(items)]

    def text(self, name: str) -> str | None:
        """A string child, or None when absent."""
        value = self.value.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise InvalidEvent.from_message(f"{self.path}.{name}", "must be a non-empty string")
        return value

    def codings(self, name: str) -> list[tuple[str | None, str | None]]:
        """(system, code) of a Coding, a CodeableConcept or an array of either."""
        value = self.value.get(name)
        items = value if isinstance(value, list) else [] if value is None else [value]
        found = []
        for i, item in enumerate(items):
            node = Node(item, f"{self.path}.{name}" + (f"[{i}]" if isinstance(value, list) else ""))
            codings = node.nodes("coding") if node.has("coding") else [node]
            found += [(c.text("system"), c.text("code")) for c in codings]
        return found


def _require_read(ae: Node, version: str) -> None:
    code_at = "subtype" if version == "R4" else "code"
    if READ not in ae.codings(code_at):
        raise InvalidEvent.from_message(f"{ae.path}.{code_at}", "only a read (restful-interaction#read) is mapped")
    if (ae.text("action") or "R") != "R":
        raise InvalidEvent.from_message(f"{ae.path}.action", "only action R (read) is mapped to output.shown")
    if version == "R4":
        failed = (ae.text("outcome") or "0") != "0"
    else:
        outcome = ae.node("outcome")
        failed = outcome is not None and any(code != "0" for _, code in outcome.codings("code"))
    if failed:
        raise InvalidEvent.from_message(
            f"{ae.path}.outcome", "a failed read showed nothing: only success (0) is mapped"
        )


def _reference_id(ref: Node | None) -> str | None:
    """A Reference's identifier value, else its reference text."""
    if ref is None:
        return None
    ident = ref.node("identifier")
    value = ident.text("value") if ident is not None else None
    return value if value is not None else ref.text("reference")


def _user(ae: Node) -> str:
    users = []
    for agent in ae.nodes("agent"):
        requestor = agent.value.get("requestor")
        if requestor is not None and not isinstance(requestor, bool):
            raise InvalidEvent.from_message(f"{agent.path}.requestor", "must be true or false")
        if requestor is True:
            users.append(agent)
    if len(users) != 1:
        raise InvalidEvent.from_message(f"{ae.path}.agent", "exactly one agent must be the requestor (the user)")
    who = _reference_id(users[0].node("who"))
    if who is None:
        raise InvalidEvent.from_message(f"{users[0].path}.who", "the user needs an identifier or a reference")
    return who


def _output_of(entity: Node) -> str | None:
    what = entity.node("what")
    if what is None:
        return None
    ident = what.node("identifier")
    if ident is not None and ident.text("system") == OUTPUT_SYSTEM and ident.text("value"):
        return ident.text("value")
    kind, _, rid = (what.text("reference") or "").partition("/")
    return rid if kind in OUTPUT_TYPES and rid else None


def _output(ae: Node) -> tuple[str, Node]:
    found = [(o, e) for e in ae.nodes("entity") if (o := _output_of(e)) is not None]
    if len(found) != 1:
        raise InvalidEvent.from_message(
            f"{ae.path}.entity", "exactly one entity must be the AI output (an output identifier or an output resource)"
        )
    return found[0]


def _surface(entity: Node, observer: str | None) -> str:
    for detail in entity.nodes("detail"):
        kind = detail.value.get("type")
        name = kind.get("text") if isinstance(kind, dict) else kind
        if name == "surface":
            return detail.text("valueString") or observer or "unspecified"
    return observer or "unspecified"


def _shown_at(ae: Node, version: str) -> tuple[str, str]:
    candidates = ("period", "recorded") if version == "R4" else ("occurredDateTime", "occurredPeriod", "recorded")
    for name in candidates:
        if name in ("period", "occurredPeriod"):
            period = ae.node(name)
            start = period.text("start") if period is not None else None
            if start is not None:
                return start, f"{name}.start"
        elif (at := ae.text(name)) is not None:
            return at, name
    raise InvalidEvent.from_message(f"{ae.path}.recorded", "required")


def _key(ae: Node) -> str:
    value = ae.value.get("identifier")
    identifiers = ae.nodes("identifier") if isinstance(value, list) else [ae.node("identifier")] if value else []
    for ident in identifiers:
        if ident is not None and ident.text("value"):
            return f"{ident.text('system') or ''}|{ident.text('value')}"
    rid = ae.text("id")
    if rid is not None:
        return f"id|{rid}"
    raise InvalidEvent.from_message(f"{ae.path}.id", "an id (or identifier) is needed: it makes retries safe")


def batch_entries(raw: object, *, limit: int) -> list[tuple[str, object]]:
    """The AuditEvents of a batch (or transaction) Bundle, each with its location; InvalidEvent naming the element."""
    bundle = Node(raw, "Bundle")
    if bundle.value.get("resourceType") != "Bundle":
        raise InvalidEvent.from_message("Bundle.resourceType", "must be Bundle")
    if bundle.value.get("type") not in ("batch", "transaction"):
        raise InvalidEvent.from_message("Bundle.type", "must be batch or transaction (recorded all or nothing)")
    entries = bundle.nodes("entry")
    if not 1 <= len(entries) <= limit:
        raise InvalidEvent.from_message("Bundle.entry", f"must hold 1 to {limit} entries")
    found = []
    for entry in entries:
        request = entry.node("request")
        if request is not None and request.text("method") not in (None, "POST"):
            raise InvalidEvent.from_message(f"{entry.path}.request.method", "only POST (create) is taken")
        if not entry.has("resource"):
            raise InvalidEvent.from_message(f"{entry.path}.resource", "required")
        found.append((f"{entry.path}.resource", entry.value["resource"]))
    return found


def to_event(raw: object, *, source: str, root: str = "AuditEvent") -> Event:
    """The output.shown envelope of one AuditEvent sent under ``source``; InvalidEvent naming the element if not."""
    ae = Node(raw, root)
    if ae.value.get("resourceType") != "AuditEvent":
        raise InvalidEvent.from_message(f"{root}.resourceType", "must be AuditEvent")
    version = version_of(ae.value, root)
    check_elements(ae.value, version, root)
    _require_read(ae, version)
    clinician = _user(ae)
    output_id, entity = _output(ae)
    source_node = ae.node("source")
    if source_node is None:
        raise InvalidEvent.from_message(f"{root}.source", "required: the system that recorded the read")
    observer = _reference_id(source_node.node("observer"))
    at, at_path = _shown_at(ae, version)
    key = _key(ae)
    data = {"output_id": output_id, "clinician_id": clinician, "surface": _surface(entity, observer), "shown_at": at}
    envelope: dict[str, Any] = {
        "event_id": str(uuid.uuid5(_NAMESPACE, f"{source}\n{key}")),
        "type": "output.shown",
        "occurred_at": at,
        "source": source,
        "actor": {"id": observer or source, "role": ACTOR_ROLE, "kind": "system"},
        "data": data,
    }
    if ae.text("id") is not None:
        envelope["correlation_id"] = ae.text("id")
    try:
        return validate_event(envelope)
    except InvalidEvent as exc:
        places = {**_PLACES, "occurred_at": at_path, "data.shown_at": at_path}
        errors = {f"{root}.{places.get(e.loc, 'source.observer')}": e.msg for e in exc.errors}
        raise InvalidEvent([FieldError(loc, msg) for loc, msg in errors.items()]) from None


# Where each envelope field came from, for a catalogue refusal (times are placed per resource).
_PLACES: Final = {
    "data.output_id": "entity",
    "data.clinician_id": "agent",
    "data.surface": "entity.detail",
    "correlation_id": "id",
}
