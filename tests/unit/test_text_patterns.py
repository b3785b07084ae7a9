"""Free text, descriptions and identifiers refuse every control character, one alone as much as many.

Each case is checked the three ways the catalogue's patterns are read: by pydantic
(Rust regex), by Python's re (as the setting type does) and by a JSON Schema
validator (the published schema's patterns).
"""

from __future__ import annotations

import re

import jsonschema
import pytest
from pydantic import TypeAdapter, ValidationError

from ledger.catalogue.fields import (
    IDENTIFIER_PATTERN,
    TEXT_PATTERN,
    Description,
    FreeText,
    Identifier,
    SubjectRef,
)

TEXT_TYPES = {"FreeText": (FreeText, TEXT_PATTERN), "Description": (Description, TEXT_PATTERN)}
IDENTIFIER_TYPES = {"Identifier": (Identifier, IDENTIFIER_PATTERN), "SubjectRef": (SubjectRef, IDENTIFIER_PATTERN)}
ALL_TYPES = {**TEXT_TYPES, **IDENTIFIER_TYPES}

CONTROLS = ["\u0000", "\u0001", "\u0007", "\u001b", "\u007f", "\u0085", "\u009b"]
REFUSED_TEXT = [
    *CONTROLS,
    *(f"a{c}" for c in CONTROLS),
    *(f"{c}a" for c in CONTROLS),
    *(f"a{c}b" for c in CONTROLS),
    *(f"{c}{c}" for c in CONTROLS),
    "",
    " ",
    "\n\t ",
]
ACCEPTED_TEXT = ["a", " indented\n\tand on two lines ", "é", "x\r\ny", "\u00a0a"]
ACCEPTED_IDENTIFIERS = ["a", "MRN 0042", "Patient/123", "é"]


def _accepted_by_all(type_: object, pattern: str, value: str) -> tuple[bool, bool, bool]:
    try:
        TypeAdapter(type_).validate_python(value)
        by_pydantic = True
    except ValidationError:
        by_pydantic = False
    by_re = re.search(pattern, value) is not None
    by_schema = jsonschema.Draft202012Validator({"type": "string", "pattern": pattern}).is_valid(value)
    return by_pydantic, by_re, by_schema


@pytest.mark.parametrize("name", sorted(ALL_TYPES))
@pytest.mark.parametrize("value", REFUSED_TEXT, ids=repr)
def test_a_control_character_alone_or_inside_text_is_refused_by_every_engine(name: str, value: str) -> None:
    type_, pattern = ALL_TYPES[name]
    assert _accepted_by_all(type_, pattern, value) == (False, False, False)


@pytest.mark.parametrize("name", sorted(TEXT_TYPES))
@pytest.mark.parametrize("value", ACCEPTED_TEXT, ids=repr)
def test_visible_text_with_tabs_and_newlines_is_accepted_by_every_engine(name: str, value: str) -> None:
    type_, pattern = TEXT_TYPES[name]
    assert _accepted_by_all(type_, pattern, value) == (True, True, True)


@pytest.mark.parametrize("name", sorted(IDENTIFIER_TYPES))
@pytest.mark.parametrize("value", ACCEPTED_IDENTIFIERS, ids=repr)
def test_identifiers_without_controls_are_accepted_by_every_engine(name: str, value: str) -> None:
    type_, pattern = IDENTIFIER_TYPES[name]
    assert _accepted_by_all(type_, pattern, value) == (True, True, True)
