"""Evidence bundles: exported from either store, verified offline, and any flipped byte is caught."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from ledger.errors import InvalidBundle
from ledger.proof.bundle import parse_bundle, verify_bundle
from ledger.proof.keys import parse_keyring
from ledger.signing import KeyFolder
from ledger.store import Ledger
from scripts.cli import main
from tests import sepsis_story as scenario
from tests.ledgers import env_settings

INCIDENT = "INC-2026-041"


def export(url: str, tmp_path: Path) -> tuple[Path, Path]:
    keys, checkpoints, bundle = tmp_path / "keys", tmp_path / "checkpoints", tmp_path / "bundle.json"
    with Ledger(env_settings(url)) as ledger:
        ledger.submit(scenario.story())
        actor = {"id": "ops", "role": "ledger_operator", "kind": "person"}
        KeyFolder(keys).activate_new("ledger.test.example", ledger=ledger, actor=actor, reason=None)
    code = main(
        [
            "export",
            "--incident",
            INCIDENT,
            "--database-url",
            url,
            "--keys-dir",
            str(keys),
            "--checkpoint-dir",
            str(checkpoints),
            "--output",
            str(bundle),
        ]
    )
    assert code == 0
    return bundle, keys / "trusted.keys"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    tmp = tmp_path_factory.mktemp("bundle")
    bundle, trusted = export(f"sqlite:///{tmp}/ledger.sqlite3", tmp)
    return bundle.read_bytes(), trusted


def fails(data: bytes, trusted: Path) -> bool:
    try:
        bundle = parse_bundle(data)
    except InvalidBundle:
        return True
    return not verify_bundle(bundle, trusted=parse_keyring(trusted.read_text())).ok


def test_exported_bundle_verifies_offline_with_the_trusted_keys(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle, trusted = export(store_url, tmp_path)
    assert main(["verify-bundle", str(bundle), "--trusted-keys", str(trusted)]) == 0
    err = capsys.readouterr().err
    assert "VERIFIED: 17 events" in err and "DOES NOT PROVE" in err
    document = json.loads(bundle.read_text())
    types = [json.loads(base64.b64decode(e["event"]))["type"] for e in document["entries"]]
    assert {
        "incident.reported",
        "output.generated",
        "output.shown",
        "output.acted",
        "tool.approved",
        "tool.validated",
        "tool.threshold_changed",
        "monitoring.checked",
        "remediation.completed",
    } <= set(types)
    assert "clinician.trained" not in types  # only clin-ada was trained, and she never saw this output


def test_without_trusted_keys_verify_bundle_refuses_to_say_verified(
    exported: tuple[bytes, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(exported[0])
    assert main(["verify-bundle", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("ledger verify-bundle: --trusted-keys FILE is required")
    assert captured.err.count("\n") == 1 and "VERIFIED" not in captured.err and captured.out == ""


def test_self_consistency_only_says_so_first_and_never_says_verified(
    exported: tuple[bytes, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(exported[0])
    assert main(["verify-bundle", str(path), "--self-consistency-only", "--format", "json"]) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert lines[0].startswith("SELF-CONSISTENCY ONLY: checked against the keys the bundle itself carries")
    assert "VERIFIED" not in captured.err and "signed by" not in captured.err
    assert "SELF-CONSISTENT (not verified: no trusted keys): 17 events" in captured.err
    report = json.loads(captured.out)
    assert report["result"] == "self-consistent" and report["keys"] == "bundle"


def test_self_consistency_only_still_fails_an_altered_event(
    exported: tuple[bytes, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(exported[0])
    document["entries"][3]["event"] = document["entries"][3]["event"].replace("A", "B", 1)
    path = tmp_path / "altered.json"
    path.write_text(json.dumps(document))
    assert main(["verify-bundle", str(path), "--self-consistency-only"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("SELF-CONSISTENCY ONLY") and "FAILED: 1 problem\n" in err


def test_trusted_keys_and_self_consistency_only_together_are_a_usage_error(
    exported: tuple[bytes, Path], tmp_path: Path
) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(exported[0])
    with pytest.raises(SystemExit) as exited:
        main(["verify-bundle", str(path), "--self-consistency-only", "--trusted-keys", str(exported[1])])
    assert exited.value.code == 2


def test_json_report_goes_to_stdout_and_human_text_to_stderr(
    exported: tuple[bytes, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(exported[0])
    assert main(["verify-bundle", str(path), "--trusted-keys", str(exported[1]), "--format", "json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["result"] == "verified" and report["keys"] == "trusted" and report["incident_id"] == INCIDENT
    assert len(report["entries"]) == 17 and report["failures"] == [] and report["checkpoint"]["size"] == 21
    assert "VERIFIED: 17 events" in captured.err and "{" not in captured.err


def test_json_report_with_output_goes_to_the_file_and_names_the_failures(
    exported: tuple[bytes, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(exported[0])
    document["entries"][0]["hash"] = "0" * 64
    path, output = tmp_path / "altered.json", tmp_path / "report.json"
    path.write_text(json.dumps(document))
    assert main(["verify-bundle", str(path), "--trusted-keys", str(exported[1]), "--output", str(output)]) == 1
    assert capsys.readouterr().out == ""
    report = json.loads(output.read_text())
    assert report["result"] == "failed" and len(report["failures"]) == 1
    assert report["failures"][0].startswith(f"entry seq {document['entries'][0]['seq']}: the chain hash")


def _spans(text: str) -> dict[str, list[tuple[int, int]]]:
    """Byte ranges of each protected part of the file: events, proofs, hashes, checkpoint and signature."""
    spans: dict[str, list[tuple[int, int]]] = {"event": [], "proof": [], "hash": [], "checkpoint": [], "position": []}
    for match in re.finditer(r'"event": "([^"]+)"', text):
        spans["event"].append(match.span(1))
    spans["proof"] = [
        (match.start() + m.start(1), match.start() + m.end(1))
        for match in re.finditer(r'"inclusion_proof": \[[^\]]*\]', text)
        for m in re.finditer(r'"([0-9a-f]{64})"', match.group(0))
    ]
    spans["hash"] = [m.span(1) for m in re.finditer(r'"(?:prev_hash|hash)": "([0-9a-f]{64})"', text)]
    spans["position"] = [m.span(1) for m in re.finditer(r'"(?:seq|recorded_us)": (\d+)', text)]
    spans["checkpoint"] = [re.search(r'"checkpoint": "((?:[^"\\]|\\.)*)"', text).span(1)]  # type: ignore[union-attr]
    return spans


@pytest.mark.parametrize("part", ["event", "proof", "hash", "position", "checkpoint"])
def test_flipping_any_byte_of_a_protected_part_fails_verification(exported: tuple[bytes, Path], part: str) -> None:
    data, trusted = exported
    assert not fails(data, trusted)
    spans = _spans(data.decode())[part]
    assert spans
    # Every byte of the first and last span of each kind, and every 7th byte of the others.
    positions = [p for i, (a, b) in enumerate(spans) for p in range(a, b) if i in (0, len(spans) - 1) or p % 7 == 0]
    survivors = []
    for position in positions:
        flipped = bytearray(data)
        flipped[position] ^= 0x01
        if not fails(bytes(flipped), trusted):
            survivors.append(position)
    assert survivors == [], f"{len(survivors)} flipped bytes in {part} went unnoticed"


def _with_signature_char(text: str, char: str) -> str:
    """The bundle with a base64 character of its checkpoint's signature (past the key id) replaced by ``char``."""
    at = text.index("— ledger.test.example ") + len("— ledger.test.example ") + 20
    replacement = char if text[at] != char else chr(ord(char) + 1)
    return text[:at] + replacement + text[at + 1 :]


def test_a_changed_signature_is_an_integrity_failure_naming_the_checkpoint(
    exported: tuple[bytes, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, trusted = exported
    path = tmp_path / "changed.json"
    path.write_text(_with_signature_char(data.decode(), "A"))  # still base64: the signature no longer verifies
    assert main(["verify-bundle", str(path), "--trusted-keys", str(trusted)]) == 1
    assert "FAIL checkpoint: invalid signature for key ledger.test.example+" in capsys.readouterr().err


def test_a_signature_that_is_not_base64_makes_a_file_that_is_not_a_bundle(
    exported: tuple[bytes, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, trusted = exported
    path = tmp_path / "garbled.json"
    path.write_text(_with_signature_char(data.decode(), "*"))
    assert main(["verify-bundle", str(path), "--trusted-keys", str(trusted)]) == 2
    assert "is not a well-formed bundle: checkpoint: signature line 1: signature is not valid base64" in (
        capsys.readouterr().err
    )


def test_a_flipped_event_byte_is_named_by_its_seq(
    exported: tuple[bytes, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, trusted = exported
    document = json.loads(data)
    document["entries"][3]["event"] = document["entries"][3]["event"].replace("A", "B", 1)
    path = tmp_path / "flipped.json"
    path.write_text(json.dumps(document))
    assert main(["verify-bundle", str(path), "--trusted-keys", str(trusted)]) == 1
    assert f"entry seq {document['entries'][3]['seq']}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("about", {"a": 1}, "about: not a string"),
        ("verifier_keys", [], "verifier_keys: not a non-empty list"),
        ("verifier_keys", ["x"], "verifier_keys[0]: "),
        ("verifier_keys", [7], "verifier_keys[0]: not a string"),
    ],
)
def test_a_malformed_part_the_trusted_keys_make_unused_is_still_refused_by_name_as_usage(
    exported: tuple[bytes, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: object,
    message: str,
) -> None:  # fmt: skip
    data, trusted = exported
    document = json.loads(data)
    document[field] = value
    path = tmp_path / "malformed.json"
    path.write_text(json.dumps(document))
    assert main(["verify-bundle", str(path), "--trusted-keys", str(trusted)]) == 2
    assert f"{path} is not a well-formed bundle: {message}" in capsys.readouterr().err


def test_an_unreadable_bundle_cannot_run(exported: tuple[bytes, Path], tmp_path: Path) -> None:
    assert main(["verify-bundle", str(tmp_path / "missing.json"), "--trusted-keys", str(exported[1])]) == 3


def test_export_of_an_unknown_incident_is_a_usage_error(sqlite_url: str, tmp_path: Path) -> None:
    with Ledger(env_settings(sqlite_url)) as ledger:
        ledger.submit(scenario.story())
    args = ["export", "--incident", "INC-NONE", "--database-url", sqlite_url]
    assert main([*args, "--keys-dir", str(tmp_path), "--checkpoint-dir", str(tmp_path)]) == 2
