"""Incidents: report, classification, review, external reporting, closure.

Vocabulary: the categories are the failure modes of clinical AI tools; harm is
the AHRQ Common Formats harm scale (v1.2, LOINC 74560-4, which includes
"unknown"); root causes follow the contributing-factor groups of an RCA2 review;
regimes are the reporting duties whose clocks start at ``aware_at``.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from ledger.catalogue.base import DataModel
from ledger.catalogue.fields import FreeText, Identifier, SubjectRef, Timestamp

Category = Literal[
    "false_negative",
    "false_positive",
    "misprioritization",
    "faulty_recommendation",
    "workflow_amplification",
]
Harm = Literal["death", "severe_harm", "moderate_harm", "mild_harm", "no_harm", "unknown"]
RootCause = Literal[
    "workflow_design",
    "human_factors",
    "interface_design",
    "governance",
    "monitoring",
    "model_performance",
    "data_quality",
]


class IncidentReported(DataModel):
    """Someone became aware of a possible AI-related patient-safety event.

    ``serious`` absent means not yet determined; ``widespread`` absent means
    not widespread. Later determinations are ``incident.classified`` events.
    """

    event_type: ClassVar[str] = "incident.reported"

    incident_id: Identifier
    category: Category
    output_ids: list[Identifier]
    harm: Harm
    aware_at: Timestamp
    description: FreeText
    patient_ref: SubjectRef | None = None  # absent for an unsafe condition with no patient
    tool_id: Identifier | None = None
    safety_event_type: Literal["incident", "near_miss", "unsafe_condition"] | None = None
    serious: bool | None = None
    widespread: bool | None = None


class IncidentClassified(DataModel):
    """The incident was (re)classified: harm and the facts that set reporting deadlines.

    Harm ratings disagree between raters, so a re-rating is a new event, never an edit.
    """

    event_type: ClassVar[str] = "incident.classified"

    incident_id: Identifier
    harm: Harm
    category: Category | None = None
    serious: bool | None = None
    widespread: bool | None = None
    rationale: FreeText | None = None


class IncidentAssigned(DataModel):
    """A reviewer was assigned to the incident."""

    event_type: ClassVar[str] = "incident.assigned"

    incident_id: Identifier
    reviewer: Identifier
    due_at: Timestamp | None = None


class IncidentReviewed(DataModel):
    """A review (e.g. RCA2) of the incident was completed."""

    event_type: ClassVar[str] = "incident.reviewed"

    incident_id: Identifier
    findings: FreeText
    root_causes: list[RootCause]  # may be empty: no system cause found
    reviewers: Annotated[list[Identifier], Field(min_length=1)]
    causal_statements: list[FreeText] | None = None


class IncidentReportedExternally(DataModel):
    """The incident was reported to an authority or manufacturer."""

    event_type: ClassVar[str] = "incident.reported_externally"

    incident_id: Identifier
    regime: Literal["eu_ai_act_art73", "eu_mdr_art87", "fda_mdr", "other"]
    authority: Identifier
    reference: Identifier | None = None  # the authority's number, once issued
    reported_at: Timestamp | None = None
    report_kind: Literal["initial", "follow_up", "final"] | None = None


class IncidentClosed(DataModel):
    """The incident was closed."""

    event_type: ClassVar[str] = "incident.closed"

    incident_id: Identifier
    outcome: Literal["remediated", "no_action_needed", "not_ai_related", "duplicate"]
    summary: FreeText


TYPES: tuple[type[DataModel], ...] = (
    IncidentReported,
    IncidentClassified,
    IncidentAssigned,
    IncidentReviewed,
    IncidentReportedExternally,
    IncidentClosed,
)
