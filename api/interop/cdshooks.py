"""CDS Hooks feedback (2.0) as ``output.acted`` envelopes: pure, no FastAPI, no store.

    feedback[i] element                 output.acted
    card (the card's uuid)              data.output_id: the service records its output under the card's uuid
    outcome accepted | overridden       data.action accepted | overridden
    overrideReason.reason.code          data.reason_code
    overrideReason.userComment          data.comment (free text: sealed like every comment)
    outcomeTimestamp                    data.acted_at and occurred_at
    acceptedSuggestions[0].id           correlation_id (the suggestion taken)
    extension "org.clinical-ai-ledger.userId"   data.clinician_id; absent: CLINICIAN_NOT_SENT
    (the client's registration)         source, and actor {id: the client, role cds_client, kind system}

Feedback carries no user (CDS Hooks has none in it): without the extension the
clinician is recorded as ``CLINICIAN_NOT_SENT``, which the projections show as
it is, rather than a guess. The event_id is a UUIDv5 of the source, service,
card, outcome and timestamp: the same feedback twice appends once, other content
under them is a conflicting duplicate (409).
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from ledger.catalogue import Event, validate_event
from ledger.errors import FieldError, InvalidEvent

CLINICIAN_NOT_SENT: Final = "cds-hooks:user-not-sent"
USER_EXTENSION: Final = "org.clinical-ai-ledger.userId"
ACTOR_ROLE: Final = "cds_client"
OUTCOMES: Final = ("accepted", "overridden")
_NAMESPACE: Final = uuid.UUID("a4f3c2d1-7b6e-5d4c-9b8a-1f2e3d4c5b6a")
# Where each envelope field came from, for a catalogue refusal.
_PLACES: Final = {
    "data.output_id": "card",
    "data.action": "outcome",
    "data.reason_code": "overrideReason.reason.code",
    "data.comment": "overrideReason.userComment",
    "data.acted_at": "outcomeTimestamp",
    "occurred_at": "outcomeTimestamp",
    "data.clinician_id": f"extension.{USER_EXTENSION}",
    "correlation_id": "acceptedSuggestions[0].id",
}


def _object(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidEvent.from_message(path, "must be a JSON object")
    return value


def _text(node: dict[str, Any], name: str, path: str, *, required: bool = False) -> str | None:
    value = node.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidEvent.from_message(f"{path}.{name}", "must be a non-empty string")
    return value


def items(raw: object) -> list[dict[str, Any]]:
    """The feedback entries of a request body (``{"feedback": [...]}``), at least one."""
    body = _object(raw, "")
    unknown = set(body) - {"feedback", "extension"}
    if unknown:
        raise InvalidEvent.from_message(sorted(unknown)[0], "not a field of a CDS Hooks feedback request")
    entries = body.get("feedback")
    if not isinstance(entries, list) or not entries:
        raise InvalidEvent.from_message("feedback", "must be a non-empty array")
    return [_object(e, f"feedback[{i}]") for i, e in enumerate(entries)]


def _reason(entry: dict[str, Any], path: str) -> tuple[str | None, str | None]:
    if entry.get("overrideReason") is None:
        return None, None
    override = _object(entry["overrideReason"], f"{path}.overrideReason")
    comment = _text(override, "userComment", f"{path}.overrideReason")
    if override.get("reason") is None:
        return None, comment
    reason = _object(override["reason"], f"{path}.overrideReason.reason")
    return _text(reason, "code", f"{path}.overrideReason.reason", required=True), comment


def _suggestion(entry: dict[str, Any], outcome: str, path: str) -> str | None:
    accepted = entry.get("acceptedSuggestions")
    if accepted is None:
        if outcome == "accepted":
            raise InvalidEvent.from_message(f"{path}.acceptedSuggestions", "required for an accepted outcome")
        return None
    if not isinstance(accepted, list) or (outcome == "accepted" and not accepted):
        raise InvalidEvent.from_message(f"{path}.acceptedSuggestions", "must be an array of {id}")
    ids = [
        _text(_object(s, f"{path}.acceptedSuggestions[{i}]"), "id", f"{path}.acceptedSuggestions[{i}]", required=True)
        for i, s in enumerate(accepted)
    ]
    return ids[0] if ids else None


def _clinician(entry: dict[str, Any], path: str) -> str:
    extension = entry.get("extension")
    if extension is None:
        return CLINICIAN_NOT_SENT
    user = _text(_object(extension, f"{path}.extension"), USER_EXTENSION, f"{path}.extension")
    return user or CLINICIAN_NOT_SENT


def to_event(entry: dict[str, Any], *, source: str, service_id: str, client: str, path: str) -> Event:
    """One feedback entry as output.acted; InvalidEvent naming the element at fault (``feedback[0].outcome``)."""
    card = _text(entry, "card", path, required=True)
    outcome = _text(entry, "outcome", path, required=True)
    if outcome not in OUTCOMES:
        raise InvalidEvent.from_message(f"{path}.outcome", "must be accepted or overridden")
    at = _text(entry, "outcomeTimestamp", path, required=True)
    reason, comment = _reason(entry, path)
    data: dict[str, Any] = {
        "output_id": card,
        "clinician_id": _clinician(entry, path),
        "action": outcome,
        "acted_at": at,
    }
    if reason is not None:
        data["reason_code"] = reason
    if comment is not None:
        data["comment"] = comment
    key = "\n".join((source, service_id, str(card), str(outcome), str(at)))
    envelope: dict[str, Any] = {
        "event_id": str(uuid.uuid5(_NAMESPACE, key)),
        "type": "output.acted",
        "occurred_at": at,
        "source": source,
        "actor": {"id": client, "role": ACTOR_ROLE, "kind": "system"},
        "data": data,
    }
    suggestion = _suggestion(entry, str(outcome), path)
    if suggestion is not None:
        envelope["correlation_id"] = suggestion
    try:
        return validate_event(envelope)
    except InvalidEvent as exc:
        errors = {f"{path}.{_PLACES.get(e.loc, 'card')}": e.msg for e in exc.errors}
        raise InvalidEvent([FieldError(loc, msg) for loc, msg in errors.items()]) from None


def to_events(raw: object, *, source: str, service_id: str, client: str) -> list[Event]:
    """Every feedback entry of a request as output.acted, or InvalidEvent naming each element at fault."""
    events, errors = [], []
    for i, entry in enumerate(items(raw)):
        try:
            events.append(to_event(entry, source=source, service_id=service_id, client=client, path=f"feedback[{i}]"))
        except InvalidEvent as exc:
            errors += exc.errors
    if errors:
        raise InvalidEvent(errors)
    return events
