"""Several weeks of care: outputs generated, shown to a clinician, and acted on (or not).

Each stream is one tool on one unit, with its own volume and its own staff's
habits: the ICU accepts most sepsis alerts, the ED dismisses half of them;
Ward 4B is flooded by the Deterioration Index for a week; one ED nurse accepts
TriageIQ's suggestion seconds after it appears; LungFlag's radiologists act on
every flag within the hour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from scripts.demo_hospital.cast import (
    ADULTS,
    CHILDREN,
    CXR,
    DETERIORATION,
    DOC_ASSIST,
    ED_N,
    ED_R,
    ED_TRIAGE,
    EHR,
    FAST_ACCEPTER,
    ICU_N,
    MED_N,
    MED_R,
    RAD_N,
    RAD_R,
    SEPSIS,
    WARD_N,
    Tool,
)
from scripts.demo_hospital.governance import SUSPENDED_DAY, threshold_of
from scripts.demo_hospital.story import Story, event_id, iso

WEEKS: Final = 6
FLOOD: Final = (12.0, 6.0)  # days before the anchor: Ward 4B's alert flood
LAST_HOURS: Final = 2.0  # no output in the last hours before the anchor: every action window has closed
PATIENTS_PER_SITE: Final = 1200
MAX_LATENCY_S: Final = 50 * 60  # an action, when there is one, comes within the hour (the policy's window)
REASONS: Final = {
    "overridden": "clinical_judgement",
    "dismissed": "alert_not_actionable",
    "deferred": "awaiting_results",
}


@dataclass(frozen=True)
class Stream:
    """One tool's outputs on one unit: how many a day, who sees them, and what they do."""

    tool: Tool
    site: str
    unit: str
    population: str
    surface: str
    clinicians: tuple[str, ...]
    per_day: int
    actions: dict[str, float]  # action -> weight
    unanswered: float  # share of displays never acted on
    median_latency_s: float

    def per_day_at(self, day: float) -> int:
        """Outputs on the day ``day`` days before the anchor (the flood and the suspension change it)."""
        if self.tool is DETERIORATION:
            if FLOOD[1] < day <= FLOOD[0]:
                return self.per_day * 15
            if day <= SUSPENDED_DAY:
                return 2  # the integration kept sending after the suspension
        return self.per_day


def _weights(accepted: float, overridden: float, dismissed: float, escalated: float = 0.0) -> dict[str, float]:
    return {"accepted": accepted, "overridden": overridden, "dismissed": dismissed, "escalated": escalated}


STREAMS: Final = (
    Stream(SEPSIS, "northside", "icu", ADULTS, "icu_dashboard", ICU_N, 11, _weights(0.66, 0.18, 0.1, 0.06), 0.02, 240),
    Stream(SEPSIS, "northside", "ed", ADULTS, "ed_tracking_board", ED_N, 6, _weights(0.3, 0.15, 0.5, 0.05), 0.12, 420),
    Stream(CXR, "northside", "radiology", ADULTS, "pacs_worklist", RAD_N, 8, _weights(0.8, 0.2, 0.0), 0.0, 600),
    Stream(CXR, "riverside", "radiology", ADULTS, "pacs_worklist", RAD_R, 5, _weights(0.76, 0.24, 0.0), 0.0, 780),
    Stream(ED_TRIAGE, "northside", "ed", ADULTS, "triage_screen", ED_N, 10, _weights(0.72, 0.26, 0.02), 0.01, 90),
    Stream(ED_TRIAGE, "riverside", "ed", CHILDREN, "triage_screen", ED_R, 5, _weights(0.6, 0.38, 0.02), 0.02, 120),
    Stream(DETERIORATION, "northside", "ward-4b", ADULTS, "ward_banner", WARD_N, 8, _weights(0.35, 0.1, 0.55), 0.3,
           900),
    Stream(DOC_ASSIST, "northside", "medicine", ADULTS, "note_editor", MED_N, 6, _weights(0.55, 0.45, 0.0), 0.03, 300),
    Stream(DOC_ASSIST, "riverside", "medicine", ADULTS, "note_editor", MED_R, 4, _weights(0.5, 0.5, 0.0), 0.03, 300),
)  # fmt: skip


def care(story: Story) -> None:
    """Every stream's outputs, displays and actions over the weeks before the anchor."""
    for stream in STREAMS:
        _stream(story, stream)


def _stream(story: Story, stream: Stream) -> None:
    count = 0
    for day in range(WEEKS * 7, 0, -1):
        count = stream_day(story, stream, day, count)


def stream_day(story: Story, stream: Stream, day: int, count: int, *, scale: int = 1) -> int:
    """One stream's outputs on the day ``day`` days before the anchor, ``scale`` times the demo's volume.

    ``count``: the stream's outputs so far (their ids go on from it); returns the new count.
    """
    rng = story.rng
    for _ in range(max(0, stream.per_day_at(day) * scale + rng.randint(-2, 2))):
        days = day - rng.random()
        if days * 24 < LAST_HOURS:
            continue
        count += 1
        output_id = f"{stream.tool.tool_id}-{stream.site[:1]}{stream.unit[:3]}-{count:05d}"
        _output(story, stream, output_id, days)
    return count


def _output(story: Story, stream: Stream, output_id: str, days: float) -> None:
    rng = story.rng
    tool = stream.tool
    threshold = threshold_of(story, tool, days)
    score, label, priority = _reading(tool, threshold, rng.random())
    generated = generate(story, tool, output_id, days, where=(stream.site, stream.unit, stream.population),
                         reading=(score, label, priority))  # fmt: skip
    clinician = rng.choice(stream.clinicians)
    shown = generated + timedelta(seconds=rng.randint(2, 30))
    show(story, output_id, clinician, stream.surface, shown)
    if rng.random() < stream.unanswered:
        return
    action = rng.choices(list(stream.actions), weights=list(stream.actions.values()))[0]
    if clinician == FAST_ACCEPTER and tool is ED_TRIAGE:
        action, latency = ("accepted", rng.randint(2, 6)) if rng.random() < 0.95 else (action, 45)
    else:
        latency = min(MAX_LATENCY_S, max(8, round(rng.lognormvariate(math.log(stream.median_latency_s), 0.7))))
    escalated_to = rng.choice([c for c in stream.clinicians if c != clinician]) if action == "escalated" else None
    act(story, output_id, clinician, action, shown + timedelta(seconds=latency), escalated_to=escalated_to)


def generate(
    story: Story,
    tool: Tool,
    output_id: str,
    days: float,
    *,
    where: tuple[str, str, str],
    reading: tuple[float, str, str],
) -> datetime:
    """The tool scores one patient ``days`` before the anchor; the moment it did."""
    rng = story.rng
    generated = story.at(days)
    site, unit, population = where
    score, label, priority = reading
    story.add(
        f"out/{output_id}",
        "output.generated",
        generated,
        {"id": tool.source, "role": "inference_service", "kind": "system"},
        tool.source,
        {
            "output_id": output_id,
            "tool_id": tool.tool_id,
            "model_version": tool.version,
            "site": site,
            "unit": unit,
            "population": population,
            "patient_ref": _patient(story, site, rng.randrange(PATIENTS_PER_SITE)),
            "encounter_ref": f"Encounter/enc-{rng.getrandbits(40):010x}",
            "score": score,
            "label": label,
            "priority": priority,
            "threshold_in_effect": threshold_of(story, tool, days),
        },
    )
    return generated


def _patient(story: Story, site: str, number: int) -> str:
    """A patient's pseudonym (the same patient comes back: one sealing key each)."""
    return "Patient/pseud-" + event_id(story.seed, f"patient/{site}/{number}")[:13].replace("-", "")


def _reading(tool: Tool, threshold: float, draw: float) -> tuple[float, str, str]:
    """A score above the operating point (an alert), its label and priority."""
    if tool is DETERIORATION:
        return round(threshold + draw * 35, 1), "deterioration_risk_high", "urgent"
    score = round(threshold + draw * (0.99 - threshold), 3)
    labels = {
        SEPSIS.tool_id: ("sepsis_risk_high", "urgent"),
        CXR.tool_id: ("suspected_pneumothorax", "stat"),
        ED_TRIAGE.tool_id: ("esi_2", "high"),
        DOC_ASSIST.tool_id: ("discharge_summary_draft", "routine"),
    }
    label, priority = labels[tool.tool_id]
    return score, label, priority


def show(story: Story, output_id: str, clinician: str, surface: str, when: datetime) -> None:
    """The output appears on a clinician's screen."""
    story.add(
        f"shown/{output_id}",
        "output.shown",
        when,
        EHR,
        "epic-prod",
        {"output_id": output_id, "clinician_id": clinician, "surface": surface, "shown_at": iso(when)},
    )


def act(
    story: Story, output_id: str, clinician: str, action: str, when: datetime, *, escalated_to: str | None = None
) -> None:
    """The clinician responds to the output."""
    data = {"output_id": output_id, "clinician_id": clinician, "action": action, "acted_at": iso(when)}
    if action in REASONS:
        data["reason_code"] = REASONS[action]
    if escalated_to is not None:
        data["escalated_to"] = escalated_to
    story.add(f"acted/{output_id}", "output.acted", when, EHR, "epic-prod", data)
