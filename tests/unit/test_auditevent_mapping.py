"""The pure AuditEvent -> output.shown mapping (api.interop.auditevent): IHE BALP reads of an AI output are
placed field by field; anything it cannot place is refused naming the element (FHIRPath-like)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from api.interop.auditevent import to_event
from ledger.errors import InvalidEvent

DATA = Path(__file__).parents[1] / "testdata" / "fhir"


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return loaded


def test_balp_reads_in_r4_and_r5_map_who_what_and_when() -> None:
    """The user's identifier is the clinician, the output entity the output, the period start (R4) or
    occurredDateTime (R5) the time; the surface detail, else the observer, the surface."""
    r4 = to_event(example("balp-read-ai-output-r4"), source="ehr.epic-prod").to_canonical_dict()
    assert r4["type"] == "output.shown" and r4["source"] == "ehr.epic-prod"
    assert r4["data"] == {
        "output_id": "out-fhir-1",
        "clinician_id": "clin-alice",
        "surface": "ed_tracking_board",
        "shown_at": "2026-04-08T02:20:00.000000Z",
    }
    r5 = to_event(example("balp-read-ai-output-r5"), source="ehr.epic-prod").to_canonical_dict()
    assert (r5["data"]["clinician_id"], r5["data"]["shown_at"]) == ("clin-bob", "2026-04-08T02:21:00.000000Z")
    assert r5["data"]["surface"] == "Device/ex-device"


def test_the_event_id_is_the_auditevents_id_under_its_source() -> None:
    """The same AuditEvent gives the same event_id (retries append once); another source, another event_id."""
    raw = example("balp-read-ai-output-r4")
    assert to_event(raw, source="a").event_id == to_event(copy.deepcopy(raw), source="a").event_id
    assert to_event(raw, source="a").event_id != to_event(raw, source="b").event_id


def _set(path: str, value: Any) -> Any:
    def change(raw: dict[str, Any]) -> None:
        node: Any = raw
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is KeyError:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value

    return change


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        (_set("action", "C"), "AuditEvent.action"),
        (
            _set("subtype", [{"system": "http://hl7.org/fhir/restful-interaction", "code": "vread"}]),
            "AuditEvent.subtype",
        ),
        (_set("outcome", "8"), "AuditEvent.outcome"),
        (_set("agent.2.requestor", False), "AuditEvent.agent"),
        (_set("agent.2.requestor", "yes"), "AuditEvent.agent[2].requestor"),
        (_set("agent.2.who", {"display": "John Smith"}), "AuditEvent.agent[2].who"),
        (_set("agent", {"who": "x"}), "AuditEvent.agent"),
        (_set("entity.1.what", {"reference": "List/ex-list"}), "AuditEvent.entity"),
        (_set("entity.0.what", {"reference": "RiskAssessment/other"}), "AuditEvent.entity"),
        (_set("purposeOfUse", []), "AuditEvent.purposeOfUse"),
        (_set("id", KeyError), "AuditEvent.id"),
        (_set("period", {"start": "2026-04-08"}), "AuditEvent.period.start"),
        (_set("source", KeyError), "AuditEvent.source"),
        (_set("code", {"coding": []}), "AuditEvent.type"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_what_the_mapping_cannot_place_is_refused_naming_the_element(change: Any, expression: str) -> None:
    """Another action or interaction, a failed read, no single requestor or its identifier, no single output
    entity, an element of another version, no id, a date without time, no source: InvalidEvent at the element."""
    raw = example("balp-read-ai-output-r4")
    change(raw)
    with pytest.raises(InvalidEvent) as refused:
        to_event(raw, source="ehr.epic-prod")
    assert [e.loc for e in refused.value.errors] == [expression]


def test_the_published_balp_example_is_refused_for_its_display_only_user() -> None:
    """BALP's ex-auditBasicReadServer names its user by display name only: no clinician identifier to record."""
    with pytest.raises(InvalidEvent, match=r"AuditEvent\.agent\[2\]\.who"):
        to_event(example("balp-read-server-unmodified-r4"), source="ehr.epic-prod")
