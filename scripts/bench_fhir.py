"""The FHIR section of the benchmark harness: AuditEvent batches beside the native batch append, one server.

    python -m scripts.bench fhir [--api-events N] [--rounds R]

Against one real `ledger serve` on PostgreSQL (one worker), alternating rounds
of the same number of events: batches of 100 native ``output.shown`` envelopes
(``POST /v1/events/batch``) and batch Bundles of 100 IHE BALP AuditEvents
(``POST /fhir``, mapped to the same events). Each run starts after a CHECKPOINT.
The figure to read is the ratio of the two rates in the same run (target: the
FHIR path at least half the native one), and the server's CPU per event.
"""

from __future__ import annotations

import argparse
from statistics import median

from scripts.bench_api import drive, server, settle
from scripts.benchkit import machine


def bench_fhir(args: argparse.Namespace) -> None:
    """Print the FHIR ingestion table."""
    if not args.postgres_url:
        print("fhir section needs PostgreSQL")
        return
    batches = max(1, args.api_events // 100)
    rates: dict[str, list[float]] = {"native": [], "fhir": []}
    cpu: dict[str, list[float]] = {"native": [], "fhir": []}
    with server(args.postgres_url, 1) as (port, pid, key, _auditor):
        job = {"port": port, "key": key, "batches": batches, "size": 100}
        for round_ in range(args.rounds):
            order = ("native", "fhir") if round_ % 2 == 0 else ("fhir", "native")
            for side in order:
                settle(args.postgres_url)
                run = drive(pid, job | {"mode": "batches" if side == "native" else "fhir_batches"})
                rates[side].append(run.per_second(100))
                cpu[side].append(run.cpu_ms(100)[0])
    title = f"## FHIR AuditEvent ingestion on PostgreSQL ({machine()}; one server worker, load generator beside it)"
    print(title + "\n")
    print("| path | batches of 100 ev/s (median of rounds) | each round | server CPU ms/event |")
    print("|---|---|---|---|")
    for side, label in (("native", "`POST /v1/events/batch`"), ("fhir", "`POST /fhir` (BALP AuditEvents)")):
        each = ", ".join(f"{r:,.0f}" for r in rates[side])
        print(f"| {label} | {median(rates[side]):,.0f} | {each} | {median(cpu[side]):.3f} |")
    ratio = median(rates["fhir"]) / median(rates["native"])
    print(f"\nFHIR / native: {ratio:.2f} ({args.rounds} rounds, {batches} batches each)\n")
