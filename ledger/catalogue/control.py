"""The ledger's control plane: the event types only the ledger itself records, under a source reserved for it.

The ledger acts on some facts of its own log: a legal hold forbids an erasure,
a recorded erasure is finished by the next run, a recorded key activation is
completed by the next rotation. Whoever could append those facts could steer
the ledger, so:

1. ``CONTROL_TYPES`` carry the source ``RESERVED_SOURCE`` (``"ledger"``), and
   only it: a catalogue rule (``control_source_defect``), so it holds for every
   way an event enters the ledger.
2. No API key is bound to ``RESERVED_SOURCE`` (``ledger.apikeys.check_grant``).
3. The emitters' entry points (``POST /v1/events``, ``/v1/events/batch``, the
   ASGI fast path, ``ledger import``) refuse every control type and every event
   of the reserved source, whatever the key, admin included
   (``emitted_defect``). Only the ledger's own operations (the admin routes and
   the CLI's commands, through ``Ledger.submit``) append them.
4. The readers of control facts (hold checks, erasure resume, signing-key
   rotation) believe only records that satisfy ``recorded_by_ledger``: a
   control-typed row of another source can exist only from before this rule,
   and is not believed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ledger.errors import FieldError

RESERVED_SOURCE: Final = "ledger"

CONTROL_TYPES: Final = frozenset(
    {
        "legal_hold.placed",
        "legal_hold.released",
        "subject.erased",
        "access.recorded",
        "ledger.master_key_rotated",
        "ledger.signing_key_activated",
        "ledger.signing_key_retired",
        "ledger.organisation_checkpoint_recorded",
        "index.committed",
    }
)

_TYPE_MESSAGE: Final = (
    "this event type is a control event: only the ledger's own operations (admin routes and commands) record it"
)
_SOURCE_MESSAGE: Final = "this source is reserved for the ledger's own events"
_CONTROL_SOURCE_MESSAGE: Final = "a control event's source must be the ledger's own (ledger)"


def emitted_defect(raw: object) -> FieldError | None:
    """Why an emitter may not append ``raw`` (a parsed, not yet validated event), or None.

    A control type (at ``type``) or the reserved source (at ``source``); never a value.
    Checked before validation, so a control event is refused as such even when malformed.
    """
    if not isinstance(raw, dict):
        return None
    event_type, source = raw.get("type"), raw.get("source")
    if isinstance(event_type, str) and event_type in CONTROL_TYPES:
        return FieldError("type", _TYPE_MESSAGE)
    if source == RESERVED_SOURCE:
        return FieldError("source", _SOURCE_MESSAGE)
    return None


def control_source_defect(event_type: str, source: str) -> FieldError | None:
    """The catalogue's rule: a control type carries the ledger's own source (else a FieldError at ``source``)."""
    if event_type in CONTROL_TYPES and source != RESERVED_SOURCE:
        return FieldError("source", _CONTROL_SOURCE_MESSAGE)
    return None


def recorded_by_ledger(envelope: Mapping[str, Any], *, event_type: str) -> bool:
    """True if a stored envelope is a ``event_type`` event the ledger recorded itself (its reserved source)."""
    return envelope.get("type") == event_type and envelope.get("source") == RESERVED_SOURCE
