"""FHIR exports (R4 and R5) of what the ledger recorded: see resources.py for the mapping."""

from projections.fhir.export import incident_bundle, output_bundle, tool_bundle
from projections.fhir.resources import VERSIONS, Version

__all__ = ["VERSIONS", "Version", "incident_bundle", "output_bundle", "tool_bundle"]
