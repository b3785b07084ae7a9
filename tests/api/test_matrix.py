"""Who may do what, route by route, and no key appends the ledger's control events: the whole matrix.

Two parts, on both stores, each against one app started once per store:

1. Every route of the app (enumerated from ``app.routes``: a route added
   without an entry in ``ACCESS`` fails the suite) x every caller: no key, a
   revoked key, an emitter, an emitter of another source, a reader, an auditor,
   an admin. Each gets the status class its role allows: 401, 403, or
   "through" (any other status below 500: 2xx, or a 4xx of the request itself).
2. Every control event type x every append entry point (``POST /v1/events``
   through the app, the same route on the ASGI fast path with a cached key,
   ``POST /v1/events/batch``) x every caller x its source (the caller's own, or
   the ledger's): refused (401 for no or a revoked key, else 403 naming the
   field, never a value) and nothing written: the log's head is unchanged.
   So is an ordinary event under the source ``ledger``.

``CASES`` is the count reported in docs/reliability.md.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.organisations import create_deployment_app
from api.settings import Settings
from ledger.apikeys import KeyStore, Role
from ledger.catalogue import CONTROL_TYPES, RESERVED_SOURCE
from ledger.catalogue.examples import EXAMPLES
from ledger.organisations import Deployment, Organisation
from ledger.signing import KeyFolder
from ledger.store import Ledger
from tests.api.conftest import EMITTER_SOURCE, bearer
from tests.conftest import PG_ADMIN_URL, _admin, require_postgres
from tests.factories import envelope, shown
from tests.ledgers import env_settings

ROLES = ("none", "revoked", "emitter", "other_emitter", "reader", "auditor", "admin")
PUBLIC = frozenset(ROLES)
EMITTERS = frozenset({"emitter", "admin"})  # other_emitter reaches the route, and is refused the sample's source
AUDITORS = frozenset({"auditor", "admin"})
READERS = frozenset({"reader", "auditor", "admin"})

# (method, path) -> the callers that get through; everyone else authenticated gets 403, no or a revoked key 401.
ACCESS: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/v1/stats"): AUDITORS,
    ("POST", "/v1/events"): EMITTERS,
    ("POST", "/v1/events/batch"): EMITTERS,
    ("GET", "/v1/events/{event_id:uuid}"): frozenset({"emitter", "auditor", "admin"}),
    ("GET", "/v1/log"): AUDITORS,
    ("GET", "/v1/checkpoint"): AUDITORS,
    ("GET", "/v1/proofs/inclusion"): AUDITORS,
    ("GET", "/v1/proofs/consistency"): AUDITORS,
    ("GET", "/v1/proofs/index"): AUDITORS,
    ("GET", "/v1/incidents/{incident_id}/evidence"): AUDITORS,
    ("GET", "/v1/incidents/{incident_id}/proofs"): READERS,
    ("GET", "/v1/verifier-keys"): PUBLIC - {"none", "revoked"},
    ("GET", "/v1/incidents"): READERS,
    ("GET", "/v1/incidents/{incident_id}/timeline"): READERS,
    ("GET", "/v1/incidents/{incident_id}/accountability"): READERS,
    ("GET", "/v1/tools/{tool_id}"): READERS,
    ("GET", "/v1/tools/{tool_id}/blast-radius"): READERS,
    ("GET", "/v1/outputs/{output_id}"): READERS,
    ("GET", "/v1/metrics/reliance"): READERS,
    ("GET", "/v1/gaps"): READERS,
    ("GET", "/v1/incidents/{incident_id}/response"): READERS,
    ("GET", "/v1/tools/{tool_id}/policy"): READERS,
    ("GET", "/v1/metrics/intervention"): READERS,
    ("GET", "/v1/metrics/recurrence"): READERS,
    ("GET", "/v1/projections/status"): READERS,
    ("GET", "/v1/incidents/{incident_id}/fhir"): READERS,
    ("GET", "/v1/tools/{tool_id}/fhir"): READERS,
    ("GET", "/v1/outputs/{output_id}/fhir"): READERS,
    # The source comes from the key: every emitter records under its own; an admin key has none to record under.
    ("POST", "/fhir/AuditEvent"): frozenset({"emitter", "other_emitter"}),
    ("POST", "/fhir"): frozenset({"emitter", "other_emitter"}),
    # CDS Hooks clients authenticate with a JWT signed by their own key, never an API key: every caller here is 401.
    ("POST", "/cds-services/{service_id}/feedback"): frozenset(),
    ("GET", "/v1/events/{event_id}/revealed"): frozenset({"reader", "admin"}),
    ("POST", "/v1/subjects/erase"): frozenset({"admin"}),
    # The pages (api.pages): each caller signs in through the form with its key first (no key, a revoked key and
    # the emitters cannot: they have no session, and a page sends them to the sign-in page).
    ("GET", "/signin"): PUBLIC,
    ("POST", "/signin"): READERS,  # the form itself: 401 for no or a revoked key, 403 for an emitter's
    ("POST", "/signout"): READERS,
    ("GET", "/incidents"): READERS,
    ("GET", "/incidents/{incident_id}"): READERS,
    ("GET", "/incidents/{incident_id}/timeline.csv"): READERS,
    ("GET", "/incidents/{incident_id}/evidence.json"): READERS,
    ("GET", "/incidents/{incident_id}/fhir.json"): READERS,
    ("GET", "/incidents/{incident_id}/proofs.json"): READERS,
    ("GET", "/events/{seq}"): READERS,
    ("POST", "/events/{seq}/reveal"): frozenset({"reader", "admin"}),
    ("GET", "/log"): AUDITORS,
    ("GET", "/tools/{tool_id}"): READERS,
    ("GET", "/reliance"): READERS,
    ("GET", "/gaps"): READERS,
}
# One deployment of organisation ledgers in front of the apps (api.organisations, `ledger serve --organisations`):
# the world's ledger is its organisation "northside", so the world's keys reach its whole API under
# /orgs/northside/ with the same rights; the top-level ledger under /top/ has keys of its own (none here).
ORGANISATION = "/orgs/{organisation}"
DEPLOYMENT: dict[tuple[str, str], frozenset[str]] = {
    **{(method, ORGANISATION + path): ACCESS[(method, path)] for method, path in (
        ("POST", "/v1/events"), ("POST", "/v1/events/batch"), ("GET", "/v1/log"), ("GET", "/v1/checkpoint"))},
    ("GET", "/top/healthz"): PUBLIC,
}  # fmt: skip
ACCESS |= DEPLOYMENT
PAGE_PATHS = frozenset(path for _, path in ACCESS if not path.startswith(("/v1/", "/openapi", "/docs", "/healthz",
                                                                           "/readyz", "/fhir", "/cds-services/",
                                                                           "/orgs/", "/top/"))
                       and path != "/")  # fmt: skip
SIGNED_IN = frozenset({"reader", "auditor", "admin"})  # the callers who get a session

APPEND_ROUTES = ("single", "fast", "batch")
SOURCES = ("own", "ledger")
INCIDENT = "INC-MATRIX-1"
PATIENT = "Patient/MATRIX-1"

ROUTE_CASES = len(ACCESS) * len(ROLES)
CONTROL_CASES = len(CONTROL_TYPES) * len(APPEND_ROUTES) * len(ROLES) * len(SOURCES)
RESERVED_SOURCE_CASES = len(APPEND_ROUTES) * len(ROLES)
CASES = ROUTE_CASES + CONTROL_CASES + RESERVED_SOURCE_CASES  # per store


def _routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app serves, through included routers (HEAD is GET's)."""
    found: set[tuple[str, str]] = set()
    pending = list(app.routes)
    while pending:
        route = pending.pop()
        included = getattr(route, "original_router", None)
        if included is not None:
            pending += included.routes
            continue
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                found.add((method, str(getattr(route, "path", ""))))
    return found


@dataclass
class World:
    """One store, its keys, and two apps on it: one that looks every key up, one that caches keys (the fast path)."""

    url: str
    tokens: dict[str, str | None]
    app: TestClient
    fast: TestClient
    deployment: TestClient  # the world's ledger as organisation "northside" of a deployment
    event_id: str  # a recorded output.generated of the emitter's source, sealing a patient

    def head(self) -> int:
        with Ledger(env_settings(self.url), create_tables=False) as ledger:
            return ledger.head_seq()

    def headers(self, role: str) -> dict[str, str]:
        token = self.tokens[role]
        return {} if token is None else bearer(token)


def _store_url(request: pytest.FixtureRequest, tmp: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp}/ledger.sqlite3"
        return
    require_postgres(request.node.nodeid)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_ADMIN_URL}?schema={schema}"
    finally:
        with _admin() as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _tokens(url: str) -> dict[str, str | None]:
    store = KeyStore(url)
    revoked = store.create(Role.READER, label="revoked")
    store.revoke(revoked.key.key_id)
    return {
        "none": None,
        "revoked": revoked.token,
        "emitter": store.create(Role.EMITTER, source=EMITTER_SOURCE, label="emitter").token,
        "other_emitter": store.create(Role.EMITTER, source="lis.cerner", label="other").token,
        "reader": store.create(Role.READER, label="reader").token,
        "auditor": store.create(Role.AUDITOR, label="auditor").token,
        "admin": store.create(Role.ADMIN, label="admin").token,
    }


def _generated() -> dict[str, Any]:
    return envelope("output.generated", {
        "output_id": "out-matrix-1", "tool_id": "sepsis-watch", "model_version": "3.2.0", "site": "northside",
        "unit": "icu", "population": "adults_18_plus", "patient_ref": PATIENT, "encounter_ref": "Encounter/M-1",
        "score": 0.9, "label": "high", "priority": "urgent", "threshold_in_effect": 0.7,
    })  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("matrix")
    for url in _store_url(request, tmp):
        generated = _generated()
        with Ledger(env_settings(url)) as ledger:
            ledger.submit([generated])
            actor = {"id": "operator", "role": "admin", "kind": "person"}
            KeyFolder(tmp / "keys").activate_new("ledger.matrix.example", ledger=ledger, actor=actor, reason=None)
        tokens = _tokens(url)
        common: dict[str, Any] = {
            "database_url": url,
            "db_connect_timeout_s": 2,
            "checkpoint_interval_s": 0,
            "keys_dir": str(tmp / "keys"),
            "checkpoint_dir": str(tmp / "checkpoints"),
        }
        deployment = Deployment(
            Organisation("top", f"sqlite:///{tmp}/top.sqlite3", tmp / "top.d", "top.matrix.example/ledger"),
            {"northside": Organisation("northside", url, tmp / "northside.d", "northside.matrix.example/ledger")},
        )
        with (
            TestClient(create_app(Settings(**common, key_cache_s=0))) as app,
            TestClient(create_app(Settings(**common, key_cache_s=3600))) as fast,
            TestClient(create_deployment_app(deployment, Settings(**common, key_cache_s=0))) as organisations,
        ):
            yield World(url, tokens, app, fast, organisations, str(generated["event_id"]))


# --- 1. every route x every caller ---------------------------------------------------------


def test_every_route_of_the_app_has_an_expected_access_entry(world: World) -> None:
    served = _routes(world.app.app)  # type: ignore[arg-type]
    assert served - set(ACCESS) == set(), "a route without an expected entry in ACCESS"
    assert set(ACCESS) - set(DEPLOYMENT) - served == set(), "an ACCESS entry for a route the app no longer serves"
    inner = {(method, path.removeprefix(ORGANISATION).removeprefix("/top")) for method, path in DEPLOYMENT}
    assert inner - served == set(), "a deployment entry for a route its organisations' apps do not serve"


def _form_token(client: TestClient, path: str) -> str:
    page = client.get(path)
    found = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert found is not None, page.text[:300]
    return found.group(1)


def _page_request(world: World, method: str, path: str, role: str) -> Any:
    """The page as the caller's browser would ask for it: signed in first, if the caller can be."""
    client = world.app
    client.cookies.clear()
    token = world.tokens[role] or ""
    if path != "/signin" and role in SIGNED_IN:
        form = {"api_key": token, "form_token": _form_token(client, "/signin")}
        signed = client.post("/signin", data=form, follow_redirects=False)
        assert signed.status_code == 303, signed.text[:300]
    url = path.replace("{incident_id}", INCIDENT).replace("{seq}", "1")
    data: dict[str, str] | None = None
    if method == "POST":
        data = {"form_token": _form_token(client, "/signin" if path == "/signin" else "/events/1")}
        data |= {"api_key": token} if path == "/signin" else {"purpose": "incident_review"} if "reveal" in path else {}
    try:
        return client.request(method, url, data=data, follow_redirects=False)
    finally:
        client.cookies.clear()


def _request(world: World, method: str, path: str, role: str) -> Any:
    if path in PAGE_PATHS:
        return _page_request(world, method, path, role)
    client = world.deployment if (method, path) in DEPLOYMENT else world.app
    prefix = "/orgs/northside" if path.startswith(ORGANISATION) else ""
    path = path.removeprefix(ORGANISATION)
    params: dict[str, Any] = {}
    body: Any = None
    url = prefix + (
        path.replace("{event_id:uuid}", world.event_id)
        .replace("{event_id}", world.event_id)
        .replace("{incident_id}", INCIDENT)
        .replace("{tool_id}", "sepsis-watch")
        .replace("{output_id}", "out-matrix-1")
        .replace("{service_id}", "sepsis-watch")
    )
    if path == "/v1/events":
        body = shown(output_id="out-matrix-2")  # the emitter's source; the same event again is a 200
    elif path == "/v1/events/batch":
        body = {"events": [shown(output_id="out-matrix-3")]}
    elif path == "/v1/subjects/erase":
        body = {"subject": "patient:Patient/MATRIX-NOBODY", "legal_basis": "gdpr_art17", "dry_run": True}
    elif path.endswith("/revealed"):
        params = {"purpose": "incident_review"}
    elif path == "/v1/proofs/inclusion":
        params = {"seq": 1}
    elif path == "/v1/proofs/consistency":
        params = {"from_size": 1}
    elif path == "/v1/proofs/index":
        params = {"key": f"incident:{INCIDENT}"}
    return client.request(method, url, params=params, json=body, headers=world.headers(role))


def _expected(method: str, path: str, role: str) -> str:
    if path.startswith("/cds-services/"):
        return "401"  # an API key is not the CDS client's JWT
    if role in ACCESS[(method, path)]:
        return "through"
    if path in PAGE_PATHS and path != "/signin" and role not in SIGNED_IN:
        return "sign-in page"
    return "401" if role in ("none", "revoked") else "403"


def _class(status: int, location: str | None = None) -> str:
    if status in (401, 403):
        return str(status)
    if status == 303 and (location or "").startswith("/signin") and "signed_out" not in (location or ""):
        return "sign-in page"
    return "through" if status < 500 else f"server error {status}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"), sorted(ACCESS))
def test_each_caller_gets_the_status_class_its_role_allows_on_every_route(
    world: World, method: str, path: str, role: str
) -> None:
    response = _request(world, method, path, role)
    assert _class(response.status_code, response.headers.get("location")) == _expected(method, path, role), (
        response.text[:300]
    )


# --- 2. every control type x every append entry point x every caller -----------------------


def _control_event(event_type: str, role: str, source: str) -> dict[str, Any]:
    own = "lis.cerner" if role == "other_emitter" else EMITTER_SOURCE
    return {**EXAMPLES[event_type], "event_id": str(uuid.uuid4()),
            "source": own if source == "own" else RESERVED_SOURCE}  # fmt: skip


def _post(world: World, route: str, role: str, event: dict[str, Any]) -> Any:
    headers = world.headers(role)
    if route == "batch":  # an ordinary event first: the batch is all or nothing
        return world.app.post("/v1/events/batch", json={"events": [shown(), event]}, headers=headers)
    client = world.fast if route == "fast" else world.app
    if route == "fast" and role not in ("none", "revoked"):
        # The fast path answers only for a key in the cache: an authenticated read puts it there.
        client.get("/v1/stats", headers=headers)
        assert client.app.state.runtime.key_cache.get(world.tokens[role]) is not None  # type: ignore[attr-defined]
    return client.post("/v1/events", json=event, headers=headers)


def _assert_refused(world: World, response: Any, *, role: str, route: str, field: str, event: dict[str, Any]) -> None:
    if role in ("none", "revoked"):
        assert response.status_code == 401
        return
    assert response.status_code == 403, response.text[:300]
    message = response.json()["message"]
    if role in ("reader", "auditor"):
        assert "needs one of the roles" in message
        return
    where = "event 1: " if route == "batch" else ""
    assert message.startswith(f"{where}{field}: "), message
    for value in (event["event_id"], *[v for v in event["data"].values() if isinstance(v, str)]):
        assert value not in response.text


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", APPEND_ROUTES)
@pytest.mark.parametrize("event_type", sorted(CONTROL_TYPES))
def test_no_caller_appends_a_control_event_through_any_append_route_and_nothing_is_written(
    world: World, event_type: str, route: str, role: str, source: str
) -> None:
    event = _control_event(event_type, role, source)
    head = world.head()
    response = _post(world, route, role, event)
    _assert_refused(world, response, role=role, route=route, field="type", event=event)
    assert world.head() == head


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", APPEND_ROUTES)
def test_no_caller_appends_an_ordinary_event_under_the_ledgers_own_source(world: World, route: str, role: str) -> None:
    event = shown(source=RESERVED_SOURCE)
    head = world.head()
    response = _post(world, route, role, event)
    _assert_refused(world, response, role=role, route=route, field="source", event=event)
    assert world.head() == head


def test_the_matrix_counts_what_docs_reliability_reports() -> None:
    assert (ROUTE_CASES, CONTROL_CASES, RESERVED_SOURCE_CASES) == ((53 + 5) * 7, 9 * 3 * 7 * 2, 3 * 7)
    assert CASES == 805
