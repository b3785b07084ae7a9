"""Clinician competence: who was trained to use which tool (AI Act Art. 4, 26(2))."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import model_validator
from pydantic_core import PydanticCustomError

from ledger.catalogue.base import DataModel
from ledger.catalogue.fields import OWN_ERROR_PREFIX, Identifier, Timestamp


class ClinicianTrained(DataModel):
    """A clinician completed the training curriculum for a tool."""

    event_type: ClassVar[str] = "clinician.trained"

    clinician_id: Identifier
    tool_id: Identifier
    curriculum_version: Identifier
    completed_at: Timestamp
    expires_at: Timestamp | None = None
    clinician_role: Identifier | None = None  # e.g. "emergency_nurse"
    assessed_by: Identifier | None = None

    @model_validator(mode="after")
    def _expiry_after_completion(self) -> Self:
        if self.expires_at is not None and self.expires_at < self.completed_at:
            raise PydanticCustomError(OWN_ERROR_PREFIX + "period", "expires_at must not be before completed_at")
        return self


TYPES: tuple[type[DataModel], ...] = (ClinicianTrained,)
