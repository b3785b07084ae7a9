"""The catalogue this ledger ships: every event type, at every published version.

To change a type's data incompatibly, add the new model as the next version,
keep the old one, and register an upcaster from the old stored form to the new
one (see ledger.catalogue.registry). Never edit a published version's model.
"""

from __future__ import annotations

from typing import Final

from ledger.catalogue import (
    clinicians,
    federation,
    governance,
    incidents,
    ledger_keys,
    monitoring,
    outputs,
    privacy,
    remediation,
    tools,
    validation,
)
from ledger.catalogue.base import DataModel
from ledger.catalogue.registry import Catalogue, EventSpec

_MODELS: Final[tuple[type[DataModel], ...]] = (
    *tools.TYPES,
    *validation.TYPES,
    *clinicians.TYPES,
    *outputs.TYPES,
    *monitoring.TYPES,
    *incidents.TYPES,
    *remediation.TYPES,
    *governance.TYPES,
    *ledger_keys.TYPES,
    *federation.TYPES,
    *privacy.TYPES,
)

# Only version 1 exists today, so no type has upcasters yet.
SPECS: Final[tuple[EventSpec, ...]] = tuple(EventSpec(name=model.event_type, versions={1: model}) for model in _MODELS)

CATALOGUE: Final = Catalogue(SPECS)
