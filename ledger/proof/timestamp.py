"""Trusted time on checkpoints: RFC 3161 time-stamp tokens, and checking them.

A time-stamping authority (TSA) signs, with a certificate whose extended key
usage is timeStamping, the statement "these bytes' hash existed at time T".
The ledger asks for one over each checkpoint it signs; the *message imprint*
is SHA-256 of the checkpoint's signed note exactly as the ledger signed it
(its UTF-8 bytes: the origin, size and root lines, the blank line and the
ledger's signature lines, each ending in a newline). A verified token bounds
the time of every entry the checkpoint covers: entries 1..size were in the log
no later than T, which a ledger that later backdates an event cannot undo.

What is kept is the TSA's whole response (a DER ``TimeStampResp``, the bytes of
a ``.tsr`` file, as ``openssl ts -reply`` writes it), never re-encoded.

Checking, in order (``check_token``; docs/auditing.md, step 12):

  a. the bytes parse as a granted time-stamp response (else MalformedProof);
  b. its imprint is the hash of this checkpoint's note (else TimestampMismatch);
  c. with the auditor's trusted TSA root certificates: the CMS signature
     verifies, through a chain to one of them, by a certificate whose extended
     key usage is critical and timeStamping (else TimestampUntrusted).

Parsing and the CMS checks are rfc3161-client's (Trail of Bits, on OpenSSL's
PKCS7_verify). It is imported only when a token is met, so a bundle without
tokens still verifies with cryptography, orjson and pydantic alone.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.errors import InconsistentCheckpoint, IntegrityError, LedgerError, MalformedProof
from ledger.proof.checkpoint import Checkpoint, open_checkpoint
from ledger.proof.keys import Keyring
from ledger.proof.merkle import verify_consistency
from ledger.proof.verify import Claim, Finding, Report, Stamp

if TYPE_CHECKING:
    from cryptography.x509 import Certificate
    from rfc3161_client import TimeStampResponse

# The imprint's hash algorithms a token may name (the ledger asks for SHA-256).
_HASHES = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}


class TimestampMismatch(IntegrityError):
    """A token's message imprint is not the hash of the checkpoint it stands beside."""


class TimestampUntrusted(IntegrityError):
    """A token's signature does not verify to a TSA certificate the auditor trusts."""


class VerifierUnavailable(LedgerError):
    """rfc3161-client is not installed here, so tokens cannot be read (could not run)."""


def parse_token(data: bytes) -> TimeStampResponse:
    """A time-stamp response, parsed; MalformedProof unless it is well-formed and its status is granted.

    VerifierUnavailable where rfc3161-client is not installed (the proof core
    runs without it until it meets a token).
    """
    try:
        from rfc3161_client import PKIStatus, decode_timestamp_response
    except ImportError as exc:
        raise VerifierUnavailable(
            "the evidence carries RFC 3161 time-stamp tokens, and checking them needs rfc3161-client "
            "(pip install rfc3161-client)"
        ) from exc

    try:
        response = decode_timestamp_response(data)
        granted = response.status == PKIStatus.GRANTED
        response.tst_info.gen_time  # noqa: B018 (parsed lazily: a defect in it must be found here)
    except ValueError as exc:
        raise MalformedProof(f"not an RFC 3161 time-stamp response ({exc})") from exc
    if not granted:
        raise MalformedProof(f"the time-stamp response's status is {response.status}, not granted")
    return response


def load_tsa_roots(pem: bytes, *, what: str) -> list[Certificate]:
    """The certificates of a PEM file (the TSA's root CA certificates); MalformedProof if there are none."""
    from cryptography.x509 import load_pem_x509_certificates

    try:
        certificates = load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise MalformedProof(f"{what} holds no PEM certificate ({exc})") from exc
    return certificates


def check_token(response: TimeStampResponse, *, note: str, size: int, roots: list[Certificate] | None) -> Stamp | None:
    """Steps b and c for one parsed token of the checkpoint ``note``; the Stamp, or None without ``roots``."""
    info = response.tst_info
    algorithm = _HASHES.get(info.message_imprint.hash_algorithm.dotted_string)
    if algorithm is None:
        raise TimestampMismatch(f"the token's imprint uses an unknown hash ({info.message_imprint.hash_algorithm})")
    expected = hashlib.new(algorithm, note.encode("utf-8")).digest()
    if info.message_imprint.message != expected:  # step b
        raise TimestampMismatch(f"the token timestamps other bytes than the checkpoint at size {size}")
    if roots is None:
        return None
    _verify_signature(response, note, roots)  # step c
    return Stamp(size, info.gen_time, _signer(response))


def _verify_signature(response: TimeStampResponse, note: str, roots: list[Certificate]) -> None:
    from rfc3161_client import VerificationError, VerifierBuilder

    try:
        VerifierBuilder(roots=list(roots)).build().verify_message(response, note.encode("utf-8"))
    except VerificationError as exc:
        raise TimestampUntrusted(f"the token is not signed by a trusted time-stamping authority ({exc})") from exc


def _signer(response: TimeStampResponse) -> str:
    from cryptography.x509 import load_der_x509_certificate

    signer = next(iter(response.signed_data.signer_infos))
    for der in response.signed_data.certificates:
        certificate = load_der_x509_certificate(der)
        if certificate.serial_number == signer.serial_number and certificate.issuer == signer.issuer:
            return certificate.subject.rfc4514_string()
    return "an unnamed authority"


@dataclass(frozen=True)
class TokenClaim:
    """A token to check, where it was found (a file, or the database and its authority), and its checkpoint's size."""

    source: str
    size: int
    data: bytes


def check_timestamps(
    report: Report,
    claims: Sequence[tuple[Claim, Checkpoint]],
    tokens: Sequence[TokenClaim],
    roots: list[Certificate] | None,
) -> None:
    """Step 12: every token against the checkpoint of its size; the earliest trusted time of each checkpoint.

    A token that does not parse, timestamps other bytes (a token for another
    checkpoint) or is not signed by a trusted authority is a finding at its
    size. With ``roots``, each checkpoint's earliest verified time joins the
    report ("in the log no later than T"), and a checkpoint with no token is a
    notice: nothing was tampered with, only its time is unbounded (the next
    timestamped checkpoint bounds its entries).
    """
    notes: dict[int, set[str]] = {}
    for claim, checkpoint in claims:
        notes.setdefault(checkpoint.size, set()).add(claim.note)
    earliest: dict[int, Stamp] = {}
    for token in tokens:
        stamp = _check_claimed(token, sorted(notes.get(token.size, ())), roots, report)
        if stamp is not None and (token.size not in earliest or stamp.time < earliest[token.size].time):
            earliest[token.size] = stamp
    report.stamps.extend(earliest[size] for size in sorted(earliest))
    if roots is None:
        if tokens:
            report.notes.append(f"{len(tokens)} time-stamp token(s) matched to their checkpoints, their signatures "
                                "not checked: pass --trusted-tsa to learn their times")  # fmt: skip
        return
    unstamped = sorted(set(notes) - set(earliest))
    if unstamped:
        listed = ", ".join(str(s) for s in unstamped[:10]) + (" ..." if len(unstamped) > 10 else "")
        report.notes.append(f"no trusted time-stamp on the checkpoint(s) at size {listed}")


def _check_claimed(
    token: TokenClaim, notes: list[str], roots: list[Certificate] | None, report: Report
) -> Stamp | None:
    where = f"time-stamp token {token.source}"
    try:
        response = parse_token(token.data)
    except MalformedProof as exc:
        report.add(Finding(token.size, "timestamp malformed", f"{where}: {exc}"))
        return None
    if not notes:
        report.add(Finding(token.size, "timestamp mismatch", f"{where}: no checkpoint of size {token.size}"))
        return None
    mismatch: IntegrityError | None = None
    for note in notes:
        try:
            return check_token(response, note=note, size=token.size, roots=roots)
        except TimestampMismatch as exc:
            mismatch = exc
        except TimestampUntrusted as exc:
            report.add(Finding(token.size, "timestamp untrusted", f"{where}: {exc}"))
            return None
    report.add(Finding(token.size, "timestamp mismatch", f"{where}: {mismatch}"))
    return None


@dataclass(frozen=True)
class TimedCheckpoint:
    """A bundle's time evidence: a signed checkpoint, its consistency proof to the bundle's checkpoint, its tokens.

    The checkpoint may be the bundle's own (an empty proof) or an earlier one,
    whose tokens bound the entries it already covered more tightly.
    """

    checkpoint: str
    consistency_proof: list[bytes]
    tokens: list[bytes]

    def to_json(self) -> dict[str, Any]:
        """The section's item as the file holds it."""
        return {
            "checkpoint": self.checkpoint,
            "consistency_proof": [p.hex() for p in self.consistency_proof],
            "tokens": [base64.b64encode(t).decode() for t in self.tokens],
        }


def verify_timed(
    timed: Sequence[TimedCheckpoint], *, head: Checkpoint, keyring: Keyring, roots: list[Certificate] | None
) -> tuple[list[Stamp], list[str]]:
    """A bundle's step 7: each timed checkpoint signed, of the same log, a prefix of ``head``; its tokens over it.

    Returns the earliest verified Stamp of each checkpoint (none without
    ``roots``: the imprints are still checked) and the failures, each naming
    the item ("timestamps[1]: ...").
    """
    stamps: list[Stamp] = []
    failures: list[str] = []
    for number, item in enumerate(timed):
        where = f"timestamps[{number}]"
        try:
            checkpoint = _timed_checkpoint(item, head=head, keyring=keyring)
            found = [
                check_token(parse_token(t), note=item.checkpoint, size=checkpoint.size, roots=roots)
                for t in item.tokens
            ]
        except LedgerError as exc:
            failures.append(f"{where}: {exc}")
            continue
        verified = [s for s in found if s is not None]
        if verified:
            stamps.append(min(verified, key=lambda s: s.time))
    return stamps, failures


def _timed_checkpoint(item: TimedCheckpoint, *, head: Checkpoint, keyring: Keyring) -> Checkpoint:
    checkpoint = open_checkpoint(item.checkpoint, keyring, origin=head.origin)
    if checkpoint.size > head.size:
        raise InconsistentCheckpoint(f"the checkpoint of size {checkpoint.size} is beyond the bundle's {head.size}")
    verify_consistency(
        size1=checkpoint.size,
        size2=head.size,
        root1=checkpoint.root_hash,
        root2=head.root_hash,
        proof=item.consistency_proof,
    )
    return checkpoint


def bound_of(seq: int, stamps: Sequence[Stamp]) -> Stamp | None:
    """The earliest trusted time of a checkpoint that covers entry ``seq``, or None."""
    covering = [s for s in stamps if s.size >= seq]
    return min(covering, key=lambda s: s.time) if covering else None
