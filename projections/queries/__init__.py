"""The questions the views answer, as Python functions: each takes a Views and returns JSON-ready data.

    list_incidents(views, category=, harm=, tool=, status=, aware_from=, aware_to=)
    incident_timeline(views, incident_id)
    accountability_report(views, incident_id, now=, policy=)
    incident_dossier(views, incident_id, now=, policy=)    both of the above from one snapshot (the incident page)
    tool_state(views, tool_id, as_of=)
    output_detail(views, output_id)
    blast_radius(views, tool_id, start=, end=)
    reliance_metrics(views, tool=, unit=, clinician=, start=, end=, now=, policy=)
    reliance_breakdown(views, ...)                          the same, whole and by tool, unit and clinician (a page)
    governance_gaps(views, tool=, start=, end=, kinds=, now=, policy=)
    incident_response(views, incident_id, now=)
    tool_policy(views, tool_id, as_of=)
    intervention_metrics(views, tool=, unit=, kind=, start=, end=)
    recurrence(views, tool=, kind=, start=, end=)
    incident_overview(views, category=, harm=, tool=, unit=, status=, deadline=, now=, policy=)

Times are microseconds since the epoch (projections.timefmt.query_time parses
RFC 3339). Every answer carries ``position`` (the seq the views had reached)
and, for each fact, the seq and event_id of the events it rests on. Pass the
result through projections.answers.to_json for plain JSON.
"""

from projections.queries.gaps import KINDS as GAP_KINDS
from projections.queries.gaps import governance_gaps
from projections.queries.incidents import accountability_report, incident_dossier, incident_timeline, list_incidents
from projections.queries.intervention import intervention_metrics, recurrence
from projections.queries.metrics import reliance_breakdown, reliance_metrics
from projections.queries.outputs import output_detail
from projections.queries.overview import incident_overview
from projections.queries.response import incident_response, tool_policy
from projections.queries.tools import blast_radius, tool_state

__all__ = [
    "GAP_KINDS",
    "accountability_report",
    "blast_radius",
    "governance_gaps",
    "incident_dossier",
    "incident_overview",
    "incident_response",
    "incident_timeline",
    "intervention_metrics",
    "list_incidents",
    "output_detail",
    "recurrence",
    "reliance_breakdown",
    "reliance_metrics",
    "tool_policy",
    "tool_state",
]
