"""The shapes of answers: evidence (seq and event_id of the events an answer rests on) and verdicts.

Every query result is built from these frozen dataclasses and turned into JSON
by ``to_json``. A verdict is one of YES, NO, PARTLY, UNKNOWN; UNKNOWN is spelt
"unknown: not recorded" and means the log holds no evidence either way: the
projections never guess.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

YES: Final = "yes"
NO: Final = "no"
PARTLY: Final = "partly"
UNKNOWN: Final = "unknown: not recorded"
VERDICTS: Final = (YES, NO, PARTLY, UNKNOWN)


@dataclass(frozen=True)
class Evidence:
    """One ledger event an answer rests on."""

    seq: int
    event_id: str
    type: str
    at: str | None  # when it took effect (RFC 3339, UTC)
    note: str = ""  # what it shows here, e.g. "approval in force", "shown to clin-4471"


@dataclass(frozen=True)
class Answer:
    """One question of the accountability report, its verdict and the evidence for it."""

    question: str  # a stable id, e.g. "approval"
    text: str  # the question as a person reads it
    verdict: str
    reason: str  # one or two sentences; never a patient reference or free text
    evidence: tuple[Evidence, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}")


def combine(verdicts: Iterable[str]) -> str:
    """One verdict for several items: all alike -> that; some yes and some not -> partly; else no/unknown."""
    seen = set(verdicts)
    if not seen:
        return UNKNOWN
    if len(seen) == 1:
        return seen.pop()
    if YES in seen or PARTLY in seen:
        return PARTLY
    return NO if NO in seen else UNKNOWN


def unique(evidence: Iterable[Evidence]) -> tuple[Evidence, ...]:
    """Evidence without repeats (the same seq and note), in seq order."""
    seen: dict[tuple[int, str], Evidence] = {}
    for item in evidence:
        seen.setdefault((item.seq, item.note), item)
    return tuple(sorted(seen.values(), key=lambda e: (e.seq, e.note)))


def to_json(value: Any) -> Any:
    """Dataclasses, tuples and mappings as plain JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value
