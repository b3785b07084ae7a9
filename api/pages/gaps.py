"""Gaps: every governance gap the log shows, grouped by kind and by tool, each with the events that show it,
from the query ``GET /v1/gaps`` answers (projections.queries.gaps)."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.pages.access import PageError, ReaderPage
from api.pages.render import page
from api.routes.queries import WorkerDep
from ledger.catalogue.fields import IDENTIFIER_MAX
from projections import queries
from projections.answers import to_json
from projections.errors import InvalidQuery
from projections.queries.gaps import KINDS

router = APIRouter(include_in_schema=False)

Choice = Annotated[str | None, Query(max_length=IDENTIFIER_MAX)]
ROWS: Final = 25  # gaps listed per kind and tool; the counts say how many there are
READ: Final = 5000  # gaps read for the lists (the counts are of all of them)
NO_TOOL: Final = "(no tool named)"


@router.get("/gaps")
def gaps_page(
    request: Request, viewer: ReaderPage, worker: WorkerDep, tool: Choice = None, kind: Choice = None
) -> Response:
    """The open governance gaps, for one tool or all, of one kind or all: counted by kind and tool, listed."""
    chosen = {"tool": tool or None, "kind": kind or None}
    if chosen["kind"] is not None and chosen["kind"] not in KINDS:
        raise PageError(422, "Choose a kind of gap from the list.")
    try:
        found = to_json(
            queries.governance_gaps(
                worker.views, tool=chosen["tool"], kinds=None if chosen["kind"] is None else [chosen["kind"]],
                limit=READ,
            )
        )  # fmt: skip
    except InvalidQuery:
        raise PageError(422, "A filter has a value no gap can have; choose from the lists.") from None
    context = {
        "title": "Governance gaps",
        "found": found,
        "chosen": chosen,
        "kinds": KINDS,
        "grouped": grouped(found["gaps"]),
        "listed_all": found["total"] <= READ,
        "rows": ROWS,
    }
    return page(request, "gaps.html", context, viewer=viewer)


def grouped(gaps: list[dict[str, Any]]) -> list[tuple[str, list[tuple[str, list[dict[str, Any]]]]]]:
    """The gaps by kind (in the catalogue's order of kinds), then by tool (by name): [(kind, [(tool, gaps)])]."""
    by: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for gap in gaps:
        by[gap["kind"]][gap.get("tool_id") or NO_TOOL].append(gap)
    return [(kind, sorted(by[kind].items())) for kind in KINDS if kind in by]
