"""Receipt times: microseconds since the epoch as RFC 3339 UTC, exact to the microsecond."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.store.records import time_from_us

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "recorded_us",
    [0, 1, 999_999, 1_000_000, 1_764_480_000_123_456, 1_764_480_000_999_999, 191_173_426_757_999_993],
)
def test_a_recorded_time_prints_the_exact_microsecond_it_holds(recorded_us: int) -> None:
    expected = EPOCH + timedelta(microseconds=recorded_us)  # integer arithmetic, no float seconds
    assert time_from_us(recorded_us) == expected.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_late_in_a_second_does_not_round_into_the_next() -> None:
    assert time_from_us(191_173_426_757_999_993) == "8028-01-17T09:39:17.999993Z"
