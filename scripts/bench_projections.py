"""Entry points for the benchmark harness: synthetic history, rebuild speed, query times, lag.

    load_synthetic(ledger, events=N)         append a realistic history of about N events
    measure_rebuild(ledger)                  -> {"events", "seconds", "events_per_second"}
    measure_queries(ledger, samples=200)     -> p50/p95 ms of incident timeline and accountability
    measure_lag(url, rate=1000, seconds=30)  -> p50/p95 seconds from commit to visible in the views

Each returns a plain dict, so the harness can print or store it. Nothing here
runs at import time.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from ledger.store import Ledger
from projections.runner import REBUILD_BATCH, Projector
from projections.timefmt import HOUR, MINUTE, SECOND, iso, now_us
from scripts.common import ledger_settings

_NAMESPACE = uuid.UUID("8e0b5f2c-4a71-4f0e-9d3c-5b7a1e2f6c90")
_T0 = 1_767_225_600 * SECOND  # 2026-01-01T00:00:00Z
_SITES = ("northside", "southside")
_UNITS = ("ed", "icu", "ward_4", "ward_7")
_POPULATION = "adults_18_plus"
_ACTIONS = ("accepted", "accepted", "accepted", "overridden", "dismissed", "escalated", "deferred")
_CATEGORIES = (
    "false_negative",
    "false_positive",
    "misprioritization",
    "faulty_recommendation",
    "workflow_amplification",
)
_SYSTEM = {"id": "epic-bridge-01", "role": "integration_engine", "kind": "system"}
_COMMITTEE = {"id": "aigc", "role": "ai_governance_committee", "kind": "committee"}
_RISK = {"id": "staff-0311", "role": "patient_safety_officer", "kind": "person"}


def synthetic_events(count: int, *, tools: int = 4, clinicians: int = 200, seed: int = 7) -> Iterator[dict[str, Any]]:
    """About ``count`` valid envelopes: governance for each tool, then outputs, displays, actions, incidents."""
    rng = random.Random(seed)  # noqa: S311
    made = 0
    for t in range(tools):
        for event in _governance(f"tool-{t}", clinicians, rng):
            made += 1
            yield event
    n = 0
    while made < count:
        tool = f"tool-{n % tools}"
        at = _T0 + 40 * 86_400 * SECOND + n * 20 * SECOND
        output_id = f"out-{n}"
        for event in _output_story(n, tool, output_id, at, clinicians, rng):
            made += 1
            yield event
        if n % 400 == 399:
            for event in _incident(n, output_id, tool, at, rng):
                made += 1
                yield event
        n += 1


def _env(name: str, event_type: str, at: int, actor: dict[str, str], data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid5(_NAMESPACE, name)),
        "type": event_type,
        "occurred_at": iso(at),
        "source": "bench",
        "actor": actor,
        "data": data,
    }


def _governance(tool: str, clinicians: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    yield _env(
        f"{tool}-reg",
        "tool.registered",
        _T0,
        _RISK,
        {
            "tool_id": tool,
            "name": tool,
            "vendor": "Acme",
            "version": "1.0.0",
            "intended_use": "Early warning of deterioration in adult inpatients.",
            "regulatory_status": {"status": "device", "regime": "fda", "device_class": "II"},
            "model_digest": "sha256:" + "ab" * 32,
            "ai_act_risk": "annex_iii",
        },
    )
    for site in _SITES:
        for unit in _UNITS:
            yield _env(
                f"{tool}-val-{site}-{unit}",
                "tool.validated",
                _T0 + DAY_US,
                _RISK,
                {
                    "tool_id": tool,
                    "site": site,
                    "unit": unit,
                    "population": _POPULATION,
                    "data_period": {"start": "2025-01-01T00:00:00Z", "end": "2025-12-31T00:00:00Z"},
                    "metrics": {"n": 1000, "sensitivity": 0.8, "specificity": 0.9},
                    "result": "passed",
                    "threshold": 0.6,
                },
            )
    yield _env(
        f"{tool}-appr",
        "tool.approved",
        _T0 + 2 * DAY_US,
        _COMMITTEE,
        {
            "tool_id": tool,
            "scope": {"sites": list(_SITES), "units": list(_UNITS), "populations": [_POPULATION]},
            "conditions": ["Monthly drift review"],
            "signature_meaning": "approval",
        },
    )
    yield _env(
        f"{tool}-thr",
        "tool.threshold_changed",
        _T0 + 3 * DAY_US,
        _RISK,
        {
            "tool_id": tool,
            "parameter": "alert_threshold",
            "new_value": 0.6,
            "reason": "Initial setting.",
            "approved_by": "aigc",
        },
    )
    for c in range(clinicians):
        if rng.random() < 0.9:
            yield _env(
                f"{tool}-train-{c}",
                "clinician.trained",
                _T0 + 4 * DAY_US,
                _SYSTEM,
                {
                    "clinician_id": f"clin-{c}",
                    "tool_id": tool,
                    "curriculum_version": "v1",
                    "completed_at": iso(_T0 + 4 * DAY_US),
                },
            )
    for week in range(20):
        yield _env(
            f"{tool}-mon-{week}",
            "monitoring.checked",
            _T0 + (5 + 7 * week) * DAY_US,
            _SYSTEM,
            {
                "tool_id": tool,
                "metric": "ppv",
                "window": {"start": iso(_T0 + 7 * week * DAY_US), "end": iso(_T0 + (7 * week + 7) * DAY_US)},
                "value": 0.4,
                "limit": 0.3,
                "status": "ok",
            },
        )


DAY_US = 86_400 * SECOND


def _output_story(
    n: int, tool: str, output_id: str, at: int, clinicians: int, rng: random.Random
) -> Iterator[dict[str, Any]]:
    site, unit = _SITES[n % 2], _UNITS[n % 4]
    yield _env(
        f"o-{n}",
        "output.generated",
        at,
        _SYSTEM,
        {
            "output_id": output_id,
            "tool_id": tool,
            "model_version": "1.0.0",
            "site": site,
            "unit": unit,
            "population": _POPULATION,
            "patient_ref": f"Patient/p-{n % 5000}",
            "encounter_ref": f"Encounter/e-{n}",
            "score": round(rng.random(), 3),
            "label": "risk_high",
            "priority": "urgent",
            "threshold_in_effect": 0.6,
            "explanation": "Rising lactate and heart rate.",
        },
    )
    clinician = f"clin-{rng.randrange(clinicians)}"
    shown = at + rng.randrange(5, 120) * SECOND
    yield _env(
        f"s-{n}",
        "output.shown",
        shown,
        _SYSTEM,
        {
            "output_id": output_id,
            "clinician_id": clinician,
            "surface": "ed_tracking_board",
            "shown_at": iso(shown),
        },
    )
    if rng.random() < 0.85:
        acted = shown + rng.randrange(2, 15 * 60) * SECOND
        yield _env(
            f"a-{n}",
            "output.acted",
            acted,
            _SYSTEM,
            {
                "output_id": output_id,
                "clinician_id": clinician,
                "action": rng.choice(_ACTIONS),
                "reason_code": "clinical",
            },
        )


def _incident(n: int, output_id: str, tool: str, at: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    incident = f"INC-{n}"
    aware = at + 6 * HOUR
    yield _env(
        f"i-{n}",
        "incident.reported",
        aware,
        _RISK,
        {
            "incident_id": incident,
            "category": rng.choice(_CATEGORIES),
            "output_ids": [output_id],
            "harm": rng.choice(("no_harm", "mild_harm", "moderate_harm", "severe_harm")),
            "aware_at": iso(aware),
            "description": "Alert did not match the clinical picture.",
            "tool_id": tool,
        },
    )
    yield _env(
        f"ia-{n}", "incident.assigned", aware + 2 * HOUR, _RISK, {"incident_id": incident, "reviewer": "staff-0311"}
    )
    yield _env(
        f"ir-{n}",
        "incident.reviewed",
        aware + 48 * HOUR,
        _RISK,
        {
            "incident_id": incident,
            "findings": "Threshold and workflow factors.",
            "root_causes": ["workflow_design"],
            "reviewers": ["staff-0311"],
        },
    )


def load_synthetic(ledger: Ledger, *, events: int, batch: int = 1000) -> int:
    """Append about ``events`` synthetic events; the head seq after."""
    chunk: list[dict[str, Any]] = []
    for event in synthetic_events(events):
        chunk.append(event)
        if len(chunk) == batch:
            ledger.submit(chunk)
            chunk = []
    if chunk:
        ledger.submit(chunk)
    return ledger.head_seq()


def measure_rebuild(ledger: Ledger, *, batch_size: int = REBUILD_BATCH) -> dict[str, float]:
    """Rebuild every view from the whole log; events, seconds and events per second."""
    report = Projector(ledger).rebuild(batch_size=batch_size)
    return {"events": report.events, "seconds": report.seconds, "events_per_second": report.events_per_second}


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "n": float(len(ordered)),
    }


def measure_queries(ledger: Ledger, *, samples: int = 200, seed: int = 3) -> dict[str, dict[str, float]]:
    """Server-side time (ms) of the incident timeline and the accountability report, p50 and p95."""
    from projections.queries import accountability_report, incident_timeline
    from projections.views import Views

    views = Views(ledger)
    ids = [str(r[0]) for r in views.db.select("SELECT incident_id FROM {incidents} ORDER BY incident_id")]
    if not ids:
        raise ValueError("the ledger holds no incidents to time")
    rng = random.Random(seed)  # noqa: S311
    timings: dict[str, list[float]] = {"timeline": [], "accountability": []}
    for _ in range(samples):
        incident = rng.choice(ids)
        for name, query in (("timeline", incident_timeline), ("accountability", accountability_report)):
            started = time.perf_counter()
            query(views, incident)
            timings[name].append((time.perf_counter() - started) * 1000)
    return {name: _percentiles(values) for name, values in timings.items()}


def measure_lag(url: str, *, rate: float = 1000.0, seconds: float = 30.0, batch: int = 10) -> dict[str, float]:
    """Append at ``rate`` events/s for ``seconds`` while a ProjectionWorker runs; lag from commit to visible."""
    from projections.worker import ProjectionWorker

    appended: dict[int, float] = {}
    lags: list[float] = []
    with Ledger(ledger_settings(url)) as writer_ledger, Ledger(ledger_settings(url)) as reader_ledger:
        worker = ProjectionWorker(reader_ledger)  # the server's own pacing (its default interval)
        worker.catch_up()
        worker.start()
        stop = threading.Event()
        watcher = threading.Thread(target=_watch, args=(worker, appended, lags, stop), daemon=True)
        watcher.start()
        events = synthetic_events(10**9, seed=int(now_us() % 1000))
        for _ in range(40):  # skip the governance prologue of the first tool
            next(events)
        started = time.perf_counter()
        sent = 0
        while time.perf_counter() - started < seconds:
            chunk = [_fresh(next(events)) for _ in range(batch)]
            receipts = writer_ledger.submit(chunk)
            appended[receipts[-1].seq] = time.perf_counter()
            sent += batch
            delay = started + sent / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        worker.wait_for(max(appended), timeout=30)
        stop.set()
        watcher.join()
        worker.stop()
    result = _percentiles(lags)
    return {"lag_p50_s": result["p50"], "lag_p95_s": result["p95"], "events": float(sent), "rate": sent / seconds}


def _fresh(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "event_id": str(uuid.uuid4())}


def _watch(worker: Any, appended: dict[int, float], lags: list[float], stop: threading.Event) -> None:
    seen = 0
    while not stop.is_set() or seen < max(appended, default=0):
        position = worker.position()
        now = time.perf_counter()
        for seq in sorted(s for s in list(appended) if seen < s <= position):
            lags.append(now - appended[seq])
        seen = max(seen, position)
        time.sleep(0.005)
        if stop.is_set() and seen >= max(appended, default=0):
            break


__all__ = ["MINUTE", "load_synthetic", "measure_lag", "measure_queries", "measure_rebuild", "synthetic_events"]


def main(argv: list[str] | None = None) -> int:
    """``python -m scripts.bench_projections --database-url URL [--events N] [--lag-seconds S]``: print JSON figures."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m scripts.bench_projections", description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--events", type=int, default=50_000, help="load this many if the ledger is empty")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--lag-seconds", type=float, default=20.0, help="0 to skip the lag measurement")
    parser.add_argument("--rate", type=float, default=1000.0)
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {}
    with Ledger(ledger_settings(args.database_url)) as ledger:
        if ledger.head_seq() == 0:
            started = time.perf_counter()
            figures["loaded"] = {
                "events": load_synthetic(ledger, events=args.events),
                "seconds": time.perf_counter() - started,
            }
        figures["rebuild"] = measure_rebuild(ledger)
        figures["queries_ms"] = measure_queries(ledger, samples=args.samples)
    if args.lag_seconds > 0:
        figures["lag"] = measure_lag(args.database_url, rate=args.rate, seconds=args.lag_seconds)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
