"""The FHIR export of every scenario (all five error types) in R4 and R5: it parses with fhir.resources,
references resolve, codes come from the systems they name, AI-asserted content carries AIAST, and
every resource names the ledger event (seq and hash) it comes from."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.store import Ledger
from projections.fhir import incident_bundle, output_bundle, tool_bundle
from projections.views import Views
from tests.fhir import checks
from tests.fhir.conftest import App
from tests.ledgers import env_settings
from tests.projections.scenarios import ALL


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Views]:
    """One SQLite ledger holding the five scenarios, with its views."""
    path = Path(tmp_path_factory.mktemp("fhir")) / "ledger.sqlite3"
    with Ledger(env_settings(f"sqlite:///{path}")) as ledger:
        for make in ALL:
            ledger.submit(make().events)
        views = Views(ledger)
        views.projector.catch_up()
        yield views


@pytest.mark.parametrize("version", ["R4", "R5"])
@pytest.mark.parametrize("make", ALL, ids=[m.__name__ for m in ALL])
def test_every_scenario_exports_a_bundle_that_passes_every_check(views: Views, make: object, version: str) -> None:
    """Each scenario's incident bundle passes every check, holds the AI device, an AIAST RiskAssessment with
    its Provenance, BALP reads and the AdverseEvent, and names every event of the incident's outputs."""
    scenario = make()  # type: ignore[operator]
    reported = next(e for e in scenario.events if e["type"] == "incident.reported")
    bundle = incident_bundle(views, reported["data"]["incident_id"], version=version)
    seqs = checks.check_all(bundle, version, views.ledger)
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Device", "RiskAssessment", "Provenance", "AuditEvent", "AdverseEvent"} <= kinds
    recorded = {r.event_id: r.seq for r in views.ledger.read(limit=10_000)}
    named = set(reported["data"]["output_ids"])
    outputs = {recorded[e["event_id"]] for e in scenario.events if e["data"].get("output_id") in named}
    assert outputs and outputs <= seqs


def test_a_display_is_a_balp_read_by_the_clinician(views: Views) -> None:
    """output.shown becomes an AuditEvent rest/read, action R, the clinician as IRCP agent, the output as entity."""
    bundle = output_bundle(views, "out-fn-1", version="R4")
    reads = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "AuditEvent" and e["resource"]["type"]["code"] == "rest"
    ]
    assert reads and all(r["action"] == "R" and r["subtype"][0]["code"] == "read" for r in reads)
    target = next(e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "RiskAssessment")
    assert all(r["entity"][0]["what"]["reference"] == target for r in reads)


def test_a_tool_export_and_an_unknown_id(views: Views) -> None:
    """A tool's bundle passes the checks; an id the views do not hold is NotFound."""
    from projections.errors import NotFound

    bundle = tool_bundle(views, "sepsis-watch", version="R5")
    checks.check_all(bundle, "R5", views.ledger)
    with pytest.raises(NotFound):
        tool_bundle(views, "no-such-tool", version="R5")


def test_the_export_route_answers_fhir_json_in_the_version_asked(app: App) -> None:
    """GET /v1/incidents/{id}/fhir answers a Bundle as application/fhir+json in R4 or R5; another version is 422."""
    scenario = ALL[0]()
    sent = app.client.post("/v1/events/batch", json={"events": scenario.events}, headers=app.headers("admin"))
    assert sent.status_code == 201
    incident = next(e for e in scenario.events if e["type"] == "incident.reported")["data"]["incident_id"]
    for version, mime in (("R4", "4.0"), ("R5", "5.0")):
        done = app.client.get(
            f"/v1/incidents/{incident}/fhir", params={"fhir_version": version}, headers=app.headers("reader")
        )
        assert done.status_code == 200
        assert done.headers["content-type"] == f"application/fhir+json; fhirVersion={mime}"
        checks.parse(done.json(), version)
    reader = app.headers("reader")
    wrong = app.client.get(f"/v1/incidents/{incident}/fhir", params={"fhir_version": "R3"}, headers=reader)
    assert wrong.status_code == 422 and "fhir_version" in wrong.text
    missing = app.client.get("/v1/outputs/no-such-output/fhir", headers=app.headers("reader"))
    assert missing.status_code == 404


def test_ledger_export_format_fhir_writes_the_incidents_bundle(tmp_path: Path) -> None:
    """`ledger export --incident ID --format fhir --fhir-version R5` writes the bundle that passes the checks;
    an unknown incident is one line and exit 2."""
    from scripts.cli import main

    url = f"sqlite:///{tmp_path}/ledger.sqlite3"
    scenario = ALL[0]()
    with Ledger(env_settings(url)) as ledger:
        ledger.submit(scenario.events)
    incident = next(e for e in scenario.events if e["type"] == "incident.reported")["data"]["incident_id"]
    out = tmp_path / "bundle.json"
    args = ["export", "--database-url", url, "--incident", incident, "--format", "fhir", "--fhir-version", "R5"]
    assert main([*args, "--output", str(out)]) == 0
    with Ledger(env_settings(url)) as ledger:
        checks.check_all(json.loads(out.read_text()), "R5", ledger)
    assert main(["export", "--database-url", url, "--incident", "INC-NONE", "--format", "fhir"]) == 2
