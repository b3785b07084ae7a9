"""The field types every event is built from, and the rules that make a value well formed.

Each type refuses only what is malformed (wrong JSON type, empty identifier,
timestamp without offset or outside the years the ledger computes with,
non-finite number); none of them judges whether the
fact is good news. Validators raise ``PydanticCustomError`` with a fixed message
that never contains the offending value: values may be patient identifiers.

Types marked with :data:`SENSITIVE` hold protected health information or free
text written by people (which may contain it). They carry ``x-sensitive: true``
in the JSON Schema, and :mod:`ledger.catalogue.sensitive` lists their paths.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from pydantic import AfterValidator, Field, PlainSerializer, PlainValidator, ValidationInfo, WithJsonSchema
from pydantic_core import PydanticCustomError

from ledger.proof.canonical import format_time

# Error types raised by this package's own validators; their messages are fixed
# texts without input and may be shown as they are.
OWN_ERROR_PREFIX: Final = "catalogue_"


@dataclass(frozen=True)
class _Sensitive:
    """Marker in ``Annotated`` metadata: the value is PHI or personal free text."""


SENSITIVE: Final = _Sensitive()
_SENSITIVE_SCHEMA: Final = {"x-sensitive": True}


def is_sensitive_metadata(metadata: object) -> bool:
    """True if ``metadata`` (an ``Annotated`` argument) marks a field as sensitive."""
    return isinstance(metadata, _Sensitive)


def _own_error(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(OWN_ERROR_PREFIX + kind, message)


# --- strings --------------------------------------------------------------------

# No C0/C1 control characters, no leading or trailing whitespace. The character
# ranges use \xNN escapes so that Rust (pydantic), Python re and ECMA-262
# (JSON Schema validators) read the pattern alike.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
IDENTIFIER_PATTERN: Final = rf"^[^\s{_CONTROL}](?:[^{_CONTROL}]*[^\s{_CONTROL}])?$"
# Free text may span lines and be indented (tab, LF, CR); every other control character is
# refused, one alone as much as many. Read left to right: leading whitespace, one visible
# character, then anything but a control. Each part excludes the controls itself (\S alone
# would match one), and the parts cannot overlap, so a backtracking engine (Python re, a
# JSON Schema validator) gives up on a refused text in linear time.
_TEXT_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
TEXT_PATTERN: Final = rf"^[^\S{_TEXT_CONTROL}]*[^\s{_TEXT_CONTROL}][^{_TEXT_CONTROL}]*$"
SOURCE_PATTERN: Final = r"^[a-z0-9][a-z0-9._-]{0,63}$"
DIGEST_PATTERN: Final = r"^(?:sha256:[0-9a-fA-F]{64}|sha384:[0-9a-fA-F]{96}|sha512:[0-9a-fA-F]{128})$"

IDENTIFIER_MAX: Final = 200
DESCRIPTION_MAX: Final = 4_000
FREE_TEXT_MAX: Final = 20_000

# What each pattern means, for error messages (pydantic's would print the regex).
PATTERN_MESSAGES: Final[dict[str, str]] = {
    IDENTIFIER_PATTERN: "must not contain control characters or start or end with whitespace",
    TEXT_PATTERN: "must contain visible text and no control characters other than tab, newline and carriage return",
    SOURCE_PATTERN: "must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit",
    DIGEST_PATTERN: "must be sha256:, sha384: or sha512: followed by the hexadecimal digest",
}


def _lowercase(value: str) -> str:
    return value.lower()


def _is_unicode(value: str) -> bool:
    """False if ``value`` holds lone surrogates, which have no UTF-8 form."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# An identifier or code (tool_id, clinician_id, unit, reason_code, ...): 1-200 characters.
Identifier = Annotated[str, Field(min_length=1, max_length=IDENTIFIER_MAX, pattern=IDENTIFIER_PATTERN)]
# Descriptive product text published by a vendor or committee (intended use): not personal.
Description = Annotated[str, Field(min_length=1, max_length=DESCRIPTION_MAX, pattern=TEXT_PATTERN)]
# Free text written by people about cases and decisions: may contain PHI.
FreeText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=FREE_TEXT_MAX,
        pattern=TEXT_PATTERN,
        json_schema_extra=_SENSITIVE_SCHEMA,
    ),
    SENSITIVE,
]
# A reference to a patient or encounter (MRN, FHIR id, pseudonym): PHI.
SubjectRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=IDENTIFIER_MAX,
        pattern=IDENTIFIER_PATTERN,
        json_schema_extra=_SENSITIVE_SCHEMA,
    ),
    SENSITIVE,
]
SourceId = Annotated[str, Field(pattern=SOURCE_PATTERN)]
# "sha256:<hex>"; hex case carries no information, so it is stored lowercase.
Digest = Annotated[
    str,
    Field(pattern=DIGEST_PATTERN),
    AfterValidator(_lowercase),
]


# --- UUIDs ----------------------------------------------------------------------

_UUID_RE: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_NIL_UUIDS: Final = frozenset({"00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"})


def _parse_uuid(value: Any) -> str:
    if not isinstance(value, str) or _UUID_RE.fullmatch(value) is None:
        raise _own_error("uuid", "must be a UUID in 8-4-4-4-12 hexadecimal form")
    canonical = value.lower()
    if canonical in _NIL_UUIDS:
        raise _own_error("uuid", "must not be the nil or max UUID")
    return canonical


# A UUID, held and stored lowercase hyphenated.
Uuid = Annotated[
    str,
    PlainValidator(_parse_uuid),
    WithJsonSchema({"type": "string", "format": "uuid", "pattern": "^" + _UUID_RE.pattern + "$"}),
]


# --- timestamps -----------------------------------------------------------------

_TIME_RE: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?P<fraction>\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?"
)
TIMESTAMP_PATTERN: Final = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$"

# The instants the ledger computes with: TIME_MIN inclusive to TIME_MAX exclusive, UTC.
# Wide enough for backfilled history and a century and a half of retention; far
# enough from datetime's limits (years 1 and 9999) that adding any deadline,
# retention period, policy window (each at most ten years) or UTC offset to a
# time in the range stays representable, so no projection's arithmetic overflows.
TIME_MIN: Final = datetime(1900, 1, 1, tzinfo=UTC)
TIME_MAX: Final = datetime(2200, 1, 1, tzinfo=UTC)
TIME_MIN_TEXT: Final = "1900-01-01T00:00:00Z"
TIME_MAX_TEXT: Final = "2200-01-01T00:00:00Z"
TIME_RANGE_TEXT: Final = f"from {TIME_MIN_TEXT} (inclusive) to {TIME_MAX_TEXT} (exclusive)"
TIME_RANGE_MESSAGE: Final = f"must be {TIME_RANGE_TEXT}"
# Stored events were validated by the rules of their day: reading one back
# (``Catalogue.parse_stored``) passes this key in the validation context, and the
# range above is not applied to it. Years below 1000 were never accepted.
STORED_CONTEXT: Final = "ledger_stored"
_STORED_MIN_YEAR: Final = 1000


def _parse_timestamp(value: Any, info: ValidationInfo) -> datetime:
    if isinstance(value, datetime):
        return _checked(_to_utc(value), info)
    if not isinstance(value, str):
        raise _own_error("timestamp", "must be an RFC 3339 timestamp string")
    match = _TIME_RE.fullmatch(value)
    if match is None:
        raise _own_error("timestamp", "must be an RFC 3339 timestamp such as 2026-11-25T15:19:55Z")
    if match["offset"] is None:
        raise _own_error("timestamp", "timestamp must carry a UTC offset")
    if match["fraction"] is not None and len(match["fraction"]) > 7:
        raise _own_error("timestamp", "must have at most 6 fractional digits (microseconds)")
    try:
        moment = datetime.fromisoformat(value.upper())
    except ValueError:
        raise _own_error("timestamp", "is not a valid date and time") from None
    return _checked(_to_utc(moment), info)


def _to_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _own_error("timestamp", "timestamp must carry a UTC offset")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise _own_error("timestamp", TIME_RANGE_MESSAGE) from None


def _checked(utc: datetime, info: ValidationInfo) -> datetime:
    stored = isinstance(info.context, Mapping) and info.context.get(STORED_CONTEXT) is True
    if stored:
        if utc.year < _STORED_MIN_YEAR:
            # format_time writes years below 1000 with fewer than four digits.
            raise _own_error("timestamp", "must be in the year 1000 or later")
        return utc
    if not TIME_MIN <= utc < TIME_MAX:
        raise _own_error("timestamp", TIME_RANGE_MESSAGE)
    return utc


# An instant with a UTC offset, from TIME_MIN (inclusive) to TIME_MAX (exclusive);
# held as an aware UTC datetime, stored as ledger.proof.canonical.format_time writes it.
Timestamp = Annotated[
    datetime,
    PlainValidator(_parse_timestamp),
    PlainSerializer(format_time, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": TIMESTAMP_PATTERN,
            "formatMinimum": TIME_MIN_TEXT,
            "formatExclusiveMaximum": TIME_MAX_TEXT,
            "description": f"RFC 3339 with a UTC offset, {TIME_RANGE_TEXT}",
        }
    ),
]


# --- numbers --------------------------------------------------------------------


def _as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _own_error("number", "must be a number")
    try:
        number = float(value)
    except OverflowError:
        raise _own_error("number", "must be a finite number") from None
    if not math.isfinite(number):
        raise _own_error("number", "must be a finite number")
    return number


def _as_fraction(value: Any) -> float:
    number = _as_float(value)
    if not 0.0 <= number <= 1.0:
        raise _own_error("fraction", "must be between 0 and 1")
    return number


# A finite IEEE-754 double; integers are accepted and stored as doubles (1 -> 1.0).
Number = Annotated[float, PlainValidator(_as_float), WithJsonSchema({"type": "number"})]
# A proportion or probability in [0, 1] (sensitivity, AUROC, ...).
Fraction = Annotated[
    float,
    PlainValidator(_as_fraction),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1}),
]
Count = Annotated[int, Field(ge=0, strict=True)]
PositiveCount = Annotated[int, Field(ge=1, strict=True)]


_SETTING_TEXT_RE: Final = re.compile(IDENTIFIER_PATTERN)
_SETTING_MESSAGE: Final = "must be a number or a text of 1-200 characters without control characters or edge spaces"


def _as_setting(value: Any) -> float | str:
    if isinstance(value, str):
        if len(value) > IDENTIFIER_MAX or _SETTING_TEXT_RE.fullmatch(value) is None or not _is_unicode(value):
            raise _own_error("setting", _SETTING_MESSAGE)
        return value
    try:
        return _as_float(value)
    except PydanticCustomError:
        raise _own_error("setting", _SETTING_MESSAGE) from None


# A configuration value: a number (stored as a double) or a short code such as "high".
Setting = Annotated[
    float | str,
    PlainValidator(_as_setting),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "number"},
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": IDENTIFIER_MAX,
                    "pattern": IDENTIFIER_PATTERN,
                },
            ]
        }
    ),
]
