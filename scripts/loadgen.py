"""A lean HTTP/1.1 load generator for the API benchmark, run in its own process.

    python -m scripts.loadgen < job.json > result.json

The job (JSON on stdin) names the server (``port``), the API key, the mode and
its counts; the result (JSON on stdout) has the elapsed time and, in the
fixed-rate mode, every request's latency in milliseconds.

Why not httpx threads: on a machine where the load generator shares the cores
with the server, the client's own CPU is taken from the server under test. This
client sends request bytes built before the clock starts, over keep-alive
connections on one asyncio loop (uvloop when installed), and parses only the
status line and Content-Length of each answer. Every answer must be 200 or 201,
or the run fails.

Modes:

    batches     one connection posts ``batches`` bodies of ``size`` events in turn
    closed      ``clients`` connections each post ``per_client`` single events in turn
    rate        single events scheduled at ``rate`` per second for ``seconds``,
                sent over ``clients`` connections; latency is counted from each
                request's scheduled time, so a stall is never hidden (no
                coordinated omission)

The events are output.shown (no sensitive field), or, with ``"events": "generated"``,
output.generated with three sensitive fields, one event in ten naming a patient
first seen (``"patients"`` prefixes their references, so a new prefix names new
patients): what the privacy benchmark sends to servers with and without sealing.

It connects to 127.0.0.1 only, and every loop is bounded by its counts.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson

_HOST = "127.0.0.1"
_HEAD_END = b"\r\n\r\n"


class BadResponse(RuntimeError):
    """The server answered something other than 200 or 201."""


def generated_events(count: int, *, patients: str = "") -> list[dict[str, Any]]:
    """output.generated events: three sensitive fields each, one patient in ten repeating.

    ``patients`` prefixes the patient references, so a new prefix names new patients
    (first seen by the ledger) of the same length.
    """
    return [
        {
            "event_id": str(uuid.uuid4()),
            "type": "output.generated",
            "occurred_at": "2026-04-08T02:14:00Z",
            "source": "acme-inference",
            "actor": {"id": "acme-inference", "role": "inference_service", "kind": "system"},
            "data": {
                "output_id": f"out-{i}",
                "tool_id": "sepsis-watch",
                "model_version": "3.2.0",
                "site": "northside",
                "unit": "ed",
                "population": "adults_18_plus",
                "patient_ref": f"Patient/{patients}p-{i % (count // 10 + 1)}",
                "encounter_ref": f"Encounter/e-{i}",
                "score": 0.64,
                "label": "low",
                "priority": "routine",
                "threshold_in_effect": 0.7,
                "explanation": "Rising lactate, heart rate 118.",
            },
        }  # fmt: skip
        for i in range(count)
    ]


def sample_events(count: int) -> list[dict[str, Any]]:
    """Realistic output.shown envelopes (about 400 bytes canonical), no sensitive field."""
    return [
        {
            "event_id": str(uuid.uuid4()),
            "type": "output.shown",
            "occurred_at": "2026-04-08T02:15:00+02:00",
            "source": "epic-prod",
            "actor": {"id": "epic-bridge-01", "role": "integration_engine", "kind": "system"},
            "data": {
                "output_id": f"out-{i}",
                "clinician_id": f"clin-{i % 300}",
                "surface": "ed_tracking_board",
                "shown_at": "2026-04-08T02:14:58.004+02:00",
            },
        }
        for i in range(count)
    ]


def sample_bodies(count: int, *, size: int = 1) -> list[bytes]:
    """``count`` JSON bodies: single output.shown events (size 1) or batches of ``size`` of them."""
    events = sample_events(count * size)
    if size == 1:
        return [orjson.dumps(e) for e in events]
    return [orjson.dumps({"events": events[i : i + size]}) for i in range(0, len(events), size)]


def audit_events(count: int) -> list[dict[str, Any]]:
    """IHE BALP-shaped FHIR R4 AuditEvents (a user's read of an AI output, about 1.3 kB each), distinct ids."""
    device = {"reference": "Device/ex-device"}
    dcm = "http://dicom.nema.org/resources/ontology/DCM"
    return [
        {
            "resourceType": "AuditEvent",
            "id": str(uuid.uuid4()),
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
            "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}],
            "action": "R",
            "period": {"start": "2026-04-08T02:14:58.004+02:00", "end": "2026-04-08T02:14:58.004+02:00"},
            "recorded": "2026-04-08T02:14:58.104+02:00",
            "outcome": "0",
            "source": {"site": "server.example.com", "observer": device},
            "agent": [
                {"type": {"coding": [{"system": dcm, "code": "110153"}]}, "requestor": False, "who": device},
                {
                    "type": {"coding": [{"system": dcm, "code": "110152"}]},
                    "requestor": False,
                    "who": {"display": "myMachine.example.org"},
                    "network": {"address": "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "type": "2"},
                },
                {
                    "type": {
                        "coding": [
                            {"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}
                        ]
                    },
                    "requestor": True,
                    "who": {"identifier": {"system": "urn:oid:2.16.840.1.113883.4.6", "value": f"clin-{i % 300}"}},
                },
            ],
            "entity": [
                {
                    "what": {"reference": f"RiskAssessment/out-{i}"},
                    "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "4"},
                    "detail": [{"type": "surface", "valueString": "ed_tracking_board"}],
                }
            ],
        }
        for i in range(count)
    ]


def fhir_bundles(count: int, *, size: int) -> list[bytes]:
    """``count`` batch Bundles of ``size`` AuditEvents each."""
    events = audit_events(count * size)
    bundles = []
    for i in range(0, len(events), size):
        entries = [{"resource": e, "request": {"method": "POST", "url": "AuditEvent"}} for e in events[i : i + size]]
        bundles.append(orjson.dumps({"resourceType": "Bundle", "type": "batch", "entry": entries}))
    return bundles


def request_bytes(path: str, body: bytes, *, port: int, key: str) -> bytes:
    """One complete keep-alive POST request."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {_HOST}:{port}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


class Connection:
    """One keep-alive connection that sends a request and reads its whole answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        """Connect to the server on 127.0.0.1."""
        reader, writer = await asyncio.open_connection(_HOST, port)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> int:
        """Send ``request``; the answer's status (BadResponse unless 200 or 201)."""
        self.writer.write(request)
        head = await self.reader.readuntil(_HEAD_END)
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
                break
        body = await self.reader.readexactly(length)
        if status not in (200, 201):
            raise BadResponse(f"status {status}: {body[:300]!r}")
        return status

    def close(self) -> None:
        """Close the socket."""
        self.writer.close()


async def run_batches(port: int, requests: list[bytes]) -> dict[str, Any]:
    """Post each request in turn over one connection."""
    conn = await Connection.open(port)
    start, cpu = time.perf_counter(), time.process_time()
    for request in requests:
        await conn.exchange(request)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    conn.close()
    return {"elapsed": elapsed, "cpu": cpu, "requests": len(requests)}


async def run_closed(port: int, per_client: list[list[bytes]]) -> dict[str, Any]:
    """Each connection posts its own requests in turn, all connections at once."""
    conns = [await Connection.open(port) for _ in per_client]

    async def client(conn: Connection, mine: list[bytes]) -> None:
        for request in mine:
            await conn.exchange(request)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client(c, mine) for c, mine in zip(conns, per_client, strict=True)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    for conn in conns:
        conn.close()
    return {"elapsed": elapsed, "cpu": cpu, "requests": sum(len(m) for m in per_client)}


async def run_rate(port: int, requests: list[bytes], *, rate: float, clients: int) -> dict[str, Any]:
    """Send request i at start + i / rate over the first free of ``clients`` connections."""
    conns = [await Connection.open(port) for _ in range(clients)]
    latencies: list[float] = []
    indices: Iterator[int] = iter(range(len(requests)))
    loop = asyncio.get_running_loop()
    start, cpu = loop.time() + 0.2, time.process_time()

    async def client(conn: Connection) -> None:
        for index in indices:
            due = start + index / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await conn.exchange(requests[index])
            latencies.append((loop.time() - due) * 1000)

    await asyncio.gather(*(client(c) for c in conns))
    elapsed, cpu = loop.time() - start, time.process_time() - cpu
    for conn in conns:
        conn.close()
    return {"elapsed": elapsed, "cpu": cpu, "requests": len(requests), "latencies_ms": latencies}


async def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Build the job's requests (before any clock starts), then run it."""
    port, key, mode = int(job["port"]), str(job["key"]), job["mode"]
    if mode == "batches":
        bodies = sample_bodies(int(job["batches"]), size=int(job["size"]))
        return await run_batches(port, [request_bytes("/v1/events/batch", b, port=port, key=key) for b in bodies])
    if mode == "fhir_batches":
        bodies = fhir_bundles(int(job["batches"]), size=int(job["size"]))
        return await run_batches(port, [request_bytes("/fhir", b, port=port, key=key) for b in bodies])
    if mode == "closed":
        clients, per_client = int(job["clients"]), int(job["per_client"])
        if job.get("events") == "generated":
            bodies = [orjson.dumps(e) for e in generated_events(clients * per_client, patients=job.get("patients", ""))]
        else:
            bodies = sample_bodies(clients * per_client)
        requests = [request_bytes("/v1/events", b, port=port, key=key) for b in bodies]
        return await run_closed(port, [requests[i::clients] for i in range(clients)])
    if mode == "rate":
        rate, total = float(job["rate"]), int(float(job["rate"]) * float(job["seconds"]))
        requests = [request_bytes("/v1/events", b, port=port, key=key) for b in sample_bodies(total)]
        return await run_rate(port, requests, rate=rate, clients=int(job["clients"]))
    raise ValueError(f"unknown mode {mode!r}")


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # plain asyncio still works, with a little more CPU per request
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def main() -> int:
    """Read the job from stdin, print the result to stdout."""
    job = orjson.loads(sys.stdin.buffer.read())
    loop = _new_loop()
    try:
        result = loop.run_until_complete(run_job(job))
    finally:
        loop.close()
    sys.stdout.buffer.write(orjson.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
