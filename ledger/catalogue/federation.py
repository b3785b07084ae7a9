"""A deployment of many organisation ledgers: the top-level ledger's record of each member's signed checkpoints.

Each organisation's ledger is its own trust domain (its chain, tree, keys and
checkpoints). The deployment's small top-level ledger records, as its own
control fact, every checkpoint a member signed, so a regulator reads every
member's head in one place and can check each against the member's key and
log (ledger.organisations).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from ledger.catalogue.base import DataModel
from ledger.catalogue.fields import Identifier, PositiveCount

# A C2SP checkpoint origin: one line of printable text, as ledger.proof.checkpoint checks it.
Origin = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[\x21-\x7e][\x20-\x7e]*$")]
RootHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
# The signed note as published: body lines, a blank line, signature lines (no PHI: origin, size, root, signatures).
SignedNote = Annotated[str, Field(min_length=1, max_length=8192, pattern=r"^[\x20-\x7e\n\u2014]+$")]


class OrganisationCheckpointRecorded(DataModel):
    """A member organisation's ledger signed this checkpoint; the deployment's top-level ledger keeps it."""

    event_type: ClassVar[str] = "ledger.organisation_checkpoint_recorded"

    organisation: Identifier  # the member organisation, as the deployment names it
    origin: Origin  # the origin line of the member's checkpoints (its log's name)
    tree_size: PositiveCount  # the number of entries the checkpoint covers
    root_hash: RootHash  # hex of the RFC 6962 root the checkpoint signs
    checkpoint: SignedNote  # the C2SP signed note, verifiable with the organisation's keys


TYPES: tuple[type[DataModel], ...] = (OrganisationCheckpointRecorded,)
