"""Property-based: hostile events through the append routes, and through the catalogue itself.

Every valid event of tests/testdata/events is mutated (a field removed, its
value replaced by junk of every JSON type, numbers at the edges, huge strings,
unicode, control characters, lone surrogates, nested junk; unknown keys added;
a value wrapped in a list or an object; several of these at once; the body
replaced by junk or by bytes that are not JSON) and sent to POST /v1/events and
POST /v1/events/batch, on SQLite and (fewer cases) on PostgreSQL. Whatever is
sent, the answer is:

- never a 5xx and never a traceback;
- a refusal (4xx) in the API's one error shape (code, message, request_id); a
  422 lists the fields at fault, at least one of them the field the mutation
  touched (or one above or below it), and in a batch blames only the events that
  were mutated; no junk string sent comes back in the answer;
- no write on refusal: the log's head seq is what it was; an acceptance moves
  it by exactly the events recorded.

The catalogue is fuzzed directly too: ``validate_event`` returns an Event or
raises InvalidEvent (never another exception), and an accepted event's
canonical bytes validate again to the same bytes.

The runs are derandomized (the same cases every run) and bounded by
max_examples; ``pytest -s`` prints the number of cases and the answers seen.
"""

from __future__ import annotations

import copy
import json
import math
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger.catalogue import SCHEMA_VERSIONS, Event, canonical_bytes, parse_stored, validate_event
from ledger.errors import InvalidEvent
from tests.api.conftest import EMITTER_SOURCE
from tests.fuzzing import DETERMINISTIC

VECTORS = Path(__file__).resolve().parents[1] / "testdata" / "events"
BASES: tuple[dict[str, Any], ...] = tuple(
    json.loads(path.read_text(encoding="utf-8"))["event"] for path in sorted(VECTORS.glob("*.valid.json"))
)
# Cases per run: bounded so that the whole module stays well under a minute.
SINGLE_CASES = {"sqlite": 200, "postgres": 60}
BATCH_CASES = {"sqlite": 80, "postgres": 30}
CATALOGUE_CASES = 500
FUZZ = DETERMINISTIC
WHOLE_BODY = ""  # the loc of a defect of the body as a whole

Path_ = tuple[str | int, ...]


# --- junk -----------------------------------------------------------------------

EDGE_NUMBERS = st.sampled_from([
    0, -1, 1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**30),
    1e308, -1e308, 5e-324, -0.0, 0.5, 1.0000000000000002, math.nan, math.inf, -math.inf,
])  # fmt: skip
EDGE_TIMES = st.sampled_from([
    "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "0999-12-31T23:59:59Z", "1000-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59Z", "9999-12-31T23:00:00-01:00", "9999-12-31T23:59:59.999999-23:59", "2026-02-30T00:00:00Z",
    "2026-01-01T24:00:00Z", "2026-01-01T00:00:60Z", "2026-01-01T00:00:00", "2026-01-01T00:00:00.1234567Z",
    "2026-01-01", "2026-01-01T00:00:00+24:00", "  2026-01-01T00:00:00Z",
])  # fmt: skip
CONTROL = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x9F).filter(
    lambda c: ord(c) < 0x20 or ord(c) >= 0x7F), min_size=1, max_size=4)  # fmt: skip
SURROGATE = st.characters(categories=["Cs"])
HUGE_SIZES = [201, 4_001, 20_001, 300_000, 1_100_000]  # each limit plus one, and over the 1 MiB body limit

JunkString = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec=None, exclude_categories=["Cs"]), min_size=1, max_size=40),
    st.tuples(st.text(max_size=8), CONTROL, st.text(max_size=8)).map("".join),
    st.tuples(st.text("abc", max_size=4), SURROGATE).map("".join),
    st.sampled_from(HUGE_SIZES).flatmap(lambda n: st.sampled_from(["x" * n, "é" * n, " " * n, "\u202e" * n])),
    EDGE_TIMES,
    st.sampled_from(["", " ", "null", "true", "0", "-", "../../etc/passwd", "<script>", "Patient/MRN-12345"]),
)
Scalar = st.one_of(st.none(), st.booleans(), EDGE_NUMBERS, st.integers(), st.floats(), JunkString)
Junk = st.recursive(
    Scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
PlausibleText = st.text(st.characters(exclude_categories=["Cc", "Cs", "Zl", "Zp", "Zs"]), min_size=1, max_size=30)
JunkKey = st.one_of(st.text(max_size=12), st.sampled_from(["__proto__", "constructor", "$ref", "data", "seq"]))
_TIME_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}T")
AIMED: dict[str, tuple[Callable[[object], bool], st.SearchStrategy[object]]] = {
    "retime": (lambda v: isinstance(v, str) and _TIME_LIKE.match(v) is not None, EDGE_TIMES),
    "renumber": (lambda v: isinstance(v, int | float) and not isinstance(v, bool), EDGE_NUMBERS | st.floats()),
}
RAW_BODIES = st.one_of(
    st.binary(max_size=200),
    st.integers(min_value=1, max_value=4_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=1, max_value=4_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.sampled_from([b"", b"null", b"[]", b"{}", b'"event"', b"1e400", b"\xef\xbb\xbf{}", b"{'a': 1}", b"NaN"]),
)


# --- cases ----------------------------------------------------------------------


@dataclass
class Case:
    """A body to send (an object to encode, or raw bytes), and what the mutation touched."""

    body: object
    raw: bytes | None = None  # sent as is when set
    targets: list[str] = field(default_factory=list)  # dotted paths of the fields the mutations touched
    injected: list[str] = field(default_factory=list)  # junk strings sent: none may come back in an answer

    def encoded(self) -> bytes:
        """The bytes on the wire (json.dumps writes NaN, Infinity and lone surrogates: not JSON, refused as such)."""
        return self.raw if self.raw is not None else json.dumps(self.body).encode()


def _paths(value: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every path to a value inside ``value`` (dict keys and list positions)."""
    items: Any = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield (*prefix, key)
        yield from _paths(inner, (*prefix, key))


def _dotted(path: Path_) -> str:
    return ".".join(str(part) for part in path)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


def _at(event: Any, path: Path_) -> Any:
    for part in path:
        event = event[part]
    return event


def _parent(event: Any, path: Path_) -> Any:
    return _at(event, path[:-1])


@st.composite
def _mutate_once(draw: st.DrawFn, case: Case) -> Case:
    event = case.body
    paths = list(_paths(event))
    kind = draw(st.sampled_from(["remove", "replace", "replace", "retext", "retime", "renumber", "add", "wrap"]))
    if kind in AIMED:  # a value of the same kind at its edges: times and numbers
        aimed = [p for p in paths if AIMED[kind][0](_at(event, p))]
        paths, kind = (aimed, kind) if aimed else (paths, "replace")
    path: Path_ = draw(st.sampled_from(paths)) if paths else ()
    if kind == "add" or not path:
        containers = [p for p in [(), *paths] if isinstance(_at(event, p), dict)]
        where: Path_ = draw(st.sampled_from(containers))
        value = draw(Junk)
        _at(event, where)[draw(JunkKey)] = value
        case.targets.append(_dotted(where))  # an unknown key is the fault of the object that holds it
        case.injected.extend(_strings(value))
        return case
    parent, key = _parent(event, path), path[-1]
    if kind == "remove":
        del parent[key]
    elif kind == "replace":
        parent[key] = draw(Junk)
        case.injected.extend(_strings(parent[key]))
    elif kind in AIMED:
        parent[key] = draw(AIMED[kind][1])
        case.injected.extend(_strings(parent[key]))
    elif kind == "retext":  # often still valid: the accepted events whose bytes must round-trip
        parent[key] = draw(PlausibleText)
        case.injected.append(parent[key])
    else:
        parent[key] = draw(st.sampled_from([[parent[key]], {"value": parent[key]}]))
    case.targets.append(_dotted(path))
    return case


@st.composite
def mutated_events(draw: st.DrawFn, *, source: str | None = EMITTER_SOURCE) -> Case:
    """A valid event of the vectors with up to three mutations; now and then junk or raw bytes instead."""
    shape = draw(st.sampled_from(["mutated"] * 8 + ["junk", "raw"]))
    if shape == "junk":
        body = draw(Junk.filter(lambda value: not isinstance(value, dict)))
        return Case(body, targets=[WHOLE_BODY], injected=list(_strings(body)))
    if shape == "raw":
        return Case(None, raw=draw(RAW_BODIES), targets=[WHOLE_BODY])
    event = copy.deepcopy(draw(st.sampled_from(BASES)))
    event["event_id"] = str(uuid.UUID(int=draw(st.integers(1, 2**128 - 2))))
    if source is not None:
        event["source"] = source  # the emitter's own: the mutation, not the key, decides the answer
    case = Case(event)
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 3]))):  # 0: the vector as it is, to be accepted
        case = draw(_mutate_once(case))
    return case


def _fresh(case: Case) -> Case:
    """The case with a new event_id (unless the mutation touched it), so that no two cases share one."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("event_id"), str) and "event_id" not in case.targets:
        case.body = {**body, "event_id": str(uuid.uuid4())}
    return case


# --- what every answer must be ----------------------------------------------------


def _related(loc: str, target: str) -> bool:
    """True if ``loc`` names ``target``, a field that holds it, or a field inside it."""
    if target == WHOLE_BODY or loc == target:
        return True
    return target.startswith(loc + ".") or loc.startswith(target + ".") or loc == WHOLE_BODY


def _is_json(data: bytes) -> bool:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return True


def _check_refusal(response: Any, cases: list[Case], *, batch: bool) -> None:
    body = response.json()
    assert {"code", "message", "request_id"} <= set(body), body
    assert all(isinstance(body[k], str) and body[k] for k in ("code", "message")), body
    said = json.dumps(body, ensure_ascii=False)
    for case in cases:
        for value in case.injected:
            if len(value) >= 8 and value.strip():  # shorter ones may be words of a fixed message
                assert value not in said, f"a value from the request came back in a {response.status_code}"
    if response.status_code != 422:
        return
    errors = body["errors"]
    assert errors, "a 422 names at least one field"
    assert all(isinstance(e["loc"], str) and isinstance(e["msg"], str) and e["msg"] for e in errors), errors
    if batch and body["code"] == "invalid_event" and any(e["index"] is not None for e in errors):
        mutated = {i for i, case in enumerate(cases) if case.targets}
        assert {e["index"] for e in errors} <= mutated, "an event that was not mutated is blamed"
        for index in {e["index"] for e in errors}:
            locs = [e["loc"] for e in errors if e["index"] == index]
            assert _names_a_target(locs, cases[index]), (locs, cases[index].targets)
    elif not batch:
        assert _names_a_target([e["loc"] for e in errors], cases[0]), ([e["loc"] for e in errors], cases[0].targets)


def _names_a_target(locs: list[str], case: Case) -> bool:
    if not _is_json(case.encoded()):
        return locs == [WHOLE_BODY]
    return any(_related(loc, target) for loc in locs for target in case.targets)


@dataclass
class Tally:
    """The answers seen in one run, for the report."""

    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    def line(self, name: str) -> str:
        return f"{name}: {self.cases} cases, answers {dict(sorted(self.statuses.items()))}"


def _head(client: TestClient) -> int:
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    return int(ready.json()["head_seq"])


def _post(client: TestClient, route: str, data: bytes, emitter: dict[str, str]) -> Any:
    return client.post(route, content=data, headers={**emitter, "Content-Type": "application/json"})


def _check_answer(response: Any, before: int, after: int, written: int) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    assert "Traceback" not in response.text and 'File "' not in response.text
    if response.status_code == 201:
        assert after == before + written
    elif response.status_code == 200:
        assert after == before  # every event already recorded: the original receipts
    else:
        assert after == before, f"a refused request ({response.status_code}) wrote {after - before} events"


def _backend(store_url: str) -> str:
    return "sqlite" if store_url.startswith("sqlite") else "postgres"


# --- the tests ------------------------------------------------------------------


def test_hostile_single_events_get_a_4xx_naming_the_field_never_a_500_and_never_write(
    client: TestClient, emitter: dict[str, str], store_url: str
) -> None:
    tally = Tally()

    @settings(FUZZ, max_examples=SINGLE_CASES[_backend(store_url)])
    @given(case=mutated_events())
    def run(case: Case) -> None:
        case = _fresh(case)
        before = _head(client)
        response = _post(client, "/v1/events", case.encoded(), emitter)
        _check_answer(response, before, _head(client), written=1)
        if response.status_code >= 400:
            _check_refusal(response, [case], batch=False)
        tally.cases += 1
        tally.statuses[response.status_code] += 1

    run()
    print("\n" + tally.line(f"fuzz POST /v1/events on {_backend(store_url)}"))  # noqa: T201 - docs/reliability.md
    assert tally.statuses[422] > tally.cases // 2, "the cases were mostly not refused: the fuzzing is too gentle"


@st.composite
def batches(draw: st.DrawFn) -> tuple[object, list[Case], int]:
    """A batch body: 1-4 events, each either a valid vector event or a mutated one; or a junk batch shape."""
    shape = draw(st.sampled_from(["events"] * 6 + ["junk shape"]))
    if shape == "junk shape":
        junk = draw(st.one_of(Junk, st.dictionaries(JunkKey, Junk, max_size=3), st.just({"events": []})))
        return junk, [Case(junk, targets=[WHOLE_BODY], injected=list(_strings(junk)))], 0
    cases = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            cases.append(_fresh(draw(mutated_events().filter(lambda c: c.raw is None))))
        else:
            event = {**copy.deepcopy(draw(st.sampled_from(BASES))), "source": EMITTER_SOURCE}
            cases.append(_fresh(Case(event, targets=[])))  # valid: never to be blamed
    return {"events": [c.body for c in cases]}, cases, len(cases)


def test_hostile_batches_are_refused_whole_naming_only_the_mutated_events_never_a_500(
    client: TestClient, emitter: dict[str, str], store_url: str
) -> None:
    tally = Tally()

    @settings(FUZZ, max_examples=BATCH_CASES[_backend(store_url)])
    @given(drawn=batches())
    def run(drawn: tuple[object, list[Case], int]) -> None:
        body, cases, count = drawn
        before = _head(client)
        response = _post(client, "/v1/events/batch", json.dumps(body).encode(), emitter)
        _check_answer(response, before, _head(client), written=count)
        if response.status_code >= 400:
            _check_refusal(response, cases, batch=True)
        tally.cases += 1
        tally.statuses[response.status_code] += 1

    run()
    print("\n" + tally.line(f"fuzz POST /v1/events/batch on {_backend(store_url)}"))  # noqa: T201
    assert tally.statuses[201] and tally.statuses[422], "both acceptances and refusals were exercised"


# --- the catalogue, directly ----------------------------------------------------


def _validated(raw: object) -> Event | InvalidEvent:
    try:
        return validate_event(raw)
    except InvalidEvent as exc:
        return exc


def test_the_catalogue_returns_an_event_or_invalid_event_and_accepted_bytes_revalidate_to_themselves() -> None:
    tally: Counter[str] = Counter()
    bodies = st.one_of(mutated_events(source=None).filter(lambda c: c.raw is None), Junk.map(Case))

    @settings(FUZZ, max_examples=CATALOGUE_CASES)
    @given(case=bodies)
    def run(case: Case) -> None:
        outcome = _validated(case.body)  # any exception but InvalidEvent fails the test
        tally["cases"] += 1
        if isinstance(outcome, InvalidEvent):
            tally["refused"] += 1
            assert outcome.errors and all(isinstance(e.loc, str) and e.msg for e in outcome.errors)
            return
        tally["accepted"] += 1
        stored = canonical_bytes(outcome)
        assert canonical_bytes(validate_event(orjson.loads(stored))) == stored
        if outcome.schema_version == SCHEMA_VERSIONS[outcome.type]:
            assert canonical_bytes(parse_stored(stored)) == stored

    run()
    print(f"\nfuzz validate_event: {dict(tally)}")  # noqa: T201
    assert tally["accepted"] and tally["refused"]


# Every field of every vector event, set to a value of each other JSON type.
WRONG_TYPES: tuple[object, ...] = (None, True, 0, -1.5, "", "x", [], {}, [None], {"": None})


def _json_type(value: object) -> str:
    return "number" if isinstance(value, int | float) and not isinstance(value, bool) else type(value).__name__


def _wrong_type_cases(*, every_type: bool = True) -> Iterator[tuple[dict[str, Any], str]]:
    """(event, the field changed): every field of every vector, set to each value of another JSON type,
    or (``every_type=False``) to one of them, taken in turn."""
    turn = 0
    for base in BASES:
        for path in _paths(base):
            original = _parent(base, path)[path[-1]]
            wrong = [v for v in WRONG_TYPES if _json_type(v) != _json_type(original) or v in ("", [], {})]
            if not every_type:
                wrong, turn = [wrong[turn % len(wrong)]], turn + 1
            for value in wrong:
                event = copy.deepcopy(base)
                _parent(event, path)[path[-1]] = value
                yield event, _dotted(path)


def test_a_wrong_type_in_any_field_of_any_event_is_refused_at_that_field_or_accepted_never_raised() -> None:
    checked = refused = 0
    for event, target in _wrong_type_cases():
        outcome = _validated(event)
        checked += 1
        if isinstance(outcome, InvalidEvent):
            refused += 1
            locs = [e.loc for e in outcome.errors]
            assert any(_related(loc, target) and loc != WHOLE_BODY for loc in locs), (target, locs)
    print(f"\nwrong types: {checked} field x type cases, {refused} refused")  # noqa: T201
    assert refused > checked * 0.8


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # one store: the fuzz above runs on both
def test_a_wrong_type_in_any_field_through_the_api_is_a_422_at_that_field_and_writes_nothing(
    client: TestClient, emitter: dict[str, str]
) -> None:
    tally = Tally()
    before = _head(client)
    for event, target in _wrong_type_cases(every_type=False):  # the full product is the catalogue's test above
        event = {**event, "source": EMITTER_SOURCE} if target != "source" else event
        case = _fresh(Case(event, targets=[target]))
        response = _post(client, "/v1/events", case.encoded(), emitter)
        assert response.status_code < 500, response.text[:500]
        if response.status_code >= 400:
            _check_refusal(response, [case], batch=False)
        tally.cases += 1
        tally.statuses[response.status_code] += 1
    assert _head(client) == before + tally.statuses[201]
    print("\n" + tally.line("wrong types through POST /v1/events"))  # noqa: T201


# --- what was accepted must stay readable -----------------------------------------

QUERY_IDS = {"incident_id": "/v1/incidents/{}/accountability", "tool_id": "/v1/tools/{}", "output_id": "/v1/outputs/{}"}
AT_HEAD = ("/v1/incidents", "/v1/gaps", "/v1/metrics/reliance")  # asked with min_seq at the head
# Well-formed times at the ends of the range the catalogue accepts (years 1000 to 9999, in UTC).
VALID_EDGE_TIMES = st.sampled_from([
    "1000-01-01T00:00:00Z", "1000-01-01T00:00:00-12:00", "1970-01-01T00:00:00Z", "2038-01-19T03:14:08Z",
    "9999-12-31T23:00:00Z", "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59+14:00",
])  # fmt: skip


@st.composite
def edge_valued_events(draw: st.DrawFn) -> Case:
    """A vector event with one time, number or text moved to an edge: mostly accepted, and then stored for good."""
    event = copy.deepcopy(draw(st.sampled_from(BASES)))
    event.update(event_id=str(uuid.UUID(int=draw(st.integers(1, 2**128 - 2)))), source=EMITTER_SOURCE)
    kind = draw(st.sampled_from(["retime", "retime", "renumber", "retext"]))
    paths = [p for p in _paths(event) if p[0] == "data" and (kind == "retext" or AIMED[kind][0](_at(event, p)))]
    if paths:
        path = draw(st.sampled_from(paths))
        values = {"retime": VALID_EDGE_TIMES, "renumber": EDGE_NUMBERS, "retext": PlausibleText}[kind]
        _parent(event, path)[path[-1]] = draw(values)
    return Case(event)


def _at_the_edge(event_type: str, **data: object) -> dict[str, Any]:
    event = copy.deepcopy(next(base for base in BASES if base["type"] == event_type))
    event["data"].update(data)
    return {**event, "source": EMITTER_SOURCE}


def _query_routes(accepted: list[dict[str, Any]]) -> list[str]:
    """The routes that read what was accepted: the lists, and each incident, tool and output it names."""
    named = {
        QUERY_IDS[name].format(value)
        for event in accepted
        for name, value in event["data"].items()
        if name in QUERY_IDS and isinstance(value, str) and value.isascii() and value.isprintable() and "/" not in value
    }
    return [*AT_HEAD, *sorted(named)]


def test_no_event_the_append_route_accepts_breaks_a_query(
    client: TestClient, emitter: dict[str, str], store_url: str, keys: Any
) -> None:
    accepted: list[dict[str, Any]] = []

    @settings(FUZZ, max_examples=SINGLE_CASES[_backend(store_url)] // 2)
    @given(case=edge_valued_events())
    @example(case=Case(_at_the_edge("incident.reported", aware_at="9999-12-31T23:00:00Z")))  # issue 14's own
    def run(case: Case) -> None:
        case = _fresh(case)
        response = _post(client, "/v1/events", case.encoded(), emitter)
        assert response.status_code < 500, response.text[:500]
        if response.status_code == 201:
            accepted.append(case.body)  # type: ignore[arg-type]

    run()
    head = _head(client)
    reader = TestClient(client.app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {keys.reader}"})
    routes = _query_routes(accepted)
    answers = {route: reader.get(route, params={"min_seq": head} if route in AT_HEAD else None) for route in routes}
    status = reader.get("/v1/projections/status").json()
    print(f"\n{len(accepted)} edge events accepted on {_backend(store_url)}, then {len(routes)} queries")  # noqa: T201
    assert status["worker_failure"] is None, status["worker_failure"]
    assert {route: r.status_code for route, r in answers.items() if r.status_code >= 500} == {}
