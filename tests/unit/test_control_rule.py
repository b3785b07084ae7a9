"""The control-plane rule of the catalogue: control types carry the ledger's own source, emitters append neither."""

from __future__ import annotations

import jsonschema
import pytest

from ledger.catalogue import (
    CONTROL_TYPES,
    EVENT_TYPES,
    RESERVED_SOURCE,
    canonical_bytes,
    emitted_defect,
    json_schema,
    parse_stored,
    validate_event,
)
from ledger.catalogue.examples import EXAMPLES
from ledger.errors import InvalidEvent

CONTROL = sorted(CONTROL_TYPES)
FOREIGN = "ehr.epic-prod"


def test_every_type_the_ledger_records_about_itself_is_a_control_type() -> None:
    # The ledger's own operations append these (erasure, signing, the index, the reveal route, the CLI).
    assert CONTROL_TYPES <= set(EVENT_TYPES)
    assert {
        t for t in EVENT_TYPES if t.startswith(("ledger.", "legal_hold.", "subject.", "access.", "index."))
    } == CONTROL_TYPES


@pytest.mark.parametrize("event_type", CONTROL)
def test_a_control_type_of_another_source_is_refused_at_source(event_type: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        validate_event({**EXAMPLES[event_type], "source": FOREIGN})
    assert [(e.loc, e.msg) for e in caught.value.errors] == [
        ("source", "a control event's source must be the ledger's own (ledger)")
    ]
    assert FOREIGN not in str(caught.value)


@pytest.mark.parametrize("event_type", CONTROL)
def test_a_stored_control_event_of_another_source_is_still_read_as_recorded(event_type: str) -> None:
    # Only a ledger older than the rule holds one; reading it must not fail (its readers judge it).
    event = validate_event(EXAMPLES[event_type]).model_copy(update={"source": FOREIGN})
    assert parse_stored(canonical_bytes(event)).source == FOREIGN


@pytest.mark.parametrize("event_type", CONTROL)
def test_an_emitter_may_not_append_a_control_type_whatever_its_source(event_type: str) -> None:
    for source in (FOREIGN, RESERVED_SOURCE):
        defect = emitted_defect({**EXAMPLES[event_type], "source": source})
        assert defect is not None and defect.loc == "type"
    assert emitted_defect({"type": event_type}) is not None  # malformed: refused as a control event all the same


def test_an_emitter_may_not_use_the_ledgers_source_for_any_type() -> None:
    defect = emitted_defect({**EXAMPLES["output.shown"], "source": RESERVED_SOURCE})
    assert defect is not None and defect.loc == "source"
    assert emitted_defect(EXAMPLES["output.shown"]) is None


@pytest.mark.parametrize("raw", [None, [], "legal_hold.placed", {"type": ["legal_hold.placed"]}, {"source": 7}])
def test_what_is_not_an_event_object_is_left_to_validation(raw: object) -> None:
    assert emitted_defect(raw) is None


@pytest.mark.parametrize("event_type", CONTROL)
def test_the_json_schema_says_a_control_type_carries_the_ledgers_source(event_type: str) -> None:
    validator = jsonschema.Draft202012Validator(json_schema())
    assert validator.is_valid(EXAMPLES[event_type])
    assert not validator.is_valid({**EXAMPLES[event_type], "source": FOREIGN})
