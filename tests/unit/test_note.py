"""Signed notes: Go's vectors byte for byte, strict parsing, verification rules."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature

from ledger.errors import InputError, MalformedProof, SignatureInvalid
from ledger.proof.keys import Keyring, SigningKey, generate, parse_signing_key, parse_verifier_key
from ledger.proof.note import (
    MAX_SIGNATURES,
    Note,
    Signature,
    format_note,
    parse_note,
    sign_note,
    verify_note,
)

VECTORS = Path(__file__).parent.parent / "testdata" / "notes"


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


GO = _load("go-sumdb-note.json")
C2SP = {vector["id"]: vector for vector in _load("c2sp-examples.json")["vectors"]}
TEXT: str = GO["text"]
PETER_LINE: str = GO["signature_lines"]["PeterNeumann"]
ENOCH_LINE: str = GO["signature_lines"]["EnochRoot"]
PETER = parse_verifier_key(GO["keys"]["PeterNeumann"]["verifier_key"])
ENOCH = parse_verifier_key(GO["keys"]["EnochRoot"]["verifier_key"])
PETER_SIGNER = parse_signing_key(GO["keys"]["PeterNeumann"]["signer_key"])
KEYS = {"PeterNeumann": PETER, "EnochRoot": ENOCH}


def _keyring(*names: str) -> Keyring:
    return Keyring(KEYS[name] for name in names)


def _note_bytes(case: dict[str, str]) -> bytes:
    if "note_base64" in case:
        return base64.b64decode(case["note_base64"])
    return case["note"].encode("utf-8")


# Go's vectors (golang.org/x/mod/sumdb/note, note_test.go)


def test_go_sign_vector_is_reproduced_byte_for_byte() -> None:
    assert sign_note(GO["sign"]["text"], PETER_SIGNER) == GO["sign"]["signed_note"]


@pytest.mark.parametrize("case", [c for c in GO["open"] if "verified_by" in c], ids=lambda c: c["id"])
def test_go_open_vectors_verify_the_trusted_keys(case: dict[str, Any]) -> None:
    verified = verify_note(case["note"], _keyring(*case["trusted"]))
    assert verified.text == TEXT
    assert [key.label for key in verified.verified_by] == case["verified_by"]
    assert sorted({sig.label for sig in verified.ignored}) == sorted(set(case["unverified"]))


def test_go_open_vector_with_no_trusted_key_is_refused() -> None:
    case = next(c for c in GO["open"] if c["id"] == "none_trusted")
    stranger = generate("example.org/stranger").verifier()
    with pytest.raises(SignatureInvalid, match="no signature by a trusted key"):
        verify_note(case["note"], Keyring([stranger]))


def test_go_open_vector_with_invalid_signature_names_the_key() -> None:
    case = next(c for c in GO["open"] if c["id"] == "invalid_signature_by_trusted_key")
    with pytest.raises(SignatureInvalid, match=re.escape(case["error"])):
        verify_note(case["note"], _keyring(*case["trusted"]))


def test_go_vector_with_101_signatures_is_refused() -> None:
    case = GO["too_many_signatures"]
    with pytest.raises(MalformedProof, match="101 signature lines, more than the limit of 100"):
        parse_note(case["note"])


GO_DEFECTS = {
    "text_only": "no blank line between its text and its signatures",
    "no_signature_lines": "no signature lines after its blank line",
    "last_line_without_newline": "last signature line does not end with a newline",
    "control_character": "control character U\\+0001 at offset 0",
    "invalid_utf8": "not valid UTF-8 \\(byte 0\\)",
    "bad_name_without_newline": "last signature line does not end with a newline",
    "unexpected_line": "signature line 2 does not start with an em dash",
}


@pytest.mark.parametrize("case", GO["malformed_notes"], ids=lambda c: c["id"])
def test_go_malformed_notes_are_refused_with_their_defect(case: dict[str, str]) -> None:
    with pytest.raises(MalformedProof, match=GO_DEFECTS[case["id"]]):
        parse_note(_note_bytes(case))


def test_go_note_formats_back_byte_for_byte() -> None:
    signed = TEXT + "\n" + PETER_LINE + ENOCH_LINE
    assert format_note(parse_note(signed)) == signed


# The C2SP spec examples


def test_c2sp_example_text_may_contain_blank_lines() -> None:
    vector = C2SP["signed_note_example"]
    note = parse_note(vector["note"])
    assert note.text == vector["text"]
    assert "\n\n" in note.text
    assert [(s.name, f"{s.key_id:08x}") for s in note.signatures] == [
        (sig["name"], sig["key_id"]) for sig in vector["signatures"]
    ]


def test_c2sp_example_does_not_verify_under_another_key() -> None:
    with pytest.raises(SignatureInvalid, match="no signature by a trusted key"):
        verify_note(C2SP["signed_note_example"]["note"], _keyring("PeterNeumann"))


# Format: what parse_note refuses


def test_note_without_blank_line_is_refused() -> None:
    with pytest.raises(MalformedProof, match="no blank line"):
        parse_note(TEXT + PETER_LINE)


def test_note_with_blank_line_but_no_signature_lines_is_refused() -> None:
    with pytest.raises(MalformedProof, match="no signature lines"):
        parse_note(TEXT + "\n")


def test_signature_line_without_final_newline_is_refused() -> None:
    with pytest.raises(MalformedProof, match="last signature line does not end with a newline"):
        parse_note(TEXT + "\n" + PETER_LINE.rstrip("\n"))


@pytest.mark.parametrize("dash", ["-", "\u2013", "\u2014\u2014", "\u2014"])
def test_signature_line_must_start_with_em_dash_and_space(dash: str) -> None:
    line = PETER_LINE.replace("\u2014 ", dash, 1)
    with pytest.raises(MalformedProof, match="signature line 1 does not start with an em dash"):
        parse_note(TEXT + "\n" + line)


def test_signature_line_without_signature_is_refused() -> None:
    with pytest.raises(MalformedProof, match="no space between key name and signature"):
        parse_note(TEXT + "\n\u2014 PeterNeumann\n")


def test_signature_line_with_three_fields_is_refused() -> None:
    line = PETER_LINE.replace("PeterNeumann", "Peter Neumann")
    with pytest.raises(MalformedProof, match="signature line 1 has more than two fields"):
        parse_note(TEXT + "\n" + line)


def test_signature_line_with_invalid_key_name_is_refused() -> None:
    line = PETER_LINE.replace("PeterNeumann", "Peter+Neumann")
    with pytest.raises(MalformedProof, match="signature line 1: key name 'Peter\\+Neumann'"):
        parse_note(TEXT + "\n" + line)


def test_signature_with_bad_base64_is_refused() -> None:
    line = PETER_LINE.replace("x08go/", "x08go*")
    with pytest.raises(MalformedProof, match="signature line 1: signature is not valid base64"):
        parse_note(TEXT + "\n" + line)


def test_signature_with_non_canonical_base64_is_refused() -> None:
    # 68 bytes leave two padding bits in the last character before '='.
    line = PETER_LINE.replace("JnAM=", "JnAN=")
    assert base64.b64decode(line.split()[-1]) == base64.b64decode(PETER_LINE.split()[-1])
    with pytest.raises(MalformedProof, match="signature line 1: signature is not canonical"):
        parse_note(TEXT + "\n" + line)


@pytest.mark.parametrize("raw", [b"", b"\xc7\x4f\x20", b"\xc7\x4f\x20\xa3"])
def test_short_signature_is_refused(raw: bytes) -> None:
    line = f"\u2014 PeterNeumann {base64.b64encode(raw).decode()}\n"
    with pytest.raises(MalformedProof, match="signature line 1: signature is too short"):
        parse_note(TEXT + "\n" + line)


@pytest.mark.parametrize("char", ["\r", "\t", "\x00", "\x1b", "\x0b"])
def test_control_characters_are_refused(char: str) -> None:
    note = TEXT.replace(" ", char, 1) + "\n" + PETER_LINE  # "If you" -> offset 2
    with pytest.raises(MalformedProof, match=f"control character U\\+{ord(char):04X} at offset 2"):
        parse_note(note)


def test_crlf_line_endings_are_refused() -> None:
    note = (TEXT + "\n" + PETER_LINE).replace("\n", "\r\n")
    with pytest.raises(MalformedProof, match="control character U\\+000D"):
        parse_note(note)


def test_lone_surrogate_is_refused() -> None:
    with pytest.raises(MalformedProof, match="not valid UTF-8"):
        parse_note("\ud800" + TEXT + "\n" + PETER_LINE)


def test_more_than_100_signatures_are_refused() -> None:
    with pytest.raises(MalformedProof, match="more than the limit of 100"):
        parse_note(TEXT + "\n" + PETER_LINE * (MAX_SIGNATURES + 1))


def test_100_signatures_are_accepted() -> None:
    assert len(parse_note(TEXT + "\n" + PETER_LINE * MAX_SIGNATURES).signatures) == 100


def test_text_runs_to_the_last_blank_line() -> None:
    signed = "a\n\nb\n\n" + PETER_LINE
    assert parse_note(signed).text == "a\n\nb\n"


def test_parse_accepts_bytes_and_text_alike() -> None:
    signed = TEXT + "\n" + PETER_LINE
    assert parse_note(signed.encode("utf-8")) == parse_note(signed)


# Verification rules


def test_unknown_signature_is_ignored() -> None:
    verified = verify_note(TEXT + "\n" + ENOCH_LINE + PETER_LINE, _keyring("PeterNeumann"))
    assert [key.label for key in verified.verified_by] == ["PeterNeumann+c74f20a3"]
    assert [sig.label for sig in verified.ignored] == ["EnochRoot+af0cfe78"]


def test_signature_sharing_only_the_name_of_a_trusted_key_is_ignored() -> None:
    impostor = Signature("PeterNeumann", 0x01020304, bytes(64)).line()
    verified = verify_note(TEXT + "\n" + PETER_LINE + impostor, _keyring("PeterNeumann"))
    assert [sig.label for sig in verified.ignored] == ["PeterNeumann+01020304"]


def test_signature_sharing_only_the_key_id_of_a_trusted_key_is_ignored() -> None:
    impostor = Signature("PeterNeumann2", PETER.key_id, bytes(64)).line()
    verified = verify_note(TEXT + "\n" + impostor + PETER_LINE, _keyring("PeterNeumann"))
    assert [sig.label for sig in verified.ignored] == ["PeterNeumann2+c74f20a3"]


def test_note_signed_only_by_unknown_keys_is_refused() -> None:
    with pytest.raises(SignatureInvalid, match=r"signed by EnochRoot\+af0cfe78; trusted: Peter"):
        verify_note(TEXT + "\n" + ENOCH_LINE, _keyring("PeterNeumann"))


def test_empty_keyring_is_not_a_pass() -> None:
    with pytest.raises(InputError, match="no trusted keys"):
        verify_note(TEXT + "\n" + PETER_LINE, Keyring([]))


def test_wrong_signature_by_a_trusted_key_is_refused_naming_the_key() -> None:
    wrong = Signature("PeterNeumann", PETER.key_id, bytes(64)).line()
    with pytest.raises(SignatureInvalid, match=r"invalid signature for key PeterNeumann\+c74f20a3"):
        verify_note(TEXT + "\n" + ENOCH_LINE + wrong, _keyring("PeterNeumann", "EnochRoot"))


def test_wrong_signature_by_a_trusted_key_fails_even_beside_a_good_one() -> None:
    # Every line that names a trusted key is verified, not only the first
    # (Go's note.Open skips later lines of a key it has already verified).
    wrong = Signature("PeterNeumann", PETER.key_id, bytes(64)).line()
    with pytest.raises(SignatureInvalid, match=r"PeterNeumann\+c74f20a3"):
        verify_note(TEXT + "\n" + PETER_LINE + wrong, _keyring("PeterNeumann"))


def test_invalid_signature_is_chained_from_cryptographys_exception() -> None:
    wrong = Signature("PeterNeumann", PETER.key_id, bytes(64)).line()
    with pytest.raises(SignatureInvalid) as caught:
        verify_note(TEXT + "\n" + wrong, _keyring("PeterNeumann"))
    assert isinstance(caught.value.__cause__, InvalidSignature)


def test_signature_by_rotated_old_key_still_verifies() -> None:
    old, new = generate("example.org/ledger"), generate("example.org/ledger")
    ring = Keyring([old.verifier(), new.verifier()])
    verified = verify_note(sign_note(TEXT, old), ring)
    assert verified.verified_by == (old.verifier(),)


def test_signature_by_a_key_dropped_from_the_keyring_no_longer_verifies() -> None:
    old, new = generate("example.org/ledger"), generate("example.org/ledger")
    with pytest.raises(SignatureInvalid, match="no signature by a trusted key"):
        verify_note(sign_note(TEXT, old), Keyring([new.verifier()]))


def test_each_trusted_key_is_reported_once() -> None:
    verified = verify_note(TEXT + "\n" + PETER_LINE * 3, _keyring("PeterNeumann"))
    assert verified.verified_by == (PETER,)


def test_signature_covers_the_text_with_its_final_newline_and_not_the_blank_line() -> None:
    note = parse_note(TEXT + "\n" + PETER_LINE)
    PETER.verify(message=TEXT.encode("utf-8"), signature=note.signatures[0].signature)
    with pytest.raises(SignatureInvalid):
        PETER.verify(message=(TEXT + "\n").encode("utf-8"), signature=note.signatures[0].signature)


# Signing


def test_signed_note_round_trips_through_parse_and_verify() -> None:
    log, witness = generate("example.org/ledger"), generate("witness.example/w1")
    signed = sign_note("hello\n\nworld\n", log, witness)
    assert parse_note(signed).text == "hello\n\nworld\n"
    verified = verify_note(signed, Keyring([log.verifier(), witness.verifier()]))
    assert verified.verified_by == (log.verifier(), witness.verifier())


def test_sign_note_refuses_text_without_final_newline() -> None:
    with pytest.raises(MalformedProof, match="does not end with a newline"):
        sign_note("abc", PETER_SIGNER)


def test_sign_note_refuses_text_with_control_characters() -> None:
    with pytest.raises(MalformedProof, match="control character U\\+000D"):
        sign_note("abc\r\n", PETER_SIGNER)


def test_sign_note_needs_a_signer() -> None:
    with pytest.raises(ValueError, match="at least one signer"):
        sign_note(TEXT)


def test_sign_note_refuses_the_same_key_twice() -> None:
    twin: SigningKey = parse_signing_key(GO["keys"]["PeterNeumann"]["signer_key"])
    with pytest.raises(ValueError, match="given twice"):
        sign_note(TEXT, PETER_SIGNER, twin)


def test_format_note_refuses_a_note_without_signatures() -> None:
    with pytest.raises(MalformedProof, match="no signature lines"):
        format_note(Note(TEXT, []))


@pytest.mark.parametrize(
    ("name", "key_id", "signature", "defect"),
    [
        ("Peter Neumann", 1, b"s", "contains a space"),
        ("PeterNeumann", 2**32, b"s", "does not fit in 32 bits"),
        ("PeterNeumann", 1, b"", "is empty"),
    ],
)
def test_a_signature_that_could_not_be_written_as_a_line_cannot_be_built(
    name: str, key_id: int, signature: bytes, defect: str
) -> None:
    with pytest.raises(MalformedProof, match=defect):
        Signature(name, key_id, signature)
