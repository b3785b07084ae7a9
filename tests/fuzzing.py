"""The one way the suite's property-based tests run: the same cases every time, nothing kept on disk.

Each fuzz module derives its own profile from :data:`DETERMINISTIC`, adding only
how many examples it draws: ``settings(DETERMINISTIC, max_examples=N)``.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

DETERMINISTIC = settings(
    derandomize=True,  # the same cases on every run: a failure here is reproducible, never flaky
    database=None,  # nothing written to .hypothesis/ in the working tree
    deadline=None,  # machines here are shared: no case is failed for its time
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
