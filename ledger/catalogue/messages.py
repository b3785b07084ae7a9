"""Translate pydantic's errors into FieldErrors: a dotted location and a reason, never a value.

Values may be patient identifiers or free text, so no message is taken from
pydantic except those of this package's own validators (fixed texts). A key the
emitter invented (an unknown field) is a value too: it is never named; the error
is located at the object that holds it, by the key's position in that object.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ledger.catalogue.fields import OWN_ERROR_PREFIX, PATTERN_MESSAGES
from ledger.errors import FieldError

_FIELD_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_UNNAMED: Final = "?"

_FIXED: Final[dict[str, str]] = {
    "missing": "field required",
    "string_type": "must be a string",
    "string_unicode": "must be valid Unicode text",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "int_parsing": "must be an integer",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "union_tag_not_found": "field required",
}


def field_errors(
    exc: ValidationError, *, union_tags: Mapping[str, frozenset[str]], document: object = None
) -> list[FieldError]:
    """One FieldError per pydantic error; ``union_tags`` names the tagged-union fields, ``document`` is the
    input validated (to place unknown keys by position)."""
    errors = exc.errors(include_url=False, include_input=False)
    return [_field_error(error, union_tags, document) for error in errors]


def _field_error(error: ErrorDetails, union_tags: Mapping[str, frozenset[str]], document: object) -> FieldError:
    kind = error["type"]
    if kind == "extra_forbidden":
        return _unknown_key(error["loc"], union_tags, document)
    parts = _clean_loc(error["loc"], union_tags)
    ctx = error.get("ctx") or {}
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        parts.append(_unquote(str(ctx.get("discriminator", _UNNAMED))))
    return FieldError(".".join(parts), _message(kind, ctx, error["msg"]))


def _unknown_key(loc: tuple[int | str, ...], union_tags: Mapping[str, frozenset[str]], document: object) -> FieldError:
    """At the object holding the key, with the key's position (from 1) in it: never the key itself."""
    parts = _clean_loc(loc[:-1], union_tags)
    node = document
    for part in parts:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            node = None
    keys = list(node) if isinstance(node, dict) else []
    if loc[-1] not in keys:
        return FieldError(".".join(parts), "unknown field")
    return FieldError(".".join(parts), f"unknown field: key {keys.index(loc[-1]) + 1} of this object")


def _clean_loc(loc: Iterable[int | str], union_tags: Mapping[str, frozenset[str]]) -> list[str]:
    parts: list[str] = []
    skip_tags: frozenset[str] = frozenset()
    for item in loc:
        if isinstance(item, int):
            parts.append(str(item))
        elif item in skip_tags:
            pass  # the member tag pydantic inserts after a tagged-union field
        else:
            parts.append(item if _FIELD_NAME.fullmatch(item) else _UNNAMED)
        skip_tags = union_tags.get(item, frozenset()) if isinstance(item, str) else frozenset()
    return parts


def _message(kind: str, ctx: dict[str, Any], own_message: str) -> str:
    if kind.startswith(OWN_ERROR_PREFIX):
        return own_message
    if kind in _FIXED:
        return _FIXED[kind]
    return _constraint_message(kind, ctx)


def _constraint_message(kind: str, ctx: dict[str, Any]) -> str:
    # ctx values here come from the schema (limits, allowed values), never from the input.
    if kind == "string_pattern_mismatch":
        return PATTERN_MESSAGES.get(str(ctx.get("pattern")), "has an invalid format")
    if kind in ("string_too_short", "too_short"):
        minimum = ctx.get("min_length")
        unit = "characters" if kind == "string_too_short" else "items"
        return "must not be empty" if minimum == 1 else f"must have at least {minimum} {unit}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    if kind == "literal_error":
        return "must be one of " + _unquote(str(ctx.get("expected", "")).replace(" or ", ", "))
    if kind == "union_tag_invalid":
        return "must be one of " + _unquote(str(ctx.get("expected_tags", "")))
    return "is not valid"


def _unquote(text: str) -> str:
    return text.replace("'", "")
