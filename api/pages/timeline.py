"""An incident's timeline drawn as SVG on the server: one row per kind of event, a time axis, a mark per event.

Each kind has its own shape, its own row and the row's label (never colour
alone); each mark links to its event's page, with a tooltip (``<title>``)
saying what and when, and its seq is written above it (marks too close to be
labelled apart share one label: the first seq and how many more). ``draw`` takes the timeline's
entries and a time window: the whole history, or the window around the output
(``output_window``), which the incident page draws beside it as the zoom.
Tick labels come in two spellings, local (screen) and UTC (print), as every
time on the pages does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from projections.timefmt import parse_us

# kind: (label, shape, the event types it covers), in the rows' order
KINDS: Final[dict[str, tuple[str, str, tuple[str, ...]]]] = {
    "approval": ("Approval", "triangle-up", ("tool.approved",)),
    "tool": ("Tool change", "bar", ("tool.registered", "tool.updated", "tool.suspended", "tool.reinstated",
                                    "tool.retired")),
    "validation": ("Validation", "diamond", ("tool.validated",)),
    "training": ("Training", "square", ("clinician.trained",)),
    "threshold": ("Threshold change", "triangle-down", ("tool.threshold_changed",)),
    "monitoring": ("Monitoring", "ring", ("monitoring.checked", "monitoring.acknowledged")),
    "generated": ("Output generated", "disc", ("output.generated",)),
    "shown": ("Output shown", "square-open", ("output.shown",)),
    "acted": ("Acted on", "cross", ("output.acted",)),
    "incident": ("Incident", "star", ("incident.reported", "incident.classified", "incident.assigned")),
    "review": ("Review", "hexagon", ("incident.reviewed",)),
    "report": ("Report filed", "flag", ("incident.reported_externally",)),
    "remediation": ("Remediation", "plus", ("remediation.planned", "remediation.completed")),
}  # fmt: skip
_KIND_OF: Final = {t: kind for kind, (_, _, types) in KINDS.items() for t in types}

WIDTH: Final = 760
LEFT: Final = 150  # the rows' labels
RIGHT: Final = 24
ROW: Final = 32
CLUSTER: Final = 46  # px: marks closer than this to a label share it
TOP: Final = 18
AXIS: Final = 40
_US = 1_000_000
_STEPS: Final = (  # (tick step in seconds, label format)
    (60, "%H:%M"), (300, "%H:%M"), (900, "%H:%M"), (3600, "%H:%M"), (6 * 3600, "%d %b %H:%M"),
    (86400, "%d %b"), (7 * 86400, "%d %b"), (30 * 86400, "%b %Y"), (91 * 86400, "%b %Y"), (365 * 86400, "%Y"),
)  # fmt: skip


@dataclass(frozen=True)
class Mark:
    """One event on the timeline."""

    seq: int
    kind: str
    at_us: int
    type: str
    at: str


def marks(entries: Sequence[dict[str, Any]]) -> list[Mark]:
    """The timeline entries as marks (events of other types, if any, are left to the table)."""
    found = []
    for e in entries:
        kind = _KIND_OF.get(e["type"])
        if kind is not None and e.get("at") and not e.get("problem"):
            found.append(Mark(e["seq"], kind, parse_us(e["at"]), e["type"], e["at"]))
    return found


def output_window(found: Sequence[Mark]) -> tuple[int, int] | None:
    """From the first output generated to the last action on it, with a margin; None without an output."""
    times = [m.at_us for m in found if m.kind in ("generated", "shown", "acted")]
    if not times:
        return None
    start, end = min(times), max(times)
    margin = max((end - start) // 5, 30 * _US)
    return start - margin, end + margin


def whole(found: Sequence[Mark]) -> tuple[int, int] | None:
    """The whole history's span, with a margin; None when there is nothing to draw."""
    if not found:
        return None
    start, end = min(m.at_us for m in found), max(m.at_us for m in found)
    margin = max((end - start) // 40, 60 * _US)
    return start - margin, end + margin


def draw(found: Sequence[Mark], window: tuple[int, int], *, zone: ZoneInfo, title: str, ident: str) -> Markup:
    """The SVG of the marks inside ``window`` (microseconds), with one row per kind present."""
    start, end = window
    shown = [m for m in found if start <= m.at_us <= end]
    rows = [kind for kind in KINDS if any(m.kind == kind for m in shown)]
    height = TOP + ROW * len(rows) + AXIS

    def x(us: int) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (us - start) / max(end - start, 1)

    parts = [
        f'<svg class="timeline-svg" viewBox="0 0 {WIDTH} {height}" role="group" aria-labelledby="{ident}-title" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}-title">{escape(title)}</title>',
    ]
    for index, kind in enumerate(rows):
        y = TOP + ROW * index + ROW / 2
        label, shape, _ = KINDS[kind]
        parts.append(
            f'<g class="row row-{kind}"><line class="lane" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}"/>'
        )
        parts.append(_shape(shape, 12, y, kind))
        parts.append(f'<text class="row-label" x="24" y="{y + 4}">{escape(label)}</text></g>')
        parts += _row_marks([m for m in shown if m.kind == kind], x, y, shape, zone)
    parts += _axis(start, end, x, TOP + ROW * len(rows), zone)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it went through escape(); the rest is numbers


def _row_marks(row: Sequence[Mark], x: Any, y: float, shape: str, zone: ZoneInfo) -> list[str]:
    """The row's marks, each a link with its tooltip; one seq label per cluster of marks too close to label apart
    ("7637 +2": seq 7637 and two more; each is in the table and in its mark's tooltip)."""
    parts = []
    for cluster in _clusters(sorted(row, key=lambda m: (m.at_us, m.seq)), x):
        for mark in cluster:
            at = x(mark.at_us)
            when = _local(mark.at_us, zone)
            parts.append(
                f'<a href="/events/{mark.seq}" class="mark mark-{mark.kind}">'
                f"<title>seq {mark.seq}: {escape(mark.type)}, {escape(when)}</title>"
                f"{_shape(shape, at, y, mark.kind)}</a>"
            )
        more = f" +{len(cluster) - 1}" if len(cluster) > 1 else ""
        first = x(cluster[0].at_us)
        parts.append(f'<text class="seq" x="{first:.1f}" y="{y - 10:.1f}">{cluster[0].seq}{more}</text>')
    return parts


def _clusters(row: Sequence[Mark], x: Any) -> list[list[Mark]]:
    """Consecutive marks within ``CLUSTER`` px of their cluster's first one."""
    clusters: list[list[Mark]] = []
    for mark in row:
        if clusters and x(mark.at_us) - x(clusters[-1][0].at_us) < CLUSTER:
            clusters[-1].append(mark)
        else:
            clusters.append([mark])
    return clusters


def _shape(shape: str, cx: float, cy: float, kind: str) -> str:
    """One mark's shape, about 10 px across, centred on (cx, cy)."""
    r = 5.5
    points = {
        "triangle-up": [(0, -r), (r, r * 0.8), (-r, r * 0.8)],
        "triangle-down": [(0, r), (r, -r * 0.8), (-r, -r * 0.8)],
        "diamond": [(0, -r - 1), (r + 1, 0), (0, r + 1), (-r - 1, 0)],
        "hexagon": [(r, 0), (r / 2, r * 0.87), (-r / 2, r * 0.87), (-r, 0), (-r / 2, -r * 0.87), (r / 2, -r * 0.87)],
        "star": [(0, -r - 1.5), (1.8, -2), (r + 1, -1.5), (2.6, 1.4), (3.6, r + 0.5), (0, 3.2), (-3.6, r + 0.5),
                 (-2.6, 1.4), (-r - 1, -1.5), (-1.8, -2)],
        "flag": [(-r, r + 1), (-r, -r - 1), (r, -r / 2), (-r + 1.5, 0), (-r + 1.5, r + 1)],
    }  # fmt: skip
    css = f"shape shape-{shape} kind-{kind}"
    if shape in points:
        coords = " ".join(f"{cx + px:.1f},{cy + py:.1f}" for px, py in points[shape])
        return f'<polygon class="{css}" points="{coords}"/>'
    if shape in ("disc", "ring"):
        return f'<circle class="{css}" cx="{cx:.1f}" cy="{cy:.1f}" r="{r}"/>'
    if shape in ("square", "square-open"):
        return f'<rect class="{css}" x="{cx - r:.1f}" y="{cy - r:.1f}" width="{2 * r}" height="{2 * r}"/>'
    if shape == "cross":
        return (f'<path class="{css}" d="M{cx - r:.1f},{cy - r:.1f}L{cx + r:.1f},{cy + r:.1f}'
                f'M{cx + r:.1f},{cy - r:.1f}L{cx - r:.1f},{cy + r:.1f}"/>')  # fmt: skip
    if shape == "plus":
        return f'<path class="{css}" d="M{cx:.1f},{cy - r:.1f}V{cy + r:.1f}M{cx - r:.1f},{cy:.1f}H{cx + r:.1f}"/>'
    return f'<rect class="{css}" x="{cx - 1.5:.1f}" y="{cy - r - 1:.1f}" width="3" height="{2 * r + 2}"/>'  # bar


def _axis(start: int, end: int, x: Any, y: float, zone: ZoneInfo) -> list[str]:
    step, fmt = next(((s, f) for s, f in _STEPS if (end - start) / (s * _US) <= 7), _STEPS[-1])
    parts = [f'<g class="axis"><line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y + 4}" y2="{y + 4}"/>']
    for tick in _ticks(start, end, step, zone):
        at = x(tick)
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=tick)
        local, utc = moment.astimezone(zone).strftime(fmt), moment.strftime(fmt)
        parts.append(
            f'<line x1="{at:.1f}" x2="{at:.1f}" y1="{y + 4}" y2="{y + 9}"/>'
            f'<text class="tick t-local" x="{at:.1f}" y="{y + 22}">{escape(local)}</text>'
            f'<text class="tick t-utc" x="{at:.1f}" y="{y + 22}">{escape(utc)}</text>'
        )
    parts.append("</g>")
    return parts


def _ticks(start: int, end: int, step_s: int, zone: ZoneInfo) -> list[int]:
    """Tick times every ``step_s`` seconds, on round local times (midnight, the hour, the first of the month)."""
    first = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=start)
    local = first.astimezone(zone)
    if step_s >= 30 * 86400:
        local = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif step_s >= 86400:
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        seconds = local.hour * 3600 + local.minute * 60 + local.second
        local = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(seconds=seconds - seconds % step_s)
    ticks: list[int] = []
    moment = local
    while len(ticks) < 20:
        us = int((moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
        if us > end:
            break
        if us >= start:
            ticks.append(us)
        moment = _next(moment, step_s, zone)
    return ticks


def _next(moment: datetime, step_s: int, zone: ZoneInfo) -> datetime:
    if step_s >= 30 * 86400:  # calendar months (1, 3 or 12)
        months = round(step_s / (30.4 * 86400))
        total = moment.month - 1 + months
        return moment.replace(year=moment.year + total // 12, month=total % 12 + 1)
    return (moment.astimezone(UTC) + timedelta(seconds=step_s)).astimezone(zone)


def _local(us: int, zone: ZoneInfo) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %z")
