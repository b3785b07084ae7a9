"""Choosing the evidence for one incident, and packing it into a bundle with proofs.

Relevant to an incident, by the log's own links:

* the incident's events (``data.incident_id``), its remediations and their completion;
* the outputs it names (``output_ids``): their generation, every display, every action;
* the tools behind those outputs (and the incident's ``tool_id``): every lifecycle
  event (registration, approvals, suspensions, validations, threshold changes,
  updates, monitoring and its acknowledgements), before and after the incident;
* the training records of every clinician who saw or acted on those outputs;
* the signing keys' activation and retirement, so the checkpoint's key is on record.

The selection reads the log in three streaming passes, so memory holds only the
sets of ids and the chosen records, never the whole log.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ledger.errors import InputError
from ledger.index import IndexStore, committed_events
from ledger.proof import merkle
from ledger.proof.bundle import Bundle, BundleEntry, BundleIndex
from ledger.proof.checkpoint import Checkpoint
from ledger.proof.index import index_keys
from ledger.proof.sealed import is_sealed, sealed_subject
from ledger.store import Ledger, Record
from ledger.timestamping import timed_checkpoints

TOOL_EVENTS = ("tool.", "monitoring.")
KEY_EVENTS = ("ledger.signing_key_activated", "ledger.signing_key_retired")


@dataclass
class _Links:
    incident_id: str
    outputs: set[str] = field(default_factory=set)
    tools: set[str] = field(default_factory=set)
    clinicians: set[str] = field(default_factory=set)
    remediations: set[str] = field(default_factory=set)


def _parsed(ledger: Ledger) -> Iterator[tuple[Record, dict[str, Any]]]:
    for record in ledger.records():
        yield record, orjson.loads(record.body).get("data", {})


def select_evidence(ledger: Ledger, incident_id: str) -> list[Record]:
    """Every record relevant to the incident, in seq order; InputError if it is not in the log."""
    links = _Links(incident_id)
    found_incident = False
    for _, data in _parsed(ledger):  # pass 1: the incident and what it names
        if data.get("incident_id") == incident_id:
            found_incident = True
            links.outputs.update(data.get("output_ids", []))
            links.tools.update([data["tool_id"]] if "tool_id" in data else [])
            links.remediations.update([data["remediation_id"]] if "remediation_id" in data else [])
    if not found_incident:
        raise InputError("no incident with that id is recorded in the ledger")
    for record, data in _parsed(ledger):  # pass 2: its outputs, their tools and viewers
        if data.get("output_id") in links.outputs:
            links.tools.update([data["tool_id"]] if record.type == "output.generated" else [])
            links.clinicians.update([data["clinician_id"]] if "clinician_id" in data else [])
    return [record for record, data in _parsed(ledger) if _relevant(record, data, links)]  # pass 3


def _relevant(record: Record, data: dict[str, Any], links: _Links) -> bool:
    return (
        data.get("incident_id") == links.incident_id
        or data.get("remediation_id") in links.remediations
        or data.get("output_id") in links.outputs
        or (record.type.startswith(TOOL_EVENTS) and data.get("tool_id") in links.tools)
        or (record.type == "clinician.trained" and data.get("clinician_id") in links.clinicians)
        or record.type in KEY_EVENTS
    )


def with_index(
    ledger: Ledger, incident_id: str, records: list[Record], *, size: int, patients: bool = False
) -> tuple[list[Record], BundleIndex | None]:
    """The records, completed by every event the index names for the incident and its outputs, and the proofs.

    With ``patients``, also for the lookup token of each patient the incident's
    own events name (``subject:<token>``): every event about that patient then
    joins the bundle, so only a caller who may disclose them asks for it.
    The proofs are at the last index commit whose ``index.committed`` event is
    among the first ``size`` entries (the checkpoint's); that event joins the
    records. (records, None) if there is no such commit.
    """
    commits = [c for c in committed_events(ledger) if c[0] <= size]
    if not commits:
        return records, None
    commit_seq, tree_size, _ = commits[-1]
    store = IndexStore(ledger)
    keys = _proven_keys(incident_id, records, patients=patients)
    proofs = [store.prove(key, tree_size=tree_size) for key in keys]
    have = {r.seq for r in records}
    wanted = sorted(({s for p in proofs for s in p.seqs} | {commit_seq}) - have)
    extra = [r for s in wanted for r in ledger.read(after_seq=s - 1, limit=1)]
    return sorted([*records, *extra], key=lambda r: r.seq), BundleIndex(commit_seq, proofs)


def _proven_keys(incident_id: str, records: list[Record], *, patients: bool) -> list[str]:
    """The incident's key and those of the outputs (and, with ``patients``, the patients) its own events name."""
    keys = {f"incident:{incident_id}"}
    for record in records:
        data = orjson.loads(record.body).get("data", {})
        if data.get("incident_id") == incident_id:
            keys.update(k for k in index_keys(data) if k.startswith("output:"))
            token = _patient_token(data) if patients else None
            if token is not None:
                keys.add(f"subject:{token}")
    return sorted(keys)


def _patient_token(data: Mapping[str, Any]) -> str | None:
    """The subject token of a sealed ``patient_ref``: sealing puts an event naming a patient under the patient's key."""
    ref = data.get("patient_ref")
    holder = data.get(ref["sealed_with"]) if isinstance(ref, dict) and is_sealed(ref) and "sealed_with" in ref else ref
    return sealed_subject(holder)


def bundle_entry(ledger: Ledger, record: Record, *, size: int) -> BundleEntry:
    """The record with its inclusion proof in the tree of ``size`` leaves, as a bundle carries it."""
    return BundleEntry(
        seq=record.seq,
        recorded_us=record.recorded_us,
        event=record.body,
        prev_hash=record.prev_hash,
        hash=record.hash,
        inclusion_proof=merkle.inclusion_proof(index=record.seq - 1, size=size, reader=ledger),
    )


def build_bundle(
    ledger: Ledger,
    incident_id: str,
    records: list[Record],
    *,
    note: str,
    checkpoint: Checkpoint,
    keys: list[str],
    index: BundleIndex | None = None,
) -> Bundle:
    """Pack the records with inclusion proofs against ``checkpoint`` (which must cover them).

    With the time-stamp tokens of the checkpoints that first covered them
    (``ledger.timestamping.timed_checkpoints``), when there are any.
    """
    last = records[-1].seq if records else 0
    if checkpoint.size < last:
        raise InputError(f"the checkpoint covers {checkpoint.size} entries, the evidence reaches seq {last}")
    entries = [bundle_entry(ledger, r, size=checkpoint.size) for r in records]
    timed = timed_checkpoints(ledger, [r.seq for r in records], size=checkpoint.size)
    return Bundle(incident_id=incident_id, checkpoint=note, verifier_keys=keys, entries=entries, index=index,
                  timestamps=timed or None)  # fmt: skip
