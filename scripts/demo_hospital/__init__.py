"""The demo hospital: two sites, five AI tools, six weeks of care, and the five kinds of AI error.

Northside General and Riverside Community run SepsisWatch, LungFlag CXR,
TriageIQ, the Deterioration Index and NoteDraft. The story (governance.py,
care.py, incidents.py) plants the gaps a ledger should find among several
thousand ordinary events, and one tool (LungFlag CXR) where every check holds.

``build(seed, anchor)`` tells the story as events; SECTIONS is its table of
contents. To add a part of the story (say, governance policies and playbooks),
write a function ``section(story: Story) -> None`` in its own module and add it
to SECTIONS: its events are dated with ``story.at(days_before_the_anchor)`` and
named with ``story.add(name, ...)``, which makes their ids stable.

Every time is relative to the anchor, the moment of the first load; a later
load finds the anchor in the ledger (the first registration's time) and tells
the same story with the same bytes, so it appends nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from scripts.demo_hospital.care import care
from scripts.demo_hospital.governance import GOVERNANCE_SECTIONS
from scripts.demo_hospital.incidents import INCIDENT_SECTIONS
from scripts.demo_hospital.policies import POLICY_SECTIONS, RESPONSE_SECTIONS
from scripts.demo_hospital.story import Story, event_id

DEFAULT_SEED: Final = 2026
ANCHOR_EVENT: Final = "registered/sepsis-watch"  # told first, dated ANCHOR_DAYS before the anchor
ANCHOR_DAYS: Final = 200

SECTIONS: Final[tuple[Callable[[Story], None], ...]] = (
    *GOVERNANCE_SECTIONS,
    *POLICY_SECTIONS,
    care,
    *INCIDENT_SECTIONS,
    *RESPONSE_SECTIONS,  # after the incidents: the steps cite their events
)


def build(seed: int, anchor: datetime) -> list[dict[str, Any]]:
    """Every event of the demo for ``seed``, dated relative to ``anchor``, in time order."""
    story = Story(seed, anchor)
    for section in SECTIONS:
        section(story)
    return story.ordered()


def anchor_event_id(seed: int) -> str:
    """The id of the event whose time fixes the anchor."""
    return event_id(seed, ANCHOR_EVENT)


def anchor_from(recorded_occurred_at: str | None, *, now: datetime | None = None) -> datetime:
    """The anchor: from the anchor event already recorded, else now (to the minute)."""
    if recorded_occurred_at is not None:
        recorded = datetime.fromisoformat(recorded_occurred_at.replace("Z", "+00:00"))
        return recorded + timedelta(days=ANCHOR_DAYS)
    moment = now or datetime.now(UTC)
    return moment.replace(second=0, microsecond=0)
