"""The pure parts: reading records, what each projection writes, the regulatory clocks, the verdict rules."""

from __future__ import annotations

import orjson
import pytest

from ledger.catalogue import canonical_bytes, validate_event
from ledger.catalogue.examples import EXAMPLES
from ledger.errors import StoreUnavailable
from ledger.store import Record
from projections.answers import NO, PARTLY, UNKNOWN, YES, Answer, combine
from projections.errors import InvalidQuery
from projections.facts import FactUnreadable, public_data, read_fact
from projections.logic import EVENTS, INCIDENTS, OUTPUTS, setting_text
from projections.regulatory_clocks import REGIMES, Clock, IncidentFacts, evaluate
from projections.timefmt import DAY, HOUR, iso, parse_us, query_time


def record(event_type: str, seq: int = 7) -> Record:
    event = validate_event(EXAMPLES[event_type])
    return Record(seq, event.event_id, event_type, canonical_bytes(event), bytes(32), bytes(32), 1_800_000_000_000_000)


def test_a_record_reads_as_a_fact_with_its_effective_time() -> None:
    fact = read_fact(record("output.shown"))
    assert fact.seq == 7 and fact.type == "output.shown"
    assert fact.effective_us == parse_us("2026-04-08T02:14:58.004Z")  # shown_at, not occurred_at
    assert fact.occurred_us == parse_us("2026-04-08T02:15:00Z")


def test_the_views_never_receive_patient_references_or_free_text() -> None:
    fact = read_fact(record("output.generated"))
    data, withheld = public_data(fact)
    assert withheld == ["patient_ref", "encounter_ref", "explanation"]
    assert not set(withheld) & set(data)
    row = EVENTS.changes(fact)[0].params
    assert "Patient/" not in row["facts"] and "lactate" not in row["facts"]
    assert orjson.loads(row["facts"])["withheld"] == withheld
    output_row = OUTPUTS.changes(fact)[0].params
    assert output_row["has_explanation"] == 1 and "Patient/" not in str(output_row)


def test_an_incident_report_links_its_outputs_and_keeps_no_description() -> None:
    changes = INCIDENTS.changes(read_fact(record("incident.reported")))
    assert [c.statement for c in changes] == ["incident_reported", "incident_output"]
    assert "description" not in changes[0].params and "patient_ref" not in changes[0].params


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "body is missing"),
        (b"{", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"type": "output.shown"}', "envelope lacks"),
    ],
)
def test_unreadable_records_are_refused_with_a_reason_and_no_value(body: bytes, reason: str) -> None:
    with pytest.raises(FactUnreadable, match=reason):
        read_fact(Record(3, "e", "output.shown", body, bytes(32), bytes(32), 0))


def test_a_record_whose_type_differs_from_its_topic_is_refused() -> None:
    good = record("output.shown")
    with pytest.raises(FactUnreadable, match="type differs"):
        read_fact(Record(good.seq, good.event_id, "output.acted", good.body, good.prev_hash, good.hash, 0))


def test_a_required_field_missing_from_the_data_names_the_field() -> None:
    raw = orjson.loads(record("output.acted").body)
    del raw["data"]["action"]
    fact = read_fact(Record(1, "e", "output.acted", orjson.dumps(raw), bytes(32), bytes(32), 0))
    with pytest.raises(FactUnreadable, match="data.action is missing"):
        OUTPUTS.changes(fact)


def test_settings_are_stored_as_json_text() -> None:
    assert (setting_text(0.7), setting_text(1), setting_text("high")) == ("0.7", "1.0", '"high"')


# --- regulatory clocks --------------------------------------------------------------------------------

FDA = {"regulatory_status": {"status": "device", "regime": "fda", "device_class": "II"}, "ai_act_risk": "not_high_risk"}
MDR = {
    "regulatory_status": {"status": "device", "regime": "eu_mdr", "device_class": "IIa"},
    "ai_act_risk": "annex_i_device",
}
CDS = {"regulatory_status": {"status": "none"}, "ai_act_risk": "annex_iii"}
AWARE = parse_us("2026-04-09T11:30:00Z")  # a Thursday


def regime(name: str, facts: IncidentFacts) -> tuple[bool | None, str | None]:
    result = evaluate(next(r for r in REGIMES if r.id == name), facts, AWARE)
    return result.applies, iso(result.due_us)


def test_fda_user_facility_reports_are_due_in_ten_work_days() -> None:
    facts = IncidentFacts("severe_harm", None, None, (FDA,))
    assert regime("fda_mdr", facts) == (True, "2026-04-23T11:30:00.000000Z")  # two weekends skipped
    assert regime("eu_ai_act_art73", facts) == (False, None)


def test_work_days_skip_listed_holidays() -> None:
    from datetime import date

    clock = Clock("always", 1, days="work", holidays=frozenset({date(2026, 4, 10)}))
    assert iso(clock.due(AWARE)) == "2026-04-13T11:30:00.000000Z"  # Friday a holiday: Monday


def test_eu_ai_act_clocks_two_days_widespread_ten_after_a_death_fifteen_otherwise() -> None:
    assert regime("eu_ai_act_art73", IncidentFacts("severe_harm", True, True, (CDS,)))[1] == iso(AWARE + 2 * DAY)
    assert regime("eu_ai_act_art73", IncidentFacts("death", None, None, (CDS,)))[1] == iso(AWARE + 10 * DAY)
    assert regime("eu_ai_act_art73", IncidentFacts("moderate_harm", True, None, (CDS,)))[1] == iso(AWARE + 15 * DAY)


def test_an_mdr_device_reports_under_the_mdr_not_the_ai_act() -> None:
    facts = IncidentFacts("severe_harm", True, None, (MDR,))
    assert regime("eu_mdr_art87", facts) == (True, iso(AWARE + 15 * DAY))
    assert regime("eu_ai_act_art73", facts) == (False, None)


def test_what_the_log_does_not_say_is_undetermined_and_takes_the_shorter_clock() -> None:
    unknown_harm = IncidentFacts("unknown", None, None, (CDS,))
    assert regime("eu_ai_act_art73", unknown_harm) == (None, iso(AWARE + 10 * DAY))  # a death is not ruled out
    unregistered = IncidentFacts("death", True, None, ({},))
    assert regime("fda_mdr", unregistered)[0] is None
    assert regime("eu_ai_act_art73", IncidentFacts("no_harm", None, None, (CDS,)))[0] is False


# --- verdicts and times -----------------------------------------------------------------------------------


def test_combined_verdicts() -> None:
    assert combine([YES, YES]) == YES
    assert combine([YES, NO]) == PARTLY
    assert combine([NO, UNKNOWN]) == NO
    assert combine([UNKNOWN]) == UNKNOWN and combine([]) == UNKNOWN


def test_an_answer_refuses_a_verdict_outside_the_four() -> None:
    with pytest.raises(ValueError, match="verdict"):
        Answer("q", "?", "maybe", "because")


def test_query_times_need_an_offset_and_accept_an_unencoded_plus() -> None:
    assert query_time("2026-04-08T03:14:07 01:00", name="as_of") == parse_us("2026-04-08T02:14:07Z")
    assert query_time(None, name="as_of") is None
    with pytest.raises(InvalidQuery, match="as_of must be an RFC 3339 time"):
        query_time("2026-04-08T02:14:07", name="as_of")
    assert parse_us("2026-04-08T02:14:07.000001Z") - parse_us("2026-04-08T02:14:07Z") == 1
    assert HOUR == 3_600_000_000


def copy_row(*values: bytes | None) -> bytes:
    """A row as binary COPY sends it: the field count, then each field's length (-1: NULL) and bytes."""
    row = len(values).to_bytes(2, "big")
    for value in values:
        row += (-1).to_bytes(4, "big", signed=True) if value is None else len(value).to_bytes(4, "big") + value
    return row


def int8(value: int) -> bytes:
    return value.to_bytes(8, "big", signed=True)


def test_a_scanned_row_reads_as_seq_type_body_and_recorded_time_nulls_included() -> None:
    from ledger.store.recorder import topic_of_type
    from ledger.store.stream import Scanned, _record

    topic = topic_of_type("output.shown").encode()
    types: dict[bytes, str] = {}
    assert _record(copy_row(int8(9), int8(1_800_000_000_000_000), topic, b'{"a":1}'), types) == Scanned(
        9, "output.shown", b'{"a":1}', 1_800_000_000_000_000
    )
    assert types == {topic: "output.shown"}
    assert _record(copy_row(int8(9), int8(5), topic, None), types) == Scanned(9, "output.shown", b"", 5)  # missing
    assert _record(copy_row(int8(9), int8(5), None, b"{}"), types) == Scanned(9, "", b"{}", 5)  # type differs
    assert _record(copy_row(int8(9), None, topic, b"{}"), types).recorded_us is None  # NOT NULL in the views refuses
    with pytest.raises(StoreUnavailable, match="does not have the columns"):
        _record(copy_row(int8(9), int8(5), topic), {})
