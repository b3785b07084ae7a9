"""Time in the views: integer microseconds since the Unix epoch, UTC; RFC 3339 in answers.

The ledger computes with times from TIME_MIN (inclusive) to TIME_MAX (exclusive),
the catalogue's range (``ledger.catalogue.fields``). New events and query
parameters are held to it; an event stored before the rule may lie outside it,
so the queries test a stored time with :func:`computable` before adding a
deadline or window to it, and report the event instead of the arithmetic.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

from pydantic import TypeAdapter, ValidationError

from ledger.catalogue.fields import TIME_MAX, TIME_MAX_TEXT, TIME_MIN, TIME_MIN_TEXT, TIME_RANGE_MESSAGE, Timestamp
from projections.errors import InvalidQuery

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
_PLUS_AS_SPACE = re.compile(r" (\d{2}:\d{2})$", re.ASCII)
_QUERY_TIME: Final = TypeAdapter(Timestamp)
QUERY_TIME_MESSAGE: Final = "must be an RFC 3339 time with a UTC offset, e.g. 2026-04-08T02:14:07Z"
# Longer than any RFC 3339 time (35 characters with six fractional digits and an offset).
_QUERY_TIME_MAX_LENGTH: Final = 64


def to_us(moment: datetime) -> int:
    """An aware datetime as microseconds since the epoch (exact, no float rounding)."""
    return (moment - EPOCH) // _US


TIME_MIN_US: Final = to_us(TIME_MIN)
TIME_MAX_US: Final = to_us(TIME_MAX)
TIME_RANGE: Final = f"{TIME_MIN_TEXT} (inclusive) to {TIME_MAX_TEXT} (exclusive)"


class TimeOutOfRange(ValueError):
    """A stored time outside the range the ledger computes with; no deadline is counted from it."""

    def __init__(self) -> None:
        super().__init__(f"the time is outside the range the ledger computes with, {TIME_RANGE}")


def out_of_range(event_type: str, seq: int | None, field: str) -> str:
    """What to say of a stored event whose ``field`` is outside the range (fixed text: names the seq, not the value)."""
    where = event_type if seq is None else f"{event_type} at seq {seq}"
    return f"{where}: {field} is outside the range the ledger computes with, {TIME_RANGE}; nothing is counted from it"


def computable(us: int | None) -> bool:
    """True if ``us`` lies in the range the ledger computes with (deadlines and windows added to it cannot overflow)."""
    return us is not None and TIME_MIN_US <= us < TIME_MAX_US


def checked(us: int) -> int:
    """``us`` itself if :func:`computable`; TimeOutOfRange otherwise."""
    if not computable(us):
        raise TimeOutOfRange
    return us


def from_us(us: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime."""
    return EPOCH + timedelta(microseconds=us)


def iso(us: int | None) -> str | None:
    """Microseconds as the ledger's canonical UTC string (six fractional digits), or None."""
    if us is None:
        return None
    return from_us(us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_us(text: str) -> int:
    """A stored canonical timestamp (``...Z``) or any RFC 3339 time with an offset, as microseconds."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("timestamp without a UTC offset")
    return (moment - EPOCH) // _US  # to_us, inlined: a rebuild parses two million of these


def parse_query_time(text: str | None) -> int | None:
    """A query parameter as microseconds: RFC 3339 with an offset, in the catalogue's range.

    Raises ValueError with a fixed message (the rule broken, never the value).
    The catalogue's own Timestamp rules apply, so a query can ask about any
    moment an event may record, and about no other.
    """
    if text is None or text == "":
        return None
    if len(text) > _QUERY_TIME_MAX_LENGTH:
        raise ValueError(QUERY_TIME_MESSAGE)
    # A "+" in an unencoded query string arrives as a space: "...:07 01:00" means "...:07+01:00".
    candidate = _PLUS_AS_SPACE.sub(r"+\1", text.strip('"'))
    try:
        return to_us(_QUERY_TIME.validate_python(candidate))
    except ValidationError as exc:
        if any(error.get("msg") == TIME_RANGE_MESSAGE for error in exc.errors(include_input=False)):
            raise ValueError(TIME_RANGE_MESSAGE) from None
        raise ValueError(QUERY_TIME_MESSAGE) from None


def query_time(text: str | None, *, name: str) -> int | None:
    """A query parameter (RFC 3339 with an offset, in range) as microseconds; InvalidQuery naming ``name`` if not."""
    try:
        return parse_query_time(text)
    except ValueError as exc:
        raise InvalidQuery(f"{name} {exc}") from None


def now_us() -> int:
    """The wall clock in microseconds since the epoch."""
    return to_us(datetime.now(UTC))
