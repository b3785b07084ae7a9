"""The tool dossier's plots: matplotlib (Agg, no display) drawn on the server as SVG, put inline in the page.

One figure, four stacked panels on one time axis: outputs per bin; the
acceptance, override and dismissal rates; the median time from display to
action; each monitored metric's values against its limit. Approvals,
threshold changes, suspensions, reinstatements and incidents are vertical
lines across every panel, told apart by line style and a letter on top, not
colour alone (the legend says which is which).

The pages' CSP forbids inline styles, and matplotlib writes each element's
look as a ``style`` attribute: ``inline_svg`` rewrites those declarations as
the SVG presentation attributes they all are (``fill``, ``stroke``,
``font-size``...), drops the stylesheet matplotlib adds (its two defaults go
on the root, where every element inherits them), and gives every id the
figure's own prefix, so that two figures on one page never share one.

Drawing takes a few hundred milliseconds; ``PlotCache`` keeps each tool's figures
for the ledger position they were drawn at (and for a minute, on a ledger that moves).
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final
from zoneinfo import ZoneInfo

import matplotlib as mpl

mpl.use("Agg")  # no display: before pyplot or a backend is imported anywhere

from markupsafe import Markup, escape  # noqa: E402
from matplotlib import dates as mdates  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.axis import XAxis  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from projections.timefmt import parse_us  # noqa: E402

# Okabe and Ito's palette (distinguishable with colour blindness); styles and markers tell series apart too.
INK: Final = "#1b1f24"
RATES: Final = (("accepted", "Acceptance", "#0072B2", "o", "-"), ("overridden", "Override", "#D55E00", "s", "--"),
                ("dismissed", "Dismissal", "#009E73", "^", ":"))  # fmt: skip
MARK_STYLES: Final[dict[str, tuple[str, str, str, Any]]] = {  # kind: (legend label, letter, colour, line style)
    "approval": ("Approval", "A", "#009E73", "-"),
    "threshold": ("Threshold change", "T", "#0072B2", "--"),
    "suspension": ("Suspension", "S", "#CC79A7", ":"),
    "reinstatement": ("Reinstatement", "R", "#56B4E9", "-."),
    "incident": ("Incident reported", "I", "#B8121B", (0, (6, 2, 1, 2))),
}
_RC: Final[Any] = {
    "svg.fonttype": "none",  # text stays text: selectable, searchable, sharp in print
    "svg.hashsalt": "ledger-dossier",  # the same figure draws the same bytes
    "font.size": 9,
    "axes.edgecolor": "#4a525c",
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#dde2e8",
    "text.color": INK,
    "axes.labelcolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
}
_STYLE: Final = re.compile(r' style="([^"]*)"')
_ID: Final = re.compile(r' id="([^"]+)"')
_REF: Final = re.compile(r'(href="#|url\(#)([^")]+)')


def activity_figure(activity: dict[str, Any], *, zone: ZoneInfo) -> Figure:
    """The four panels of the tool's activity (projections.queries.activity's answer). The time axis twice, in
    ``zone`` and in UTC, one over the other (ids ``axis-local`` and ``axis-utc``): the stylesheets show one on
    screen and the other in print, as every time on the pages."""
    bins = activity["bins"]
    width = (activity["bin_seconds"] or 3600) / 86400  # matplotlib's dates: days since 1970-01-01 UTC
    starts = [_days(b["start"]) for b in bins]
    mids = [s + width / 2 for s in starts]
    figure = Figure(figsize=(10, 7))
    # Fixed margins: a constrained layout measures every tick label again, which doubles the drawing time.
    figure.subplots_adjust(left=0.075, right=0.985, top=0.93, bottom=0.125, hspace=0.5)
    volume, rates, latency, monitoring = figure.subplots(4, 1, sharex=True)
    volume.bar(starts, [b["outputs"] for b in bins], width=width * 0.9, align="edge", color="#5b6b7d")
    _title(volume, f"Outputs generated per {span_words(activity['bin_seconds'])}")
    volume.set_ylabel("outputs")
    volume.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    for key, label, colour, marker, style in RATES:
        shares = [b["counts"][key] / b["actions"] * 100 if b["actions"] else None for b in bins]
        rates.plot(mids, _nan(shares), marker=marker, linestyle=style, color=colour, markersize=3.5, label=label)
    rates.set_ylim(-3, 103)
    _title(rates, "Share of actions: acceptance, override, dismissal")
    rates.set_ylabel("% of actions")
    rates.legend(loc="upper left", ncols=3, fontsize=8, framealpha=0.9)
    medians = [b["median_seconds_display_to_action"] for b in bins]
    latency.plot(mids, _nan(medians), marker="o", markersize=3.5, color="#0072B2")
    _title(latency, "Median time from display to action")
    latency.set_ylabel("seconds")
    latency.set_ylim(bottom=0)
    _monitoring(monitoring, activity["monitoring"])
    for axes in (rates, latency, monitoring, volume):  # the lettered panel last: its limits are final then
        _marks(axes, activity["marks"], lettered=axes is volume)
    _mark_legend(figure, activity["marks"])
    _time_axis(monitoring.xaxis, zone, zone.key, "axis-local")
    _time_axis(monitoring.secondary_xaxis("bottom").xaxis, ZoneInfo("UTC"), "UTC", "axis-utc")
    return figure


def _time_axis(axis: XAxis, zone: ZoneInfo, label: str, gid: str) -> None:
    locator = mdates.AutoDateLocator(tz=zone, maxticks=9)  # type: ignore[no-untyped-call]
    axis.set_major_locator(locator)
    axis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=zone))  # type: ignore[no-untyped-call]
    axis.set_label_text(f"time ({label})")
    axis.set_gid(gid)


def _title(axes: Axes, text: str) -> None:
    """A panel's title, top left above its mark letters: placed, not laid out (set_title would move it past every
    other panel's extent, the costliest step of the drawing)."""
    axes.annotate(text, (0, 1), xycoords="axes fraction", xytext=(0, 13), textcoords="offset points",
                  fontsize=10, fontweight="bold", va="bottom")  # fmt: skip


def _monitoring(axes: Axes, checks: list[dict[str, Any]]) -> None:
    _title(axes, "Monitoring: each metric's value (solid) against its limit (dashed)")
    metrics = sorted({str(c["metric"]) for c in checks if _number(c["value"]) is not None})
    if not metrics:
        axes.text(0.5, 0.5, "No monitoring check recorded", transform=axes.transAxes, ha="center", va="center")
        axes.set_yticks([])
        return
    colours = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00")
    for index, metric in enumerate(metrics):
        rows = [c for c in checks if str(c["metric"]) == metric and _number(c["value"]) is not None]
        times = [_days(c["at"]) for c in rows]
        colour = colours[index % len(colours)]
        axes.plot(times, _nan([_number(c["value"]) for c in rows]), marker="o", markersize=3, color=colour,
                  label=_text(metric))  # fmt: skip
        limits = [_number(c["limit"]) for c in rows]
        if any(v is not None for v in limits):
            axes.step(times, _nan(limits), where="post", linestyle="--", color=colour, label=_text(f"{metric} limit"))
    axes.legend(loc="upper left", ncols=min(4, 2 * len(metrics)), fontsize=8, framealpha=0.9)
    axes.set_ylabel("value")


def _marks(axes: Axes, marks: list[dict[str, Any]], *, lettered: bool) -> None:
    """Each mark a vertical line; on the top panel its letter above, letters too close to read apart stacked."""
    times = [_days(m["at"]) for m in marks]
    for mark, at in zip(marks, times, strict=True):
        _, _, colour, style = MARK_STYLES[mark["kind"]]
        axes.axvline(at, color=colour, linestyle=style, linewidth=1.3)
    if not lettered or not marks:
        return
    low, high = axes.get_xlim()
    near = (high - low) / 60
    level, previous = 0, None
    for mark, at in sorted(zip(marks, times, strict=True), key=lambda pair: pair[1]):
        level = level + 1 if previous is not None and at - previous < near else 0
        previous = at if level == 0 else previous
        _, letter, colour, _ = MARK_STYLES[mark["kind"]]
        axes.annotate(letter, (at, 1), xycoords=("data", "axes fraction"), xytext=(4 + 8 * level, 2),
                      textcoords="offset points", ha="left", va="bottom", color=colour, fontweight="bold",
                      fontsize=8)  # fmt: skip


def _mark_legend(figure: Figure, marks: list[dict[str, Any]]) -> None:
    kinds = [k for k in MARK_STYLES if any(m["kind"] == k for m in marks)]
    if not kinds:
        return
    handles = [
        Line2D(
            [],
            [],
            color=MARK_STYLES[k][2],
            linestyle=MARK_STYLES[k][3],
            linewidth=1.3,
            label=f"{MARK_STYLES[k][1]}: {MARK_STYLES[k][0]}",
        )  # fmt: skip
        for k in kinds
    ]
    figure.legend(handles=handles, loc="lower center", ncols=len(handles), fontsize=8, frameon=False)


def activity_svg(activity: dict[str, Any], *, zone: ZoneInfo) -> str:
    """The activity figure as SVG text, drawn and written in the plots' style."""
    out = io.StringIO()
    with mpl.rc_context(_RC):
        activity_figure(activity, zone=zone).savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def inline_svg(svg: str, *, ident: str, title: str) -> Markup:
    """matplotlib's SVG made fit for a page under the pages' CSP (see the module docstring), titled for
    assistive technology: ``role="img"``, labelled by its ``<title>``."""
    body = svg[svg.index("<svg") :]
    body = re.sub(r"<metadata>.*?</metadata>\s*", "", body, flags=re.S)
    body = re.sub(r"<style[^>]*>.*?</style>\s*", "", body, flags=re.S)
    body = _STYLE.sub(lambda m: _attributes(m.group(1)), body)
    body = _ID.sub(lambda m: f' id="{ident}-{m.group(1)}"', body)
    body = _REF.sub(lambda m: f"{m.group(1)}{ident}-{m.group(2)}", body)
    body = re.sub(r'<svg [^>]*?(viewBox="[^"]*")[^>]*>', "", body, count=1)
    view_box = re.search(r'viewBox="[^"]*"', svg)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" class="plot-svg" '
        f'{view_box.group(0) if view_box else ""} role="img" aria-labelledby="{ident}-title" '
        f'stroke-linejoin="round" stroke-linecap="butt"><title id="{ident}-title">{escape(title)}</title>'
    )
    return Markup(head + body)  # noqa: S704 - matplotlib escapes the texts it writes; the rest is its markup


def _attributes(declarations: str) -> str:
    """``fill: #fff; stroke-width: 0.8`` as ``fill="#fff" stroke-width="0.8"``."""
    pairs = (d.split(":", 1) for d in declarations.split(";") if ":" in d)
    return "".join(f' {name.strip()}="{value.strip()}"' for name, value in pairs)


class PlotCache:
    """Drawn figures by (tool, time zone), each with the ledger position it was drawn at. A drawing is reused while
    the position has not moved, or for ``max_age_s`` seconds after it was drawn (the page says the seq it was drawn
    up to): on a busy ledger, where every second brings events, each view would draw again. Bounded: the least
    recently used go first."""

    def __init__(self, *, size: int = 64, max_age_s: float = 60.0) -> None:
        self._found: OrderedDict[tuple[str, str], tuple[int, float, Any]] = OrderedDict()
        self._size = size
        self._max_age_s = max_age_s
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], position: int, draw: Callable[[], Any]) -> Any:
        """The drawing for ``key``, drawn again by ``draw`` if it is older than the position and ``max_age_s``."""
        now = time.monotonic()
        with self._lock:
            kept = self._found.get(key)
            if kept is not None and (kept[0] == position or now - kept[1] < self._max_age_s):
                self._found.move_to_end(key)
                return kept[2]
        drawn = draw()
        with self._lock:
            self._found[key] = (position, now, drawn)
            self._found.move_to_end(key)
            while len(self._found) > self._size:
                self._found.popitem(last=False)
        return drawn


def _days(text: str) -> float:
    """An RFC 3339 time as matplotlib's date number (days since 1970-01-01 UTC, its default epoch)."""
    return parse_us(text) / 86_400_000_000


def _nan(values: list[Any]) -> list[float]:
    """None as NaN: matplotlib leaves a gap there."""
    return [float("nan") if v is None else float(v) for v in values]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(label: str) -> str:
    """A recorded name as plain text for matplotlib: no mathtext ($), and never hidden from a legend (_)."""
    return label.replace("$", r"\$").lstrip("_") or "?"


def span_words(seconds: int | None) -> str:
    """A bin's width in words."""
    hours = (seconds or 3600) / 3600
    return {1: "hour", 6: "six hours", 24: "day", 168: "week", 720: "thirty days"}.get(round(hours), "bin")
