"""Reliance: how clinicians answer the tools' outputs, as a whole and by tool, unit and clinician, so that a
risk team sees over-trust (acceptances faster than anyone can read: rubber-stamping) and alert fatigue
(outputs shown and never answered, alerts per clinician per shift). The same metrics
``GET /v1/metrics/reliance`` answers (projections.queries.metrics), read once for every breakdown.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.pages.access import PageError, ReaderPage
from api.pages.render import page
from api.routes.queries import WorkerDep
from ledger.catalogue.fields import IDENTIFIER_MAX
from projections import queries
from projections.answers import to_json
from projections.errors import InvalidQuery
from projections.timefmt import parse_query_time

router = APIRouter(include_in_schema=False)

Choice = Annotated[str | None, Query(max_length=IDENTIFIER_MAX)]
Day = Annotated[str | None, Query(alias="from", max_length=10)]
UntilDay = Annotated[str | None, Query(alias="to", max_length=10)]
CLINICIAN_ROWS: Final = 50  # the clinicians with the most actions; the others through the clinician filter


@router.get("/reliance")
def reliance_page(
    request: Request,
    viewer: ReaderPage,
    worker: WorkerDep,
    tool: Choice = None,
    unit: Choice = None,
    clinician: Choice = None,
    start: Day = None,
    end: UntilDay = None,
) -> Response:
    """Reliance metrics for the filters (tool, unit, clinician, the days shown), whole and broken down."""
    zone = ZoneInfo(request.app.state.settings.time_zone)
    chosen = {"tool": tool or None, "unit": unit or None, "clinician": clinician or None,
              "from": start or None, "to": end or None}  # fmt: skip
    try:
        found = to_json(
            queries.reliance_breakdown(
                worker.views, tool=chosen["tool"], unit=chosen["unit"], clinician=chosen["clinician"],
                start=day_start(chosen["from"], zone), end=day_end(chosen["to"], zone),
            )
        )  # fmt: skip
    except InvalidQuery:
        raise PageError(422, "The first day shown must not be after the last.") from None
    by_clinician = sorted(found["by"]["clinician"], key=lambda g: (-g["actions"], g["key"]))
    context = {
        "title": "Reliance",
        "found": found,
        "whole": found["whole"],
        "chosen": chosen,
        "groups": [
            ("tool", "By tool", found["by"]["tool"]),
            ("unit", "By unit", found["by"]["unit"]),
            ("clinician", "By clinician", by_clinician[:CLINICIAN_ROWS]),
        ],  # fmt: skip
        "clinicians_left_out": max(len(by_clinician) - CLINICIAN_ROWS, 0),
    }
    return page(request, "reliance.html", context, viewer=viewer)


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PageError(422, "A day is not a date the ledger can use; pick one with the picker.") from None


def day_start(text: str | None, zone: ZoneInfo) -> int | None:
    """The first moment of the day (YYYY-MM-DD, in ``zone``) as microseconds; None for none."""
    day = _day(text)
    return None if day is None else _us(datetime.combine(day, time(0), tzinfo=zone))


def day_end(text: str | None, zone: ZoneInfo) -> int | None:
    """The last microsecond of the day (in ``zone``); None for none."""
    day = _day(text)
    return None if day is None else _us(datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)) - 1


def _us(moment: datetime) -> int:
    found = parse_query_time(moment.isoformat())
    if found is None:  # pragma: no cover - isoformat() is never empty
        raise PageError(422, "A day is not a date the ledger can use.")
    return found
