"""Property-based: every query parameter of every GET route, fuzzed; never a 500, a traceback, an echo or a write.

The routes and their parameters are read from the app itself (the same walk
``api.params`` uses to refuse unknown parameters), so a route or parameter added
later is fuzzed without touching this file. Each request is a list of
(name, value) pairs drawn from the route's parameters and a few unknown names,
so parameters are repeated, combined and omitted; the values are random text
(any Unicode but lone surrogates, which have no UTF-8 form to send), huge and
odd numbers, times near the years 1, 1900, 2200 and 9999 with and without
offsets, and valid values. The log holds events stored before times were
bounded (an aware_at in year 9999), so the answers that read them are fuzzed too.

Deterministic (``derandomize``) and bounded (``max_examples``), so CI runs the
same cases every time; ``FUZZ_CASES`` is what docs/reliability.md reports.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote_from_bytes

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from api.params import _names
from api.settings import Settings
from ledger.apikeys import KeyStore, Role
from ledger.catalogue import CATALOGUE
from ledger.signing import KeyFolder
from ledger.store import Ledger
from projections.queries.gaps import KINDS
from tests.fuzzing import DETERMINISTIC
from tests.ledgers import env_settings
from tests.projections.scenarios import false_negative

EXAMPLES_PER_ROUTE: Final = 25  # x the GET routes (20 today): 500 fuzzed queries per store
RAW_EXAMPLES: Final = 60  # raw query strings (bytes that are not UTF-8, stray % and &) over every route
HOSTILE: Final = (
    "",
    " ",
    "0",
    "-1",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "9" * 400,
    "2" * 20,
    "0x10",
    "true",
    "null",
    "[]",
    "{}",
    "%00",
    "\x00",
    "\u202e\u0000\ufeff",
    "𝟚𝟘𝟚𝟞-𝟘𝟜-𝟘𝟠T𝟘𝟚:𝟙𝟜:𝟘𝟟Z",
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:00:00-05:00",
    "9999-12-31T23:59:59.999999+00:00",
    "1899-12-31T23:59:59.999999Z",
    "2200-01-01T00:00:00.000000Z",
    "2026-05-17T03:14:07",
    "MRN-SECRET-4242",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "x" * 5000,
)
OPERATOR = {"id": "ops", "role": "ledger_operator", "kind": "person"}
REVEAL = "/v1/events/{event_id}/revealed"
EVIDENCE = ("/v1/incidents/{incident_id}/evidence", "/incidents/{incident_id}/evidence.json")
CANARY: Final = "MRN4242SECRET"
_PATH_PARAM = re.compile(r"\{([a-z_]+)(?::[a-z]+)?\}")
_TRACEBACK = re.compile(r"Traceback|File \"|line \d+, in ")

# Figures for docs/reliability.md: requests sent by each test of this file, per store (filled as they run).
FUZZ_CASES: dict[str, int] = {}


@dataclass(frozen=True)
class GetRoute:
    """A GET route of the app: its path template, a servable path, and its query parameters."""

    template: str
    path: str
    params: tuple[str, ...]


@dataclass
class Target:
    """The app on a populated store, an admin token (every route is open to it) and the log to watch."""

    client: TestClient
    headers: dict[str, str]
    ledger: Ledger
    routes: tuple[GetRoute, ...]
    sent: list[int] = field(default_factory=lambda: [0])


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI includes routers lazily
            yield from _api_routes(route.original_router.routes)


def get_routes(app: FastAPI, path_values: dict[str, str]) -> tuple[GetRoute, ...]:
    """Every GET route the app serves, with its path parameters filled from ``path_values``."""
    found = []
    for route in _api_routes(app.router.routes):
        if "GET" not in route.methods:
            continue
        path = _PATH_PARAM.sub(lambda m: path_values[m.group(1)], route.path)
        found.append(GetRoute(route.path, path, tuple(_names(route.dependant))))
    return tuple(sorted(found, key=lambda r: r.template))


@pytest.fixture
def target(store_url: str, tmp_path: Path, make_client: Callable[[Settings], TestClient]) -> Iterator[Target]:
    """A ledger with an incident, its tool's history and an event stored before times were bounded."""
    token = KeyStore(store_url).create(Role.ADMIN, label="fuzz").token
    headers = {"Authorization": f"Bearer {token}"}
    keys, checkpoints = tmp_path / "keys", tmp_path / "checkpoints"
    checkpoints.mkdir()
    with Ledger(env_settings(store_url)) as ledger:  # a signing key, as a real server has: evidence bundles need one
        KeyFolder(keys).activate_new("ledger.fuzz.example", ledger=ledger, actor=OPERATOR, reason=None)
    settings_ = Settings(database_url=store_url, key_cache_s=0, keys_dir=str(keys), checkpoint_dir=str(checkpoints))
    client = make_client(settings_)
    scenario = false_negative()
    reported = scenario.names.index("reported")
    done = client.post("/v1/events/batch", json={"events": scenario.events[:reported]}, headers=headers)
    assert done.status_code == 201, done.text
    planted = dict(
        scenario.events[reported], data={**scenario.events[reported]["data"], "aware_at": "9999-12-31T23:00:00Z"}
    )
    with Ledger(env_settings(store_url)) as ledger:  # written as the code before the range did
        ledger.append(CATALOGUE.validate_event(planted, stored=True))
    done = client.post("/v1/events/batch", json={"events": scenario.events[reported + 1 :]}, headers=headers)
    assert done.status_code == 201, done.text
    values = {
        "incident_id": "INC-FN",
        "tool_id": "sepsis-watch",
        "output_id": "out-fn-1",
        "event_id": planted["event_id"],
        "seq": "1",
    }
    _sign_in(client, token)  # the pages are fuzzed as a signed-in admin sees them, not as a sign-in redirect
    with Ledger(env_settings(store_url)) as ledger:
        yield Target(client, headers, ledger, get_routes(client.app, values))  # type: ignore[arg-type]


def _sign_in(client: TestClient, token: str) -> None:
    """The client holds a pages session for ``token``, as a browser would after the sign-in form."""
    found = re.search(r'name="form_token" value="([^"]+)"', client.get("/signin").text)
    assert found is not None
    done = client.post("/signin", data={"api_key": token, "form_token": found.group(1)}, follow_redirects=False)
    assert done.status_code == 303, done.text[:300]


# --- values ---------------------------------------------------------------------------------------------

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
_numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=0, max_value=2**63).map(str),
)
_year = st.sampled_from([1, 2, 999, 1000, 1899, 1900, 1901, 1969, 1970, 2026, 2199, 2200, 2201, 9998, 9999])
_offset = st.one_of(
    st.sampled_from(["Z", "z", "", "+00:00", "-00:00"]),
    st.tuples(st.sampled_from("+-"), st.integers(0, 23), st.integers(0, 59)).map(
        lambda t: f"{t[0]}{t[1]:02}:{t[2]:02}"
    ),
)
_times = st.builds(
    lambda y, mo, d, h, mi, s, frac, off, sep: f"{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{s:02}{frac}{off}",
    _year,
    st.integers(1, 12),
    st.sampled_from([1, 28, 29, 30, 31]),
    st.sampled_from([0, 1, 12, 22, 23]),
    st.integers(0, 59),
    st.integers(0, 59),
    st.sampled_from(["", ".0", ".999999", ".9999999", ".123456789"]),
    _offset,
    st.sampled_from(["T", "t", " "]),
)
_valid = st.sampled_from(
    ["1", "10", "2026-04-09T11:30:00Z", "2026-04-09T12:30:00+01:00", "sepsis-watch", "ed", "incident_review", *KINDS]
)
_values = st.one_of(_text, _numbers, _times, _valid, st.sampled_from(HOSTILE))


def _query(names: tuple[str, ...]) -> st.SearchStrategy[list[tuple[str, str]]]:
    unknown = st.sampled_from(["after_sq", "FROM", "as_of ", "kind[]", "q", ""])
    name = st.one_of(st.sampled_from(names), unknown) if names else unknown
    return st.lists(st.tuples(name, _values), max_size=6)


# --- the properties -------------------------------------------------------------------------------------


def _distinctive(value: str) -> bool:
    """A value long and odd enough that finding it in an error body means the body echoed it."""
    return len(value) >= 8 and not re.fullmatch(r"[\w .:+-]*", value, re.ASCII)


def _check(target: Target, route: GetRoute, query: list[tuple[str, str]] | str) -> None:
    head = target.ledger.head_seq()
    url = route.path if isinstance(query, list) else f"{route.path}?{query}"
    done = target.client.get(url, params=query if isinstance(query, list) else None, headers=target.headers)
    target.sent[0] += 1
    body = done.text
    assert done.status_code < 500, (route.template, query, body[:300])
    assert not _TRACEBACK.search(body), (route.template, query)
    if done.status_code >= 400:
        values = [v for _, v in query] if isinstance(query, list) else [query]
        assert CANARY not in body, (route.template, query, body[:300])
        assert not [v for v in values if _distinctive(v) and v in body], (route.template, query, body[:300])
    appended = target.ledger.read(after_seq=head)
    if route.template == REVEAL and done.status_code == 200:  # a reveal records itself, and only that
        assert [r.type for r in appended] in ([], ["access.recorded"])
    elif route.template in EVIDENCE and done.status_code == 200:  # a bundle signs its checkpoint over a fresh index
        assert [r.type for r in appended] in ([], ["index.committed"])
    else:
        assert appended == [], (route.template, query, done.status_code)


_FUZZ = settings(DETERMINISTIC, max_examples=EXAMPLES_PER_ROUTE)


def _fuzz_route(target: Target, route: GetRoute) -> None:
    @_FUZZ
    @given(query=_query(route.params))
    def fuzz(query: list[tuple[str, str]]) -> None:
        _check(target, route, query)

    fuzz()


def test_every_query_parameter_of_every_get_route_is_fuzzed_without_500_echo_or_write(target: Target) -> None:
    assert len(target.routes) >= 20 and any("as_of" in r.params for r in target.routes)
    for route in target.routes:
        _fuzz_route(target, route)
    FUZZ_CASES["random queries"] = FUZZ_CASES.get("random queries", 0) + target.sent[0]
    assert target.sent[0] >= len(target.routes) * 10


# The matrix is the slowest part, and what it finds does not depend on the store; the store-dependent
# case (a NUL byte, which PostgreSQL refuses as a database error) is checked on both, below.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_every_query_parameter_refuses_each_hostile_value_without_500_echo_or_write(target: Target) -> None:
    pairs = [(route, name) for route in target.routes for name in route.params]
    assert len(pairs) >= 45  # 49 today: grows with the routes
    for route, name in pairs:
        for value in HOSTILE:
            _check(target, route, [(name, value)])
        _check(target, route, [(name, "1"), (name, "2026-04-09T11:30:00Z")])  # repeated
        for value in ("", "sepsis-watch", "2026-04-09T11:30:00Z"):  # a secret in what is otherwise valid
            _check(target, route, [(name, f"{value}{CANARY}")])
    FUZZ_CASES["hostile values"] = FUZZ_CASES.get("hostile values", 0) + target.sent[0]
    assert target.sent[0] == len(pairs) * (len(HOSTILE) + 4)


def test_raw_query_strings_that_are_not_utf8_or_not_well_formed_are_refused_cleanly(target: Target) -> None:
    names = sorted({name for route in target.routes for name in route.params} | {"x"})
    raw = st.lists(
        st.tuples(
            st.sampled_from(names),
            st.one_of(
                st.binary(max_size=24).map(lambda b: quote_from_bytes(b, safe="")),
                st.sampled_from(["%", "%G0", "%ff%fe", "=", "&&", "%26from%3D1", "+", "%2B01:00"]),
            ),
        ).map(lambda t: f"{t[0]}={t[1]}"),
        min_size=1,
        max_size=4,
    ).map("&".join)
    routes = st.sampled_from(target.routes)

    @settings(_FUZZ, max_examples=RAW_EXAMPLES)
    @given(route=routes, query=raw)
    def fuzz(route: GetRoute, query: str) -> None:
        _check(target, route, query)

    fuzz()
    FUZZ_CASES["raw query strings"] = FUZZ_CASES.get("raw query strings", 0) + target.sent[0]
    assert target.sent[0] >= RAW_EXAMPLES // 2


def test_a_nul_byte_in_any_query_parameter_is_422_not_a_database_error(target: Target) -> None:
    # The API's rule. The pages' filters are choices from lists: a NUL matches nothing, and the fuzz
    # above holds them to the same no-500, no-echo, no-write rules.
    for route in (r for r in target.routes if r.template.startswith("/v1/")):
        for name in route.params:
            for value in ("\x00", "sepsis\x00watch"):
                done = target.client.get(route.path, params={name: value}, headers=target.headers)
                assert done.status_code == 422, (route.template, name, done.status_code, done.text[-400:])
                target.sent[0] += 1
    FUZZ_CASES["NUL bytes"] = FUZZ_CASES.get("NUL bytes", 0) + target.sent[0]
