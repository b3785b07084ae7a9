"""The event catalogue: what it accepts, what it refuses and how, and the bytes it stores."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ledger.catalogue import (
    EVENT_TYPES,
    SCHEMA_VERSIONS,
    SENSITIVE_FIELDS,
    Catalogue,
    DataModel,
    Event,
    EventSpec,
    canonical_bytes,
    json_schema,
    parse_stored,
    sensitive_fields,
    validate_event,
)
from ledger.catalogue.examples import EXAMPLES
from ledger.catalogue.fields import TIME_MAX_TEXT, TIME_MIN_TEXT, TIME_RANGE_MESSAGE, Identifier, Number
from ledger.errors import InvalidEvent
from ledger.proof.canonical import format_time

VECTORS = Path(__file__).resolve().parents[1] / "testdata" / "events"
TYPES = sorted(EVENT_TYPES)
PATIENT = "MRN-00412345-SMITH"  # a value that must never appear in an error message


def _vector(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return loaded


def _example(event_type: str) -> dict[str, Any]:
    return copy.deepcopy(EXAMPLES[event_type])


def _errors(raw: object) -> dict[str, str]:
    with pytest.raises(InvalidEvent) as caught:
        validate_event(raw)
    return {error.loc: error.msg for error in caught.value.errors}


def _reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_keys(item) for item in value]
    return value


# --- the vectors ------------------------------------------------------------------


def test_every_type_has_a_valid_and_an_invalid_vector() -> None:
    names = {path.name for path in VECTORS.glob("*.json")}
    expected = {f"{t}.{kind}.json" for t in EVENT_TYPES for kind in ("valid", "invalid")}
    assert names == expected


@pytest.mark.parametrize("event_type", TYPES)
def test_valid_vector_validates_to_its_pinned_canonical_bytes(event_type: str) -> None:
    vector = _vector(f"{event_type}.valid.json")
    event = validate_event(vector["event"])
    assert event.type == event_type
    assert canonical_bytes(event) == vector["canonical"].encode("utf-8")


@pytest.mark.parametrize("event_type", TYPES)
def test_valid_vector_is_the_published_schema_example(event_type: str) -> None:
    assert _vector(f"{event_type}.valid.json")["event"] == EXAMPLES[event_type]


@pytest.mark.parametrize("event_type", TYPES)
def test_stored_bytes_read_back_to_the_same_event(event_type: str) -> None:
    event = validate_event(_example(event_type))
    stored = canonical_bytes(event)
    again = parse_stored(stored)
    assert again == event
    assert canonical_bytes(again) == stored


@pytest.mark.parametrize("event_type", TYPES)
def test_invalid_vector_fails_at_its_stated_location(event_type: str) -> None:
    vector = _vector(f"{event_type}.invalid.json")
    errors = _errors(vector["event"])
    assert vector["error_loc"] in errors, errors
    assert errors[vector["error_loc"]] == vector["error_msg"]


# --- canonical bytes ----------------------------------------------------------------


def test_equivalent_inputs_give_identical_bytes() -> None:
    plain = _example("output.generated")
    plain["occurred_at"] = "2026-04-08T02:14:07Z"
    plain["data"]["score"] = 1.0
    plain["data"]["threshold_in_effect"] = 0.5
    other = _reversed_keys(copy.deepcopy(plain))
    other["occurred_at"] = "2026-04-08T04:14:07+02:00"
    other["data"]["score"] = 1
    other["event_id"] = plain["event_id"].upper()
    other["correlation_id"] = None
    del other["schema_version"]
    assert canonical_bytes(validate_event(plain)) == canonical_bytes(validate_event(other))


@given(
    moment=st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2199, 12, 31, 23, 59, 59, 999999), timezones=st.just(UTC)
    ),
    offset_minutes=st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
)
def test_any_utc_offset_gives_the_bytes_of_the_same_instant_in_utc(moment: datetime, offset_minutes: int) -> None:
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    in_utc, in_local = _example("output.shown"), _example("output.shown")
    in_utc["occurred_at"] = moment.isoformat().replace("+00:00", "Z")
    in_local["occurred_at"] = local.isoformat()
    stored = canonical_bytes(validate_event(in_utc))
    assert canonical_bytes(validate_event(in_local)) == stored
    assert orjson.loads(stored)["occurred_at"] == format_time(moment)


def test_timestamps_are_stored_in_utc_with_six_fraction_digits() -> None:
    raw = _example("output.shown")
    raw["occurred_at"] = "2026-04-08T04:15:00.5+02:00"
    stored = orjson.loads(canonical_bytes(validate_event(raw)))
    assert stored["occurred_at"] == "2026-04-08T02:15:00.500000Z"
    assert stored["data"]["shown_at"] == "2026-04-08T02:14:58.004000Z"


def test_number_fields_are_stored_as_doubles() -> None:
    raw = _example("output.generated")
    raw["data"]["score"] = 1
    raw["data"]["threshold_in_effect"] = 2
    assert b'"score":1.0' in canonical_bytes(validate_event(raw))
    assert b'"threshold_in_effect":2.0' in canonical_bytes(validate_event(raw))


def test_absent_optionals_are_omitted_and_schema_version_is_always_written() -> None:
    raw = _example("output.acted")
    del raw["schema_version"]
    raw["data"]["comment"] = None
    stored = orjson.loads(canonical_bytes(validate_event(raw)))
    assert stored["schema_version"] == 1
    assert "comment" not in stored["data"]
    assert "acted_at" not in stored["data"]
    assert "correlation_id" not in stored


def test_uuids_and_digests_are_stored_lowercase() -> None:
    raw = _example("output.generated")
    raw["event_id"] = raw["event_id"].upper()
    raw["causation_id"] = "A0B1C2D3-E4F5-4A6B-8C7D-9E0F1A2B3C4D"
    raw["data"]["input_digest"] = raw["data"]["input_digest"].upper().replace("SHA256", "sha256")
    event = validate_event(raw)
    assert event.event_id == EXAMPLES["output.generated"]["event_id"]
    assert event.causation_id == "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"
    assert canonical_bytes(event).count(b"sha256:a1a1") == 1


def test_event_exposes_envelope_and_typed_data() -> None:
    event = validate_event(_example("output.shown"))
    assert event.occurred_at.utcoffset() is not None
    assert event.schema_version == 1
    assert event.actor.kind == "system"
    assert isinstance(event.data, EVENT_TYPES["output.shown"])
    with pytest.raises(ValidationError):
        event.source = "elsewhere"


# --- facts are recorded, however bad the news -----------------------------------------


def test_threshold_change_without_approver_is_recorded() -> None:
    raw = _example("tool.threshold_changed")
    raw["data"].pop("approved_by", None)
    raw["data"].pop("change_ref", None)
    assert validate_event(raw).type == "tool.threshold_changed"


def test_output_shown_for_any_output_is_valid_without_cross_checks() -> None:
    raw = _example("output.shown")
    raw["data"]["output_id"] = "never-generated-output"
    raw["data"]["clinician_id"] = "untrained-locum-999"
    assert validate_event(raw).type == "output.shown"


def test_override_without_reason_code_is_recorded() -> None:
    raw = _example("output.acted")
    del raw["data"]["reason_code"]
    assert validate_event(raw).type == "output.acted"


# --- what is malformed ------------------------------------------------------------------


def test_missing_actor_fails_at_actor() -> None:
    raw = _example("output.acted")
    del raw["actor"]
    assert _errors(raw) == {"actor": "field required"}


def test_actor_kind_must_be_known() -> None:
    raw = _example("output.acted")
    raw["actor"]["kind"] = "robot"
    assert _errors(raw) == {"actor.kind": "must be one of person, system, committee"}


@pytest.mark.parametrize(
    ("where", "parent"), [("envelope", ""), ("data", "data"), ("actor", "actor"), ("nested", "data.scope")]
)
def test_unknown_field_is_refused_not_dropped_and_placed_by_position_not_named(where: str, parent: str) -> None:
    raw = _example("tool.approved")
    target = {"envelope": raw, "data": raw["data"], "actor": raw["actor"], "nested": raw["data"]["scope"]}[where]
    target["sites_"] = ["northside"]
    assert _errors(raw) == {parent: f"unknown field: key {len(target)} of this object"}


def test_unknown_type_is_a_single_error_at_type() -> None:
    raw = _example("output.shown")
    raw["type"] = "output.seen"
    with pytest.raises(InvalidEvent) as caught:
        validate_event(raw)
    assert [error.loc for error in caught.value.errors] == ["type"]
    assert "output.seen" not in str(caught.value)


def test_unknown_schema_version_fails_at_schema_version() -> None:
    raw = _example("output.shown")
    raw["schema_version"] = 7
    assert _errors(raw) == {"schema_version": "unknown schema version for output.shown; known: 1"}


@pytest.mark.parametrize("value", [True, "1", 1.0, 0])
def test_schema_version_must_be_a_positive_integer(value: object) -> None:
    raw = _example("output.shown")
    raw["schema_version"] = value
    assert list(_errors(raw)) == ["schema_version"]


@pytest.mark.parametrize("raw", [[], "event", None, 42])
def test_non_object_input_is_refused_at_the_root(raw: object) -> None:
    assert _errors(raw) == {"": "must be a JSON object"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-04-08T02:15:00", "timestamp must carry a UTC offset"),
        ("2026-04-08 02:15:00Z", "must be an RFC 3339 timestamp such as 2026-11-25T15:19:55Z"),
        ("2026-04-08", "must be an RFC 3339 timestamp such as 2026-11-25T15:19:55Z"),
        ("2026-04-08T02:15:00.1234567Z", "must have at most 6 fractional digits (microseconds)"),
        ("2026-02-30T02:15:00Z", "is not a valid date and time"),
        ("0999-04-08T02:15:00Z", TIME_RANGE_MESSAGE),
        (1775614500, "must be an RFC 3339 timestamp string"),
    ],
)
def test_malformed_timestamps_are_refused(value: object, message: str) -> None:
    raw = _example("output.shown")
    raw["occurred_at"] = value
    assert _errors(raw) == {"occurred_at": message}


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:00:00Z",
        "9999-12-31T23:00:00-05:00",  # past datetime's own limit once in UTC
        "0001-01-01T00:00:00+01:00",  # before it
        "1000-01-01T00:00:00Z",
        "1899-12-31T23:59:59.999999Z",
        "1900-01-01T00:30:00+01:00",  # 1899 in UTC
        "2200-01-01T00:00:00.000000Z",
        "2199-12-31T23:00:00-01:00",  # 2200 in UTC
    ],
)
@pytest.mark.parametrize("field", ["occurred_at", "data.aware_at"])
def test_timestamps_outside_the_range_the_ledger_computes_with_are_refused_without_the_value(
    field: str, value: str
) -> None:
    raw = _example("incident.reported")
    if field == "occurred_at":
        raw["occurred_at"] = value
    else:
        raw["data"]["aware_at"] = value
    errors = _errors(raw)
    assert errors == {field: TIME_RANGE_MESSAGE}
    assert value not in json.dumps(errors)


@pytest.mark.parametrize("value", [TIME_MIN_TEXT, "2199-12-31T23:59:59.999999Z", "1900-01-01T01:00:00+01:00"])
def test_timestamps_at_the_edges_of_the_range_are_accepted(value: str) -> None:
    raw = _example("incident.reported")
    raw["data"]["aware_at"] = value
    assert validate_event(raw).data.aware_at.year in (1900, 2199)  # type: ignore[attr-defined]


def test_a_stored_event_from_before_the_range_is_still_read_back() -> None:
    # Stored bytes are facts: the range applies to new events, not to reading the log.
    raw = _example("incident.reported")
    stored = orjson.loads(canonical_bytes(validate_event(raw)))
    stored["data"]["aware_at"] = "9999-12-31T23:00:00.000000Z"
    stored["occurred_at"] = "1000-01-01T00:00:00.000000Z"
    event = parse_stored(orjson.dumps(stored))
    assert event.occurred_at.year == 1000
    assert event.data.aware_at.year == 9999  # type: ignore[attr-defined]


def test_json_schema_states_the_range_of_every_timestamp() -> None:
    envelope = json_schema()["$defs"]["Event"]["properties"]["occurred_at"]
    assert envelope["formatMinimum"] == TIME_MIN_TEXT
    assert envelope["formatExclusiveMaximum"] == TIME_MAX_TEXT
    assert TIME_MIN_TEXT in envelope["description"]
    assert TIME_MAX_TEXT in envelope["description"]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 10**400, True, "0.5", None])
def test_number_fields_take_finite_json_numbers_only(value: object) -> None:
    raw = _example("output.generated")
    raw["data"]["score"] = value
    assert list(_errors(raw)) == ["data.score"]


@pytest.mark.parametrize("value", ["", " clin-1", "clin-1 ", "clin\n1", "clin\x00", "x" * 201, 17, None])
def test_identifiers_must_be_non_empty_printable_text(value: object) -> None:
    raw = _example("output.shown")
    raw["data"]["clinician_id"] = value
    assert list(_errors(raw)) == ["data.clinician_id"]


@pytest.mark.parametrize("value", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", 12, ""])
def test_event_id_must_be_a_real_uuid(value: object) -> None:
    raw = _example("output.shown")
    raw["event_id"] = value
    assert list(_errors(raw)) == ["event_id"]


@pytest.mark.parametrize("value", ["Epic", "-epic", "", "e" * 65, "epic prod"])
def test_source_must_be_a_system_id(value: str) -> None:
    raw = _example("output.shown")
    raw["source"] = value
    assert list(_errors(raw)) == ["source"]


def test_list_items_are_located_by_index() -> None:
    raw = _example("incident.reported")
    raw["data"]["output_ids"] = ["out-1", 7, "out-3"]
    assert _errors(raw) == {"data.output_ids.1": "must be a string"}


def test_regulatory_status_variants_are_located_without_pydantic_tags() -> None:
    raw = _example("tool.registered")
    raw["data"]["regulatory_status"] = {"status": "device", "device_class": "II", "clearance": "K1"}
    assert _errors(raw) == {
        "data.regulatory_status.regime": "field required",
        "data.regulatory_status": "unknown field: key 3 of this object",
    }
    raw["data"]["regulatory_status"] = {"status": "cleared"}
    assert _errors(raw) == {"data.regulatory_status.status": "must be one of none, device"}
    raw["data"]["regulatory_status"] = {"status": "none"}
    assert validate_event(raw).type == "tool.registered"


def test_a_period_may_not_end_before_it_starts() -> None:
    raw = _example("monitoring.checked")
    raw["data"]["window"] = {"start": "2026-04-01T00:00:00Z", "end": "2026-03-25T00:00:00Z"}
    assert _errors(raw) == {"data.window": "end must not be before start"}


def test_every_defect_is_reported_at_once() -> None:
    raw = _example("output.acted")
    raw["source"] = "EPIC"
    raw["actor"]["kind"] = "robot"
    raw["data"]["action"] = "ignored"
    del raw["data"]["output_id"]
    assert set(_errors(raw)) == {"source", "actor.kind", "data.action", "data.output_id"}


# --- no values in messages -----------------------------------------------------------


def _poisoned_events() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in [
        ("type",),
        ("event_id",),
        ("occurred_at",),
        ("source",),
        ("schema_version",),
        ("actor", "kind"),
        ("data", "score"),
        ("data", "action"),
        ("data", "input_digest"),
        ("data", "threshold_in_effect"),
        ("data", "patient_ref"),
    ]:
        raw = _example("output.generated")
        target = raw
        for key in path[:-1]:
            target = target[key]
        # a newline makes the value malformed even where free-form text is allowed
        target[path[-1]] = PATIENT + "\n" if path[-1] in ("patient_ref", "threshold_in_effect") else PATIENT
        cases.append(raw)
    unknown_key = _example("output.generated")
    unknown_key["data"][PATIENT] = PATIENT
    cases.append(unknown_key)
    return cases


@pytest.mark.parametrize("raw", _poisoned_events())
def test_error_messages_never_contain_the_offending_value(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidEvent) as caught:
        validate_event(raw)
    assert PATIENT not in str(caught.value)
    assert all(PATIENT not in error.loc + error.msg for error in caught.value.errors)
    # pydantic's own exception (which prints input values) is not chained into tracebacks
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


@given(value=st.text(min_size=6))
def test_no_rejected_text_is_echoed_whatever_it_is(value: str) -> None:
    raw = _example("output.acted")
    raw["data"]["action"] = value
    raw["actor"]["kind"] = value
    raw["data"]["acted_at"] = value
    with pytest.raises(InvalidEvent) as caught:
        validate_event(raw)
    assert all(value not in error.msg for error in caught.value.errors)


# --- sensitive fields ---------------------------------------------------------------------


def test_sensitive_fields_name_phi_and_free_text() -> None:
    assert sensitive_fields("output.generated") == ["patient_ref", "encounter_ref", "explanation"]
    assert sensitive_fields("incident.reported") == ["description", "patient_ref"]
    assert sensitive_fields("tool.threshold_changed") == ["reason"]
    assert sensitive_fields("output.shown") == []
    assert SENSITIVE_FIELDS["tool.updated"] == ("change_summary",)


def test_sensitive_fields_of_an_unknown_type_is_an_error() -> None:
    with pytest.raises(KeyError):
        sensitive_fields("output.seen")


def _marked_in_schema(schema: dict[str, Any], defs: dict[str, Any], prefix: str = "") -> set[str]:
    marked: set[str] = set()
    for name, prop in schema.get("properties", {}).items():
        options = [prop, prop.get("items", {}), *prop.get("anyOf", [])]
        options += [option.get("items", {}) for option in prop.get("anyOf", [])]
        if any(option.get("x-sensitive") for option in options):
            marked.add(prefix + name)
        for option in options:
            if "$ref" in option:
                target = defs[option["$ref"].removeprefix("#/$defs/")]
                marked |= _marked_in_schema(target, defs, f"{prefix}{name}.")
    return marked


@pytest.mark.parametrize("event_type", TYPES)
def test_schema_marks_exactly_the_sensitive_fields(event_type: str) -> None:
    schema = json_schema()
    data_schema = schema["$defs"][EVENT_TYPES[event_type].__name__]
    assert _marked_in_schema(data_schema, schema["$defs"]) == set(sensitive_fields(event_type))


# --- JSON Schema ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("event_type", TYPES)
def test_json_schema_accepts_the_valid_vector(validator: jsonschema.Draft202012Validator, event_type: str) -> None:
    validator.validate(_vector(f"{event_type}.valid.json")["event"])


@pytest.mark.parametrize("event_type", TYPES)
def test_json_schema_refuses_the_invalid_vector(validator: jsonschema.Draft202012Validator, event_type: str) -> None:
    assert not validator.is_valid(_vector(f"{event_type}.invalid.json")["event"])


def test_json_schema_has_one_branch_and_one_example_per_type() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    branches = {branch["properties"]["type"]["const"]: branch for branch in schema["oneOf"]}
    assert set(branches) == set(EVENT_TYPES)
    for name, branch in branches.items():
        assert branch["examples"] == [EXAMPLES[name]]


def test_json_schema_is_json() -> None:
    assert orjson.loads(orjson.dumps(json_schema())) == json_schema()


# --- versions and upcasting ---------------------------------------------------------------------


def test_every_type_is_at_version_one_today() -> None:
    assert dict(SCHEMA_VERSIONS) == dict.fromkeys(EVENT_TYPES, 1)


class _NoteV1(DataModel):
    event_type: ClassVar[str] = "note.written"
    text: Identifier


class _NoteV2(DataModel):
    event_type: ClassVar[str] = "note.written"
    schema_version: ClassVar[int] = 2
    body: Identifier
    weight: Number


def _note_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {"body": data["text"], "weight": 1.0}


def _note_catalogue() -> Catalogue:
    return Catalogue([EventSpec("note.written", {1: _NoteV1, 2: _NoteV2}, {1: _note_v1_to_v2})])


def _note(version: int | None, data: dict[str, Any]) -> dict[str, Any]:
    raw = _example("output.shown")
    raw["type"] = "note.written"
    raw["data"] = data
    raw.pop("schema_version")
    if version is not None:
        raw["schema_version"] = version
    return raw


def test_an_older_version_is_accepted_and_stored_as_emitted() -> None:
    catalogue = _note_catalogue()
    event = catalogue.validate_event(_note(None, {"text": "hello"}))
    assert event.schema_version == 1
    assert orjson.loads(canonical_bytes(event))["data"] == {"text": "hello"}


def test_parse_stored_upcasts_an_older_version_to_the_current_one() -> None:
    catalogue = _note_catalogue()
    stored = canonical_bytes(catalogue.validate_event(_note(1, {"text": "hello"})))
    event = catalogue.parse_stored(stored)
    assert event.schema_version == 2
    assert isinstance(event.data, _NoteV2)
    assert event.data.body == "hello"


def test_the_current_version_is_not_upcast() -> None:
    catalogue = _note_catalogue()
    raw = _note(2, {"body": "hi", "weight": 3})
    assert catalogue.parse_stored(canonical_bytes(catalogue.validate_event(raw))).data == _NoteV2(body="hi", weight=3.0)


def test_a_version_without_upcaster_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no upcaster from version"):
        EventSpec("note.written", {1: _NoteV1, 2: _NoteV2})


def test_parse_stored_refuses_bytes_that_are_not_json() -> None:
    with pytest.raises(InvalidEvent, match="not valid JSON"):
        parse_stored(b'{"type": ')


def test_parse_stored_validates_what_it_reads() -> None:
    stored = canonical_bytes(validate_event(_example("output.shown")))
    with pytest.raises(InvalidEvent) as caught:
        parse_stored(stored.replace(b'"kind":"system"', b'"kind":"robot"'))
    assert [error.loc for error in caught.value.errors] == ["actor.kind"]


def test_event_is_the_base_of_every_validated_event() -> None:
    assert all(isinstance(validate_event(_example(t)), Event) for t in TYPES)
