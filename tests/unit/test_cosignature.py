"""Cosignatures (c2sp.org/tlog-cosignature) and witness policies (c2sp.org/tlog-policy).

Vectors from outside: the cosigned checkpoint printed in the tlog-cosignature spec (its timestamp is the
one its example signed message shows), a native cosignature/v1 vkey and a cosignature timestamp from
transparency-dev/formats' note_cosigv1_test.go. The signed message is rebuilt here from the spec's text
and checked with cryptography directly, apart from the module under test.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.errors import MalformedProof, SignatureInvalid
from ledger.proof.checkpoint import Checkpoint, sign_checkpoint
from ledger.proof.cosignature import (
    check_quorum,
    cosign,
    cosignature_timestamp,
    cosigner_key,
    format_cosigner_key,
    parse_cosigner_key,
    parse_policy,
)
from ledger.proof.keys import Keyring, format_verifier_key, generate, parse_signing_key
from ledger.proof.note import Signature, parse_note, verify_note

NOTES = Path(__file__).parent.parent / "testdata" / "notes"
LEDGER = json.loads((NOTES / "ledger-checkpoints.json").read_text("utf-8"))
LOG_KEY = parse_signing_key(LEDGER["keys"]["ledger.example/log"]["signer_key"])
PETER = parse_signing_key(LEDGER["keys"]["PeterNeumann"]["signer_key"])  # Go's published test key, as a witness
SPEC_COSIGNED = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+"
    "zyWE+xeMcTOAYQ8=\n"
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0"
    "xUe+mbIUBkBIfZ+qnA==\n"
)
BODY = Checkpoint("ledger.example/log", 5, bytes(range(32))).body()


def _cosigned(*witnesses: object, body: str = BODY, timestamp: int = 1_700_000_000) -> str:
    signed = sign_checkpoint(Checkpoint("ledger.example/log", 5, bytes(range(32))), LOG_KEY)
    assert parse_note(signed).text == body
    lines = "".join(cosign(body, w, timestamp=timestamp).line() for w in witnesses)  # type: ignore[arg-type]
    return signed + lines


def _policy(*witnesses: object, quorum: str, groups: str = "") -> str:
    lines = [f"witness w{n} {format_cosigner_key(cosigner_key(w))}" for n, w in enumerate(witnesses, 1)]  # type: ignore[arg-type]
    return "\n".join([*lines, groups, f"quorum {quorum}", ""])


# -- The format -------------------------------------------------------------------------------


def test_spec_example_cosignature_carries_the_timestamp_of_the_specs_signed_message() -> None:
    witness_line = parse_note(SPEC_COSIGNED).signatures[1]
    assert cosignature_timestamp(witness_line) == 1679315147


def test_transparency_dev_cosignature_timestamp_vector() -> None:
    raw = base64.b64decode(
        "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA=="
    )
    sig = Signature("w", int.from_bytes(raw[:4], "big"), raw[4:])
    assert cosignature_timestamp(sig) == 1727964367


def test_native_cosignature_vkey_of_transparency_dev_parses_with_its_type_0x04_key_id() -> None:
    key = parse_cosigner_key("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
    assert key.label == "remora.n621.de+da77ade7"


def test_a_signed_note_vkey_type_0x01_is_not_a_cosigner_key() -> None:
    with pytest.raises(MalformedProof, match="type 0x01 is not 0x04"):
        parse_cosigner_key(format_verifier_key(PETER.verifier()))


def test_cosignature_signs_header_time_line_and_body_as_the_spec_spells_them() -> None:
    sig = cosign(BODY, PETER, timestamp=1679315147)
    message = b"cosignature/v1\ntime 1679315147\n" + BODY.encode()
    Ed25519PublicKey.from_public_bytes(PETER.public_key).verify(sig.signature[8:], message)
    assert sig.signature[:8] == (1679315147).to_bytes(8, "big")
    assert sig.key_id == cosigner_key(PETER).key_id != PETER.key_id  # 0x04, not the note key's 0x01


def test_cosignature_is_deterministic_for_go_test_key() -> None:
    # Ed25519 is deterministic: any implementation of the spec makes this line from Go's published test key.
    assert cosign(BODY, PETER, timestamp=1679315147).line() == cosign(BODY, PETER, timestamp=1679315147).line()
    assert cosigner_key(PETER).verify(body=BODY, signature=cosign(BODY, PETER, timestamp=7)) == 7


def test_cosignature_over_another_body_does_not_verify() -> None:
    other = Checkpoint("ledger.example/log", 6, bytes(range(32))).body()
    with pytest.raises(SignatureInvalid, match="cosignature by witness key PeterNeumann"):
        cosigner_key(PETER).verify(body=other, signature=cosign(BODY, PETER, timestamp=1))


def test_cosignature_with_a_changed_timestamp_does_not_verify() -> None:
    sig = cosign(BODY, PETER, timestamp=1)
    moved = Signature(sig.name, sig.key_id, (2).to_bytes(8, "big") + sig.signature[8:])
    with pytest.raises(SignatureInvalid):
        cosigner_key(PETER).verify(body=BODY, signature=moved)


def test_cosignature_of_the_wrong_length_is_malformed() -> None:
    with pytest.raises(MalformedProof, match="is 64 bytes, expected 72"):
        cosignature_timestamp(Signature("w", 1, bytes(64)))


def test_cosigned_checkpoint_still_verifies_as_a_signed_note_with_the_witness_line_ignored() -> None:
    verified = verify_note(_cosigned(PETER), Keyring([LOG_KEY.verifier()]))
    assert [s.name for s in verified.ignored] == ["PeterNeumann"]


# -- Policies ---------------------------------------------------------------------------------


def test_two_of_two_policy_is_met_only_with_both_cosignatures() -> None:
    w1, w2 = generate("w1.example"), generate("w2.example")
    policy = parse_policy(_policy(w1, w2, quorum="both", groups="group both all w1 w2"))
    assert check_quorum(_cosigned(w1, w2), policy).met
    short = check_quorum(_cosigned(w1), policy)
    assert not short.met and set(short.cosigned_at) == {"w1"}


def test_spec_example_nested_groups_are_evaluated_as_the_spec_says() -> None:
    xs = [generate(f"x{n}") for n in range(3)]
    ys = [generate(f"y{n}") for n in range(3)]
    lines = [f"witness X{n} {format_cosigner_key(cosigner_key(k))}" for n, k in enumerate(xs)]
    lines += [f"witness Y{n} {format_cosigner_key(cosigner_key(k))}" for n, k in enumerate(ys)]
    lines += ["group X-witnesses 2 X0 X1 X2", "group Y-witnesses any Y0 Y1 Y2",
              "group X-and-Y all X-witnesses Y-witnesses", "quorum X-and-Y"]  # fmt: skip
    policy = parse_policy("\n".join(lines) + "\n")
    assert policy.satisfied_by({"X0", "X2", "Y1"})
    assert not policy.satisfied_by({"X0", "Y0", "Y1", "Y2"})
    assert not policy.satisfied_by({"X0", "X1", "X2"})


def test_quorum_none_needs_no_cosignature() -> None:
    assert check_quorum(_cosigned(), parse_policy("# no witnesses yet\nquorum none\n")).met


def test_policy_log_line_requires_the_logs_signature_under_the_origin_name() -> None:
    log_line = f"log {format_verifier_key(LOG_KEY.verifier())}\n"
    assert check_quorum(_cosigned(), parse_policy(log_line + "quorum none\n")).met
    other = generate("ledger.example/log")
    with pytest.raises(SignatureInvalid, match="no signature by a trusted key"):
        check_quorum(_cosigned(), parse_policy(f"log {format_verifier_key(other.verifier())}\nquorum none\n"))


def test_a_bad_cosignature_by_a_policy_witness_is_refused_naming_it() -> None:
    w1 = generate("w1.example")
    good = cosign(BODY, w1, timestamp=1)
    flipped = bytearray(good.signature)
    flipped[20] ^= 0x01
    bad = Signature(good.name, good.key_id, bytes(flipped))
    with pytest.raises(SignatureInvalid, match="invalid cosignature by witness key w1.example"):
        check_quorum(_cosigned() + bad.line(), parse_policy(_policy(w1, quorum="w1")))


def test_cosignatures_by_keys_outside_the_policy_are_ignored() -> None:
    w1, stranger = generate("w1.example"), generate("stranger.example")
    result = check_quorum(_cosigned(stranger), parse_policy(_policy(w1, quorum="w1")))
    assert not result.met and result.cosigned_at == {}


def test_policy_allows_tabs_comments_urls_and_surrounding_space() -> None:
    w1 = generate("w1.example")
    text = f"  # comment\n\twitness\tw1  {format_cosigner_key(cosigner_key(w1))} https://w1.example/ \n\nquorum w1\n"
    policy = parse_policy(text)
    assert policy.witnesses["w1"].url == "https://w1.example/"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no quorum line"),
        ("quorum w1\n", "quorum 'w1' is not defined on an earlier line"),
        ("quorum none\nquorum none\n", "line 2: policy has more than one quorum line"),
        ("{w1}group g 2 w1\nquorum g\n", "line 2: group g's threshold 2 exceeds its 1 members"),
        ("{w1}group g 0 w1\nquorum g\n", "threshold '0' is not all, any or a decimal number"),
        ("{w1}group g any w1 w1\nquorum g\n", "lists a member more than once"),
        ("{w1}group g any none\nquorum g\n", "`none` cannot be a group member"),
        ("{w1}group w1 any w1\nquorum w1\n", "the name 'w1' is defined twice"),
        ("{w1}group g any w2\nquorum g\n", "group member 'w2' is not defined"),
        ("witness none {vkey}\nquorum none\n", "`none` is predefined"),
        ("{w1}witness w2 {vkey}\nquorum none\n", "duplicates an earlier witness's key"),
        ("cosigner w1 {vkey}\nquorum none\n", "unknown keyword 'cosigner'"),
        ("{w1}quorum w1\r\n", "control byte 0x0d"),
        ("witness w1 {logkey}\nquorum none\n", "type 0x01 is not 0x04"),
        ("log {vkey}\nquorum none\n", "type 0x04 is not Ed25519"),
    ],
)
def test_malformed_policy_is_refused_naming_its_line_and_defect(text: str, message: str) -> None:
    vkey = format_cosigner_key(cosigner_key(PETER))
    text = text.replace("{w1}", f"witness w1 {vkey}\n").replace("{vkey}", vkey)
    text = text.replace("{logkey}", format_verifier_key(PETER.verifier()))
    with pytest.raises(MalformedProof, match=message):
        parse_policy(text)
