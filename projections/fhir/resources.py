"""One ledger event as FHIR resources, in R4 (valid for R4 and R4B) or R5.

Each builder takes a ``Source`` (the event's view row, chain hash and emitting
system) and the bundle being built, and adds the resources the event becomes:

    tool.registered, tool.updated   Device (HL7 AI Transparency AI-Device: type Artificial-Intelligence)
    output.generated                RiskAssessment labelled AIAST + Provenance (AI device as author;
                                    a clinician who accepted it as verifier; the threshold in effect)
    output.shown                    AuditEvent, IHE BALP read (rest / read, user typed IRCP)
    output.acted                    AuditEvent coded with the ledger's event type, action and reason
    incident.reported               AdverseEvent (category, seriousness, harm, the AI device as suspect)
    any other event                 AuditEvent coded with the ledger's event type

Every resource carries the ledger identifier ``<seq>:<hash hex>`` (system
``urn:clinical-ai-ledger:event``): in ``identifier`` where the resource has one,
otherwise in an extension. Sensitive fields (patient references, free text) are
never in the views, so never in an export: a subject appears as withheld.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from projections.fhir import codes as c
from projections.timefmt import iso
from projections.views import EventRow

Version = Literal["R4", "R5"]
VERSIONS: Final = ("R4", "R5")
WITHHELD: Final = {"display": "withheld: the ledger seals patient references"}
_NAMESPACE: Final = uuid.UUID("6d1d3f1a-4c2b-5b8e-9f0a-2e7c1b4d8a61")


@dataclass(frozen=True)
class Source:
    """One ledger event as the export reads it: its view row, chain hash and emitting system."""

    row: EventRow
    hash: bytes
    source: str

    @property
    def ledger_id(self) -> dict[str, str]:
        """The Identifier linking a resource to this event: ``<seq>:<hash hex>``."""
        return {"system": c.LEDGER_EVENT, "value": f"{self.row.seq}:{self.hash.hex()}"}

    @property
    def at(self) -> str:
        """When the event took effect."""
        return str(iso(self.row.effective_us))

    @property
    def recorded(self) -> str:
        """When the ledger recorded it."""
        return str(iso(self.row.recorded_us))


@dataclass
class BundleBuilder:
    """The entries of one bundle, and what later entries refer to."""

    version: Version
    entries: list[dict[str, Any]] = field(default_factory=list)
    devices: dict[tuple[str, str], str] = field(default_factory=dict)  # (tool, version) -> fullUrl
    tools: dict[str, str] = field(default_factory=dict)  # tool -> its latest device's fullUrl
    outputs: dict[str, str] = field(default_factory=dict)  # output -> its RiskAssessment's fullUrl
    verifiers: dict[str, list[str]] = field(default_factory=dict)  # output -> clinicians who accepted it

    def add(self, kind: str, key: str, resource: dict[str, Any]) -> str:
        """Add a resource under a deterministic id; its fullUrl (``urn:uuid:...``)."""
        rid = str(uuid.uuid5(_NAMESPACE, f"{kind}:{key}"))
        full_url = f"urn:uuid:{rid}"
        self.entries.append({"fullUrl": full_url, "resource": {"resourceType": kind, "id": rid, **resource}})
        return full_url

    def bundle(self) -> dict[str, Any]:
        """The Bundle (type collection) of every entry added."""
        return {"resourceType": "Bundle", "type": "collection", "entry": self.entries}


def ref(full_url: str) -> dict[str, str]:
    """A Reference to an entry of the bundle."""
    return {"reference": full_url}


def ident(system: str, value: str) -> dict[str, dict[str, str]]:
    """A Reference by identifier (a person or system the bundle holds no resource for)."""
    return {"identifier": {"system": system, "value": value}}


def ledger_extension(src: Source) -> dict[str, Any]:
    """The ledger identifier as an extension, for resources without an identifier element."""
    return {"url": c.LEDGER_EVENT_EXTENSION, "valueIdentifier": src.ledger_id}


def add_device(b: BundleBuilder, src: Source, *, tool: str, version: str) -> str:
    """A Device for one version of an AI tool (HL7 AI Transparency AI-Device)."""
    facts = src.row.facts
    identifiers = [src.ledger_id, {"system": c.TOOL, "value": tool}]
    if facts.get("model_digest"):
        identifiers.append({"system": c.MODEL_DIGEST, "value": str(facts["model_digest"])})
    name = str(facts.get("name", tool))
    device_type = c.concept(c.AI_DEVICE_TYPE, c.ARTIFICIAL_INTELLIGENCE)
    resource: dict[str, Any] = {"identifier": identifiers, "status": "active"}
    if b.version == "R4":
        resource |= {"type": device_type, "deviceName": [{"name": name, "type": "user-friendly-name"}]}
    else:
        resource |= {"type": [device_type], "name": [{"value": name, "type": "user-friendly-name"}]}
    resource["version"] = [{"value": version}]
    if facts.get("vendor"):
        resource["manufacturer"] = str(facts["vendor"])
    full_url = b.add("Device", f"{tool}@{version}:{src.row.seq}", resource)
    b.devices[(tool, version)] = full_url
    b.tools[tool] = full_url
    return full_url


def device_of(b: BundleBuilder, src: Source, *, tool: str, version: str) -> str:
    """The Device of a tool version; made from this event when no registration or update named it."""
    known = b.devices.get((tool, version))
    return known if known is not None else add_device(b, src, tool=tool, version=version)


def add_output(b: BundleBuilder, src: Source) -> None:
    """output.generated: the AI-asserted RiskAssessment (AIAST) and its Provenance."""
    facts = src.row.facts
    output_id = str(facts["output_id"])
    device = device_of(b, src, tool=str(facts["tool_id"]), version=str(facts["model_version"]))
    assessment = {
        "meta": {"security": [c.coding(c.OBSERVATION_VALUE, c.AIAST)]},
        "identifier": [src.ledger_id, {"system": c.OUTPUT, "value": output_id}],
        "status": "final",
        "subject": WITHHELD,
        "occurrenceDateTime": src.at,
        "performer": ref(device),
        "prediction": [{"probabilityDecimal": facts["score"], "qualitativeRisk": {"text": str(facts["label"])}}],
    }
    target = b.add("RiskAssessment", output_id, assessment)
    b.outputs[output_id] = target
    agents: list[dict[str, Any]] = [
        {
            "type": c.concept(c.PROVENANCE_PARTICIPANT, "author"),
            "role": [c.concept(c.AI_DEVICE_TYPE, c.ARTIFICIAL_INTELLIGENCE)],
            "who": ref(device),
        }
    ]
    agents += [
        {"type": c.concept(c.PROVENANCE_PARTICIPANT, "verifier"), "who": ident(c.CLINICIAN, clinician)}
        for clinician in b.verifiers.get(output_id, [])
    ]
    threshold = facts.get("threshold_in_effect")
    extensions = [ledger_extension(src)]
    if threshold is not None:
        extensions.append({"url": c.THRESHOLD_EXTENSION, "valueString": str(threshold)})
    provenance = {
        "extension": extensions,
        "target": [ref(target)],
        "occurredDateTime": src.at,
        "recorded": src.recorded,
        "agent": agents,
    }
    # The AI Transparency guide's AI-Provenance carries AIAST in reason (R4); R5 renamed it authorization.
    aiast = c.concept(c.OBSERVATION_VALUE, c.AIAST)
    if b.version == "R4":
        provenance["reason"] = [aiast]
    else:
        provenance["authorization"] = [{"concept": aiast}]
    b.add("Provenance", output_id, provenance)


def output_entity(b: BundleBuilder, output_id: str) -> dict[str, Any]:
    """The AuditEvent entity for an output: its RiskAssessment, or its identifier if the bundle has none."""
    known = b.outputs.get(output_id)
    return {"what": ref(known) if known else ident(c.OUTPUT, output_id)}


def audit_event(
    b: BundleBuilder,
    src: Source,
    *,
    code: dict[str, str],
    category: dict[str, str] | None,
    action: str,
    agent: dict[str, Any],
    entities: list[dict[str, Any]],
) -> None:
    """An AuditEvent in the version's shape: R4 type/subtype/period, R5 category/code/occurred."""
    resource: dict[str, Any] = {"extension": [ledger_extension(src)], "action": action}
    if b.version == "R4":
        if category is not None:
            resource |= {"type": category, "subtype": [code]}
        else:
            resource["type"] = code
        resource |= {"period": {"start": src.at, "end": src.at}, "recorded": src.recorded, "outcome": "0"}
        agent = {**agent, "requestor": True}
    else:
        if category is not None:
            resource["category"] = [{"coding": [category]}]
        resource |= {"code": {"coding": [code]}, "occurredDateTime": src.at, "recorded": src.recorded}
        agent = {**agent, "requestor": True}
    resource["agent"] = [agent]
    resource["source"] = {"observer": ident(c.SOURCE, src.source)}
    if entities:
        resource["entity"] = entities
    b.add("AuditEvent", f"{src.row.seq}", resource)


def detail(b: BundleBuilder, name: str, value: str) -> dict[str, Any]:
    """An entity detail: R4 types it with a string, R5 with a CodeableConcept."""
    return {"type": name if b.version == "R4" else {"text": name}, "valueString": value}


def add_display(b: BundleBuilder, src: Source) -> None:
    """output.shown: IHE BALP read of the output by the clinician."""
    facts = src.row.facts
    user = {
        "type": c.concept(c.PARTICIPATION_TYPE, "IRCP"),
        "who": ident(c.CLINICIAN, str(facts["clinician_id"])),
    }
    entity = output_entity(b, str(facts["output_id"]))
    entity["detail"] = [detail(b, "surface", str(facts["surface"]))]
    audit_event(
        b,
        src,
        code=c.coding(c.RESTFUL_INTERACTION, "read"),
        category=c.coding(c.AUDIT_EVENT_TYPE, "rest"),
        action="R",
        agent=user,
        entities=[entity],
    )


def add_action(b: BundleBuilder, src: Source) -> None:
    """output.acted: who did what to the output, and the reason code."""
    facts = src.row.facts
    entity = output_entity(b, str(facts["output_id"]))
    details = [detail(b, "action", str(c.coding(c.ACTION, str(facts["action"]))["code"]))]
    if facts.get("reason_code"):
        details.append(detail(b, "reason_code", str(facts["reason_code"])))
    entity["detail"] = details
    audit_event(
        b,
        src,
        code=c.coding(c.EVENT_TYPE, "output.acted"),
        category=None,
        action="E",
        agent={"who": ident(c.CLINICIAN, str(facts["clinician_id"]))},
        entities=[entity],
    )


def add_incident(b: BundleBuilder, src: Source) -> None:
    """incident.reported: an AdverseEvent, the AI device as suspect entity."""
    facts = src.row.facts
    serious = facts.get("serious")
    resource: dict[str, Any] = {
        "actuality": "actual",
        "category": [c.concept(c.INCIDENT_CATEGORY, str(facts["category"]))],
        "subject": WITHHELD,
        "detected": str(facts.get("aware_at", src.at)),
        "recordedDate": src.recorded,
    }
    if serious is not None:
        resource["seriousness"] = c.concept(c.SERIOUSNESS, "serious" if serious else "non-serious")
    harm = c.concept(c.HARM, str(facts["harm"]))
    device = b.tools.get(str(facts.get("tool_id", "")))
    if b.version == "R4":
        resource |= {"identifier": src.ledger_id, "outcome": harm}
        if device:
            resource["suspectEntity"] = [{"instance": ref(device)}]
    else:
        resource |= {"identifier": [src.ledger_id], "status": "in-progress", "outcome": [harm]}
        if device:
            resource["suspectEntity"] = [{"instanceReference": ref(device)}]
    b.add("AdverseEvent", str(facts["incident_id"]), resource)


def add_governance(b: BundleBuilder, src: Source) -> None:
    """Any other event: an AuditEvent coded with the ledger's event type, the actor as agent."""
    row = src.row
    entities: list[dict[str, Any]] = []
    device = b.tools.get(row.tool_id or "")
    if device:
        entities.append({"what": ref(device)})
    if row.output_id:
        entities.append(output_entity(b, row.output_id))
    audit_event(
        b,
        src,
        code=c.coding(c.EVENT_TYPE, row.type),
        category=None,
        action="E",
        agent={"who": ident(c.ACTOR, row.actor_id)},
        entities=entities,
    )


def add_event(b: BundleBuilder, src: Source) -> None:
    """The resources one ledger event becomes (module docstring)."""
    row = src.row
    if row.type in ("tool.registered", "tool.updated"):
        add_device(b, src, tool=str(row.facts["tool_id"]), version=str(row.facts["version"]))
    elif row.type == "output.generated":
        add_output(b, src)
    elif row.type == "output.shown":
        add_display(b, src)
    elif row.type == "output.acted":
        add_action(b, src)
    elif row.type == "incident.reported":
        add_incident(b, src)
    else:
        add_governance(b, src)
