"""The OpenAPI document: every route, every error response, an example of every event type."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import create_app
from api.settings import Settings
from ledger.catalogue import CONTROL_TYPES, EVENT_TYPES, validate_event


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The app's document (building it opens no store)."""
    return create_app(Settings(database_url="sqlite:///unused.sqlite3")).openapi()


EXPECTED = {
    ("post", "/v1/events"): {"200", "201", "401", "403", "409", "413", "415", "422", "503"},
    ("post", "/v1/events/batch"): {"200", "201", "401", "403", "409", "413", "415", "422", "503"},
    ("get", "/v1/events/{event_id}"): {"200", "401", "403", "404", "503"},
    ("get", "/v1/log"): {"200", "401", "403", "422", "503"},
    ("get", "/readyz"): {"200", "503"},
    ("get", "/healthz"): {"200"},
}


@pytest.mark.parametrize(("method", "path"), list(EXPECTED))
def test_every_route_documents_every_status_it_answers(document: dict[str, Any], method: str, path: str) -> None:
    responses = document["paths"][path][method]["responses"]
    assert EXPECTED[(method, path)] <= set(responses)
    for status, response in responses.items():
        if status >= "400":
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    if "503" in responses:
        assert "Retry-After" in responses["503"]["headers"]


def test_the_event_body_has_a_valid_example_for_every_type_an_emitter_may_append(document: dict[str, Any]) -> None:
    content = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/LedgerEvent"}
    assert set(content["examples"]) == set(EVENT_TYPES) - CONTROL_TYPES  # no key may append those
    for name, example in content["examples"].items():
        assert validate_event(example["value"]).type == name


def test_the_catalogue_schema_is_in_the_components_with_no_dangling_reference(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert refs and all(ref.removeprefix("#/components/schemas/") in schemas for ref in refs)


def test_routes_need_an_api_key_except_health(document: dict[str, Any]) -> None:
    assert "ApiKey" in document["components"]["securitySchemes"]
    for path, operations in document["paths"].items():
        for operation in operations.values():
            # The FHIR and CDS Hooks routes (docs/interoperability.md) take keys too.
            assert bool(operation.get("security")) == path.startswith(("/v1/", "/fhir", "/cds-services/")), path
