"""One tool's dossier: its governance state at any moment (an as-of picker), its history, and its activity
plotted over time (api.pages.plots), from the queries ``GET /v1/tools/{id}`` answers (projections.queries).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api.pages.access import PageError, ReaderPage
from api.pages.plots import activity_svg, inline_svg, span_words
from api.pages.render import page
from api.routes.queries import WorkerDep
from ledger.catalogue.fields import IDENTIFIER_MAX, IDENTIFIER_PATTERN
from projections import queries
from projections.answers import to_json
from projections.errors import NotFound as ViewNotFound
from projections.queries.activity import tool_activity
from projections.timefmt import parse_query_time

router = APIRouter(include_in_schema=False)

ToolId = Annotated[str, Path(min_length=1, max_length=IDENTIFIER_MAX, pattern=IDENTIFIER_PATTERN)]
_AS_OF_HELP: Final = "The as-of time is not a date and time the ledger can use; pick one with the picker."


@router.get("/tools/{tool_id}")
def tool_page(
    request: Request,
    viewer: ReaderPage,
    worker: WorkerDep,
    tool_id: ToolId,
    as_of: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The tool's state as of ``as_of`` (the hospital's local time from the picker, or RFC 3339; default now),
    its history, and its activity plotted over time."""
    zone = ZoneInfo(request.app.state.settings.time_zone)
    moment = local_moment(as_of, zone)
    try:
        # As the query answers it, Evidence dataclasses and all (the template reads their fields): making all of it
        # plain JSON first took half the page's time at 1M events.
        state = queries.tool_state(worker.views, tool_id, as_of=moment, count_outputs=False)
    except ViewNotFound:
        raise PageError(404, "No tool with this id is recorded.") from None
    plots = request.app.state.pages.plots.get(
        (tool_id, zone.key), state["position"], lambda: drawn_activity(worker, tool_id, zone)
    )
    at = datetime.fromisoformat(state["as_of"].replace("Z", "+00:00")).astimezone(zone)
    context = {
        "title": f"Tool {tool_id}",
        "tool_id": tool_id,
        "found": state,
        "state": state["state"],
        "as_of_local": f"{at:%Y-%m-%dT%H:%M:%S}",
        "chosen": as_of is not None and as_of != "",
        "plots": plots,
        "bin_words": span_words(plots["activity"]["bin_seconds"]),
    }
    return page(request, "tool.html", context, viewer=viewer)


def local_moment(text: str | None, zone: ZoneInfo) -> int | None:
    """The picker's value (a local date and time, no offset: in ``zone``) or an RFC 3339 time, as microseconds;
    None for none; a 422 page for anything else (its value never repeated)."""
    if text is None or text.strip() == "":
        return None
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise PageError(422, _AS_OF_HELP) from None
    if naive.tzinfo is None:
        text = naive.replace(tzinfo=zone).isoformat()
    try:
        return parse_query_time(text)
    except ValueError:
        raise PageError(422, _AS_OF_HELP) from None


def drawn_activity(worker: WorkerDep, tool_id: str, zone: ZoneInfo) -> dict[str, Any]:
    """The tool's activity and its figure (None without anything to plot)."""
    activity = to_json(tool_activity(worker.views, tool_id))
    svg = None
    if activity["bins"] or activity["monitoring"] or activity["marks"]:
        svg = inline_svg(activity_svg(activity, zone=zone), ident="plot", title=f"Activity of {tool_id} over time")
    return {"activity": activity, "svg": svg}
