"""The incident page's drawn timeline and its CSV: kinds told apart by shape and label, marks linked, cells safe."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from api.pages.incidents import csv_cell, span
from api.pages.timeline import KINDS, draw, marks, output_window, whole

UTC = ZoneInfo("UTC")


def _entry(seq: int, kind_type: str, at: str) -> dict[str, object]:
    return {"seq": seq, "type": kind_type, "at": at}


ENTRIES = [
    _entry(1, "tool.approved", "2026-01-01T00:00:00.000000Z"),
    _entry(2, "output.generated", "2026-03-01T02:14:00.000000Z"),
    _entry(3, "output.shown", "2026-03-01T02:14:58.000000Z"),
    _entry(4, "output.acted", "2026-03-01T02:15:13.000000Z"),
    _entry(5, "incident.reported", "2026-03-02T11:30:00.000000Z"),
    _entry(6, "access.recorded", "2026-03-02T12:00:00.000000Z"),  # no kind: left to the table
]


def test_every_kind_of_mark_has_its_own_shape_and_its_own_label() -> None:
    shapes = [shape for _, shape, _ in KINDS.values()]
    labels = [label for label, _, _ in KINDS.values()]
    assert len(set(shapes)) == len(shapes) and len(set(labels)) == len(labels)
    wanted = {"approval", "validation", "training", "threshold", "monitoring", "generated", "shown", "acted",
              "incident", "review", "report", "remediation"}  # fmt: skip
    assert wanted <= set(KINDS)


def test_each_mark_in_the_window_links_to_its_event_and_each_row_is_labelled() -> None:
    found = marks(ENTRIES)
    assert [m.seq for m in found] == [1, 2, 3, 4, 5]
    window = whole(found)
    assert window is not None
    svg = str(draw(found, window, zone=UTC, title="whole", ident="t"))
    assert sorted(int(s) for s in re.findall(r'href="/events/(\d+)"', svg)) == [1, 2, 3, 4, 5]
    for label in ("Approval", "Output generated", "Output shown", "Acted on", "Incident"):
        assert f">{label}</text>" in svg
    assert "unsafe" not in svg and "style=" not in svg  # no inline style: the pages' CSP forbids it


def test_the_zoom_keeps_the_window_around_the_output_only() -> None:
    found = marks(ENTRIES)
    window = output_window(found)
    assert window is not None
    svg = str(draw(found, window, zone=UTC, title="zoom", ident="z"))
    assert sorted(int(s) for s in re.findall(r'href="/events/(\d+)"', svg)) == [2, 3, 4]
    assert ">02:14<" in svg or ">02:15<" in svg  # ticks of minutes


def test_time_left_and_overdue_read_in_words() -> None:
    assert span(3 * 86_400_000_000 + 2 * 3_600_000_000) == "3 days 2 hours left"
    assert span(-90 * 60_000_000) == "overdue by 1 hour 30 minutes"


def test_a_csv_cell_that_a_spreadsheet_would_run_as_a_formula_is_quoted() -> None:
    assert [csv_cell(v) for v in ("=HYPERLINK(1)", "+1", "-1", "@x", "plain", None, 7)] == [
        "'=HYPERLINK(1)", "'+1", "'-1", "'@x", "plain", "", "7"
    ]  # fmt: skip
