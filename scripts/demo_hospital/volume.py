"""The demo hospital at any volume: the same tools, staff, governance and incidents, with more care per day.

``events(seed, count)`` yields exactly ``count`` events in time order, the same
bytes for the same seed: first the hospital's governance and its five
incidents (told as in the demo), interleaved day by day with the six weeks of
care, each stream's daily volume multiplied so the whole reaches ``count``.
The anchor is fixed (not the moment of the run), so two runs agree.
Nothing is held in memory but one day of care.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final

from scripts.demo_hospital import SECTIONS
from scripts.demo_hospital.care import STREAMS, WEEKS, care, stream_day
from scripts.demo_hospital.story import Story, iso

ANCHOR: Final = datetime(2026, 11, 30, tzinfo=UTC)
DEMO_CARE_EVENTS: Final = 9450  # about what one scale of care adds over the six weeks (care.py)


def events(seed: int, count: int) -> Iterator[dict[str, Any]]:
    """Exactly ``count`` events of the hospital for ``seed`` (fewer only if ``count`` is below 1)."""
    if count < 1:
        return
    scale = max(1, count // DEMO_CARE_EVENTS)  # a round of care short of count: the rest comes from another
    told = _governance_and_incidents(seed)
    rng = random.Random(seed)  # noqa: S311 - a shape, not a secret
    counts = dict.fromkeys(range(len(STREAMS)), 0)
    emitted = 0
    while True:
        before = emitted
        for day in range(WEEKS * 7, 0, -1):
            story = Story(seed, ANCHOR, rng=rng)
            for n, stream in enumerate(STREAMS):
                counts[n] = stream_day(story, stream, day, counts[n], scale=scale)
            day_end = iso(story.at(day - 1))
            for event in _merge(told, story.ordered(), until=day_end):
                yield event
                emitted += 1
                if emitted == count:
                    return
        for event in told:  # whatever the story tells after the last day of care
            yield event
            emitted += 1
            if emitted == count:
                return
        told = []
        if emitted == before:
            return
        # Short of ``count`` (the daily volumes vary): the same weeks again, with more outputs and later ids.


def _governance_and_incidents(seed: int) -> list[dict[str, Any]]:
    story = Story(seed, ANCHOR)
    for section in SECTIONS:
        if section is not care:  # told day by day, at the volume asked for
            section(story)
    return story.ordered()


def _merge(told: list[dict[str, Any]], care: list[dict[str, Any]], *, until: str) -> Iterator[dict[str, Any]]:
    """The told events before ``until`` (removed from ``told``) and the day's care, in time order."""
    due = 0
    while due < len(told) and str(told[due]["occurred_at"]) < until:
        due += 1
    merged = sorted([*told[:due], *care], key=lambda e: str(e["occurred_at"]))
    del told[:due]
    yield from merged
