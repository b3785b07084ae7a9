"""Reporting deadlines as data: which regimes apply to an incident, and by when it must be reported.

Read this module as a table. Each Regime names the duty, the conditions under
which it applies (all of ``applies_if``, none of ``unless``), and its clocks:
the first clock whose condition holds sets the deadline, counted from the
incident's ``aware_at``. A hospital extends the rules by adding a Regime to
REGIMES, a condition to CONDITIONS, or holidays to a work-day clock; the
conditions are documented in docs/regulatory-clocks.md.

Conditions read the incident's current classification (``incident.reported``
and later ``incident.classified``) and the tool's registration. Each answers
True, False or None (undetermined: the log does not say); a regime whose
conditions are undetermined is listed as "undetermined", with the deadline it
would have, never silently dropped.

Conservative choices, stated: work days skip Saturdays, Sundays and the listed
holidays (none by default, so a deadline is never later than the law's);
deadlines keep the time of day of ``aware_at``, in UTC; when the log does not
say whether a shorter clock's condition holds (harm "unknown": was it a
death?), the shorter clock is used.

This is not legal advice: it encodes the rules as summarized in
docs/regulatory-clocks.md, with the sources cited there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final, Literal

from projections.timefmt import DAY, HOUR, checked, computable, from_us, to_us

Truth = bool | None


@dataclass(frozen=True)
class IncidentFacts:
    """What the conditions may look at: the incident's classification and its tools' registrations."""

    harm: str | None  # AHRQ harm scale: death, severe_harm, moderate_harm, mild_harm, no_harm, unknown
    serious: bool | None  # None: not determined
    widespread: bool | None  # None: not stated (the catalogue reads this as not widespread)
    tools: tuple[Mapping[str, Any], ...]  # each tool's tool.registered data (public fields)


@dataclass(frozen=True)
class Clock:
    """A deadline: ``length`` days (calendar or work) after awareness, when ``when`` holds."""

    when: str  # a name in CONDITIONS, or "always"
    length: int
    days: Literal["calendar", "work"] = "calendar"
    holidays: frozenset[date] = field(default_factory=frozenset)

    def due(self, aware_us: int) -> int:
        """The deadline, in microseconds since the epoch; TimeOutOfRange for an ``aware_us`` outside the range."""
        checked(aware_us)  # a stored aware_at from before the range was enforced: no date arithmetic on it
        if self.days == "calendar":
            return aware_us + self.length * DAY
        moment = from_us(aware_us)
        day, remaining = moment.date(), self.length
        while remaining:
            day += timedelta(days=1)
            if day.weekday() < 5 and day not in self.holidays:
                remaining -= 1
        return to_us(moment + timedelta(days=(day - moment.date()).days))


@dataclass(frozen=True)
class Regime:
    """One reporting duty."""

    id: str  # as incident.reported_externally names it
    name: str
    citation: str
    applies_if: tuple[str, ...]
    clocks: tuple[Clock, ...]
    unless: tuple[str, ...] = ()
    note: str = ""


# --- conditions ------------------------------------------------------------------------

_SERIOUS_HARM: Final = frozenset({"death", "severe_harm"})
_NOT_SERIOUS_HARM: Final = frozenset({"no_harm", "mild_harm"})


def _serious(f: IncidentFacts) -> Truth:
    """Serious incident (AI Act Art. 3(49); MDR Art. 2(65)): stated, else read from the harm."""
    if f.serious is not None:
        return f.serious
    if f.harm in _SERIOUS_HARM:
        return True
    if f.harm in _NOT_SERIOUS_HARM:
        return False
    return None  # moderate or unknown harm, seriousness not determined


def _death(f: IncidentFacts) -> Truth:
    return None if f.harm in (None, "unknown") else f.harm == "death"


def _death_or_serious_injury(f: IncidentFacts) -> Truth:
    if f.harm in _SERIOUS_HARM or f.serious is True:
        return True
    return _serious(f)


def _widespread(f: IncidentFacts) -> Truth:
    return bool(f.widespread)


def _any_tool(test: Callable[[Mapping[str, Any]], Truth]) -> Callable[[IncidentFacts], Truth]:
    def condition(f: IncidentFacts) -> Truth:
        answers = [test(tool) for tool in f.tools] or [None]
        if True in answers:
            return True
        return None if None in answers else False

    return condition


def _device_regime(*regimes: str) -> Callable[[Mapping[str, Any]], Truth]:
    def test(tool: Mapping[str, Any]) -> Truth:
        status = tool.get("regulatory_status")
        if not isinstance(status, Mapping):
            return None
        return status.get("status") == "device" and status.get("regime") in regimes

    return test


def _ai_act_high_risk(tool: Mapping[str, Any]) -> Truth:
    risk = tool.get("ai_act_risk")
    if risk in ("annex_i_device", "annex_iii"):
        return True
    return False if risk == "not_high_risk" else None


CONDITIONS: Final[dict[str, Callable[[IncidentFacts], Truth]]] = {
    "always": lambda f: True,
    "serious": _serious,
    "death": _death,
    "death_or_serious_injury": _death_or_serious_injury,
    "widespread": _widespread,
    "ai_act_high_risk": _any_tool(_ai_act_high_risk),
    "eu_mdr_device": _any_tool(_device_regime("eu_mdr", "eu_ivdr")),
    "fda_device": _any_tool(_device_regime("fda")),
}

# --- the regimes ------------------------------------------------------------------------

REGIMES: Final[tuple[Regime, ...]] = (
    Regime(
        id="eu_ai_act_art73",
        name="EU AI Act serious incident report",
        citation="Regulation (EU) 2024/1689, Art. 73(2)-(4); Art. 73(10) for MDR/IVDR devices",
        applies_if=("serious", "ai_act_high_risk"),
        unless=("eu_mdr_device",),  # Art. 73(10): health harm from an MDR device goes through MDR vigilance
        clocks=(Clock("widespread", 2), Clock("death", 10), Clock("always", 15)),
        note="The provider reports; a deployer informs the provider immediately (Art. 26(5)).",
    ),
    Regime(
        id="eu_mdr_art87",
        name="EU MDR serious incident report",
        citation="Regulation (EU) 2017/745, Art. 87(3)-(5)",
        applies_if=("serious", "eu_mdr_device"),
        clocks=(Clock("widespread", 2), Clock("death", 10), Clock("always", 15)),
        note="2 days for a serious public health threat; 10 days for a death or unanticipated serious deterioration.",
    ),
    Regime(
        id="fda_mdr",
        name="FDA medical device report by a user facility",
        citation="21 CFR 803.30 (user facilities: within 10 work days of becoming aware)",
        applies_if=("death_or_serious_injury", "fda_device"),
        clocks=(Clock("always", 10, days="work"),),
        note="Deaths go to FDA and the manufacturer, serious injuries to the manufacturer.",
    ),
)

# Internal clocks (not law): RCA2 asks for a review to start within 72 hours.
REVIEWER_ASSIGNMENT: Final = 72 * HOUR


@dataclass(frozen=True)
class Applicability:
    """Whether a regime applies, and the deadline it sets."""

    regime: Regime
    applies: Truth  # True, False, None (undetermined)
    due_us: int | None  # None: the regime does not apply, or aware_at is outside the range the ledger computes with
    clock: Clock | None
    because: tuple[str, ...]  # the conditions and their answers, e.g. ("serious=yes", ...)


def evaluate(regime: Regime, facts: IncidentFacts, aware_us: int) -> Applicability:
    """Whether ``regime`` applies to an incident with these facts, and its deadline if it may."""
    answers = {name: CONDITIONS[name](facts) for name in (*regime.applies_if, *regime.unless)}
    because = tuple(f"{name}={_word(value)}" for name, value in answers.items())
    required = [answers[name] for name in regime.applies_if]
    excluded = [answers[name] for name in regime.unless]
    if False in required or True in excluded:
        return Applicability(regime, False, None, None, because)
    applies: Truth = None if None in required or None in excluded else True
    # Clocks are listed shortest first; an undetermined condition picks the shorter clock.
    clock = next(c for c in regime.clocks if CONDITIONS[c.when](facts) is not False)
    due = clock.due(aware_us) if computable(aware_us) else None
    return Applicability(regime, applies, due, clock, because)


def _word(value: Truth) -> str:
    return "undetermined" if value is None else ("yes" if value else "no")
