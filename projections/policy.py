"""The hospital's own thresholds for governance checks and reliance metrics, in one place.

Every window is configurable per query (the API takes the same names as query
parameters); these are the defaults. Legal deadlines are not here: they are in
projections.regulatory_clocks.
"""

from __future__ import annotations

from dataclasses import dataclass

from projections.timefmt import DAY, HOUR, MINUTE, SECOND


@dataclass(frozen=True)
class Policy:
    """Windows and thresholds, in microseconds unless named otherwise."""

    # An output shown and not acted on within this window is "shown, never acted on".
    action_window_us: int = 60 * MINUTE
    # An acceptance faster than this after display counts as possible rubber-stamping.
    fast_acceptance_us: int = 10 * SECOND
    # Drift must be followed by an acknowledgement (review) or a suspension within this window.
    drift_response_us: int = 7 * DAY
    # A reportable incident's deadline is "near" within this time of it.
    deadline_warning_us: int = 48 * HOUR
    # Shifts for alert burden: length, and the hour (UTC) at which the first shift of a day starts.
    shift_hours: int = 12
    shift_start_hour: int = 7

    def shift_of(self, moment_us: int) -> int:
        """The number of the shift a moment falls in (consecutive shifts, consecutive numbers)."""
        return (moment_us - self.shift_start_hour * HOUR) // (self.shift_hours * HOUR)


DEFAULT_POLICY = Policy()
