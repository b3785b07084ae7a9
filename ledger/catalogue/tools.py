"""Tool lifecycle: registration, approval, new versions, configuration, suspension, retirement.

A tool is one clinical AI product as deployed by the organisation (a triage,
imaging or deterioration-alert model). These events are governance facts: they
are kept for the life of the record and hold no patient data.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from ledger.catalogue.base import DataModel
from ledger.catalogue.fields import Description, Digest, FreeText, Identifier, Setting, Timestamp

NonEmptyIdentifiers = Annotated[list[Identifier], Field(min_length=1)]


class NotRegulated(DataModel):
    """The tool is not a regulated medical device (e.g. non-device CDS, research use)."""

    status: Literal["none"]
    basis: Description | None = None  # why not, e.g. "non-device CDS, FD&C Act 520(o)(1)(E)"


class RegulatedDevice(DataModel):
    """The tool is a medical device under one regime."""

    status: Literal["device"]
    regime: Literal["fda", "eu_mdr", "eu_ivdr", "eu_mdr_in_house", "uk_mdr", "other"]
    device_class: Identifier  # as the regime writes it: "II", "IIa", ...
    clearance_number: Identifier | None = None  # 510(k)/De Novo/PMA number, certificate id
    pccp_id: Identifier | None = None  # FDA predetermined change control plan, if authorised


RegulatoryStatus = Annotated[NotRegulated | RegulatedDevice, Field(discriminator="status")]


class ToolRegistered(DataModel):
    """A tool entered the organisation's inventory (before any approval)."""

    event_type: ClassVar[str] = "tool.registered"

    tool_id: Identifier
    name: Identifier
    vendor: Identifier
    version: Identifier
    intended_use: Description
    regulatory_status: RegulatoryStatus
    model_digest: Digest
    ai_act_risk: Literal["annex_i_device", "annex_iii", "not_high_risk", "undetermined"] | None = None
    clinical_owner: Identifier | None = None
    model_card_ref: Identifier | None = None


class Scope(DataModel):
    """Where and for whom a tool may be used."""

    sites: NonEmptyIdentifiers
    units: NonEmptyIdentifiers
    populations: NonEmptyIdentifiers


class ToolApproved(DataModel):
    """A person or committee signed off use of the tool within a scope (21 CFR 11.50 meaning)."""

    event_type: ClassVar[str] = "tool.approved"

    tool_id: Identifier
    scope: Scope
    conditions: list[FreeText]
    signature_meaning: Literal["approval", "review", "responsibility", "authorship"]
    expires_at: Timestamp | None = None
    approval_ref: Identifier | None = None
    version: Identifier | None = None  # the tool version signed off
    approvers: list[Identifier] | None = None  # the signatories when the actor is a committee
    evidence_refs: list[Identifier] | None = None  # validation reports, event ids, minutes


class ToolUpdated(DataModel):
    """A new model version of the tool was deployed."""

    event_type: ClassVar[str] = "tool.updated"

    tool_id: Identifier
    version: Identifier
    model_digest: Digest
    change_summary: FreeText
    previous_version: Identifier | None = None
    within_pccp: bool | None = None  # covered by an authorised change control plan
    validation_ref: Identifier | None = None


class ToolThresholdChanged(DataModel):
    """A configuration parameter (threshold, cut-off, window) of the tool changed.

    ``approved_by`` is optional on purpose: a change nobody approved is a
    governance gap the ledger must record, not an input error.
    """

    event_type: ClassVar[str] = "tool.threshold_changed"

    tool_id: Identifier
    parameter: Identifier
    old_value: Setting | None = None  # absent when the parameter had no value before
    new_value: Setting
    reason: FreeText
    approved_by: Identifier | None = None
    change_ref: Identifier | None = None
    effective_at: Timestamp | None = None
    site: Identifier | None = None  # absent: every site
    unit: Identifier | None = None  # absent: every unit


class ToolSuspended(DataModel):
    """Use of the tool was stopped pending investigation or decision."""

    event_type: ClassVar[str] = "tool.suspended"

    tool_id: Identifier
    reason: FreeText
    incident_id: Identifier | None = None


class ToolReinstated(DataModel):
    """A suspended tool was put back into use."""

    event_type: ClassVar[str] = "tool.reinstated"

    tool_id: Identifier
    reason: FreeText


class ToolRetired(DataModel):
    """The tool was withdrawn from use for good."""

    event_type: ClassVar[str] = "tool.retired"

    tool_id: Identifier
    reason: FreeText


TYPES: tuple[type[DataModel], ...] = (
    ToolRegistered,
    ToolApproved,
    ToolUpdated,
    ToolThresholdChanged,
    ToolSuspended,
    ToolReinstated,
    ToolRetired,
)
