"""The ledger's exceptions: one family, two halves.

    LedgerError
    ├── InputError                  the input is malformed or not acceptable as given
    │   ├── InvalidEvent            an event envelope or its data fails the catalogue
    │   ├── EventConflict           same event_id, different content (a conflicting duplicate)
    │   ├── MalformedProof          a proof, checkpoint, note or key that cannot be parsed
    │   └── InvalidBundle           an evidence bundle that cannot be parsed
    ├── IntegrityError              the evidence says no: something was altered, removed or reordered
    │   ├── ChainBroken             a stored link or hash does not recompute
    │   ├── RootMismatch            a computed Merkle root differs from the expected one
    │   ├── InconsistentCheckpoint  a checkpoint is not an extension of an earlier one
    │   └── SignatureInvalid        a signature does not verify under the trusted key
    ├── StoreUnavailable            the database cannot be reached or used (could not run)
    └── KeyNotConfigured            a master key the operation needs was not given to this process (could not run)

Foreign exceptions (sqlite3, psycopg, eventsourcing's persistence errors,
cryptography's InvalidSignature) are translated into this family at exactly
one boundary each, with ``raise ... from exc``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""


class InputError(LedgerError):
    """The input is malformed or cannot be accepted as given."""


@dataclass(frozen=True)
class FieldError:
    """One defect in one field: where (a JSON path such as ``data.output_id``) and why."""

    loc: str
    msg: str

    def __str__(self) -> str:
        return f"{self.loc}: {self.msg}"


class InvalidEvent(InputError):
    """An event does not match the catalogue; ``errors`` names each field at fault."""

    def __init__(self, errors: list[FieldError], *, index: int | None = None) -> None:
        if not errors:
            raise ValueError("InvalidEvent needs at least one FieldError")
        self.errors = list(errors)
        self.index = index
        where = "" if index is None else f"event {index}: "
        super().__init__(where + "; ".join(str(e) for e in self.errors))

    @classmethod
    def from_message(cls, loc: str, msg: str) -> InvalidEvent:
        """A single defect at ``loc``."""
        return cls([FieldError(loc, msg)])

    def at(self, index: int) -> InvalidEvent:
        """The same defects, located at position ``index`` of a batch or file."""
        return InvalidEvent(self.errors, index=index)


class EventConflict(InputError):
    """The event_id was already recorded with different content."""

    def __init__(self, event_id: str, *, seq: int) -> None:
        self.event_id = event_id
        self.seq = seq
        super().__init__(f"event_id {event_id} is already recorded at seq {seq} with different content")


class MalformedProof(InputError):
    """A proof, checkpoint, signed note or key that cannot be parsed."""


class InvalidBundle(InputError):
    """An evidence bundle that cannot be parsed."""


class IntegrityError(LedgerError):
    """The evidence does not verify: something was altered, removed or reordered."""


@dataclass
class ChainBroken(IntegrityError):
    """A stored record does not recompute; ``kind`` says how, ``seq`` where."""

    seq: int
    kind: str
    expected: str = ""
    actual: str = ""
    detail: str = field(default="")

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"seq {self.seq}: {self.kind}"
        if self.expected or self.actual:
            text += f" (expected {self.expected or '-'}, found {self.actual or '-'})"
        return text + (f": {self.detail}" if self.detail else "")


@dataclass
class RootMismatch(IntegrityError):
    """A root computed from a proof or the log differs from the one expected."""

    expected: str
    calculated: str

    def __post_init__(self) -> None:
        super().__init__(f"root mismatch: expected {self.expected}, calculated {self.calculated}")


class InconsistentCheckpoint(IntegrityError):
    """A checkpoint is not consistent with an earlier one."""


class SignatureInvalid(IntegrityError):
    """A signature does not verify under the trusted key."""


class StoreUnavailable(LedgerError):
    """The database cannot be reached or used; the operation could not run."""


class KeyNotConfigured(LedgerError):
    """A master key the operation needs was not given to this process: a configuration problem, not evidence.

    Kept apart from IntegrityError so that an auditor's exit code 1 always means
    the evidence failed a check; this one means the operation could not run.
    """
