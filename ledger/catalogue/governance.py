"""Governance decided before the first error: per-tool policies, response playbooks, and the steps taken.

A policy (``governance.policy_set``) answers a tool's five go-live questions:
what failure looks like, how it is detected, who reviews it, how quickly the
organisation intervenes, and how repeat harm is prevented. A playbook
(``governance.playbook_set``) names, per kind of error, the response steps
expected and their deadlines after awareness; for one tool, or for the whole
organisation. Policies change like everything else: a new event supersedes the
earlier one from its ``effective_from`` (else its ``occurred_at``) on.

Every answer is optional on purpose: a policy that leaves a question
unanswered is a governance gap the ledger records and the projections flag,
not an input error. A response step recorded late, or by someone other than
the role the playbook names, is a fact too.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from ledger.catalogue.base import DataModel
from ledger.catalogue.fields import Description, FreeText, Identifier, Timestamp
from ledger.catalogue.incidents import Category

# At most ten years, like every policy window (ledger.catalogue.fields.TIME_MAX).
Hours = Annotated[int, Field(ge=1, le=87_660, strict=True)]


class ExpectedStep(DataModel):
    """One response step a playbook expects, and its deadline after awareness."""

    step: Identifier  # clinical_review, escalation_analysis, threshold_reassessment, ... or the playbook's own
    due_hours: Hours  # the step is due this many hours after the incident's aware_at
    role: Identifier | None = None  # the role expected to take it (a step taken by another role is flagged)


class Response(DataModel):
    """The response a kind of error calls for: its steps, in order."""

    error_kind: Category  # the incident category the steps answer
    steps: Annotated[list[ExpectedStep], Field(min_length=1)]  # the expected steps


class FailureMode(DataModel):
    """A kind of error that matters for this tool, and what it means clinically."""

    error_kind: Category  # the incident category
    clinical_meaning: Description  # what this failure looks like for this tool


class Intervention(DataModel):
    """How quickly the organisation intervenes, counted from awareness of an incident."""

    review_start_hours: Hours  # the review starts (a reviewer is assigned) within this time
    first_step_hours: Hours | None = None  # the first response step is taken within this time
    remediation_days: Annotated[int, Field(ge=1, le=3_653, strict=True)] | None = None  # remediation done by then


class RepeatPrevention(DataModel):
    """What a remediation must show before it counts as effective."""

    required_evidence: Annotated[list[Identifier], Field(min_length=1)]  # e.g. post_fix_audit, monitoring_check
    description: Description | None = None  # the rule, as the committee wrote it


class GovernancePolicySet(DataModel):
    """The organisation's policy for one tool, answering the five go-live questions.

    Supersedes the tool's earlier policy from ``effective_from`` (else ``occurred_at``).
    ``responses`` replaces the playbook's steps for the kinds of error it lists.
    """

    event_type: ClassVar[str] = "governance.policy_set"

    policy_id: Identifier  # the policy's own reference, e.g. its committee paper
    tool_id: Identifier
    effective_from: Timestamp | None = None  # in force from then on (absent: from occurred_at)
    failure_modes: list[FailureMode] | None = None  # question 1: what failure looks like for this tool
    detection: list[Identifier] | None = None  # question 2: the monitoring and reporting routes
    review_owner: Identifier | None = None  # question 3: the clinical review owner
    intervention: Intervention | None = None  # question 4: how quickly the organisation intervenes
    repeat_prevention: RepeatPrevention | None = None  # question 5: how repeat harm is prevented
    acceptable_use: Description | None = None  # may differ from an approval's scope
    escalation_pathway: list[Identifier] | None = None  # the ordered roles a suspicious output goes to
    documentation: list[Identifier] | None = None  # what each incident's record must carry
    responses: list[Response] | None = None  # this tool's own playbook, by kind of error


class GovernancePlaybookSet(DataModel):
    """The response playbook: per kind of error, the steps expected and their deadlines.

    With ``tool_id``, for that tool; without, for every tool. Supersedes the
    earlier playbook of the same reach from ``effective_from`` (else ``occurred_at``).
    """

    event_type: ClassVar[str] = "governance.playbook_set"

    playbook_id: Identifier  # the playbook's own reference
    responses: Annotated[list[Response], Field(min_length=1)]  # by kind of error; kinds not listed keep theirs
    tool_id: Identifier | None = None  # absent: the organisation's playbook for every tool
    effective_from: Timestamp | None = None  # in force from then on (absent: from occurred_at)


class IncidentResponseStep(DataModel):
    """A response step was taken for an incident (a review, a reassessment, a training, ...)."""

    event_type: ClassVar[str] = "incident.response_step"

    incident_id: Identifier
    step: Identifier  # the kind of step, as the playbook names it
    performed_by: Identifier  # who took the step
    performed_by_role: Identifier | None = None  # their role, compared with the role the playbook expects
    performed_at: Timestamp | None = None  # when it was taken (else occurred_at)
    outcome: FreeText | None = None  # what the step found or decided
    evidence_refs: list[Identifier] | None = None  # event ids, documents, tickets the step rests on


TYPES: tuple[type[DataModel], ...] = (GovernancePolicySet, GovernancePlaybookSet, IncidentResponseStep)
