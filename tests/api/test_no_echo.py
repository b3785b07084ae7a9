"""No response carries a value from the request: a marker sent in every place the API reads never comes back.

The marker is sent, one place at a time, as every path parameter and every
query parameter of every route (and as the name of an unknown one), and in the
request bodies as every value and as an extra key in every object, in both the
shapes a value can take (an identifier with hyphens, a field-like name with
underscores). Whatever error the route answers (404, 422, ...), its body must not hold it;
an answer (2xx) may name what was asked for.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.app import ROUTERS
from api.params import _names
from tests.api.conftest import Keys, bearer

EVENTS = Path(__file__).parents[1] / "testdata" / "events"
MARKERS = ("MRN-SECRET-4242", "MRN_SECRET_4242")  # a value, and a key shaped like a field name
NEEDLE = "secret"  # every marker holds it; no fixed text, hash or id of the API does
REQUIRED = {"purpose": "incident_review", "seq": "1", "from_size": "1"}
ERASURE = {"subject": "patient:Patient/123", "legal_basis": "gdpr_art17", "request_ref": "req-1", "dry_run": True}
_PARAM = re.compile(r"\{([a-z_]+)(?::[a-z]+)?\}")

CHECKED: dict[str, int] = {"requests": 0}


def _routes() -> list[tuple[str, str, APIRoute]]:
    found = []
    for route in (route for router in ROUTERS for route in router.routes):
        if isinstance(route, APIRoute):
            found += [(method, route.path, route) for method in sorted(route.methods) if method != "HEAD"]
    return found


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every location in a JSON document (objects' keys and lists' indexes), depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield prefix + (key,)
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield prefix + (index,)
            yield from _paths(value, prefix + (index,))


def _objects(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        yield prefix
    for path in _paths(node, prefix):
        if isinstance(_at(node, path[len(prefix) :]), dict):
            yield path


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


def _variants(document: Any) -> Iterator[Any]:
    """``document`` with the marker as each value in turn, then with the marker as an extra key of each object."""
    for path in _paths(document):
        for marker in MARKERS:
            changed = copy.deepcopy(document)
            _at(changed, path[:-1])[path[-1]] = marker
            yield changed
    for path in _objects(document):
        for marker in MARKERS:
            changed = copy.deepcopy(document)
            _at(changed, path)[marker] = marker
            yield changed


def _fresh_ids(event: dict[str, Any]) -> dict[str, Any]:
    if isinstance(event.get("event_id"), str) and event["event_id"] not in MARKERS:
        event["event_id"] = str(uuid.uuid4())
    return event


def _assert_not_echoed(response: Any, where: str) -> None:
    # An answer (2xx) may name what was asked for (the tool of /v1/tools/{tool_id}); an error never does.
    CHECKED["requests"] += 1
    assert response.status_code < 500, f"{where} answered {response.status_code}"
    if response.status_code >= 400:
        assert NEEDLE not in response.text.lower(), f"{where} answered {response.status_code}: {response.text[:300]}"


def _valid_events() -> list[dict[str, Any]]:
    return [orjson.loads(path.read_bytes())["event"] for path in sorted(EVENTS.glob("*.valid.json"))]


def test_every_route_is_probed() -> None:
    assert len(_routes()) >= 22


def test_no_path_or_query_parameter_value_or_name_is_echoed(client: TestClient, keys: Keys) -> None:
    admin = bearer(keys.admin)
    for method, template, route in _routes():
        path = _PARAM.sub(MARKERS[0], template)
        known = sorted(_names(route.dependant))
        cases: list[dict[str, str]] = [{}, {MARKERS[1]: MARKERS[0]}]
        cases += [{name: marker} for name in known for marker in MARKERS]
        for query in cases:
            params = {k: v for k, v in REQUIRED.items() if k in known and k not in query} | query
            response = client.request(method, path, params=params, headers=admin)
            _assert_not_echoed(response, f"{method} {template} {sorted(query)}")


@pytest.mark.parametrize("route", ["/v1/events", "/v1/events/batch"])
def test_no_event_body_value_or_key_is_echoed(client: TestClient, keys: Keys, route: str) -> None:
    admin = bearer(keys.admin)
    events = _valid_events() if route == "/v1/events" else _valid_events()[:4]
    for event in events:
        for variant in _variants(event):
            body = _fresh_ids(variant) if route == "/v1/events" else {"events": [_fresh_ids(variant)]}
            response = client.post(route, content=orjson.dumps(body), headers=admin | _JSON)
            _assert_not_echoed(response, f"POST {route} {event['type']}")
    for variant in _variants({"events": [_valid_events()[0]]}):
        response = client.post("/v1/events/batch", content=orjson.dumps(variant), headers=admin | _JSON)
        _assert_not_echoed(response, "POST /v1/events/batch (the batch's own keys)")


def test_no_erasure_body_value_or_key_is_echoed(client: TestClient, keys: Keys) -> None:
    admin = bearer(keys.admin)
    for variant in _variants(ERASURE):
        response = client.post("/v1/subjects/erase", content=orjson.dumps(variant), headers=admin | _JSON)
        _assert_not_echoed(response, "POST /v1/subjects/erase")


def test_a_body_that_is_not_json_is_refused_without_echoing_it(client: TestClient, keys: Keys) -> None:
    admin = bearer(keys.admin)
    for route in ("/v1/events", "/v1/events/batch", "/v1/subjects/erase"):
        for body in (MARKERS[0].encode(), b'{"a": "' + MARKERS[0].encode() + b'"', b"\xff" + MARKERS[0].encode()):
            response = client.post(route, content=body, headers=admin | _JSON)
            assert response.status_code == 422
            _assert_not_echoed(response, f"POST {route} (not JSON)")


_JSON = {"Content-Type": "application/json"}
