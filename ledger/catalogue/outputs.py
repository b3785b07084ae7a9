"""Per-output facts: what the tool said about a patient, who saw it, what they did.

Outputs are recorded whatever the state of the tool (unapproved, suspended) and
whoever saw or acted on them (trained or not): the ledger never cross-checks.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from ledger.catalogue.base import DataModel
from ledger.catalogue.fields import Digest, FreeText, Identifier, Number, Setting, SubjectRef, Timestamp


class OutputGenerated(DataModel):
    """The tool produced an output (score, label, priority) for one patient."""

    event_type: ClassVar[str] = "output.generated"

    output_id: Identifier
    tool_id: Identifier
    model_version: Identifier
    site: Identifier
    unit: Identifier
    population: Identifier
    patient_ref: SubjectRef
    encounter_ref: SubjectRef
    score: Number
    label: Identifier
    priority: Identifier
    threshold_in_effect: Setting
    explanation: FreeText | None = None
    input_digest: Digest | None = None
    model_digest: Digest | None = None  # binds the output to the exact model bytes


class OutputShown(DataModel):
    """An output was displayed to a clinician (FHIR AuditEvent action R)."""

    event_type: ClassVar[str] = "output.shown"

    output_id: Identifier
    clinician_id: Identifier
    surface: Identifier  # where: "ed_tracking_board", "pacs_worklist", ...
    shown_at: Timestamp
    ui_version: Identifier | None = None


class OutputActed(DataModel):
    """A clinician responded to an output.

    ``acted_at`` is optional and, when absent, the action happened at the
    envelope's ``occurred_at``; it is not filled in. "Ignored" is not an action:
    it is derived from an output shown and never acted on.
    """

    event_type: ClassVar[str] = "output.acted"

    output_id: Identifier
    clinician_id: Identifier
    action: Literal["accepted", "overridden", "dismissed", "escalated", "deferred"]
    reason_code: Identifier | None = None  # an override without a reason is a fact too
    comment: FreeText | None = None
    acted_at: Timestamp | None = None
    escalated_to: Identifier | None = None


TYPES: tuple[type[DataModel], ...] = (OutputGenerated, OutputShown, OutputActed)
