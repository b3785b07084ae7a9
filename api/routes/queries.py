"""The read models' questions, for the reader role: incidents, timelines, accountability, tools, outputs, gaps.

Every answer carries ``position`` (the seq the views had reached) and, for each
fact, the seq and event_id of the ledger events it rests on. ``min_seq`` on any
route waits (up to 5 s) until the views hold that seq: pass the seq of your
last receipt to read your own writes.

The views come from ``runtime.projections`` (a ProjectionWorker the lifespan
starts); until the server wires one, each request catches the views up itself.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.deps import ReaderKey, StoreDep
from api.errors import InvalidParameters, NotFound, documented
from api.replica import note_lag
from ledger.catalogue.fields import IDENTIFIER_MAX, IDENTIFIER_PATTERN
from ledger.errors import FieldError, StoreUnavailable
from projections import queries
from projections.answers import to_json
from projections.errors import NotFound as ViewNotFound
from projections.errors import ProjectionError
from projections.policy import DEFAULT_POLICY, Policy
from projections.queries.gaps import KINDS as GAP_KINDS
from projections.timefmt import DAY, HOUR, MINUTE, SECOND, TIME_RANGE, parse_query_time
from projections.views import Views
from projections.worker import ProjectionWorker

router = APIRouter(tags=["queries"])

_WAIT_S = 5.0
_RESPONSES = documented(401, 403, 422, 503)
_WITH_404 = {**_RESPONSES, **documented(404)}

# Identifiers, in the path or as filters, follow the catalogue's rule: a value no event can hold is
# refused (422) before it reaches a store; PostgreSQL would refuse a NUL byte as a database error.
_ID: Final[dict[str, Any]] = {"min_length": 1, "max_length": IDENTIFIER_MAX, "pattern": IDENTIFIER_PATTERN}
Identifier = Annotated[str, Path(**_ID)]
MinSeq = Annotated[
    int | None, Query(ge=1, le=2**62, description="Wait until the views hold this seq (read your writes).")
]
# Every time parameter: RFC 3339 with a UTC offset, in the catalogue's range (422 otherwise).
_TIME = f"RFC 3339 with a UTC offset, from {TIME_RANGE}"
Limit = Annotated[int, Query(ge=1, le=10_000)]
Offset = Annotated[int, Query(ge=0, le=2**62)]
# Policy windows are bounded (ten years) so that no window overflows a timestamp.
MAX_DAYS = 3653.0
MAX_HOURS = MAX_DAYS * 24
MAX_MINUTES = MAX_HOURS * 60
MAX_SECONDS = MAX_MINUTES * 60


def worker_of(request: Request, store: StoreDep) -> ProjectionWorker:
    """The server's ProjectionWorker, caught up to everything recorded before this request.

    The worker's thread keeps the views close behind the log, so catching up here
    is usually a no-op; it makes every answer reflect the whole log as of the
    request (what a risk manager expects), not a lagging copy. Without a wired
    worker, a private one serves the same way. With a streaming replica, the
    replica's views answer as they are, and the response says their lag.
    """
    if store.replica is not None:  # read on the replica as it is, its lag reported (api.replica)
        note_lag(request, store.replica)
        return store.replica.worker
    wired = getattr(request.app.state.runtime, "projections", None)
    if isinstance(wired, ProjectionWorker) and wired.ledger is store.ledger:
        wired.catch_up()
        return wired
    fallback = getattr(request.app.state, "query_projections", None)
    if not isinstance(fallback, ProjectionWorker) or fallback.ledger is not store.ledger:
        fallback = ProjectionWorker(store.ledger)
        request.app.state.query_projections = fallback
    fallback.catch_up()
    return fallback


WorkerDep = Annotated[ProjectionWorker, Depends(worker_of)]


def views_at(worker: ProjectionWorker, min_seq: int | None) -> Views:
    """The views, once they hold ``min_seq``; 422 for a seq the log has not reached (it would never come)."""
    if min_seq is not None and min_seq > worker.log_head():
        raise InvalidParameters(FieldError("min_seq", "is beyond the last seq recorded in the ledger"))
    if min_seq is not None:
        try:
            worker.wait_for(min_seq, timeout=_WAIT_S)
        except TimeoutError:
            raise StoreUnavailable(f"the views did not reach seq {min_seq} within {_WAIT_S:g} s") from None
    return worker.views


def answer(run: Any, *args: Any, **kwargs: Any) -> Response:
    """Run a query; its result as JSON, its NotFound as 404, a stopped projection as 503."""
    try:
        result = run(*args, **kwargs)
    except ViewNotFound as exc:
        raise NotFound(str(exc)) from None
    except ProjectionError as exc:
        raise StoreUnavailable(str(exc)) from exc
    return Response(orjson.dumps(to_json(result)), media_type="application/json")


def _time(value: str | None, name: str) -> int | None:
    """A time parameter in microseconds; 422 naming the parameter (never its value) if the ledger cannot use it."""
    try:
        return parse_query_time(value)
    except ValueError as exc:
        raise InvalidParameters(FieldError(name, str(exc))) from None


@router.get("/v1/incidents", summary="Incidents, filtered", responses=_RESPONSES)
def incidents(
    key: ReaderKey,
    worker: WorkerDep,
    category: Annotated[
        str | None, Query(description="false_negative, false_positive, misprioritization, ...", **_ID)
    ] = None,
    harm: Annotated[str | None, Query(description="AHRQ harm: death, severe_harm, moderate_harm, ...", **_ID)] = None,
    tool: Annotated[str | None, Query(description="The incident's tool or its outputs' tool.", **_ID)] = None,
    status: Annotated[str | None, Query(description="open, assigned, reviewed or closed.", **_ID)] = None,
    start: Annotated[str | None, Query(alias="from", description=f"Aware at or after ({_TIME}).")] = None,
    end: Annotated[str | None, Query(alias="to", description=f"Aware at or before ({_TIME}).")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    min_seq: MinSeq = None,
) -> Response:
    """Incidents by awareness time, each with the seq and event_id of its report, classification and status."""
    return answer(
        queries.list_incidents,
        views_at(worker, min_seq),
        category=category,
        harm=harm,
        tool=tool,
        status=status,
        aware_from=_time(start, "from"),
        aware_to=_time(end, "to"),
        limit=limit,
        offset=offset,
    )


@router.get("/v1/incidents/{incident_id}/timeline", summary="An incident's timeline", responses=_WITH_404)
def timeline(key: ReaderKey, worker: WorkerDep, incident_id: Identifier, min_seq: MinSeq = None) -> Response:
    """Every relevant event in time order: the approvals, validations, thresholds and training in effect,
    the output, each display and action, then the report, review, remediations and external reports."""
    return answer(queries.incident_timeline, views_at(worker, min_seq), incident_id)


@router.get("/v1/incidents/{incident_id}/accountability", summary="The accountability report", responses=_WITH_404)
def accountability(
    key: ReaderKey,
    worker: WorkerDep,
    incident_id: Identifier,
    now: Annotated[
        str | None, Query(description=f"Evaluate deadlines as of this time (default: now; {_TIME}).")
    ] = None,
    deadline_warning_hours: Annotated[float | None, Query(gt=0, le=MAX_HOURS)] = None,
    min_seq: MinSeq = None,
) -> Response:
    """For each output of the incident, every governance question with its verdict (yes, no, partly,
    unknown: not recorded) and evidence; then the reporting deadlines and changes after awareness."""
    policy = _policy(deadline_warning_hours=deadline_warning_hours)
    return answer(
        queries.accountability_report, views_at(worker, min_seq), incident_id, now=_time(now, "now"), policy=policy
    )


@router.get("/v1/tools/{tool_id}", summary="A tool's state at any moment, and its history", responses=_WITH_404)
def tool(
    key: ReaderKey,
    worker: WorkerDep,
    tool_id: Identifier,
    as_of: Annotated[
        str | None, Query(description=f"The moment (default: now; {_TIME}). Exact to the microsecond.")
    ] = None,
    min_seq: MinSeq = None,
) -> Response:
    """Approval and scope, suspensions, validations, thresholds, trained clinicians and last monitoring as of
    ``as_of``, and the tool's full governance history."""
    return answer(queries.tool_state, views_at(worker, min_seq), tool_id, as_of=_time(as_of, "as_of"))


@router.get("/v1/tools/{tool_id}/blast-radius", summary="Everything a tool produced in a window", responses=_RESPONSES)
def blast_radius(
    key: ReaderKey,
    worker: WorkerDep,
    tool_id: Identifier,
    start: Annotated[str | None, Query(alias="from", description=f"Generated at or after ({_TIME}).")] = None,
    end: Annotated[str | None, Query(alias="to", description=f"Generated at or before ({_TIME}).")] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
    min_seq: MinSeq = None,
) -> Response:
    """Every output of the tool in the window (e.g. while a faulty threshold was in effect),
    and who saw and acted on each."""
    return answer(
        queries.blast_radius,
        views_at(worker, min_seq),
        tool_id,
        start=_time(start, "from"),
        end=_time(end, "to"),
        limit=limit,
        offset=offset,
    )


@router.get("/v1/outputs/{output_id}", summary="One output and everything done about it", responses=_WITH_404)
def output(key: ReaderKey, worker: WorkerDep, output_id: Identifier, min_seq: MinSeq = None) -> Response:
    """The output, everyone who saw it, every action (with time from display), its incidents and governance answers."""
    return answer(queries.output_detail, views_at(worker, min_seq), output_id)


@router.get("/v1/metrics/reliance", summary="Reliance and alert-burden metrics", responses=_RESPONSES)
def reliance(
    key: ReaderKey,
    worker: WorkerDep,
    tool: Annotated[str | None, Query(**_ID)] = None,
    unit: Annotated[str | None, Query(**_ID)] = None,
    clinician: Annotated[str | None, Query(**_ID)] = None,
    start: Annotated[str | None, Query(alias="from", description=f"Shown at or after ({_TIME}).")] = None,
    end: Annotated[str | None, Query(alias="to", description=f"Shown at or before ({_TIME}).")] = None,
    fast_acceptance_seconds: Annotated[
        float | None, Query(gt=0, le=MAX_SECONDS, description="Rubber-stamping threshold.")
    ] = None,
    action_window_minutes: Annotated[float | None, Query(gt=0, le=MAX_MINUTES)] = None,
    shift_hours: Annotated[int | None, Query(ge=1, le=24)] = None,
    shift_start_hour: Annotated[int | None, Query(ge=0, le=23)] = None,
    min_seq: MinSeq = None,
) -> Response:
    """Acceptance, override, dismissal and escalation rates, median display-to-action time, the share of
    acceptances faster than the threshold, unanswered displays, and alerts per clinician per shift."""
    policy = _policy(
        fast_acceptance_seconds=fast_acceptance_seconds,
        action_window_minutes=action_window_minutes,
        shift_hours=shift_hours,
        shift_start_hour=shift_start_hour,
    )
    return answer(
        queries.reliance_metrics,
        views_at(worker, min_seq),
        tool=tool,
        unit=unit,
        clinician=clinician,
        start=_time(start, "from"),
        end=_time(end, "to"),
        policy=policy,
    )


@router.get("/v1/gaps", summary="Governance gaps, each with its evidence", responses=_RESPONSES)
def gaps(
    key: ReaderKey,
    worker: WorkerDep,
    tool: Annotated[str | None, Query(**_ID)] = None,
    start: Annotated[str | None, Query(alias="from", description=f"Gaps arising at or after ({_TIME}).")] = None,
    end: Annotated[str | None, Query(alias="to", description=f"Gaps arising at or before ({_TIME}).")] = None,
    kind: Annotated[list[str] | None, Query(description="Only these kinds (repeatable).")] = None,
    now: Annotated[
        str | None, Query(description=f"Evaluate windows and deadlines as of this time (default: now; {_TIME}).")
    ] = None,
    action_window_minutes: Annotated[float | None, Query(gt=0, le=MAX_MINUTES)] = None,
    drift_response_days: Annotated[float | None, Query(gt=0, le=MAX_DAYS)] = None,
    deadline_warning_hours: Annotated[float | None, Query(gt=0, le=MAX_HOURS)] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
    min_seq: MinSeq = None,
) -> Response:
    """Outputs without approval, outside scope or validation, shown to untrained clinicians or never acted on;
    unapproved threshold changes; drift not followed up; incidents unassigned, near or past their reporting
    deadline, or whose tool changed before the report."""
    if kind is not None and not set(kind) <= set(GAP_KINDS):
        raise InvalidParameters(FieldError("kind", "must be one of: " + ", ".join(GAP_KINDS)))
    policy = _policy(
        action_window_minutes=action_window_minutes,
        drift_response_days=drift_response_days,
        deadline_warning_hours=deadline_warning_hours,
    )
    return answer(
        queries.governance_gaps,
        views_at(worker, min_seq),
        tool=tool,
        start=_time(start, "from"),
        end=_time(end, "to"),
        kinds=kind,
        now=_time(now, "now"),
        policy=policy,
        limit=limit,
        offset=offset,
    )


@router.get("/v1/incidents/{incident_id}/response", summary="The response against the playbook", responses=_WITH_404)
def incident_response(
    key: ReaderKey,
    worker: WorkerDep,
    incident_id: Identifier,
    now: Annotated[
        str | None, Query(description=f"Judge missing steps as of this time (default: now; {_TIME}).")
    ] = None,
    min_seq: MinSeq = None,
) -> Response:
    """The policy in force when the incident became known, and each step its playbook expects: done (with its
    evidence), late (with the deadline it missed), missing or pending; and the steps no playbook asked for."""
    return answer(queries.incident_response, views_at(worker, min_seq), incident_id, now=_time(now, "now"))


@router.get("/v1/tools/{tool_id}/policy", summary="A tool's policy and playbook in force", responses=_RESPONSES)
def tool_policy(
    key: ReaderKey,
    worker: WorkerDep,
    tool_id: Identifier,
    as_of: Annotated[str | None, Query(description=f"The moment (default: now; {_TIME}).")] = None,
    min_seq: MinSeq = None,
) -> Response:
    """The tool's policy in force at ``as_of`` (null if none), the go-live questions it leaves unanswered, its
    earlier policies, and the steps expected for each kind of error."""
    return answer(queries.tool_policy, views_at(worker, min_seq), tool_id, as_of=_time(as_of, "as_of"))


_KIND = Query(description="false_negative, false_positive, misprioritization, ...", **_ID)


@router.get("/v1/metrics/intervention", summary="How fast the organisation intervened", responses=_RESPONSES)
def intervention(
    key: ReaderKey,
    worker: WorkerDep,
    tool: Annotated[str | None, Query(**_ID)] = None,
    unit: Annotated[str | None, Query(**_ID)] = None,
    kind: Annotated[str | None, _KIND] = None,
    start: Annotated[str | None, Query(alias="from", description=f"Aware at or after ({_TIME}).")] = None,
    end: Annotated[str | None, Query(alias="to", description=f"Aware at or before ({_TIME}).")] = None,
    min_seq: MinSeq = None,
) -> Response:
    """Per incident, the time from the output to awareness, from display to action, and from awareness to
    assignment, to each response step and to remediation, with evidence; medians per tool, unit and kind."""
    return answer(
        queries.intervention_metrics,
        views_at(worker, min_seq),
        tool=tool,
        unit=unit,
        kind=kind,
        start=_time(start, "from"),
        end=_time(end, "to"),
    )


@router.get("/v1/metrics/recurrence", summary="Harm that came back after a verified fix", responses=_RESPONSES)
def recurrence(
    key: ReaderKey,
    worker: WorkerDep,
    tool: Annotated[str | None, Query(**_ID)] = None,
    kind: Annotated[str | None, _KIND] = None,
    start: Annotated[str | None, Query(alias="from", description=f"Aware at or after ({_TIME}).")] = None,
    end: Annotated[str | None, Query(alias="to", description=f"Aware at or before ({_TIME}).")] = None,
    min_seq: MinSeq = None,
) -> Response:
    """Per tool and error kind: the incidents, the remediations verified effective, and the incidents that came
    after one (recurrences), each with its evidence."""
    return answer(
        queries.recurrence,
        views_at(worker, min_seq),
        tool=tool,
        kind=kind,
        start=_time(start, "from"),
        end=_time(end, "to"),
    )


@router.get("/v1/projections/status", summary="Position, lag and health of each view", responses=_RESPONSES)
def projections_status(key: ReaderKey, worker: WorkerDep) -> Response:
    """Each view's position, the head of the log, the lag, and any failure (with its seq and event type)."""
    statuses = [s.to_json() for s in worker.status()]
    failure = None if worker.failure is None else str(worker.failure)
    return Response(orjson.dumps({"views": statuses, "worker_failure": failure}), media_type="application/json")


_UNITS = {
    "fast_acceptance_seconds": ("fast_acceptance_us", SECOND),
    "action_window_minutes": ("action_window_us", MINUTE),
    "drift_response_days": ("drift_response_us", DAY),
    "deadline_warning_hours": ("deadline_warning_us", HOUR),
}


def _policy(**overrides: float | None) -> Policy:
    changes: dict[str, int] = {}
    for name, value in overrides.items():
        if value is None:
            continue
        field, unit = _UNITS.get(name, (name, 1))
        changes[field] = int(value * unit)
    return dataclasses.replace(DEFAULT_POLICY, **changes)
