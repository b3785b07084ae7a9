"""The ledger's own lifecycle: the keys that sign its checkpoints.

Key rotation is recorded in the log itself, so an auditor can see which key
signed which checkpoints, and older checkpoints still verify against the key
that signed them.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from ledger.catalogue.base import DataModel
from ledger.catalogue.fields import Count, FreeText, Identifier

KeyId = Annotated[str, Field(pattern=r"^[0-9a-f]{8}$")]
VerifierKeyText = Annotated[
    str, Field(min_length=10, max_length=300, pattern=r"^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$")
]


class SigningKeyActivated(DataModel):
    """A checkpoint-signing key was put into service (C2SP signed-note verifier key)."""

    event_type: ClassVar[str] = "ledger.signing_key_activated"

    key_name: Identifier
    key_id: KeyId
    verifier_key: VerifierKeyText  # name+keyid+base64(0x01 || Ed25519 public key)
    replaces_key_id: KeyId | None = None
    reason: FreeText | None = None


class SigningKeyRetired(DataModel):
    """A checkpoint-signing key stopped signing; checkpoints it signed still verify."""

    event_type: ClassVar[str] = "ledger.signing_key_retired"

    key_name: Identifier
    key_id: KeyId
    reason: FreeText | None = None


RootHex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class IndexCommitted(DataModel):
    """The completeness index of the log's first ``tree_size`` entries has this root (ledger.proof.index).

    Recorded by the ledger itself when it commits the index, so every later
    checkpoint covers the root; ``ledger verify`` recomputes it from the log.
    """

    event_type: ClassVar[str] = "index.committed"

    tree_size: Count
    root: RootHex


TYPES: tuple[type[DataModel], ...] = (SigningKeyActivated, SigningKeyRetired, IndexCommitted)
