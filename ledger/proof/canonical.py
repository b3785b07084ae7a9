"""Canonical bytes: the one serialization of an event that is hashed and stored.

The rules (docs/ledger-format.md restates them for independent verifiers):

* UTF-8 JSON, no insignificant whitespace, no byte-order mark.
* Object keys sorted by code point (all catalogue keys are ASCII); no duplicates.
* Strings: characters outside ASCII are written as themselves, not escaped;
  escapes only where JSON requires them (``"``, ``\\``, control characters).
* Integers in plain decimal. Non-integers as the shortest decimal that
  round-trips the IEEE-754 double (orjson's algorithm); NaN and infinities are
  refused. A field typed as a number is always a double, so ``1`` is written ``1.0``.
* Timestamps are strings in UTC: ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six
  fractional digits), whatever offset the emitter used.
* Optional fields that are absent or null are omitted.

Verifiers never re-serialize: they hash the stored bytes as they are.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson

_OPTIONS = orjson.OPT_SORT_KEYS


def canonical_json(value: Any) -> bytes:
    """Serialize ``value`` (dicts, lists, str, int, float, bool, None) canonically."""
    _refuse_non_finite(value)
    return orjson.dumps(value, option=_OPTIONS)


def canonical_json_validated(value: Any) -> bytes:
    """canonical_json for values the catalogue has validated (so every number is finite).

    The non-finite check walks every value in Python, which costs more than the
    serialization itself; the catalogue's models already refuse NaN and infinities
    (``allow_inf_nan=False``), and sealed fields hold only strings.
    """
    return orjson.dumps(value, option=_OPTIONS)


def format_time(moment: datetime) -> str:
    """An aware datetime as the canonical UTC string, e.g. ``2026-11-25T15:19:55.000000Z``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamp has no UTC offset")
    # isoformat zero-pads the year (strftime's %Y does not, before 1000) and is faster.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp that carries an offset (``Z`` or ``+hh:mm``)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("timestamp has no UTC offset")
    return moment


def _refuse_non_finite(value: Any) -> None:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("NaN and infinite numbers have no canonical form")
    elif isinstance(value, dict):
        for item in value.values():
            _refuse_non_finite(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_non_finite(item)
