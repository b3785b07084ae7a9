"""docs/events.md, generated from the event catalogue: `python -m scripts.docs_events [--check]`.

Each type's section comes from the catalogue itself: the model's docstring, its
fields with their allowed values (read from the JSON Schema that `ledger schema`
prints), which fields are sensitive, and the type's example. A field's meaning
is, in order: its description in the model (``Field(description=...)``), the
comment on its line in the model's source, else the entry of ``MEANINGS`` below
(by type and field, then by field). ``tests/unit/test_docs_events.py`` fails
when the file is out of date or a field has no meaning, so the page cannot
drift from the code.
"""

from __future__ import annotations

import argparse
import inspect
import io
import re
import sys
import tokenize
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final, get_args

import orjson
from pydantic import BaseModel

from ledger.catalogue import (
    CONTROL_TYPES,
    EVENT_TYPES,
    RESERVED_SOURCE,
    SCHEMA_VERSIONS,
    SENSITIVE_FIELDS,
    Actor,
    Event,
)
from ledger.catalogue.examples import EXAMPLES
from ledger.catalogue.fields import (
    DESCRIPTION_MAX,
    DIGEST_PATTERN,
    FREE_TEXT_MAX,
    IDENTIFIER_MAX,
    IDENTIFIER_PATTERN,
    PATTERN_MESSAGES,
    SOURCE_PATTERN,
    TEXT_PATTERN,
    TIME_RANGE_TEXT,
)

DOC: Final = Path(__file__).parents[1] / "docs" / "events.md"

# Meanings of fields whose model says nothing: (type, field) first, then the field name alone.
MEANINGS: Final[Mapping[str, str]] = {
    # the envelope and the actor
    "schema_version": "the version of the type's `data` model (absent: 1)",
    "occurred_at": "when the fact happened in the world (the ledger adds the time it recorded it)",
    "actor": "who did or decided what the event records: required on every event",
    "id": "the person's, system's or committee's identifier",
    "kind": "what the actor is",
    # shared by many types
    "tool_id": "the tool, as registered by `tool.registered`",
    "incident_id": "the incident, as reported by `incident.reported`",
    "output_id": "the output, as recorded by `output.generated`",
    "clinician_id": "the clinician (a staff identifier, not a patient's)",
    "remediation_id": "the remediation, as planned by `remediation.planned`",
    "site": "the hospital or site",
    "unit": "the care unit, e.g. `ed`, `icu`",
    "population": "the patient population, e.g. `adults_18_plus`",
    "version": "the tool's version",
    "model_digest": "digest of the model's bytes",
    "expires_at": "when it stops being valid (absent: no expiry)",
    "due_at": "when it is due",
    "comment": "a remark by the actor",
    "reason": "why, in words",
    "patient_ref": "the patient (MRN, FHIR id or pseudonym)",
    "encounter_ref": "the encounter or visit",
    "authority": "who ordered or received it",
    "key_name": "the signing key's name, e.g. `ledger.northside.example`",
    "key_id": "the signing key's id: 8 hexadecimal digits",
    "subject": "the subject's keyed token (never a clear identifier): docs/privacy.md",
    "hold_id": "the legal hold's identifier",
    "organisation": "the member organisation whose ledger signed the checkpoint",
    "origin": "the member ledger's checkpoint origin (the first line of its C2SP checkpoints)",
    "tree_size": "the number of log entries the checkpoint covers",
    "index.committed/tree_size": "the number of log entries the index covers (seqs 1..tree_size)",
    "index.committed/root": "the completeness index's root over those entries, hex (docs/auditing.md)",
    # tool.registered, approved, updated, threshold_changed
    "name": "the product's name",
    "vendor": "who makes it",
    "intended_use": "the intended use as the vendor or committee publishes it",
    "regulatory_status": "whether the tool is a regulated medical device, and under which regime",
    "ai_act_risk": "its class under the EU AI Act",
    "clinical_owner": "the clinician or service accountable for the tool",
    "model_card_ref": "where its model card is kept",
    "tool.registered/status": "`none`: not a regulated device; `device`: a medical device",
    "monitoring.checked/status": "`drift`: the value is outside its limit",
    "regime": "the device regime",
    "incident.reported_externally/regime": "the reporting duty the report fulfils",
    "incident.reported_externally/authority": "the authority or manufacturer reported to",
    "scope": "where and for whom use is approved",
    "sites": "the sites covered",
    "units": "the units covered",
    "populations": "the patient populations covered",
    "conditions": "conditions attached to the approval (may be empty)",
    "signature_meaning": "what the signature means (21 CFR 11.50)",
    "approval_ref": "the minutes or approval record",
    "change_summary": "what changed in this version",
    "previous_version": "the version it replaces",
    "validation_ref": "the validation report",
    "parameter": "the configuration parameter, e.g. `alert_threshold`",
    "new_value": "the value from now on",
    "approved_by": "who approved the change (absent: nobody recorded, itself a governance gap)",
    "change_ref": "the change request",
    "effective_at": "when the change takes effect (absent: at `occurred_at`)",
    # tool.validated
    "data_period": "the period of the data the tool was validated on",
    "start": "the period's start",
    "end": "the period's end (not before its start)",
    "metrics": "the measured rates (at least one of sensitivity, specificity, ppv, npv, auroc)",
    "n": "cases in the sample",
    "sensitivity": "true positive rate",
    "specificity": "true negative rate",
    "ppv": "positive predictive value",
    "npv": "negative predictive value",
    "auroc": "area under the ROC curve",
    "n_positive": "positive cases in the sample (not more than `n`)",
    "result": "the validation's verdict",
    # clinician.trained
    "curriculum_version": "the training curriculum's version",
    "completed_at": "when the training was completed",
    "clinician.trained/expires_at": "when the training lapses (not before `completed_at`; absent: never)",
    "assessed_by": "who assessed the clinician",
    # outputs
    "model_version": "the model version that produced the output",
    "score": "the model's score",
    "label": "the output's label, e.g. `high`",
    "priority": "the priority the output asked for, e.g. `urgent`",
    "threshold_in_effect": "the threshold the output was produced under",
    "explanation": "the explanation shown with the output",
    "input_digest": "digest of the model's input",
    "shown_at": "when the output was displayed",
    "ui_version": "the version of the screen that displayed it",
    "action": "what the clinician did",
    "acted_at": "when (absent: at `occurred_at`)",
    "escalated_to": "to whom, for `escalated`",
    # monitoring
    "metric": "the monitored metric, e.g. `ppv_weekly`",
    "window": "the period the value was computed over",
    "value": "the measured value",
    "limit": "the limit it is compared with",
    "decision": "what was decided about the check",
    # incidents
    "category": "the kind of AI failure",
    "output_ids": "the outputs involved (may be empty)",
    "harm": "harm to the patient, AHRQ Common Formats harm scale",
    "aware_at": "when the organisation became aware: the reporting clocks start here",
    "description": "what happened",
    "safety_event_type": "AHRQ Common Formats event type",
    "serious": "a serious incident under the reporting regimes (absent: not yet determined)",
    "widespread": "a widespread infringement (absent: not widespread)",
    "rationale": "why this classification",
    "reviewer": "who reviews it",
    "findings": "what the review found",
    "root_causes": "contributing-factor groups (RCA2)",
    "reviewers": "who reviewed it",
    "causal_statements": "RCA2 causal statements",
    "reported_at": "when the report was made (absent: at `occurred_at`)",
    "report_kind": "which report of the series",
    "outcome": "how the incident ended",
    "summary": "a closing summary",
    # remediation
    "owner": "who is responsible for carrying it out",
    "verified_by": "who verified it",
    "effective": "whether it worked",
    "remediation.planned/action": "what will be done",
    # ledger keys
    "replaces_key_id": "the key it replaces (absent: the first key)",
    # privacy
    "subject_kind": "what the subject is",
    "request_ref": "the erasure request's reference",
    "legal_hold.placed/subject": "the held subject's token (exactly one of `subject` and `incident_id`)",
    "legal_hold.placed/incident_id": "the held incident (exactly one of `subject` and `incident_id`)",
    "reader_role": "the reader's role",
    "event_ids": "the events read (1-1000)",
    "fields": "the sealed fields revealed (1-50)",
    "old_key_id": "the master key retired",
    "new_key_id": "the master key that now wraps the data keys",
    "keys_rewrapped": "how many data keys were rewrapped",
}

_GROUPS: Final = {
    "tool": "Tools",
    "clinician": "Clinicians",
    "output": "Outputs",
    "monitoring": "Monitoring",
    "incident": "Incidents",
    "remediation": "Remediation",
    "ledger": "The ledger's own keys",
    "subject": "Privacy",
    "legal_hold": "Privacy",
    "access": "Privacy",
}


def render() -> str:
    """The whole page."""
    out = [_HEADER, _envelope(), _FIELD_TYPES, _index()]
    out += [_event_type(name, model) for name, model in EVENT_TYPES.items()]
    return "\n".join(out).rstrip() + "\n"


def missing_meanings() -> list[str]:
    """Every ``type.field`` (or nested ``Model.field``) that has no meaning: the test wants none."""
    missing = []
    for name, model in EVENT_TYPES.items():
        for owner, field in _all_fields(model):
            if not _meaning(name, owner, field):
                missing.append(f"{name}: {owner.__name__}.{field}")
    return missing


_HEADER: Final = """# The event catalogue

<!-- Generated by `python -m scripts.docs_events` from ledger/catalogue: do not edit by hand.
     tests/unit/test_docs_events.py fails when this page is out of date. -->

Every event is an envelope (below) whose `data` holds the fields of its type.
The ledger refuses only what is malformed (a missing required field, a value
outside its allowed values, an unknown field): it never refuses a well-formed
fact because the fact reveals a failure, and it never checks one event against
another. The same catalogue as one JSON Schema document: `ledger schema`; one
example per type in the API's OpenAPI document (`/docs`).

**Sensitive** fields hold patient identifiers or free text people wrote: each
is sealed (encrypted with its subject's own key) before it is stored, and
crypto-shredding the key erases it while the chain still verifies
([privacy.md](privacy.md)). Optional fields may be left out or sent as `null`;
neither is stored.
"""

_FIELD_TYPES: Final = "\n".join(
    [
        "## Field types",
        "",
        "| type | allowed values |",
        "| --- | --- |",
        f"| identifier | 1-{IDENTIFIER_MAX} characters; {PATTERN_MESSAGES[IDENTIFIER_PATTERN]} |",
        f"| text | up to {FREE_TEXT_MAX:,} characters (descriptions: {DESCRIPTION_MAX:,}); "
        f"{PATTERN_MESSAGES[TEXT_PATTERN]} |",
        "| timestamp | RFC 3339 with a UTC offset (`2026-04-08T02:14:58Z`, `2026-04-08T04:14:58+02:00`), "
        f"at most 6 fractional digits, {TIME_RANGE_TEXT}; stored in UTC |",
        "| UUID | 8-4-4-4-12 hexadecimal, stored lowercase; not the nil or max UUID |",
        f"| digest | {PATTERN_MESSAGES[DIGEST_PATTERN]}; stored lowercase |",
        f"| source | {PATTERN_MESSAGES[SOURCE_PATTERN]} |",
        "| number | a finite number (integers are stored as doubles) |",
        "| fraction | a number from 0 to 1 |",
        "| setting | a number, or an identifier such as `high` |",
        "",
    ]
)


_CONTROL_NOTE: Final = (
    f"A control event: only the ledger's own operations (admin routes and `ledger` commands) record it, "
    f"always with the source `{RESERVED_SOURCE}`; no API key appends it (403 naming `type`)."
)


def _envelope() -> str:
    lines = [
        "## The envelope",
        "",
        "Every event, whatever its type. `event_id` is the idempotency key: the same event sent again is "
        "answered with its first receipt, and the same `event_id` with other content is refused (409).",
        "",
    ]
    rows = _table("envelope", Event, Event.model_json_schema(), skip={"type", "data"})
    rows.insert(3, "| `type` | yes | one of the types below | the event type: what `data` holds |")
    rows.insert(8, "| `data` | yes | object | the type's own fields: see its section |")
    lines += rows
    lines += ["", "### actor", ""]
    lines += _table("", Actor, Actor.model_json_schema())
    return "\n".join(lines) + "\n"


def _index() -> str:
    lines = ["## Types", ""]
    groups: dict[str, list[str]] = {}
    for name in EVENT_TYPES:
        groups.setdefault(_GROUPS.get(name.split(".")[0], "Other"), []).append(f"[`{name}`](#{_anchor(name)})")
    lines += [f"* {group}: {', '.join(names)}" for group, names in groups.items()]
    return "\n".join(lines) + "\n"


def _event_type(name: str, model: type[BaseModel]) -> str:
    schema = model.model_json_schema()
    lines = [f"## {name}", "", _docstring(model), ""]
    if name in CONTROL_TYPES:
        lines += [_CONTROL_NOTE, ""]
    lines.append(f"Schema version {SCHEMA_VERSIONS[name]}.")
    lines.append("")
    lines += _table(name, model, schema, sensitive=set(SENSITIVE_FIELDS.get(name, ())))
    for nested, nested_schema in _nested(model, schema):
        lines += ["", f"`{nested.__name__}`: {_docstring(nested)}", ""]
        lines += _table(name, nested, nested_schema)
    example = EXAMPLES.get(name)
    if example is not None:
        lines += ["", "Example `data`:", "", "```json", _json(example["data"]), "```"]
    return "\n".join(lines) + "\n"


def _table(
    event_type: str, model: type[BaseModel], schema: Mapping[str, Any], *, sensitive: set[str] | None = None,
    skip: set[str] | None = None,
) -> list[str]:  # fmt: skip
    required = set(schema.get("required", ()))
    rows = ["| field | required | allowed values | meaning |", "| --- | --- | --- | --- |"]
    for field, prop in schema.get("properties", {}).items():
        if field in (skip or set()):
            continue
        allowed = _allowed(prop, schema.get("$defs", {}))
        if field in (sensitive or set()) or _is_sensitive(prop):
            allowed += "; **sensitive**"
        meaning = _meaning(event_type, model, field)
        rows.append(f"| `{field}` | {'yes' if field in required else 'no'} | {allowed} | {meaning} |")
    return rows


def _allowed(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    """The allowed values of one JSON Schema property, in words."""
    options = prop.get("anyOf") or prop.get("oneOf")
    if options is not None:
        kinds = [_allowed(o, defs) for o in options if o.get("type") != "null"]
        return " or ".join(kinds)
    if "$ref" in prop:
        target = str(prop["$ref"]).rsplit("/", 1)[-1]
        return f"object: `{target}` below"
    if "const" in prop:
        return f"`{prop['const']}`"
    if "enum" in prop:
        return "one of " + ", ".join(f"`{v}`" for v in prop["enum"])
    kind = prop.get("type")
    if kind == "array":
        return _array(prop, defs)
    if kind == "string":
        return _string(prop)
    if kind in ("number", "integer"):
        return _number(prop)
    if kind == "boolean":
        return "`true` or `false`"
    return kind or "any"


def _array(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    least, most = prop.get("minItems"), prop.get("maxItems")
    size = f" ({least}-{most})" if least and most else f" (at least {least})" if least else ""
    return f"list{size} of {_allowed(prop.get('items', {}), defs)}"


def _string(prop: Mapping[str, Any]) -> str:
    pattern, fmt = prop.get("pattern"), prop.get("format")
    named = {"date-time": "timestamp", "uuid": "UUID"}.get(fmt or "")
    if named:
        return named
    by_pattern = {IDENTIFIER_PATTERN: "identifier", TEXT_PATTERN: "text", SOURCE_PATTERN: "source"}
    if pattern == DIGEST_PATTERN:
        return "digest"
    if pattern in by_pattern:
        name = by_pattern[pattern]
        return f"text (up to {prop['maxLength']:,})" if name == "text" and "maxLength" in prop else name
    return f"text matching `{pattern}`" if pattern else "text"


def _number(prop: Mapping[str, Any]) -> str:
    low, high = prop.get("minimum"), prop.get("maximum")
    kind = "integer" if prop.get("type") == "integer" else "number"
    if (low, high) == (0, 1) and kind == "number":
        return "fraction"
    if low is not None and high is not None:
        return f"{kind} from {low} to {high}"
    return f"{kind} ≥ {low}" if low is not None else kind


def _is_sensitive(prop: Mapping[str, Any]) -> bool:
    return bool(prop.get("x-sensitive")) or any(_is_sensitive(o) for o in prop.get("anyOf", ()))


def _meaning(event_type: str, model: type[BaseModel], field: str) -> str:
    info = model.model_fields.get(field)
    if info is not None and info.description:
        return info.description
    return MEANINGS.get(f"{event_type}/{field}") or _comments(model).get(field) or MEANINGS.get(field, "")


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """The comment on each field's line of the model's class body."""
    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):  # a model built at run time (the envelope's subclasses) has none
        return {}
    found: dict[str, str] = {}
    line_tokens: dict[int, list[tokenize.TokenInfo]] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        line_tokens.setdefault(token.start[0], []).append(token)
    for tokens in line_tokens.values():
        words = [t for t in tokens if t.type not in (tokenize.INDENT, tokenize.DEDENT, tokenize.NL, tokenize.NEWLINE)]
        if len(words) > 2 and words[0].type == tokenize.NAME and words[1].string == ":":
            comments = [t.string for t in words if t.type == tokenize.COMMENT]
            if comments:
                found[words[0].string] = comments[-1].lstrip("#").strip()
    return found


def _nested(model: type[BaseModel], schema: Mapping[str, Any]) -> Iterator[tuple[type[BaseModel], dict[str, Any]]]:
    """The models inside the type's fields (scope, periods, metrics, regulatory status), with their schemas."""
    defs = schema.get("$defs", {})
    for nested in _models_in(model):
        if nested.__name__ in defs:
            yield nested, defs[nested.__name__]


def _models_in(model: type[BaseModel]) -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in seen:
                seen.append(annotation)
                for info in annotation.model_fields.values():
                    visit(info.annotation)
            return
        for argument in get_args(annotation):
            visit(argument)

    for info in model.model_fields.values():
        visit(info.annotation)
    return seen


def _all_fields(model: type[BaseModel]) -> Iterator[tuple[type[BaseModel], str]]:
    for owner in (model, *_models_in(model)):
        for field in owner.model_fields:
            yield owner, field


def _docstring(model: type[BaseModel]) -> str:
    text = inspect.cleandoc(model.__doc__ or "")
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _anchor(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "", name.lower())


def _json(data: Any) -> str:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()


def main(argv: list[str] | None = None) -> int:
    """Write docs/events.md, or with --check say whether it is up to date (exit 1 if not)."""
    parser = argparse.ArgumentParser(prog="python -m scripts.docs_events", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/events.md is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = DOC.read_text("utf-8") if DOC.is_file() else ""
        if current != text:
            print(f"{DOC} is out of date: run `python -m scripts.docs_events`", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, "utf-8")
    print(f"wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
