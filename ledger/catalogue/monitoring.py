"""Post-deployment monitoring: metric checks and the humans who acknowledge them."""

from __future__ import annotations

from typing import ClassVar, Literal

from ledger.catalogue.base import DataModel
from ledger.catalogue.fields import Count, FreeText, Identifier, Number, Uuid
from ledger.catalogue.validation import Period


class MonitoringChecked(DataModel):
    """A monitoring job compared a metric over a window with its limit."""

    event_type: ClassVar[str] = "monitoring.checked"

    tool_id: Identifier
    metric: Identifier
    window: Period
    value: Number
    limit: Number
    status: Literal["ok", "drift"]
    site: Identifier | None = None
    unit: Identifier | None = None
    population: Identifier | None = None
    n: Count | None = None  # cases in the window


class MonitoringAcknowledged(DataModel):
    """A person or committee acknowledged a check and decided what to do."""

    event_type: ClassVar[str] = "monitoring.acknowledged"

    tool_id: Identifier
    check_event_id: Uuid  # the event_id of the monitoring.checked event
    decision: Literal["no_action", "review_requested", "tool_suspended"]
    comment: FreeText | None = None


TYPES: tuple[type[DataModel], ...] = (MonitoringChecked, MonitoringAcknowledged)
