"""The ledger's privacy duties, recorded as facts: erasure, legal holds, reads of sensitive fields.

None of these events carries a clear patient identifier: subjects are named by
their keyed token (see ledger.privacy), the same token the sealed fields carry.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ledger.catalogue.base import DataModel
from ledger.catalogue.fields import OWN_ERROR_PREFIX, Count, FreeText, Identifier, Uuid

SubjectToken = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
SubjectKind = Literal["patient", "clinician", "person", "incident", "remediation", "tool", "event", "unknown"]


class SubjectErased(DataModel):
    """A subject's data key was destroyed: its sealed fields read as erased from now on."""

    event_type: ClassVar[str] = "subject.erased"

    subject: SubjectToken
    subject_kind: SubjectKind
    legal_basis: Identifier  # e.g. "gdpr_art17", "retention_policy", "hipaa_minimum_necessary"
    request_ref: Identifier | None = None


class LegalHoldPlaced(DataModel):
    """A legal hold: the named subject, or everything about the incident, must not be erased."""

    event_type: ClassVar[str] = "legal_hold.placed"

    hold_id: Identifier
    subject: SubjectToken | None = None
    incident_id: Identifier | None = None
    authority: Identifier  # who ordered it, e.g. "litigation_counsel"
    reference: Identifier | None = None  # the matter or case number
    reason: FreeText | None = None

    @model_validator(mode="after")
    def _has_target(self) -> Self:
        if (self.subject is None) == (self.incident_id is None):
            raise PydanticCustomError(OWN_ERROR_PREFIX + "hold", "exactly one of subject and incident_id is required")
        return self


class LegalHoldReleased(DataModel):
    """A legal hold ended; erasure is allowed again where no other hold applies."""

    event_type: ClassVar[str] = "legal_hold.released"

    hold_id: Identifier
    authority: Identifier
    reason: FreeText | None = None


class AccessRecorded(DataModel):
    """Someone read sensitive fields (IHE Basic Audit Log Patterns: who, what, why)."""

    event_type: ClassVar[str] = "access.recorded"

    reader: Identifier  # the API key id or the person
    reader_role: Identifier
    purpose: Identifier  # e.g. "incident_review", "legal_hold", "treatment"
    event_ids: list[Uuid] = Field(min_length=1, max_length=1000)
    fields: list[Identifier] = Field(min_length=1, max_length=50)


class MasterKeyRotated(DataModel):
    """Every subject's data key was rewrapped under a new master key; no event was rewritten."""

    event_type: ClassVar[str] = "ledger.master_key_rotated"

    old_key_id: Identifier
    new_key_id: Identifier
    keys_rewrapped: Count


TYPES: tuple[type[DataModel], ...] = (
    SubjectErased,
    LegalHoldPlaced,
    LegalHoldReleased,
    AccessRecorded,
    MasterKeyRotated,
)
