"""For auditors: the latest signed checkpoint, inclusion and consistency proofs, evidence bundles.

Proofs are RFC 9162 audit paths over the log's Merkle tree (leaf index = seq - 1,
leaf data = the entry bytes of docs/ledger-format.md), every hash in hexadecimal;
any RFC 6962 verifier checks them against the root of a signed checkpoint. A tree
size left out is the latest checkpoint's, so the proof verifies against a root the
key holder signed.

A proof is computed from the stored subtree hashes and is not checked here: the
auditor's verification is the check. The root given beside it is the stored
tree's, for convenience; trust the signed checkpoint's root, not this one.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from api.checkpoints import Signer
from api.deps import AuditorKey, StoreDep
from api.errors import InvalidParameters, NotFound, documented
from api.models import Problem
from api.runtime import Store
from ledger.catalogue.fields import IDENTIFIER_MAX
from ledger.checkpointing import body_of
from ledger.errors import FieldError, InputError, IntegrityError
from ledger.evidence import build_bundle, bundle_entry, select_evidence, with_index
from ledger.index import IndexStore, committed_events
from ledger.proof import merkle
from ledger.proof.checkpoint import MAX_SIZE
from ledger.store import Ledger, Record
from ledger.store.records import StoredCheckpoint

router = APIRouter(tags=["proofs"])

_HEX32: Final = r"^[0-9a-f]{64}$"
_UNSAFE_IN_FILENAME: Final = re.compile(r"[^A-Za-z0-9._-]")
_NO_CHECKPOINT: Final = "no checkpoint has been signed yet"

Seq = Annotated[int, Query(ge=1, le=MAX_SIZE, description="The entry's seq (leaf index + 1).")]
TreeSize = Annotated[
    int | None, Query(ge=1, le=MAX_SIZE, description="The tree's size; default: the latest checkpoint's.")
]
FromSize = Annotated[int, Query(ge=1, le=MAX_SIZE, description="The earlier tree's size.")]
IndexKey = Annotated[
    str,
    Query(
        min_length=3,
        max_length=len("clinician:") + IDENTIFIER_MAX,
        pattern=r"^(incident|output|tool|clinician|subject):.+$",
        description="KIND:ID, the kinds the index keeps (docs/auditing.md): e.g. incident:INC-2026-041, or "
        "subject:<token> for a patient's lookup token (never the clear identifier).",
    ),
]
IndexSize = Annotated[
    int | None,
    Query(ge=1, le=MAX_SIZE, description="The size the index was committed at; default: the latest commit."),
]
IncidentId = Annotated[str, Path(min_length=1, max_length=200, description="The incident_id, as recorded.")]


class InclusionProof(BaseModel):
    """Entry ``seq`` is leaf ``leaf_index`` of the tree of ``tree_size`` leaves with this ``root``."""

    seq: int = Field(ge=1)
    leaf_index: int = Field(ge=0, description="seq - 1.")
    tree_size: int = Field(ge=1)
    leaf_hash: str = Field(pattern=_HEX32, description="SHA-256(0x00 || entry): recompute it from the log's bytes.")
    proof: list[str] = Field(description="The RFC 9162 inclusion path, leaf to root, hexadecimal hashes.")
    root: str = Field(pattern=_HEX32, description="The stored tree's root at tree_size (compare with a checkpoint's).")


class ConsistencyProof(BaseModel):
    """The tree of ``from_size`` leaves is a prefix of the tree of ``to_size`` leaves."""

    from_size: int = Field(ge=1)
    to_size: int = Field(ge=1)
    proof: list[str] = Field(description="The RFC 9162 consistency path, hexadecimal hashes; empty if equal sizes.")
    from_root: str = Field(pattern=_HEX32, description="The stored tree's root at from_size.")
    to_root: str = Field(pattern=_HEX32, description="The stored tree's root at to_size.")


class IndexCommitEntry(BaseModel):
    """The ``index.committed`` entry, with its inclusion path against the latest signed checkpoint (as a bundle
    carries it)."""

    seq: int = Field(ge=1)
    recorded_us: int
    event: str = Field(description="The event's canonical bytes, base64: its data holds tree_size and root.")
    prev_hash: str = Field(pattern=_HEX32)
    hash: str = Field(pattern=_HEX32)
    inclusion_proof: list[str] = Field(description="The RFC 9162 inclusion path of entry seq, hexadecimal hashes.")


class IndexPath(BaseModel):
    """A key's seqs among the first ``tree_size`` entries, its bucket's leaves and the path to the index root."""

    key: str
    tree_size: int = Field(ge=1)
    seqs: list[int] = Field(description="Every seq naming the key, rising; empty: no event names it (absence).")
    bucket: int = Field(ge=0)
    leaves: list[str] = Field(description="Every leaf of the bucket, 72 bytes each in hexadecimal, by key hash.")
    path: list[str] = Field(description="The 12 sibling hashes from the bucket up to the index root.")


class IndexProofOut(BaseModel):
    """What shows that ``proof.seqs`` are all the entries naming ``proof.key`` among the first
    ``proof.tree_size``: ``proof`` leads to the root of the ``commit`` entry, which is in the tree of
    ``checkpoint_size`` leaves."""

    checkpoint_size: int = Field(ge=1, description="The latest signed checkpoint's size: verify against it.")
    commit: IndexCommitEntry
    proof: IndexPath


_INDEX_EXAMPLE = {
    "checkpoint_size": 21,
    "commit": {
        "seq": 21,
        "recorded_us": 1796515200123456,
        "event": "eyJhY3RvciI6eyJpZCI6ImxlZGdlciIsImtpbmQiOiJzeXN0ZW0iLCJyb2xlIjoibGVkZ2VyIn0sLi4ufQ==",
        "prev_hash": "5f1c" + "0" * 60,
        "hash": "9a2e" + "0" * 60,
        "inclusion_proof": ["c3d1" + "0" * 60],
    },
    "proof": {
        "key": "incident:INC-2026-041",
        "tree_size": 20,
        "seqs": [9, 11, 13, 14, 16, 18, 20],
        "bucket": 1234,
        "leaves": ["4d2a" + "0" * 140],
        "path": ["e0b4" + "0" * 60] * 12,
    },
}


def _errors(*statuses: int, wording: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """The Problem responses of ``documented``, with this route's own wording where given."""
    entries = documented(*statuses)
    for status, text in wording.items():
        entries[status]["description"] = text
    return entries


_SIZES_422 = "A size or seq that is not a positive integer, or does not fit the log: errors names it."
_STORE_503 = "The database is unavailable; retry after Retry-After seconds."
_NOTE_EXAMPLE = (
    "clinical-ai-ledger.example/demo\n40\nUNhY4JhezH9gQYqvDMWrWH9CwlcKiECVqejMrND2VFw=\n\n\u2014 ledger.demo.example "
    "w2Hgjw5dBMm6E3uQnCOydgToEPRCvMYijBGhG0ea4RymHXWbEBV45SuddapJZig3T2qUbUdLSJXfBxrP7jk3BJ9AWQ4=\n"
)
_ATTACHMENT = {"description": 'attachment; filename="evidence-<incident_id>.json"', "schema": {"type": "string"}}
_INTEGRITY_500 = {
    "model": Problem,
    "description": "Integrity alarm (code integrity_failure): the ledger refused to sign a checkpoint "
    "inconsistent with the last one it signed, or its stored tree is incomplete.",
}


async def get_signer(request: Request) -> Signer:
    """The server's checkpoint signer (set by the lifespan)."""
    signer: Signer = request.app.state.checkpoints.signer
    return signer


SignerDep = Annotated[Signer, Depends(get_signer)]


@router.get(
    "/v1/checkpoint",
    response_class=Response,  # not PlainTextResponse, whose media type FastAPI would give the JSON errors too
    summary="The latest signed checkpoint",
    responses={
        200: {
            "description": "The C2SP signed note (tlog-checkpoint), exactly as signed and stored.",
            "content": {"text/plain": {"schema": {"type": "string"}, "example": _NOTE_EXAMPLE}},
        },
        **_errors(401, 403, 404, 503, wording={404: "No checkpoint has been signed yet.", 503: _STORE_503}),
    },
)
def latest_checkpoint(key: AuditorKey, store: StoreDep) -> PlainTextResponse:
    """Origin, tree size and base64 root, then the signature lines. Verify it with your trusted keys
    (`ledger.proof.checkpoint.open_checkpoint`, or any C2SP signed-note verifier) and keep a copy."""
    return PlainTextResponse(_latest(store.ledger).note)


@router.get(
    "/v1/proofs/inclusion",
    response_model=InclusionProof,
    summary="Prove that an entry is in the tree",
    responses=_errors(
        401,
        403,
        404,
        422,
        503,
        wording={
            404: "No entry with this seq, or (tree_size left out) no checkpoint signed yet.",
            422: _SIZES_422,
            503: _STORE_503,
        },
    ),
)
def inclusion(
    key: AuditorKey, store: StoreDep, request: Request, seq: Seq, tree_size: TreeSize = None
) -> dict[str, Any]:
    """The audit path of entry `seq` in the tree of `tree_size` leaves (default: the latest checkpoint's).
    Recompute the leaf hash from the entry's bytes (`GET /v1/log`) rather than trusting `leaf_hash`."""
    ledger = store.ledger
    head = ledger.head_seq()
    size = _size(ledger, tree_size, name="tree_size", head=head)
    if seq > head:
        raise NotFound("no entry with this seq is in the log")
    if seq > size:
        raise InvalidParameters(FieldError("seq", f"must be at most the tree size, {size}"))
    record = _record(ledger, seq)
    proof = merkle.inclusion_proof(index=seq - 1, size=size, reader=ledger)
    request.state.log_fields.update(seq=seq)
    return {
        "seq": seq,
        "leaf_index": seq - 1,
        "tree_size": size,
        "leaf_hash": merkle.leaf_hash(record.entry).hex(),
        "proof": [node.hex() for node in proof],
        "root": merkle.root(size, ledger).hex(),
    }


@router.get(
    "/v1/proofs/consistency",
    response_model=ConsistencyProof,
    summary="Prove that an earlier tree is a prefix of a later one",
    responses=_errors(
        401,
        403,
        404,
        422,
        503,
        wording={404: "to_size left out, and no checkpoint signed yet.", 422: _SIZES_422, 503: _STORE_503},
    ),
)
def consistency(
    key: AuditorKey, store: StoreDep, request: Request, from_size: FromSize, to_size: TreeSize = None
) -> dict[str, Any]:
    """The consistency path from the tree of `from_size` leaves to the tree of `to_size` leaves (default:
    the latest checkpoint's). With your own copy of an earlier checkpoint, it shows the log was only appended to."""
    ledger = store.ledger
    size = _size(ledger, to_size, name="to_size", head=ledger.head_seq())
    if from_size > size:
        raise InvalidParameters(FieldError("from_size", f"must be at most to_size, {size}"))
    proof = merkle.consistency_proof(size1=from_size, size2=size, reader=ledger)
    return {
        "from_size": from_size,
        "to_size": size,
        "proof": [node.hex() for node in proof],
        "from_root": merkle.root(from_size, ledger).hex(),
        "to_root": merkle.root(size, ledger).hex(),
    }


@router.get(
    "/v1/incidents/{incident_id}/evidence",
    response_class=Response,
    summary="An incident's evidence bundle, verifiable offline",
    responses={
        200: {
            "description": "The bundle file (as `ledger export` writes it); check it with `ledger verify-bundle`.",
            "content": {"application/json": {"schema": {"type": "object"}}},
            "headers": {"Content-Disposition": _ATTACHMENT},
        },
        500: _INTEGRITY_500,
        **_errors(
            401,
            403,
            404,
            422,
            503,
            wording={
                404: "No incident with this incident_id is recorded.",
                422: "The incident_id is empty or longer than 200 characters.",
                503: "The database is unavailable (retry after Retry-After seconds), "
                "or the server has no signing key (code no_signing_key).",
            },
        ),
    },
)
def evidence(
    incident_id: IncidentId, key: AuditorKey, store: StoreDep, signer: SignerDep, request: Request
) -> Response:
    """Every event relevant to the incident, each with its canonical bytes and inclusion proof, a signed
    checkpoint covering them (signed now if none does yet) and the verifier keys: the same steps as
    `ledger export --incident ID`."""
    body, filename, count = incident_bundle(store, signer, incident_id)
    request.state.log_fields.update(records=count)
    return Response(
        body, media_type="application/json", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get(
    "/v1/proofs/index",
    response_model=IndexProofOut,
    summary="Prove which entries name a key (or that none does), as of an index commit",
    responses={
        200: {"content": {"application/json": {"example": _INDEX_EXAMPLE}}},
        500: {
            **_INTEGRITY_500,
            "description": "Integrity alarm (code integrity_failure): the log records an "
            "index commit that the index's own table does not hold.",
        },
        **_errors(
            401,
            403,
            404,
            422,
            503,
            wording={
                404: "No index commit under the latest signed checkpoint (at this tree_size, if given), "
                "or no checkpoint signed yet.",
                422: "A key not of the form KIND:ID with an indexed kind, or a tree_size that is not a "
                "positive integer: errors names it.",
                503: _STORE_503,
            },
        ),
    },
)
def index_proof(api_key: AuditorKey, store: StoreDep, request: Request, key: IndexKey, tree_size: IndexSize = None
) -> dict[str, Any]:  # fmt: skip
    """The index proof for `key` as committed at `tree_size` (default: the latest commit), with the
    `index.committed` entry and its inclusion path against the latest signed checkpoint: the proof
    `ledger export` puts in a bundle. Verify the path (`ledger.proof.index.verify_index_proof`) against the
    root in that entry's bytes, and the entry against the checkpoint; a key no event names gets an
    empty `seqs`, which proves absence. A patient's key is `subject:<token>`, the keyed lookup token a
    retention or erasure report gives (never the clear identifier): the events sealed under it."""
    ledger = store.ledger
    checkpoint = _latest(ledger)
    commits = [c for c in committed_events(ledger) if c[0] <= checkpoint.size]
    chosen = [c for c in commits if tree_size is None or c[1] == tree_size][-1:]
    if not chosen:
        raise NotFound("the index was not committed at this size under the latest signed checkpoint"
                       if tree_size is not None else "no index commit is under a signed checkpoint yet")  # fmt: skip
    commit_seq, size, _ = chosen[0]
    try:
        proof = IndexStore(ledger).prove(key, tree_size=size)
    except InputError as exc:
        raise IntegrityError("the log records an index commit that the index's table does not hold") from exc
    entry = bundle_entry(ledger, _record(ledger, commit_seq), size=checkpoint.size)
    request.state.log_fields.update(seq=commit_seq, records=len(proof.seqs))
    return {"checkpoint_size": checkpoint.size, "commit": entry.to_json(), "proof": proof.to_json()}


def incident_bundle(store: Store, signer: Signer, incident_id: str) -> tuple[bytes, str, int]:
    """The incident's evidence bundle file, its file name and how many records it holds (this route's and the
    incident page's download); NotFound for an incident the log does not hold."""
    ledger = store.ledger
    try:
        records = select_evidence(ledger, incident_id)
    except InputError:
        raise NotFound("no incident with this incident_id is recorded") from None
    signed = signer.sign(ledger)
    if signed is None:
        raise IntegrityError("the log is empty although the incident was just read from it")
    records, index = with_index(ledger, incident_id, records, size=signed.checkpoint.size)
    bundle = build_bundle(
        ledger,
        incident_id,
        records,
        note=signed.note,
        checkpoint=body_of(signed.note),
        keys=signer.verifier_keys(),
        index=index,
    )
    return bundle.to_bytes(), f"evidence-{_UNSAFE_IN_FILENAME.sub('_', incident_id)}.json", len(records)


def _latest(ledger: Ledger) -> StoredCheckpoint:
    latest = ledger.latest_checkpoint()
    if latest is None:
        raise NotFound(_NO_CHECKPOINT)
    return latest


def _size(ledger: Ledger, requested: int | None, *, name: str, head: int) -> int:
    """The tree size asked for, else the latest checkpoint's; never past the head."""
    if requested is None:
        return _latest(ledger).size
    if requested > head:
        raise InvalidParameters(FieldError(name, f"must be at most the log's size, {head}"))
    return requested


def _record(ledger: Ledger, seq: int) -> Record:
    found = ledger.read(after_seq=seq - 1, limit=1)
    if not found or found[0].seq != seq:
        raise NotFound("no entry with this seq is in the log")
    return found[0]
