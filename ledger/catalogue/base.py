"""The base of every model in the catalogue: strict, closed and immutable."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

# strict: no coercion ("1" is not 1, 1.5 is not an int, "true" is not true).
# extra="forbid": a misspelt field must fail, never be dropped silently.
# hide_input_in_errors: pydantic's own texts must not carry values (PHI) either.
MODEL_CONFIG = ConfigDict(
    strict=True,
    extra="forbid",
    frozen=True,
    hide_input_in_errors=True,
    allow_inf_nan=False,
    validate_default=False,
    revalidate_instances="never",
)


class DataModel(BaseModel):
    """The ``data`` of one event type at one schema version (or a part of it)."""

    model_config = MODEL_CONFIG

    # Set on the model of a type's data: the event type and version it describes.
    event_type: ClassVar[str] = ""
    schema_version: ClassVar[int] = 1

    def canonical(self) -> dict[str, Any]:
        """The JSON-ready form stored in canonical bytes (absent optional fields omitted)."""
        return self.model_dump(mode="json", exclude_none=True)
