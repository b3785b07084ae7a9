"""Typed helpers, one per event type of the catalogue: ``client.output_shown(data, actor=...)``.

Each takes the type's data model from ledger.catalogue (or a plain mapping)
and the envelope's keywords; a test checks that every catalogue type has one,
except the ledger's own control types, which no key may append
(ledger.catalogue.control).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, Unpack

from pydantic import BaseModel

from ledger.catalogue.clinicians import ClinicianTrained
from ledger.catalogue.governance import GovernancePlaybookSet, GovernancePolicySet, IncidentResponseStep
from ledger.catalogue.incidents import (
    IncidentAssigned,
    IncidentClassified,
    IncidentClosed,
    IncidentReported,
    IncidentReportedExternally,
    IncidentReviewed,
)
from ledger.catalogue.monitoring import MonitoringAcknowledged, MonitoringChecked
from ledger.catalogue.outputs import OutputActed, OutputGenerated, OutputShown
from ledger.catalogue.remediation import RemediationCompleted, RemediationPlanned
from ledger.catalogue.tools import (
    ToolApproved,
    ToolRegistered,
    ToolReinstated,
    ToolRetired,
    ToolSuspended,
    ToolThresholdChanged,
    ToolUpdated,
)
from ledger.catalogue.validation import ToolValidated
from ledger.client.receipts import Receipt


class Envelope(TypedDict, total=False):
    """The envelope's keywords (all optional: defaults come from the client)."""

    actor: Mapping[str, str] | BaseModel
    occurred_at: str
    source: str
    event_id: str
    schema_version: int
    correlation_id: str
    causation_id: str


class TypedEmitters:
    """Mixed into LedgerClient, which provides ``emit``."""

    def emit(self, event_type: str, data: Mapping[str, Any] | BaseModel, **envelope: Any) -> Receipt:
        """Build one event and append it (implemented by LedgerClient)."""
        raise NotImplementedError

    def tool_registered(self, data: ToolRegistered | Mapping[str, Any], **envelope: Unpack[Envelope]) -> Receipt:
        """Append a ``tool.registered`` event."""
        return self.emit("tool.registered", data, **envelope)

    def tool_approved(self, data: ToolApproved | Mapping[str, Any], **envelope: Unpack[Envelope]) -> Receipt:
        """Append a ``tool.approved`` event."""
        return self.emit("tool.approved", data, **envelope)

    def tool_updated(self, data: ToolUpdated | Mapping[str, Any], **envelope: Unpack[Envelope]) -> Receipt:
        """Append a ``tool.updated`` event."""
        return self.emit("tool.updated", data, **envelope)

    def tool_threshold_changed(
        self, data: ToolThresholdChanged | Mapping[str, Any], **envelope: Unpack[Envelope]
    ) -> Receipt:
        """Append a ``tool.threshold_changed`` event."""
        return self.emit("tool.threshold_changed", data, **envelope)

    def tool_suspended(self, data: ToolSuspended | Mapping[str, Any], **envelope: Unpack[Envelope]) -> Receipt:
        """Append a ``tool.suspended`` event."""
        return self.emit("tool.suspended", data, **envelope)

    def tool_reinstated(self, data: ToolReinstated | Mapping[str, Any], **envelope: Unpack[Envelope]) -> Receipt:
        """Append a ``tool.reinstated`` event."""
        return self.emit("tool.reinstated", data, **envelope)

    def tool_retired(self, data: ToolRetired | Mapping[str, Any], **envelope: Unpack[Envelope]) -> Receipt:
        """Append a ``tool.retired`` event."""
        return self.emit("tool.retired", data, **envelope)

    def tool_validated(self, data: ToolValidated | Mapping[str, Any], **envelope: Unpack[Envelope]) -> Receipt:
        """Append a ``tool.validated`` event."""
        return self.emit("tool.validated", data, **envelope)

    def clinician_trained(self, data: ClinicianTrained | Mapping[str, Any], **envelope: Unpack[Envelope]) -> Receipt:
        """Append a ``clinician.trained`` event."""
        return self.emit("clinician.trained", data, **envelope)

    def output_generated(self, data: OutputGenerated | Mapping[str, Any], **envelope: Unpack[Envelope]) -> Receipt:
        """Append a ``output.generated`` event."""
        return self.emit("output.generated", data, **envelope)

    def output_shown(self, data: OutputShown | Mapping[str, Any], **envelope: Unpack[Envelope]) -> Receipt:
        """Append a ``output.shown`` event."""
        return self.emit("output.shown", data, **envelope)

    def output_acted(self, data: OutputActed | Mapping[str, Any], **envelope: Unpack[Envelope]) -> Receipt:
        """Append a ``output.acted`` event."""
        return self.emit("output.acted", data, **envelope)

    def monitoring_checked(self, data: MonitoringChecked | Mapping[str, Any], **envelope: Unpack[Envelope]) -> Receipt:
        """Append a ``monitoring.checked`` event."""
        return self.emit("monitoring.checked", data, **envelope)

    def monitoring_acknowledged(
        self, data: MonitoringAcknowledged | Mapping[str, Any], **envelope: Unpack[Envelope]
    ) -> Receipt:
        """Append a ``monitoring.acknowledged`` event."""
        return self.emit("monitoring.acknowledged", data, **envelope)

    def incident_reported(self, data: IncidentReported | Mapping[str, Any], **envelope: Unpack[Envelope]) -> Receipt:
        """Append a ``incident.reported`` event."""
        return self.emit("incident.reported", data, **envelope)

    def incident_classified(
        self, data: IncidentClassified | Mapping[str, Any], **envelope: Unpack[Envelope]
    ) -> Receipt:
        """Append a ``incident.classified`` event."""
        return self.emit("incident.classified", data, **envelope)

    def incident_assigned(self, data: IncidentAssigned | Mapping[str, Any], **envelope: Unpack[Envelope]) -> Receipt:
        """Append a ``incident.assigned`` event."""
        return self.emit("incident.assigned", data, **envelope)

    def incident_reviewed(self, data: IncidentReviewed | Mapping[str, Any], **envelope: Unpack[Envelope]) -> Receipt:
        """Append a ``incident.reviewed`` event."""
        return self.emit("incident.reviewed", data, **envelope)

    def incident_reported_externally(
        self, data: IncidentReportedExternally | Mapping[str, Any], **envelope: Unpack[Envelope]
    ) -> Receipt:
        """Append a ``incident.reported_externally`` event."""
        return self.emit("incident.reported_externally", data, **envelope)

    def incident_closed(self, data: IncidentClosed | Mapping[str, Any], **envelope: Unpack[Envelope]) -> Receipt:
        """Append a ``incident.closed`` event."""
        return self.emit("incident.closed", data, **envelope)

    def remediation_planned(
        self, data: RemediationPlanned | Mapping[str, Any], **envelope: Unpack[Envelope]
    ) -> Receipt:
        """Append a ``remediation.planned`` event."""
        return self.emit("remediation.planned", data, **envelope)

    def remediation_completed(
        self, data: RemediationCompleted | Mapping[str, Any], **envelope: Unpack[Envelope]
    ) -> Receipt:
        """Append a ``remediation.completed`` event."""
        return self.emit("remediation.completed", data, **envelope)

    def governance_policy_set(
        self, data: GovernancePolicySet | Mapping[str, Any], **envelope: Unpack[Envelope]
    ) -> Receipt:
        """Append a ``governance.policy_set`` event."""
        return self.emit("governance.policy_set", data, **envelope)

    def governance_playbook_set(
        self, data: GovernancePlaybookSet | Mapping[str, Any], **envelope: Unpack[Envelope]
    ) -> Receipt:
        """Append a ``governance.playbook_set`` event."""
        return self.emit("governance.playbook_set", data, **envelope)

    def incident_response_step(
        self, data: IncidentResponseStep | Mapping[str, Any], **envelope: Unpack[Envelope]
    ) -> Receipt:
        """Append a ``incident.response_step`` event."""
        return self.emit("incident.response_step", data, **envelope)
