"""One output: everyone who saw it, everything done about it, the incidents naming it, and the governance answers."""

from __future__ import annotations

from typing import Any

from projections.checks import evaluate
from projections.errors import NotFound
from projections.queries.incidents import incident_summary
from projections.queries.loading import output_cases
from projections.queries.tools import case_summary
from projections.views import Views


def output_detail(views: Views, output_id: str) -> dict[str, Any]:
    """The output, its displays and actions (with time from display to action), its incidents, and every check."""
    with views.reading() as snap:
        cases = output_cases(snap, [output_id])
        case = cases[0]
        events = snap.events("output_id = :id", {"id": output_id})
        incident_ids = [
            str(r[0])
            for r in snap.select(
                "SELECT incident_id FROM {incident_outputs} WHERE output_id = :id ORDER BY seq", {"id": output_id}
            )
        ]
        incidents = snap.incidents("@in(incident_id, :ids)", {"ids": incident_ids}) if incident_ids else []
        position = snap.position
    if case.output is None and not events:
        raise NotFound("output", output_id)
    return {
        "output_id": output_id,
        "position": position,
        "output": None if case.output is None else case_summary(case, case.output),
        "events": [e.entry() for e in events],
        "incidents": [incident_summary(i) for i in incidents],
        "answers": evaluate(case),
    }
