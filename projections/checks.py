"""The governance questions about one output, each answered with a verdict and its evidence.

The accountability report asks them for an incident's outputs; the gaps query
asks them for every output, so the two can never disagree. Each function reads
only the case it is given (the output, its displays and actions, the tool's
history) and never guesses: no record, "unknown: not recorded".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from projections.answers import NO, PARTLY, UNKNOWN, YES, Answer, Evidence, combine, unique
from projections.history import ToolHistory, approvers_of, scope_of
from projections.timefmt import iso
from projections.views import ActionRow, DisplayRow, EventRow, OutputRow


@dataclass(frozen=True)
class OutputCase:
    """Everything the ledger holds about one output."""

    output_id: str
    output: OutputRow | None
    displays: Sequence[DisplayRow] = ()
    actions: Sequence[ActionRow] = ()
    history: ToolHistory | None = None
    duplicates: Sequence[EventRow] = field(default_factory=tuple)  # further output.generated with this id


QUESTIONS: Final[dict[str, str]] = {
    "output": "Which tool, model version and threshold produced the output?",
    "approval": "Was the tool approved when the output was produced, and by whom?",
    "approval_scope": "Did the approval's scope cover this site, unit and population (and model version)?",
    "validation": "Was the tool validated here (site, unit, population) before the output, and did it pass?",
    "seen_by": "Who saw the output, when and where?",
    "training": "Were the clinicians who saw it trained on this tool, with training current when they saw it?",
    "actions": "What did each clinician who saw it do, and how long after seeing it?",
    "explanation": "Was an explanation given with the output?",
    "escalation": "Was the output escalated, and was the escalation followed up?",
    "monitoring": (
        "Was the tool monitored before the output (when last, with what result), "
        "and was every drift alert acknowledged?"
    ),
    "threshold": "Was the threshold in effect set by an approved change (with or without approval)?",
}


def answer(question: str, verdict: str, reason: str, evidence: Sequence[Evidence] = (), **details: Any) -> Answer:
    """An Answer to one of QUESTIONS."""
    return Answer(question, QUESTIONS[question], verdict, reason, unique(evidence), details)


def _missing(question: str, case: OutputCase) -> Answer:
    return answer(question, UNKNOWN, f"the ledger holds no output.generated for output {case.output_id}")


# --- 1. which tool, version and threshold ---------------------------------------------------


def produced_by(case: OutputCase) -> Answer:
    """The tool, model version and threshold the output names, checked against the tool's history."""
    out = case.output
    if out is None:
        return _missing("output", case)
    evidence = [out.evidence()]
    problems = []
    details: dict[str, Any] = {
        "tool_id": out.tool_id,
        "model_version": out.model_version,
        "threshold_in_effect": out.threshold_value,
        "score": out.score,
        "label": out.label,
        "priority": out.priority,
        "generated_at": iso(out.generated_us),
    }
    if case.history is not None:
        deployed, row = case.history.deployed_version(out.generated_us)
        if row is not None:
            evidence.append(row.evidence("version deployed then"))
            details["deployed_version"] = deployed
            if deployed is not None and deployed != out.model_version:
                problems.append(f"the ledger's deployed version then was {deployed}")
    for duplicate in case.duplicates:
        evidence.append(duplicate.evidence("another output.generated with this output_id"))
        problems.append(f"output_id recorded again at seq {duplicate.seq}")
    if problems:
        return answer("output", PARTLY, "recorded, but " + "; ".join(problems), evidence, **details)
    reason = f"tool {out.tool_id}, model version {out.model_version}, threshold {out.threshold}"
    return answer("output", YES, reason, evidence, **details)


# --- 2-3. approval and its scope ------------------------------------------------------------


def approval(case: OutputCase) -> Answer:
    """Approved at the moment of the output, by whom; or why not."""
    out, history = case.output, case.history
    if out is None:
        return _missing("approval", case)
    if history is None:
        return answer("approval", UNKNOWN, f"the ledger records nothing about tool {out.tool_id}", [out.evidence()])
    state = history.approval(out.generated_us)
    evidence = [out.evidence()]
    if state.approval is None:
        if state.later_approval is not None:
            evidence.append(state.later_approval.evidence("first approval, after the output"))
            return answer(
                "approval",
                NO,
                f"first approved at {iso(state.later_approval.effective_us)}, after the output",
                evidence,
                state="not_approved",
            )
        return answer(
            "approval", UNKNOWN, f"the ledger records no approval of tool {out.tool_id}", evidence, state="not_approved"
        )
    approvers = approvers_of(state.approval)
    evidence.append(state.approval.evidence("latest approval before the output"))
    details = {
        "state": state.state,
        "approved_by": approvers,
        "signature_meaning": state.approval.facts.get("signature_meaning"),
        "approved_at": iso(state.approval.effective_us),
        "expires_at": state.approval.facts.get("expires_at"),
    }
    if state.state == "approved":
        return answer(
            "approval", YES, f"approved at {details['approved_at']} by {', '.join(approvers)}", evidence, **details
        )
    if state.status_event is not None:
        evidence.append(state.status_event.evidence(f"tool {state.state}"))
        when = iso(state.status_event.effective_us)
        return answer("approval", NO, f"the tool was {state.state} at {when}, before the output", evidence, **details)
    return answer(
        "approval", NO, f"the approval expired at {details['expires_at']}, before the output", evidence, **details
    )


def scope_misses(case: OutputCase) -> tuple[EventRow | None, list[str]]:
    """The latest approval before the output, and what of the output its scope does not cover."""
    out, history = case.output, case.history
    if out is None or history is None:
        return None, []
    latest = history.approval(out.generated_us).approval
    if latest is None:
        return None, []
    scope = scope_of(latest)
    misses = [
        f"{name} {value}"
        for name, value, allowed in (
            ("site", out.site, scope["sites"]),
            ("unit", out.unit, scope["units"]),
            ("population", out.population, scope["populations"]),
        )
        if value not in allowed
    ]
    version = latest.facts.get("version")
    if isinstance(version, str) and version != out.model_version:
        misses.append(f"model version {out.model_version} (approved: {version})")
    return latest, misses


def approval_scope(case: OutputCase) -> Answer:
    """Whether the approval's scope covered the output's site, unit, population and version."""
    out = case.output
    if out is None:
        return _missing("approval_scope", case)
    latest, misses = scope_misses(case)
    if latest is None:
        return answer(
            "approval_scope", UNKNOWN, "no approval recorded before the output, so no scope", [out.evidence()]
        )
    evidence = [out.evidence(), latest.evidence("approval whose scope applies")]
    details = {"scope": scope_of(latest), "site": out.site, "unit": out.unit, "population": out.population}
    if misses:
        return answer(
            "approval_scope",
            NO,
            "outside the approval's scope: " + ", ".join(misses),
            evidence,
            outside=misses,
            **details,
        )
    return answer(
        "approval_scope",
        YES,
        f"{out.site}/{out.unit}/{out.population} within the approval's scope",
        evidence,
        **details,
    )


# --- 4. validation ---------------------------------------------------------------------------


def validation(case: OutputCase) -> Answer:
    """The latest validation before the output for its site, unit and population, and its result."""
    out, history = case.output, case.history
    if out is None:
        return _missing("validation", case)
    if history is None:
        return answer("validation", UNKNOWN, "no validation recorded", [out.evidence()])
    validations = history.validations(out.generated_us)
    exact = validations.get((out.site, out.unit, out.population))
    evidence = [out.evidence()]
    if exact is None:
        same_site = [row for (site, _, _), row in validations.items() if site == out.site and row.outcome == "passed"]
        if same_site:
            evidence += [r.evidence("validation at this site, other unit or population") for r in same_site]
            return answer(
                "validation",
                PARTLY,
                f"validated at {out.site}, but not for unit {out.unit} and population {out.population}",
                evidence,
            )
        elsewhere = sorted({f"{s}/{u}/{p}" for (s, u, p) in validations})
        reason = "no validation recorded for this site, unit and population before the output"
        return answer("validation", UNKNOWN, reason, evidence, validated_elsewhere=elsewhere)
    evidence.append(exact.evidence("latest validation here before the output"))
    details = {"result": exact.outcome, "metrics": exact.facts.get("metrics"), "validated_at": iso(exact.effective_us)}
    if exact.outcome != "passed":
        return answer(
            "validation", NO, f"the latest validation here ({details['validated_at']}) failed", evidence, **details
        )
    notes = []
    threshold = exact.facts.get("threshold")
    if threshold is not None and threshold != out.threshold_value:
        notes.append(f"validated at threshold {threshold}, the output used {out.threshold_value}")
    version = exact.facts.get("version")
    if isinstance(version, str) and version != out.model_version:
        notes.append(f"validated version {version}, the output came from {out.model_version}")
    if notes:
        return answer("validation", PARTLY, "passed, but " + "; ".join(notes), evidence, **details)
    return answer("validation", YES, f"passed here on {details['validated_at']}", evidence, **details)


# --- 5-7. who saw it, their training, what they did --------------------------------------------


def seen_by(case: OutputCase) -> Answer:
    """Every display: who, when, on which surface."""
    if not case.displays:
        return answer("seen_by", UNKNOWN, "no display of this output is recorded", [], displays=[])
    shown = [
        {"clinician_id": d.clinician_id, "shown_at": iso(d.shown_us), "surface": d.surface, "ui_version": d.ui_version}
        for d in case.displays
    ]
    who = sorted({d.clinician_id for d in case.displays})
    reason = f"shown {len(case.displays)} time(s) to {', '.join(who)}"
    return answer("seen_by", YES, reason, [d.evidence() for d in case.displays], displays=shown)


def training_of(case: OutputCase, display: DisplayRow) -> tuple[str, list[Evidence], dict[str, Any]]:
    """The training verdict for one display, its evidence and details."""
    if case.history is None:
        return UNKNOWN, [display.evidence()], {"clinician_id": display.clinician_id, "training": "none"}
    state = case.history.training(display.clinician_id, display.shown_us)
    evidence = [display.evidence()]
    detail: dict[str, Any] = {
        "clinician_id": display.clinician_id,
        "shown_at": iso(display.shown_us),
        "training": state.state,
    }
    if state.training is not None:
        evidence.append(state.training.evidence(f"training of {display.clinician_id} ({state.state} when shown)"))
        detail["completed_at"] = iso(state.training.effective_us)
        detail["expires_at"] = state.training.facts.get("expires_at")
    verdict = {"current": YES, "expired": NO, "later": NO}.get(state.state, UNKNOWN)
    return verdict, evidence, detail


def training(case: OutputCase) -> Answer:
    """For each display, whether the clinician's training on the tool was current then."""
    if not case.displays:
        return answer("training", UNKNOWN, "no display recorded, so no viewer to check", [])
    verdicts, evidence, per_display = [], [], []
    for display in case.displays:
        verdict, ev, detail = training_of(case, display)
        verdicts.append(verdict)
        evidence += ev
        per_display.append({**detail, "verdict": verdict})
    overall = combine(verdicts)
    reasons = {
        YES: "every clinician who saw it held current training",
        NO: "training was not current for " + _who(per_display, NO),
        PARTLY: "training was not current (or not recorded) for " + _who(per_display, NO, UNKNOWN),
        UNKNOWN: "no training recorded for " + _who(per_display, UNKNOWN),
    }
    return answer("training", overall, reasons[overall], evidence, displays=per_display)


def _who(details: list[dict[str, Any]], *verdicts: str) -> str:
    return ", ".join(sorted({str(d["clinician_id"]) for d in details if d["verdict"] in verdicts})) or "nobody"


def latency_us(case: OutputCase, action: ActionRow) -> int | None:
    """Time from the acting clinician's first display of the output (before the action) to the action."""
    shown = [
        d.shown_us for d in case.displays if d.clinician_id == action.clinician_id and d.shown_us <= action.acted_us
    ]
    return action.acted_us - min(shown) if shown else None


def actions(case: OutputCase) -> Answer:
    """Each action, how long after the clinician saw the output; and who saw it without acting."""
    rows = []
    for act in case.actions:
        latency = latency_us(case, act)
        rows.append(
            {
                "clinician_id": act.clinician_id,
                "action": act.action,
                "reason_code": act.reason_code,
                "escalated_to": act.escalated_to,
                "acted_at": iso(act.acted_us),
                "seconds_after_display": None if latency is None else latency / 1_000_000,
            }
        )
    viewers = {d.clinician_id for d in case.displays}
    actors = {a.clinician_id for a in case.actions}
    silent = sorted(viewers - actors)
    evidence = [a.evidence() for a in case.actions] + [d.evidence() for d in case.displays if d.clinician_id in silent]
    details = {"actions": rows, "shown_without_action": silent}
    if not case.actions:
        return answer("actions", UNKNOWN, "no action on this output is recorded", evidence, **details)
    summary = "; ".join(
        f"{r['clinician_id']} {r['action']}"
        + ("" if r["seconds_after_display"] is None else f" {r['seconds_after_display']:.0f} s after seeing it")
        for r in rows
    )
    if silent:
        return answer("actions", PARTLY, f"{summary}; no action recorded by {', '.join(silent)}", evidence, **details)
    return answer("actions", YES, summary, evidence, **details)


# --- 8-11. explanation, escalation, monitoring, threshold ---------------------------------------


def explanation(case: OutputCase) -> Answer:
    """Whether the output carried an explanation (its text is withheld from the views)."""
    out = case.output
    if out is None:
        return _missing("explanation", case)
    if out.has_explanation:
        return answer("explanation", YES, "the output was recorded with an explanation", [out.evidence()])
    return answer("explanation", UNKNOWN, "the output was recorded without an explanation", [out.evidence()])


def escalation(case: OutputCase) -> Answer:
    """Whether anyone escalated the output, and whether the person escalated to acted after."""
    if not case.actions:
        return answer("escalation", UNKNOWN, "no action on this output is recorded", [])
    escalations = [a for a in case.actions if a.action == "escalated"]
    if not escalations:
        return answer(
            "escalation", NO, "none of the recorded actions was an escalation", [a.evidence() for a in case.actions]
        )
    evidence: list[Evidence] = []
    followed, rows = [], []
    for esc in escalations:
        follow = [
            a
            for a in case.actions
            if a.acted_us >= esc.acted_us
            and a.seq != esc.seq
            and (a.clinician_id == esc.escalated_to if esc.escalated_to else a.clinician_id != esc.clinician_id)
        ]
        evidence.append(esc.evidence())
        evidence += [f.evidence("follow-up of the escalation") for f in follow[:1]]
        followed.append(bool(follow))
        rows.append(
            {
                "by": esc.clinician_id,
                "to": esc.escalated_to,
                "at": iso(esc.acted_us),
                "followed_by": follow[0].clinician_id if follow else None,
                "followed_at": iso(follow[0].acted_us) if follow else None,
            }
        )
    if all(followed):
        return answer("escalation", YES, "escalated and followed up", evidence, escalations=rows)
    return answer(
        "escalation",
        PARTLY,
        "escalated, but no follow-up by the person escalated to is recorded",
        evidence,
        escalations=rows,
    )


def monitoring(case: OutputCase) -> Answer:
    """The last check before the output, and whether every drift alert by then was acknowledged."""
    out, history = case.output, case.history
    if out is None:
        return _missing("monitoring", case)
    last = None if history is None else history.last_check(out.generated_us)
    if history is None or last is None:
        return answer(
            "monitoring", UNKNOWN, "no monitoring check of the tool recorded before the output", [out.evidence()]
        )
    evidence = [out.evidence(), last.evidence("last check before the output")]
    drifts = history.drift_checks(out.generated_us)
    open_drifts = [check for check, acks in drifts if not acks]
    for check, acks in drifts:
        evidence.append(check.evidence("drift reported"))
        evidence += [a.evidence("drift acknowledged") for a in acks]
    details = {
        "last_check": {
            "at": iso(last.effective_us),
            "metric": last.facts.get("metric"),
            "value": last.facts.get("value"),
            "limit": last.facts.get("limit"),
            "status": last.outcome,
        },
        "days_before_output": (out.generated_us - last.effective_us) / 86_400_000_000,
        "drift_alerts": len(drifts),
        "unacknowledged_drift_alerts": len(open_drifts),
    }
    base = f"last checked {iso(last.effective_us)} ({last.facts.get('metric')}: {last.outcome})"
    if open_drifts:
        return answer(
            "monitoring",
            PARTLY,
            f"{base}; {len(open_drifts)} drift alert(s) not acknowledged before the output",
            evidence,
            **details,
        )
    return answer(
        "monitoring",
        YES,
        base + ("; every drift alert acknowledged" if drifts else "; no drift reported"),
        evidence,
        **details,
    )


def threshold(case: OutputCase) -> Answer:
    """The threshold settings in effect at the output, whether their changes were approved, and whether they match."""
    out, history = case.output, case.history
    if out is None:
        return _missing("threshold", case)
    in_effect = {} if history is None else history.thresholds_in_effect(out.generated_us, site=out.site, unit=out.unit)
    evidence = [out.evidence()]
    if not in_effect:
        reason = (
            f"the output states threshold {out.threshold}, but the ledger records no setting of it before the output"
        )
        return answer("threshold", UNKNOWN, reason, evidence)
    settings, verdicts = [], []
    for parameter, row in sorted(in_effect.items()):
        approved_by = row.facts.get("approved_by")
        verdicts.append(YES if approved_by else NO)
        evidence.append(
            row.evidence(
                f"{parameter} set {'with approval by ' + str(approved_by) if approved_by else 'without approval'}"
            )
        )
        settings.append(
            {
                "parameter": parameter,
                "value": row.facts.get("new_value"),
                "previous": row.facts.get("old_value"),
                "approved_by": approved_by,
                "changed_at": iso(row.effective_us),
                "change_ref": row.facts.get("change_ref"),
            }
        )
    verdict = combine(verdicts)
    matches = any(s["value"] == out.threshold_value for s in settings)
    reason = {
        YES: "set by approved change(s)",
        NO: "set by change(s) with no approver recorded",
        PARTLY: "some settings in effect were changed without approval",
    }[verdict]
    if not matches:
        reason += f"; the output states {out.threshold}, which no recorded setting matches"
        verdict = PARTLY if verdict == YES else verdict
    earlier = [
        {
            "parameter": r.facts.get("parameter"),
            "value": r.facts.get("new_value"),
            "approved_by": r.facts.get("approved_by"),
            "changed_at": iso(r.effective_us),
            "seq": r.seq,
            "event_id": r.event_id,
        }
        for r in (history.of_type("tool.threshold_changed", at=out.generated_us) if history is not None else [])
        if r.facts.get("site") in (None, out.site) and r.facts.get("unit") in (None, out.unit)
    ]
    return answer("threshold", verdict, reason, evidence, settings=settings, changes_before_output=earlier)


CHECKS: Final[tuple[Callable[[OutputCase], Answer], ...]] = (
    produced_by,
    approval,
    approval_scope,
    validation,
    seen_by,
    training,
    actions,
    explanation,
    escalation,
    monitoring,
    threshold,
)


def evaluate(case: OutputCase) -> list[Answer]:
    """Every question about one output."""
    return [check(case) for check in CHECKS]
