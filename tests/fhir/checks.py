"""The project's own checks of an exported FHIR Bundle, beyond what fhir.resources parses.

fhir.resources checks structure and types but not bindings or references
(healthcare-domain.md 1.5), so these say what a consumer relies on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fhir.resources.bundle import Bundle as BundleR5
from fhir.resources.R4B.bundle import Bundle as BundleR4B

from ledger.store import Ledger
from projections.fhir import codes

AI_ASSERTED = {"RiskAssessment"}


def parse(bundle: dict[str, Any], version: str) -> None:
    """The bundle parses with fhir.resources' models of its version (R4 with the R4B models)."""
    model = BundleR4B if version == "R4" else BundleR5
    parsed = model.model_validate(bundle)
    assert len(parsed.entry or []) == len(bundle["entry"])


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object under ``node``."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def references_resolve(bundle: dict[str, Any]) -> None:
    """Every Reference.reference names an entry's fullUrl."""
    urls = {e["fullUrl"] for e in bundle["entry"]}
    dangling = [n["reference"] for n in walk(bundle) if isinstance(n.get("reference"), str)]
    assert [r for r in dangling if r not in urls] == []


def codes_from_their_systems(bundle: dict[str, Any]) -> int:
    """Every Coding's code is one its system defines (codes.CODES); the number of Codings checked."""
    codings = [n for n in walk(bundle) if "system" in n and "code" in n]
    wrong = [(n["system"], n["code"]) for n in codings if n["code"] not in codes.CODES.get(n["system"], ())]
    assert wrong == []
    return len(codings)


def ai_asserted_labelled(bundle: dict[str, Any]) -> None:
    """Every AI-asserted resource carries meta.security AIAST."""
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] in AI_ASSERTED:
            assert {"system": codes.OBSERVATION_VALUE, "code": codes.AIAST} in resource["meta"]["security"]


def ledger_identifier(resource: dict[str, Any]) -> str:
    """The resource's ledger identifier value, from ``identifier`` or the ledger-event extension."""
    found = resource.get("identifier", [])
    found = found if isinstance(found, list) else [found]
    found += [x["valueIdentifier"] for x in resource.get("extension", []) if x["url"] == codes.LEDGER_EVENT_EXTENSION]
    values = [i["value"] for i in found if i["system"] == codes.LEDGER_EVENT]
    assert len(values) == 1, resource["resourceType"]
    return str(values[0])


def identifiers_match_the_log(bundle: dict[str, Any], ledger: Ledger) -> set[int]:
    """Each resource's ledger identifier is the seq and chain hash of a recorded event; the seqs."""
    seqs = set()
    for entry in bundle["entry"]:
        seq, digest = ledger_identifier(entry["resource"]).split(":")
        record = ledger.read(after_seq=int(seq) - 1, limit=1)[0]
        assert (record.seq, record.hash.hex()) == (int(seq), digest)
        seqs.add(int(seq))
    return seqs


def check_all(bundle: dict[str, Any], version: str, ledger: Ledger) -> set[int]:
    """Every check above; the seqs the bundle names."""
    parse(bundle, version)
    references_resolve(bundle)
    codes_from_their_systems(bundle)
    ai_asserted_labelled(bundle)
    return identifiers_match_the_log(bundle, ledger)
