"""A tool's state at any moment with its full history, and its blast radius over a window."""

from __future__ import annotations

from collections import Counter
from typing import Any

from projections.checks import OutputCase, latency_us
from projections.errors import InvalidQuery, NotFound
from projections.history import ToolHistory, approvers_of, scope_of
from projections.queries.loading import output_cases, tool_history
from projections.timefmt import iso, now_us
from projections.views import EventRow, OutputRow, Views

MAX_BLAST = 10_000


def _with_evidence(row: EventRow | None, note: str, **fields: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {**fields, "evidence": [row.evidence(note)]}


def state_at(history: ToolHistory, at: int) -> dict[str, Any]:
    """The tool's governance state at ``at`` (microseconds), each part with its evidence."""
    registration = history.registration(at)
    version, version_row = history.deployed_version(at)
    approval = history.approval(at)
    current = approval.approval
    return {
        "registered": _with_evidence(registration, "registration", **(registration.facts if registration else {})),
        "version": _with_evidence(version_row, "version deployed", value=version),
        "status": approval.state,
        "approval": None
        if current is None
        else {
            "scope": scope_of(current),
            "approved_by": approvers_of(current),
            "actor": current.actor_id,
            "signature_meaning": current.facts.get("signature_meaning"),
            "approved_at": iso(current.effective_us),
            "expires_at": current.facts.get("expires_at"),
            "version": current.facts.get("version"),
            "approval_ref": current.facts.get("approval_ref"),
            "evidence": [
                current.evidence(
                    "approval in force" if approval.state == "approved" else f"latest approval ({approval.state})"
                )
            ],
        },
        "status_event": _with_evidence(
            approval.status_event,
            f"tool {approval.state}",
            type=approval.status_event.type if approval.status_event else None,
        ),
        "suspensions": [
            {
                "suspended_at": iso(start.effective_us),
                "lifted_at": None if end is None else iso(end.effective_us),
                "in_force": end is None,
                "evidence": [start.evidence("suspension")] + ([] if end is None else [end.evidence("lifted")]),
            }
            for start, end in history.suspensions(at)
        ],
        "validations": [
            {
                "site": site,
                "unit": unit,
                "population": population,
                "result": row.outcome,
                "metrics": row.facts.get("metrics"),
                "threshold": row.facts.get("threshold"),
                "version": row.facts.get("version"),
                "validated_at": iso(row.effective_us),
                "evidence": [row.evidence("latest validation here")],
            }
            for (site, unit, population), row in sorted(history.validations(at).items())
        ],
        "thresholds": [
            {
                "parameter": parameter,
                "site": site,
                "unit": unit,
                "value": row.facts.get("new_value"),
                "previous": row.facts.get("old_value"),
                "approved_by": row.facts.get("approved_by"),
                "changed_at": iso(row.effective_us),
                "evidence": [row.evidence("setting in effect")],
            }
            for (parameter, site, unit), row in sorted(
                history.thresholds(at).items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2] or "")
            )
        ],
        "trained_clinicians": [
            {
                "clinician_id": clinician,
                "current": state.state == "current",
                "state": state.state,
                "completed_at": iso(state.training.effective_us) if state.training else None,
                "expires_at": state.training.facts.get("expires_at") if state.training else None,
                "curriculum_version": state.training.facts.get("curriculum_version") if state.training else None,
                "evidence": [state.training.evidence("training")] if state.training else [],
            }
            for clinician, state in history.trained_clinicians(at).items()
        ],
        "monitoring": _monitoring(history, at),
    }


def _monitoring(history: ToolHistory, at: int) -> dict[str, Any]:
    last = history.last_check(at)
    drifts = history.drift_checks(at)
    return {
        "last_check": None
        if last is None
        else {
            "at": iso(last.effective_us),
            "metric": last.facts.get("metric"),
            "value": last.facts.get("value"),
            "limit": last.facts.get("limit"),
            "status": last.outcome,
            "evidence": [last.evidence("last check")],
        },
        "unacknowledged_drift": [
            {
                "at": iso(check.effective_us),
                "metric": check.facts.get("metric"),
                "evidence": [check.evidence("drift, not acknowledged")],
            }
            for check, acks in drifts
            if not acks
        ],
    }


def tool_state(views: Views, tool_id: str, *, as_of: int | None = None, count_outputs: bool = True) -> dict[str, Any]:
    """The tool's approval and scope, suspensions, validations, thresholds, trained clinicians and last
    monitoring as of ``as_of`` (default: now), and its full governance history. ``count_outputs=False``: no
    count of the tool's outputs (``outputs_recorded`` None), which scans them all (130 ms at 1M events)."""
    at = now_us() if as_of is None else as_of
    count = "SELECT COUNT(*) FROM {outputs} WHERE tool_id = :tool"
    if not count_outputs:
        count = "SELECT COUNT(*) FROM (SELECT 1 FROM {outputs} WHERE tool_id = :tool LIMIT 1) AS one"
    with views.reading() as snap:
        history = tool_history(snap, tool_id, full=True)
        incidents = snap.events("type = 'incident.reported' AND tool_id = :tool", {"tool": tool_id})
        outputs = snap.select(count, {"tool": tool_id})
        position = snap.position
    if not history.rows and not incidents and not outputs[0][0]:
        raise NotFound("tool", tool_id)
    return {
        "tool_id": tool_id,
        "as_of": iso(at),
        "position": position,
        "state": state_at(history, at),
        "outputs_recorded": int(outputs[0][0]) if count_outputs else None,
        "history": [row.entry() for row in sorted([*history.rows, *incidents], key=lambda r: (r.effective_us, r.seq))],
    }


def case_summary(case: OutputCase, out: OutputRow) -> dict[str, Any]:
    """An output with who saw it and what each did (for blast radius and output detail)."""
    return {
        "output_id": out.output_id,
        "generated_at": iso(out.generated_us),
        "site": out.site,
        "unit": out.unit,
        "population": out.population,
        "model_version": out.model_version,
        "threshold_in_effect": out.threshold_value,
        "score": out.score,
        "label": out.label,
        "priority": out.priority,
        "evidence": [out.evidence()],
        "seen_by": [
            {
                "clinician_id": d.clinician_id,
                "shown_at": iso(d.shown_us),
                "surface": d.surface,
                "evidence": [d.evidence()],
            }
            for d in case.displays
        ],
        "actions": [
            {
                "clinician_id": a.clinician_id,
                "action": a.action,
                "reason_code": a.reason_code,
                "acted_at": iso(a.acted_us),
                "seconds_after_display": None if (lat := latency_us(case, a)) is None else lat / 1_000_000,
                "evidence": [a.evidence()],
            }
            for a in case.actions
        ],
    }


def blast_radius(
    views: Views, tool_id: str, *, start: int | None, end: int | None, limit: int = 1000, offset: int = 0
) -> dict[str, Any]:
    """Every output the tool produced between ``start`` and ``end`` (inclusive), and who saw and acted on each."""
    if start is not None and end is not None and start > end:
        raise InvalidQuery("from must not be after to")
    if limit > MAX_BLAST:
        raise InvalidQuery(f"limit must be at most {MAX_BLAST}")
    params = {"tool": tool_id, "start": start, "end": end}
    where = (
        "tool_id = :tool AND (CAST(:start AS {int}) IS NULL OR generated_us >= :start) "
        "AND (CAST(:end AS {int}) IS NULL OR generated_us <= :end)"
    )
    with views.reading() as snap:
        total = int(snap.select("SELECT COUNT(*) FROM {outputs} WHERE " + where, params)[0][0])  # noqa: S608
        ids = [
            str(r[0])
            for r in snap.select(
                "SELECT output_id FROM {outputs} WHERE "  # noqa: S608
                + where
                + " ORDER BY generated_us, seq LIMIT :limit OFFSET :offset",
                {**params, "limit": limit, "offset": offset},
            )
        ]
        cases = output_cases(snap, ids, histories={tool_id: ToolHistory(tool_id, [])})
        settings = tool_history(snap, tool_id).of_type("tool.threshold_changed")
        position = snap.position
    actions = Counter(a.action for c in cases for a in c.actions)
    clinicians = {d.clinician_id for c in cases for d in c.displays} | {
        a.clinician_id for c in cases for a in c.actions
    }
    return {
        "tool_id": tool_id,
        "from": iso(start),
        "to": iso(end),
        "position": position,
        "total": total,
        "offset": offset,
        "summary": {
            "outputs": total,
            "outputs_in_page": len(cases),
            "shown": sum(1 for c in cases if c.displays),
            "acted_on": sum(1 for c in cases if c.actions),
            "clinicians": len(clinicians),
            "actions": dict(sorted(actions.items())),
        },
        "threshold_changes": [r.entry() for r in settings if _within(r.effective_us, start, end)],
        "outputs": [case_summary(c, c.output) for c in cases if c.output is not None],
    }


def _within(at: int, start: int | None, end: int | None) -> bool:
    return (start is None or at >= start) and (end is None or at <= end)
