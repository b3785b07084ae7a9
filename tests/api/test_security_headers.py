"""Security headers on every response (fast path, errors and 500s included); the docs served by the app itself."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.api.conftest import Keys, bearer
from tests.api.test_privacy_api import generated  # noqa: F401 - the module's fixture, reused
from tests.factories import shown

EVERY_RESPONSE = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def _assert_secured(response: Any, *, csp: str = API_CSP, cache: str = "no-store") -> None:
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    for name, value in EVERY_RESPONSE.items():
        assert response.headers.get(name) == value, f"{where}: {name}"
    assert response.headers.get("content-security-policy") == csp, where
    assert response.headers.get("cache-control") == cache, where


def test_every_kind_of_answer_carries_the_security_headers(client: TestClient, keys: Keys) -> None:
    auditor, emitter = bearer(keys.auditor), bearer(keys.emitter)
    answers = [
        client.get("/healthz"),
        client.get("/readyz"),
        client.get("/openapi.json"),
        client.get("/v1/log"),  # 401
        client.get("/v1/log", headers=emitter),  # 403
        client.get("/v1/log", headers=auditor),  # 200
        client.get("/v1/log", params={"limit": 0}, headers=auditor),  # 422
        client.get("/no/such/route"),  # 404
        client.delete("/v1/log", headers=auditor),  # 405
        client.post("/v1/events", content=b"x", headers=emitter),  # 415
        client.post("/v1/events", json=shown(), headers=emitter),  # 201 by the full path (no key cache)
        client.post("/v1/events", json={}, headers=emitter),  # 422
        client.get("/v1/checkpoint", headers=auditor),  # 404: none signed yet
    ]
    assert {a.status_code for a in answers} >= {200, 201, 401, 403, 404, 405, 415, 422}
    for answer in answers:
        _assert_secured(answer)


def test_the_fast_path_s_answer_carries_the_security_headers(
    make_client: Callable[[Settings], TestClient], settings: Settings, keys: Keys
) -> None:
    cached = make_client(Settings(database_url=settings.database_url, key_cache_s=60, db_connect_timeout_s=2))
    assert cached.get("/v1/log", headers=bearer(keys.emitter)).status_code == 403  # the key is cached now
    answer = cached.post("/v1/events", json=shown(), headers=bearer(keys.emitter))
    assert answer.status_code == 201 and "x-request-id" in answer.headers
    _assert_secured(answer)
    _assert_secured(cached.post("/v1/events", json=shown(), headers=bearer(keys.emitter)))  # 200, a retry


def test_a_revealed_event_is_never_stored_by_a_cache(client: TestClient, keys: Keys, generated: dict) -> None:  # noqa: F811
    answer = client.get(
        f"/v1/events/{generated['event_id']}/revealed",
        params={"purpose": "incident_review"},
        headers=bearer(keys.reader),
    )
    assert answer.status_code == 200 and answer.json()["revealed"]
    _assert_secured(answer)


def test_an_unexpected_error_s_500_carries_the_security_headers(settings: Settings) -> None:
    app = create_app(settings)

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/boom")
    assert answer.status_code == 500
    _assert_secured(answer)


# --- the docs page -----------------------------------------------------------------------------------------------

_REFERENCES = re.compile(r"""(?:src|href|url)\s*[=:]\s*["']([^"']+)["']""")
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


@pytest.fixture
def docs_client(settings: Settings) -> TestClient:
    """The app, without a lifespan: the docs need no store."""
    return TestClient(create_app(settings))


def test_the_docs_page_references_no_external_host_and_its_assets_answer_from_the_app(
    docs_client: TestClient,
) -> None:
    page = docs_client.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    references = _REFERENCES.findall(page.text)
    assert len(references) >= 4  # script, stylesheet, icon, the OpenAPI document
    assert "http:" not in page.text and "https:" not in page.text
    for reference in references:
        assert reference.startswith("/") and not reference.startswith("//"), reference
        asset = docs_client.get(reference)
        assert asset.status_code == 200, reference
    script = next(r for r in references if r.endswith(".js"))
    assert docs_client.get(script).headers["content-type"].startswith(("text/javascript", "application/javascript"))


def test_the_docs_page_allows_only_its_own_scripts_and_its_inline_start_by_hash(docs_client: TestClient) -> None:
    page = docs_client.get("/docs")
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    inline = _INLINE_SCRIPT.findall(page.text)
    digests = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline}
    assert inline and set(policy["script-src"].split()) == {"'self'", *digests}
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    _assert_secured(page, csp=page.headers["content-security-policy"])


def test_the_docs_assets_may_be_cached_and_redoc_is_not_served(docs_client: TestClient) -> None:
    page = docs_client.get("/docs")
    script = next(r for r in _REFERENCES.findall(page.text) if r.endswith(".js"))
    asset = docs_client.get(script)
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert asset.headers["x-content-type-options"] == "nosniff"
    assert docs_client.get("/redoc").status_code == 404
