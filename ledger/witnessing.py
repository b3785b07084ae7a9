"""Asking witnesses to cosign the ledger's checkpoints: the log's side of c2sp.org/tlog-witness.

For each witness of the operator's policy (``witness <name> <vkey> <url>``
lines of a c2sp.org/tlog-policy file), in order:

  1. POST ``<url>/add-checkpoint`` with ``old <size>`` (the size the witness
     is believed to hold: the previous checkpoint's), the consistency proof
     from that size, an empty line and the signed checkpoint.
  2. On 409 the witness says the size it holds. If the log can prove
     consistency from it (it is no larger than the checkpoint), ask once more
     from that size; a witness holding a larger size, or another root at this
     size, or (422) a root at its size that this tree does not extend, has
     seen a head this log never extended: a conflict, reported, never retried
     around.
  3. On 200 keep only the reply's lines by the witness's own key that verify
     over the checkpoint (the client must ignore others), as note signature
     lines appended after the ledger's own signature.

Nothing here stores anything: ``ledger.checkpointing.witness_checkpoint``
publishes the cosigned note once the policy's quorum is met.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from ledger.errors import InputError, IntegrityError
from ledger.proof.checkpoint import parse_checkpoint_body
from ledger.proof.cosignature import Policy, PolicyWitness
from ledger.proof.keys import encode_base64
from ledger.proof.note import Signature, parse_note

ProofFrom = Callable[[int], list[bytes]]
"""The consistency proof from tree size N (at most the checkpoint's) to the checkpoint's size."""

TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Answer:
    """One witness's answer: its verified cosignature, or why there is none."""

    witness: str
    cosignature: Signature | None = None
    problem: str = ""


def request_body(*, old: int, proof: Sequence[bytes], note: str) -> bytes:
    """The add-checkpoint body: ``old <size>``, one base64 hash a line, an empty line, the checkpoint."""
    lines = [f"old {old}", *(encode_base64(node) for node in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode("utf-8")


def ask_witnesses(
    note: str, policy: Policy, *, old: int, proof_from: ProofFrom, client: httpx.Client | None = None
) -> list[Answer]:
    """Every policy witness with a URL, asked in turn (steps 1-3); witnesses without a URL are passed over."""
    with client if client is not None else httpx.Client(timeout=TIMEOUT_S) as http:
        return [
            ask(http, witness, note=note, old=old, proof_from=proof_from)
            for witness in policy.witnesses.values()
            if witness.url
        ]


def ask(client: httpx.Client, witness: PolicyWitness, *, note: str, old: int, proof_from: ProofFrom) -> Answer:
    """One witness (steps 1-3)."""
    size = parse_checkpoint_body(parse_note(note).text).size
    url = f"{str(witness.url).rstrip('/')}/add-checkpoint"
    tried: set[int] = set()
    while old not in tried:
        tried.add(old)
        try:  # 1
            response = client.post(url, content=request_body(old=old, proof=proof_from(old), note=note))
        except httpx.HTTPError as exc:
            return Answer(witness.name, problem=f"could not reach {url}: {type(exc).__name__}")
        if response.status_code == 200:  # 3
            return _cosignature(witness, note, response.text)
        if response.status_code == 422:  # its own root at ``old`` is not a prefix of this tree
            return Answer(witness.name, problem=f"the witness holds another head at size {old} (conflict, HTTP 422)")
        held = _size_held(response)
        if held is None:
            first = response.text.splitlines()[0] if response.text else ""
            return Answer(witness.name, problem=f"HTTP {response.status_code} from {url}: {first[:200]}")
        if held > size or held == old:  # 2: the witness holds a head this log never extended
            return Answer(witness.name, problem=f"the witness holds another head at size {held} (conflict)")
        old = held
    return Answer(witness.name, problem=f"the witness kept answering 409 (size {old})")


def cosigned(note: str, answers: Sequence[Answer]) -> str:
    """``note`` with the answers' cosignature lines appended after its own signatures."""
    return note + "".join(a.cosignature.line() for a in answers if a.cosignature is not None)


def _size_held(response: httpx.Response) -> int | None:
    if response.status_code != 409 or not response.headers.get("content-type", "").startswith("text/x.tlog.size"):
        return None
    text = response.text
    return int(text) if text.endswith("\n") and text[:-1].isdigit() and text[:-1].isascii() else None


def _cosignature(witness: PolicyWitness, note: str, reply: str) -> Answer:
    try:
        lines = parse_note(note + reply).signatures[len(parse_note(note).signatures) :]
        text = parse_note(note).text
        for line in lines:
            if witness.key.matches(line):
                witness.key.verify(body=text, signature=line)
                return Answer(witness.name, cosignature=line)
    except (InputError, IntegrityError) as exc:
        return Answer(witness.name, problem=f"its reply is not a valid cosignature: {exc}")
    return Answer(witness.name, problem="its reply holds no cosignature by its key")
