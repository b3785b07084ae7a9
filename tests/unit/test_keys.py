"""Ed25519 note keys: key ids, Go's text encodings, the keyring, key files."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature

from ledger.errors import InputError, MalformedProof, SignatureInvalid
from ledger.proof import keys
from ledger.proof.keys import (
    Keyring,
    VerifierKey,
    check_key_name,
    compute_key_id,
    format_signing_key,
    format_verifier_key,
    generate,
    load_signing_key,
    parse_keyring,
    parse_signing_key,
    parse_verifier_key,
    save_signing_key,
)

VECTORS = Path(__file__).parent.parent / "testdata" / "notes"


def _go() -> Any:
    return json.loads((VECTORS / "go-sumdb-note.json").read_text(encoding="utf-8"))


GO = _go()
PETER = GO["keys"]["PeterNeumann"]
ENOCH = GO["keys"]["EnochRoot"]


def _manglings(text: str) -> list[str]:
    """Go's TestNewVerifier/TestNewSigner: every proper substring, every byte + 1."""
    raw = text.encode("utf-8")
    substrings = {raw[i:j] for i in range(len(raw) + 1) for j in range(i + 1, len(raw) + 1)} - {raw}
    bumped = {raw[:i] + bytes([(raw[i] + 1) % 256]) + raw[i + 1 :] for i in range(len(raw))}
    return sorted(m.decode("utf-8", errors="surrogateescape") for m in substrings | bumped)


# Key ids


def test_key_id_is_sha256_of_name_newline_type_byte_and_public_key() -> None:
    key = parse_verifier_key(PETER["verifier_key"])
    digest = hashlib.sha256(b"PeterNeumann\n\x01" + key.public_key).digest()
    assert key.key_id == int.from_bytes(digest[:4], "big") == 0xC74F20A3


def test_key_id_depends_on_the_name() -> None:
    key = parse_verifier_key(PETER["verifier_key"])
    assert compute_key_id(name="PeterNeumann2", public_key=key.public_key) != key.key_id


# Go's encodings


def test_go_verifier_key_parses_and_formats_back_byte_for_byte() -> None:
    key = parse_verifier_key(PETER["verifier_key"])
    assert (key.name, key.label) == ("PeterNeumann", "PeterNeumann+c74f20a3")
    assert format_verifier_key(key) == PETER["verifier_key"]


def test_go_signer_key_formats_back_and_yields_the_go_verifier_key() -> None:
    signer = parse_signing_key(PETER["signer_key"])
    assert format_signing_key(signer) == PETER["signer_key"]
    assert format_verifier_key(signer.verifier()) == PETER["verifier_key"]


def test_go_enoch_verifier_key_parses() -> None:
    assert parse_verifier_key(ENOCH["verifier_key"]).key_id == 0xAF0CFE78


def test_every_mangling_of_the_go_verifier_key_is_refused() -> None:
    accepted = []
    for text in _manglings(PETER["verifier_key"]):
        try:
            parse_verifier_key(text)
        except MalformedProof:
            continue
        accepted.append(text)
    assert accepted == []


def test_every_mangling_of_the_go_signer_key_is_refused() -> None:
    accepted = []
    for text in _manglings(PETER["signer_key"]):
        try:
            parse_signing_key(text)
        except MalformedProof:
            continue
        accepted.append(text)
    assert accepted == []


def test_verifier_key_of_wrong_length_is_refused_even_with_matching_id() -> None:
    # Go's vector also has stray padding bits ("KEY=="), refused first here.
    with pytest.raises(MalformedProof, match="not canonical base64"):
        parse_verifier_key(GO["bad_verifier_keys"][0]["key"])
    short = b"\x01" + bytes(31)
    key_id = hashlib.sha256(b"log\n" + short).hexdigest()[:8]
    encoded = base64.b64encode(short).decode()
    with pytest.raises(MalformedProof, match="verifier key is 31 bytes, expected 32"):
        parse_verifier_key(f"log+{key_id}+{encoded}")


def test_verifier_key_of_unknown_type_is_refused_even_with_matching_id() -> None:
    unknown_type = GO["bad_verifier_keys"][1]["key"]
    with pytest.raises(MalformedProof, match=r"type 0x65 is not Ed25519 \(0x01\)"):
        parse_verifier_key(unknown_type)


def test_verifier_key_whose_id_does_not_match_is_refused() -> None:
    with pytest.raises(MalformedProof, match="key id c74f20a4 does not match key PeterNeumann"):
        parse_verifier_key(PETER["verifier_key"].replace("c74f20a3", "c74f20a4"))


def test_uppercase_key_id_is_refused() -> None:
    with pytest.raises(MalformedProof, match="not 8 lowercase hex digits"):
        parse_verifier_key(PETER["verifier_key"].replace("c74f20a3", "C74F20A3"))


def test_signer_key_without_private_key_prefix_is_refused() -> None:
    with pytest.raises(MalformedProof, match=r"does not start with PRIVATE\+KEY\+"):
        parse_signing_key(PETER["verifier_key"])


def test_verifier_key_with_non_canonical_base64_is_refused() -> None:
    # 'AB==' and 'AA==' both decode to one zero byte; only 'AA==' is canonical.
    with pytest.raises(MalformedProof, match="not canonical base64"):
        parse_verifier_key("PeterNeumann+c74f20a3+AB==")


# Key names


@pytest.mark.parametrize(
    ("name", "defect"),
    [
        ("", "key name is empty"),
        ("a+b", "contains '\\+'"),
        ("a b", "contains a space"),
        ("a\u00a0b", "contains a space"),
        ("a\u2003b", "contains a space"),
        ("a\tb", "contains a space"),
        ("a\x01b", "contains control character U\\+0001"),
    ],
)
def test_invalid_key_names_are_refused(name: str, defect: str) -> None:
    with pytest.raises(MalformedProof, match=defect):
        check_key_name(name)


@pytest.mark.parametrize("name", ["example.org/ledger", "PeterNeumann", "clinic.example/日誌"])
def test_valid_key_names_are_accepted(name: str) -> None:
    assert check_key_name(name) == name
    assert generate(name).verifier().name == name


def test_generate_refuses_an_invalid_name() -> None:
    with pytest.raises(MalformedProof, match="contains a space"):
        generate("my log")


# Signing and verifying


def test_generated_key_round_trips_through_its_text_encodings() -> None:
    key = generate("example.org/ledger")
    again = parse_signing_key(format_signing_key(key))
    assert again.verifier() == key.verifier()
    assert parse_verifier_key(format_verifier_key(key.verifier())) == key.verifier()


def test_signature_verifies_under_the_signers_verifier_key() -> None:
    key = generate("example.org/ledger")
    key.verifier().verify(message=b"hi", signature=key.sign(b"hi"))


def test_signature_over_another_message_is_signature_invalid() -> None:
    key = generate("example.org/ledger")
    with pytest.raises(SignatureInvalid, match=re.escape(key.verifier().label)):
        key.verifier().verify(message=b"hj", signature=key.sign(b"hi"))


def test_signature_invalid_is_chained_from_cryptographys_exception() -> None:
    key = generate("example.org/ledger")
    with pytest.raises(SignatureInvalid) as caught:
        key.verifier().verify(message=b"hi", signature=bytes(64))
    assert isinstance(caught.value.__cause__, InvalidSignature)


def test_signing_key_repr_does_not_show_the_seed() -> None:
    key = parse_signing_key(PETER["signer_key"])
    assert "AYEKFALV" not in repr(key)
    assert key.private_key.private_bytes_raw().hex() not in repr(key)


def test_verifier_key_built_from_a_public_key_computes_its_id() -> None:
    key = parse_verifier_key(PETER["verifier_key"])
    assert VerifierKey.from_public_key("PeterNeumann", key.public_key) == key


# The keyring


def test_empty_keyring_is_not_a_pass() -> None:
    with pytest.raises(InputError, match="no trusted keys"):
        Keyring([])
    with pytest.raises(InputError, match="no trusted keys"):
        parse_keyring("# all keys revoked\n\n")


def test_keyring_looks_keys_up_by_name_and_key_id_together() -> None:
    peter = parse_verifier_key(PETER["verifier_key"])
    ring = Keyring([peter, parse_verifier_key(ENOCH["verifier_key"])])
    assert ring.lookup("PeterNeumann", 0xC74F20A3) == peter
    assert ring.lookup("PeterNeumann", 0xC74F20A4) is None
    assert ring.lookup("PeterNeuman", 0xC74F20A3) is None
    assert ring.lookup("EnochRoot", 0xC74F20A3) is None


def test_the_same_key_trusted_twice_is_one_key() -> None:
    peter = parse_verifier_key(PETER["verifier_key"])
    assert len(Keyring([peter, peter])) == 1


def test_two_different_keys_under_one_name_and_id_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A 32-bit key id is easy to collide on purpose; the keyring must not guess.
    monkeypatch.setattr(keys, "compute_key_id", lambda **_: 0x01020304)
    first = VerifierKey("log", 0x01020304, bytes(32))
    second = VerifierKey("log", 0x01020304, bytes(31) + b"\x01")
    with pytest.raises(InputError, match=r"two different trusted keys are both named log\+01020304"):
        Keyring([first, second])


def test_keyring_text_skips_comments_and_blank_lines() -> None:
    ring = parse_keyring(f"# the log\n{PETER['verifier_key']}\n\n  # a witness\n{ENOCH['verifier_key']}\n")
    assert [key.label for key in ring] == ["PeterNeumann+c74f20a3", "EnochRoot+af0cfe78"]


def test_keyring_text_with_a_bad_line_is_refused() -> None:
    with pytest.raises(MalformedProof, match="not of the form name\\+keyid\\+key"):
        parse_keyring(f"{PETER['verifier_key']}\nnot-a-key\n")


# Signer key files


def test_saved_signer_key_file_has_mode_0600_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    old = os.umask(0)
    try:
        save_signing_key(generate("example.org/ledger"), path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_saved_signer_key_loads_back_as_the_same_key(tmp_path: Path) -> None:
    key = parse_signing_key(PETER["signer_key"])
    path = tmp_path / "peter.key"
    save_signing_key(key, path)
    assert path.read_text(encoding="utf-8") == PETER["signer_key"] + "\n"
    assert load_signing_key(path).verifier() == key.verifier()


def test_saving_a_signer_key_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    save_signing_key(generate("example.org/ledger"), path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        save_signing_key(generate("example.org/ledger"), path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_signer_key_file_open_to_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "log.key"
    save_signing_key(generate("example.org/ledger"), path)
    path.chmod(mode)
    with pytest.raises(InputError, match=f"has mode {mode:04o}; it must be private"):
        load_signing_key(path)
