"""Local validation: how the tool performed on this site's own patients."""

from __future__ import annotations

from typing import ClassVar, Final, Literal, Self

from pydantic import ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from ledger.catalogue.base import DataModel
from ledger.catalogue.fields import (
    OWN_ERROR_PREFIX,
    Count,
    Fraction,
    Identifier,
    PositiveCount,
    Setting,
    Timestamp,
)


class Period(DataModel):
    """A closed interval of time; ``end`` is not before ``start``."""

    start: Timestamp
    end: Timestamp

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise PydanticCustomError(OWN_ERROR_PREFIX + "period", "end must not be before start")
        return self


_RATES: Final = ("sensitivity", "specificity", "ppv", "npv", "auroc")


class Metrics(DataModel):
    """Measured performance; at least one rate, and the number of cases it rests on."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": [rate]} for rate in _RATES]})

    n: PositiveCount
    sensitivity: Fraction | None = None
    specificity: Fraction | None = None
    ppv: Fraction | None = None
    npv: Fraction | None = None
    auroc: Fraction | None = None
    n_positive: Count | None = None

    @model_validator(mode="after")
    def _meaningful(self) -> Self:
        if all(getattr(self, rate) is None for rate in _RATES):
            raise PydanticCustomError(
                OWN_ERROR_PREFIX + "metrics", "at least one of " + ", ".join(_RATES) + " is required"
            )
        if self.n_positive is not None and self.n_positive > self.n:
            raise PydanticCustomError(OWN_ERROR_PREFIX + "metrics", "n_positive must not exceed n")
        return self


class ToolValidated(DataModel):
    """A local validation of the tool on one site, unit and population was completed."""

    event_type: ClassVar[str] = "tool.validated"

    tool_id: Identifier
    site: Identifier
    unit: Identifier
    population: Identifier
    data_period: Period
    metrics: Metrics
    result: Literal["passed", "failed"]
    validation_ref: Identifier | None = None
    version: Identifier | None = None  # the tool version validated
    threshold: Setting | None = None  # the operating point the rates were measured at


TYPES: tuple[type[DataModel], ...] = (ToolValidated,)
