"""The envelope every event shares: identity, type and version, time, source, actor, data.

``Event`` is the validated form of one event. Each event type and schema
version has its own subclass whose ``data`` field is that type's model (built by
:func:`envelope_for`), so one pydantic call validates a whole event and one
``model_dump`` yields its canonical dict.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, Field, SerializeAsAny, create_model, model_validator
from pydantic_core import PydanticCustomError

from ledger.catalogue.base import MODEL_CONFIG, DataModel
from ledger.catalogue.fields import OWN_ERROR_PREFIX, Identifier, SourceId, Timestamp, Uuid
from ledger.proof.canonical import canonical_json

SchemaVersion = Annotated[int, Field(ge=1, strict=True)]


class Actor(DataModel):
    """Who did or decided what the event records: required on every event."""

    id: Identifier
    role: Identifier  # e.g. "attending_physician", "ai_governance_committee"
    kind: Literal["person", "system", "committee"]


class Event(BaseModel):
    """One validated event. Instances are immutable; build them with ``validate_event``."""

    model_config = MODEL_CONFIG

    event_id: Uuid  # chosen by the emitter: the idempotency key
    type: Identifier
    schema_version: SchemaVersion = 1
    occurred_at: Timestamp
    source: SourceId  # the emitting system
    actor: Actor
    data: SerializeAsAny[DataModel]  # each type's subclass narrows this to its model
    correlation_id: Identifier | None = None  # e.g. the EHR order or HL7 message id
    causation_id: Uuid | None = None  # the event_id of the event that caused this one

    @model_validator(mode="after")
    def _data_is_of_this_type(self) -> Self:
        # Guards an Event built by hand (not by validate_event) from pairing a
        # type with another type's data, which would store unreadable bytes.
        data = self.data
        if isinstance(data, DataModel) and (data.event_type, data.schema_version) != (
            self.type,
            self.schema_version,
        ):
            raise PydanticCustomError(
                OWN_ERROR_PREFIX + "envelope", "data is not of this event type and schema version"
            )
        return self

    def to_canonical_dict(self) -> dict[str, Any]:
        """The JSON-ready dict whose ``canonical_json`` bytes are the stored form."""
        return self.model_dump(mode="json", exclude_none=True)


class UntypedEvent(Event):
    """An envelope whose type is not (or not yet) known: used to report envelope defects."""

    data: dict[str, Any]  # type: ignore[assignment]


def envelope_for(model: type[DataModel], *, version: int) -> type[Event]:
    """The ``Event`` subclass for events whose ``data`` is ``model`` at ``version``."""
    return create_model(
        f"{model.__name__}EventV{version}",
        __base__=Event,
        __module__=__name__,
        data=(model, ...),
    )


def canonical_bytes(event: Event) -> bytes:
    """The stored form of ``event``: ``canonical_json(event.to_canonical_dict())``."""
    return canonical_json(event.to_canonical_dict())
