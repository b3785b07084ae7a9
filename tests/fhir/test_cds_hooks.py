"""POST /cds-services/{id}/feedback: the CDS Hooks specification's own feedback examples become output.acted with
the right action and reason; a JWT that is expired, signed by another key or from an issuer bound to another
source is refused naming the claim, and nothing is written; the same feedback twice appends once."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm

from api.app import create_app
from api.settings import Settings
from ledger.apikeys import KeyStore, Role
from ledger.store import Ledger
from tests.factories import envelope
from tests.fhir import checks
from tests.ledgers import env_settings

DATA = Path(__file__).parents[1] / "testdata" / "cds-hooks"
BASE = "https://ledger.example.org"
SERVICE = "sepsis-watch"
EHR = "https://fhir-ehr.example.com/"
LIS = "https://lis.example.com/"
FEEDBACK = f"/cds-services/{SERVICE}/feedback"


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return loaded


def jwks(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    public: dict[str, Any] = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [{**public, "kid": kid, "alg": "ES384", "use": "sig"}]}


@dataclass(frozen=True)
class Cds:
    """The app with two registered CDS clients (the EHR's, bound to the service's source, and a LIS's)."""

    client: TestClient
    url: str
    keys: dict[str, ec.EllipticCurvePrivateKey]
    admin: dict[str, str]
    emitter: dict[str, str]

    def token(self, iss: str = EHR, *, key: str = "ehr", exp: float = 300, aud: str = BASE + FEEDBACK) -> str:
        now = int(time.time())
        claims = {"iss": iss, "aud": aud, "exp": now + exp, "iat": now - 1, "jti": f"jti-{time.monotonic_ns()}"}
        return jwt.encode(claims, self.keys[key], algorithm="ES384", headers={"kid": "k1" if iss == EHR else "k2"})

    def post(self, body: Any, token: str | None = None) -> Any:
        return self.client.post(FEEDBACK, json=body, headers={"Authorization": f"Bearer {token or self.token()}"})

    def head(self) -> int:
        with Ledger(env_settings(self.url), create_tables=False) as ledger:
            return ledger.head_seq()

    def event(self, event_id: str) -> dict[str, Any]:
        got = self.client.get(f"/v1/events/{event_id}", headers=self.admin)
        return dict(json.loads(base64.b64decode(got.json()["body"])))


@pytest.fixture
def cds(tmp_path: Path) -> Iterator[Cds]:
    url = f"sqlite:///{tmp_path}/ledger.sqlite3"
    with Ledger(env_settings(url)):
        pass
    store = KeyStore(url)
    admin = store.create(Role.ADMIN, label="admin").token
    emitter = store.create(Role.EMITTER, source="ehr.epic-prod", label="emitter").token
    keys = {name: ec.generate_private_key(ec.SECP384R1()) for name in ("ehr", "lis", "stranger")}
    registry = {
        "base_url": BASE,
        "services": {SERVICE: {"source": "ehr.epic-prod"}},
        "clients": [
            {"name": "epic-prod", "iss": EHR, "source": "ehr.epic-prod", "jwks": jwks(keys["ehr"], "k1")},
            {"name": "lis", "iss": LIS, "source": "lis.cerner", "jwks": jwks(keys["lis"], "k2")},
        ],
    }
    path = tmp_path / "cds-clients.json"
    path.write_text(json.dumps(registry))
    settings = Settings(database_url=url, key_cache_s=0, checkpoint_interval_s=0, cds_clients_file=str(path))
    with TestClient(create_app(settings)) as client:
        yield Cds(client, url, keys, {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {emitter}"})


@pytest.mark.parametrize(
    ("name", "action", "reason"),
    [
        ("feedback-accepted", "accepted", None),
        ("feedback-overridden-without-reason", "overridden", None),
        ("feedback-overridden-with-reason", "overridden", "d7ecf885"),
    ],
)
def test_the_specifications_examples_become_output_acted_once(
    cds: Cds, name: str, action: str, reason: str | None
) -> None:
    """Each example is recorded as output.acted for the card's output, with its action, reason code and time,
    under the issuer's source; the same feedback again answers the same receipt and appends nothing."""
    body = example(name)
    done = cds.post(body)
    assert done.status_code == 200, done.text
    receipt = done.json()["receipts"][0]
    event = cds.event(receipt["event_id"])
    entry = body["feedback"][0]
    assert (event["type"], event["source"], event["actor"]["id"]) == ("output.acted", "ehr.epic-prod", "epic-prod")
    assert (event["data"]["output_id"], event["data"]["action"]) == (entry["card"], action)
    assert event["data"].get("reason_code") == reason
    assert event["data"]["acted_at"] == "2020-12-11T00:00:00.000000Z"
    assert "A comment entered" not in json.dumps(event)  # the user comment is free text: sealed
    head = cds.head()
    again = cds.post(body)
    assert (again.json()["receipts"][0]["seq"], cds.head()) == (receipt["seq"], head)


@pytest.mark.parametrize(
    ("make", "status", "claim"),
    [
        (lambda c: c.token(exp=-60), 401, "exp"),
        (lambda c: c.token(key="stranger"), 401, "signature"),
        (lambda c: c.token(LIS, key="lis"), 403, "iss"),
        (lambda c: c.token(aud=BASE + "/cds-services/other/feedback"), 401, "aud"),
        (lambda c: jwt.encode({"iss": EHR}, "shared-secret-of-32-bytes-at-least!", algorithm="HS256"), 401, "alg"),
        (lambda c: "not-a-jwt", 401, "token"),
    ],
    ids=["expired", "another-key", "issuer-of-another-source", "wrong-aud", "hmac", "not-a-jwt"],
)
def test_a_token_the_client_could_not_have_made_is_refused_naming_the_claim(
    cds: Cds, make: Any, status: int, claim: str
) -> None:
    """Expired, signed by a key not the issuer's, from an issuer bound to another source, for another endpoint,
    HMAC-signed, or no JWT: refused naming the claim, and the log does not move."""
    head = cds.head()
    refused = cds.post(example("feedback-accepted"), make(cds))
    assert refused.status_code == status
    assert refused.json()["message"].startswith(f"{claim}:")
    assert cds.head() == head


def test_malformed_feedback_is_refused_naming_the_entry_and_element(cds: Cds) -> None:
    """An outcome outside accepted/overridden, or accepted without its suggestions: 422 naming feedback[i].element,
    and nothing of the request is written."""
    body = {
        "feedback": [
            *example("feedback-accepted")["feedback"],
            {"card": "c", "outcome": "ignored", "outcomeTimestamp": "2020-12-11T00:00:00Z"},
        ]
    }
    head = cds.head()
    refused = cds.post(body)
    assert refused.status_code == 422
    assert [e["loc"] for e in refused.json()["errors"]] == ["feedback[1].outcome"]
    missing = cds.post({"feedback": [{**example("feedback-accepted")["feedback"][0], "acceptedSuggestions": None}]})
    assert [e["loc"] for e in missing.json()["errors"]] == ["feedback[0].acceptedSuggestions"]
    assert cds.head() == head


def output_generated(output_id: str) -> dict[str, Any]:
    """An output.generated recorded under ``output_id`` (the CDS service uses the card's uuid)."""
    return envelope(
        "output.generated",
        {
            "output_id": output_id,
            "tool_id": "sepsis-watch",
            "model_version": "3.2.0",
            "site": "northside",
            "unit": "ed",
            "population": "adults_18_plus",
            "patient_ref": "Patient/RT-1",
            "encounter_ref": "Encounter/RT-1",
            "score": 0.9,
            "label": "high",
            "priority": "urgent",
            "threshold_in_effect": 0.7,
        },
        occurred_at="2020-12-10T23:00:00Z",
    )


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_round_trip_through_cds_hooks_and_auditevent_ingestion_exports_the_same_who_what_and_when(cds: Cds) -> None:
    """An output under a card's uuid, its BALP read (FHIR AuditEvent) and its CDS Hooks acceptance, exported as
    FHIR: the read and the action name the same clinician, the same output and the same times."""
    card = example("feedback-accepted")["feedback"][0]["card"]
    generated = output_generated(card)
    assert cds.client.post("/v1/events", json=generated, headers=cds.admin).status_code == 201
    read = json.loads((Path(__file__).parents[1] / "testdata/fhir/balp-read-ai-output-r4.json").read_text())
    read["entity"][1]["what"] = {"reference": f"RiskAssessment/{card}"}
    shown_at = read["period"]["start"]
    assert cds.client.post("/fhir/AuditEvent", json=read, headers=cds.emitter).status_code == 201
    feedback = example("feedback-accepted")
    feedback["feedback"][0]["extension"] = {"org.clinical-ai-ledger.userId": "clin-alice"}
    assert cds.post(feedback).status_code == 200
    for version in ("R4", "R5"):
        bundle = cds.client.get(f"/v1/outputs/{card}/fhir", params={"fhir_version": version}, headers=cds.admin).json()
        checks.parse(bundle, version)
        resources = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
        output = next(u for u, r in resources.items() if r["resourceType"] == "RiskAssessment")
        assert {"system": "urn:clinical-ai-ledger:output", "value": card} in resources[output]["identifier"]
        audits = [r for r in resources.values() if r["resourceType"] == "AuditEvent" and r.get("entity")]
        seen = {
            (
                a["action"],
                a["agent"][0]["who"]["identifier"]["value"],
                a["entity"][0]["what"]["reference"],
                _instant(a["period"]["start"] if version == "R4" else a["occurredDateTime"]),
            )
            for a in audits
        }
        assert seen == {
            ("R", "clin-alice", output, _instant(shown_at)),
            ("E", "clin-alice", output, _instant(feedback["feedback"][0]["outcomeTimestamp"])),
        }
