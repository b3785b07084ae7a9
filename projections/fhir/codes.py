"""The code systems the FHIR export names, and the codes it takes from each.

Systems published by HL7 and IHE are named by their canonical URL; the ledger's
own vocabularies (event types, actions, incident categories and harms) by a URN
under ``urn:clinical-ai-ledger:``. ``CODES`` lists, for every system the export
uses in a Coding, the codes it may take from it: tests check each Coding of an
exported bundle against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ledger.catalogue import EVENT_TYPES
from projections.queries.incidents import CATEGORIES, HARMS

# HL7 v3 ObservationValue: AIAST = "artificial intelligence asserted" (HL7 AI Transparency on FHIR).
OBSERVATION_VALUE: Final = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
AIAST: Final = "AIAST"
AI_DEVICE_TYPE: Final = "http://hl7.org/fhir/uv/aitransparency/CodeSystem/AIdeviceTypeCS"
ARTIFICIAL_INTELLIGENCE: Final = "Artificial-Intelligence"
# IHE BALP's read pattern: type rest, subtype read, the user agent typed IRCP.
AUDIT_EVENT_TYPE: Final = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION: Final = "http://hl7.org/fhir/restful-interaction"
PARTICIPATION_TYPE: Final = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
PROVENANCE_PARTICIPANT: Final = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
SERIOUSNESS: Final = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"

# The ledger's own systems.
EVENT_TYPE: Final = "urn:clinical-ai-ledger:event-type"
ACTION: Final = "urn:clinical-ai-ledger:action"
INCIDENT_CATEGORY: Final = "urn:clinical-ai-ledger:incident-category"
HARM: Final = "urn:clinical-ai-ledger:harm"
# Identifier systems (values, not codes): the ledger event (seq and hash), tools, people and systems.
LEDGER_EVENT: Final = "urn:clinical-ai-ledger:event"
TOOL: Final = "urn:clinical-ai-ledger:tool"
OUTPUT: Final = "urn:clinical-ai-ledger:output"
INCIDENT: Final = "urn:clinical-ai-ledger:incident"
ACTOR: Final = "urn:clinical-ai-ledger:actor"
CLINICIAN: Final = "urn:clinical-ai-ledger:clinician"
SOURCE: Final = "urn:clinical-ai-ledger:source"
MODEL_DIGEST: Final = "urn:clinical-ai-ledger:model-digest"
# Extensions: the ledger event of a resource with no identifier element, the threshold in effect.
LEDGER_EVENT_EXTENSION: Final = "urn:clinical-ai-ledger:fhir:StructureDefinition:ledger-event"
THRESHOLD_EXTENSION: Final = "urn:clinical-ai-ledger:fhir:StructureDefinition:threshold-in-effect"

ACTIONS: Final = ("accepted", "overridden", "dismissed", "escalated", "deferred")

CODES: Final[Mapping[str, frozenset[str]]] = {
    OBSERVATION_VALUE: frozenset({AIAST}),
    AI_DEVICE_TYPE: frozenset({ARTIFICIAL_INTELLIGENCE}),
    AUDIT_EVENT_TYPE: frozenset({"rest"}),
    RESTFUL_INTERACTION: frozenset({"read"}),
    PARTICIPATION_TYPE: frozenset({"IRCP"}),
    PROVENANCE_PARTICIPANT: frozenset({"author", "verifier"}),
    SERIOUSNESS: frozenset({"serious", "non-serious"}),
    EVENT_TYPE: frozenset(EVENT_TYPES),
    ACTION: frozenset(ACTIONS),
    INCIDENT_CATEGORY: frozenset(CATEGORIES),
    HARM: frozenset(HARMS),
}


def coding(system: str, code: str) -> dict[str, str]:
    """A Coding; ValueError for a code the system does not hold (the export never invents codes)."""
    if code not in CODES[system]:
        raise ValueError(f"code not in {system}")
    return {"system": system, "code": code}


def concept(system: str, code: str) -> dict[str, list[dict[str, str]]]:
    """A CodeableConcept of one Coding."""
    return {"coding": [coding(system, code)]}
