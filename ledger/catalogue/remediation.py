"""Remediation: the actions an incident review decided, and whether they worked."""

from __future__ import annotations

from typing import ClassVar, Literal

from ledger.catalogue.base import DataModel
from ledger.catalogue.fields import FreeText, Identifier, Timestamp


class RemediationPlanned(DataModel):
    """An action was planned in response to an incident."""

    event_type: ClassVar[str] = "remediation.planned"

    incident_id: Identifier
    remediation_id: Identifier
    action: FreeText
    owner: Identifier
    due_at: Timestamp
    strength: Literal["stronger", "intermediate", "weaker"] | None = None  # VA/NPSF action hierarchy
    measure: FreeText | None = None  # how effectiveness will be measured


class RemediationCompleted(DataModel):
    """A planned action was completed and its effect verified."""

    event_type: ClassVar[str] = "remediation.completed"

    remediation_id: Identifier
    verified_by: Identifier
    effective: bool
    incident_id: Identifier | None = None
    comment: FreeText | None = None


TYPES: tuple[type[DataModel], ...] = (RemediationPlanned, RemediationCompleted)
