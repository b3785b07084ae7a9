"""docs/events.md is generated from the catalogue and cannot drift from it."""

from __future__ import annotations

import pytest

from ledger.catalogue import EVENT_TYPES, json_schema
from scripts import docs_events


def test_docs_events_md_is_what_the_catalogue_generates() -> None:
    assert docs_events.DOC.read_text("utf-8") == docs_events.render(), (
        "docs/events.md is out of date with ledger/catalogue: run `python -m scripts.docs_events`"
    )


def test_every_field_of_every_type_has_a_meaning() -> None:
    assert docs_events.missing_meanings() == []


def test_every_type_and_every_allowed_value_of_the_schema_is_on_the_page() -> None:
    page = docs_events.render()
    assert all(f"\n## {name}\n" in page for name in EVENT_TYPES)
    enums: set[str] = set()

    def collect(node: object) -> None:
        if isinstance(node, dict):
            enums.update(str(v) for v in node.get("enum", ()) if node.get("title") != "Type")
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(json_schema()["$defs"])
    assert enums and all(f"`{value}`" in page for value in enums)


def test_the_check_mode_says_when_the_page_is_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    assert docs_events.main(["--check"]) == 0
    monkeypatch.setattr(docs_events, "render", lambda: docs_events.DOC.read_text("utf-8") + "a field added\n")
    assert docs_events.main(["--check"]) == 1
