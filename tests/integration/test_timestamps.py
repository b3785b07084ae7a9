"""Trusted time: checkpoints time-stamped by RFC 3161 authorities (OpenSSL's `openssl ts`), checked by `ledger verify`.

Each test runs the commands as an operator and an auditor would, on SQLite and
PostgreSQL, against a local authority (tests/tsa.py).
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from api.checkpoints import Signer
from api.settings import Settings
from ledger.errors import StoreUnavailable
from ledger.signing import KeyFolder
from ledger.store import Ledger
from ledger.timestamping import TimestampStore, token_file_name
from tests import sepsis_story as scenario
from tests.factories import many_shown
from tests.ledgers import env_settings
from tests.tsa import LocalTsa, local_tsa, make_authority

ACTOR = {"id": "ops", "role": "ledger_operator", "kind": "person"}


def ledger_cmd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


class Operator:
    """One ledger with a signing key and a checkpoint folder, and the commands run on it."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url, self.keys, self.published = url, folder / "keys", folder / "published"
        self.published.mkdir(parents=True)
        with Ledger(env_settings(url)) as ledger:
            KeyFolder(self.keys).activate_new("ledger.test.example", ledger=ledger, actor=ACTOR, reason=None)

    def folders(self) -> list[str]:
        return ["--database-url", self.url, "--keys-dir", str(self.keys), "--checkpoint-dir", str(self.published)]

    def append(self, count: int) -> None:
        with Ledger(env_settings(self.url)) as ledger:
            ledger.submit(many_shown(count))

    def checkpoint(self, *tsa_urls: str) -> subprocess.CompletedProcess[str]:
        done = ledger_cmd("checkpoint", *self.folders(), *(a for url in tsa_urls for a in ("--tsa", url)))
        assert done.returncode == 0, done.stderr
        return done

    def verify(self, *roots: Path) -> subprocess.CompletedProcess[str]:
        trusted = [a for root in roots for a in ("--trusted-tsa", str(root))]
        return ledger_cmd("verify", *self.folders(), *trusted, "--format", "json")

    def tokens(self) -> list[tuple[int, str, bytes]]:
        with Ledger(env_settings(self.url)) as ledger:
            return TimestampStore(ledger).tokens()


@pytest.fixture
def operator(store_url: str, tmp_path: Path) -> Operator:
    return Operator(store_url, tmp_path / "ledger")


@pytest.fixture
def tsa(tmp_path: Path) -> LocalTsa:
    with local_tsa(tmp_path / "tsa") as running:
        yield running


def size_of(done: subprocess.CompletedProcess[str]) -> int:
    return int(done.stdout.split("\n")[1])


def test_each_checkpoint_gets_a_token_kept_in_the_database_and_the_folder(operator: Operator, tsa: LocalTsa) -> None:
    operator.append(3)
    done = operator.checkpoint(tsa.url)
    size = size_of(done)
    assert "timestamped by 1 of 1 time-stamping authority" in done.stderr
    assert [(s, a) for s, a, _ in operator.tokens()] == [(size, tsa.url)]
    published = operator.published / token_file_name(size, tsa.url)
    assert published.read_bytes() == operator.tokens()[0][2]
    checked = subprocess.run(  # OpenSSL's own verifier agrees on what was hashed: the published note's bytes
        ["openssl", "ts", "-verify", "-data", str(operator.published / f"{size:020d}.checkpoint"),
         "-in", str(published), "-CAfile", str(tsa.root)], capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.stdout.strip() == "Verification: OK", checked.stderr


def test_verify_reports_each_checkpoint_in_the_log_no_later_than_its_trusted_time(
    operator: Operator, tsa: LocalTsa
) -> None:
    operator.append(3)
    first = size_of(operator.checkpoint(tsa.url))
    operator.append(2)
    second = size_of(operator.checkpoint(tsa.url))
    done = operator.verify(tsa.root)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [t["size"] for t in report["timestamps"]] == [first, second]
    assert all(t["tsa"] == "CN=Test TSA" for t in report["timestamps"])
    assert f"entries 1-{second}: in the log no later than {report['timestamps'][1]['no_later_than']}" in done.stderr


def test_a_token_for_another_checkpoint_is_a_finding_at_its_size(operator: Operator, tsa: LocalTsa) -> None:
    operator.append(3)
    first = size_of(operator.checkpoint(tsa.url))
    operator.append(2)
    second = size_of(operator.checkpoint())
    shutil.copy(operator.published / token_file_name(first, tsa.url), operator.published / token_file_name(second, "x"))
    done = operator.verify(tsa.root)
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)["findings"]
    assert [(f["seq"], f["kind"]) for f in findings] == [(second, "timestamp mismatch")]
    assert "other bytes than the checkpoint" in findings[0]["detail"]


def test_a_token_from_an_untrusted_authority_is_a_finding(operator: Operator, tsa: LocalTsa, tmp_path: Path) -> None:
    other_root = make_authority(tmp_path / "other", "Other TSA")
    operator.append(3)
    size = size_of(operator.checkpoint(tsa.url))
    done = operator.verify(other_root)
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)["findings"]
    # the same token twice: as the database keeps it and as the folder publishes it
    assert {(f["seq"], f["kind"]) for f in findings} == {(size, "timestamp untrusted")}
    assert len(findings) == 2


def test_an_unreachable_authority_loses_no_checkpoint_and_a_later_run_adds_the_token(
    operator: Operator, tsa: LocalTsa
) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}/tsa?secret-query"
    operator.append(3)
    done = operator.checkpoint(dead)
    size = size_of(done)
    assert "timestamped by 0 of 1" in done.stderr
    assert "no timestamp from 127.0.0.1 for the checkpoint at size" in done.stderr
    assert "secret-query" not in done.stderr
    assert (operator.published / f"{size:020d}.checkpoint").is_file()
    assert operator.tokens() == []
    assert "no trusted time-stamp on the checkpoint(s) at size" in operator.verify(tsa.root).stderr

    operator.checkpoint(tsa.url)  # the log has not grown: the same checkpoint is stamped now
    assert [(s, a) for s, a, _ in operator.tokens()] == [(size, tsa.url)]
    assert operator.verify(tsa.root).returncode == 0


def test_a_malformed_token_file_stops_verification_naming_the_file(operator: Operator) -> None:
    operator.append(3)
    size = size_of(operator.checkpoint())
    bad = operator.published / token_file_name(size, "x")
    bad.write_bytes(b"not a token")
    done = operator.verify()
    assert done.returncode == 2
    assert str(bad) in done.stderr and "Traceback" not in done.stderr


def test_tokens_without_trusted_tsa_keep_the_verdict_and_say_their_times_were_not_checked(
    operator: Operator, tsa: LocalTsa
) -> None:
    operator.append(3)
    operator.checkpoint(tsa.url)
    done = operator.verify()
    assert done.returncode == 0, done.stderr
    assert "timestamps" not in json.loads(done.stdout)
    assert "pass --trusted-tsa to learn their times" in done.stderr


def test_stored_tokens_are_never_rewritten(operator: Operator, tsa: LocalTsa) -> None:
    operator.append(3)
    operator.checkpoint(tsa.url)
    with Ledger(env_settings(operator.url)) as ledger:
        store = TimestampStore(ledger)
        for change in [("UPDATE {t} SET token = %s", (b"forged",)), ("DELETE FROM {t}", ())]:
            with pytest.raises(StoreUnavailable) as refused:
                store._run([change])
            assert "append-only" in f"{refused.value} {refused.value.__cause__}"
        assert len(store.tokens()) == 1


INCIDENT = "INC-2026-041"


def exported_story(operator: Operator, tsa: LocalTsa, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, int]:
    """The sepsis story with a stamped checkpoint after its care, then the incident, exported with stamping on."""
    with Ledger(env_settings(operator.url)) as ledger:
        ledger.submit(scenario.governance() + scenario.care())
    first = size_of(operator.checkpoint(tsa.url))
    with Ledger(env_settings(operator.url)) as ledger:
        ledger.submit(scenario.incident())
    monkeypatch.setenv("LEDGER_TSA_URLS", tsa.url)
    bundle = operator.published.parent / "bundle.json"
    done = ledger_cmd("export", "--incident", INCIDENT, *operator.folders(), "--output", str(bundle))
    assert done.returncode == 0, done.stderr
    return bundle, first


def verify_bundle_cmd(operator: Operator, bundle: Path, *roots: Path) -> subprocess.CompletedProcess[str]:
    trusted = [a for root in roots for a in ("--trusted-tsa", str(root))]
    return ledger_cmd("verify-bundle", str(bundle), "--trusted-keys", str(operator.keys / "trusted.keys"),
                      *trusted, "--format", "json")  # fmt: skip


def test_verify_bundle_bounds_each_event_by_the_first_time_stamped_checkpoint_covering_it(
    operator: Operator, tsa: LocalTsa, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle, first = exported_story(operator, tsa, monkeypatch)
    assert len(json.loads(bundle.read_text())["timestamps"]) == 2  # the care's checkpoint and the bundle's own
    done = verify_bundle_cmd(operator, bundle, tsa.root)
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)["entries"]
    assert all(e["tsa"] == "CN=Test TSA" and e["in_log_no_later_than"] for e in entries)
    early = {e["in_log_no_later_than"] for e in entries if e["seq"] <= first}
    late = {e["in_log_no_later_than"] for e in entries if e["seq"] > first}
    assert len(early) == 1 and len(late) == 1 and min(early) <= min(late)
    assert "TRUSTED TIME: 17 of 17 events were in the log no later than" in done.stderr
    assert f"seq {entries[0]['seq']}: " in done.stderr and "in the log no later than" in done.stderr


def test_verify_bundle_without_trusted_tsa_verifies_and_says_the_time_was_not_checked(
    operator: Operator, tsa: LocalTsa, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle, _ = exported_story(operator, tsa, monkeypatch)
    done = verify_bundle_cmd(operator, bundle)
    assert done.returncode == 0, done.stderr
    assert "TIME NOT CHECKED" in done.stderr
    assert all("in_log_no_later_than" not in e for e in json.loads(done.stdout)["entries"])


def test_a_bundle_token_from_an_untrusted_authority_fails(
    operator: Operator, tsa: LocalTsa, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle, _ = exported_story(operator, tsa, monkeypatch)
    done = verify_bundle_cmd(operator, bundle, make_authority(tmp_path / "other", "Other TSA"))
    assert done.returncode == 1
    failures = json.loads(done.stdout)["failures"]
    assert len(failures) == 2 and all("not signed by a trusted time-stamping authority" in f for f in failures)


def test_a_bundle_token_moved_to_another_checkpoint_fails_naming_it(
    operator: Operator, tsa: LocalTsa, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle, _ = exported_story(operator, tsa, monkeypatch)
    document = json.loads(bundle.read_text())
    timed = document["timestamps"]
    timed[0]["tokens"], timed[1]["tokens"] = timed[1]["tokens"], timed[0]["tokens"]
    bundle.write_text(json.dumps(document))
    done = verify_bundle_cmd(operator, bundle, tsa.root)
    assert done.returncode == 1
    assert [f.split(":")[0] for f in json.loads(done.stdout)["failures"]] == ["timestamps[0]", "timestamps[1]"]
    assert "timestamps other bytes than the checkpoint" in done.stderr


def test_a_malformed_token_in_a_bundle_makes_it_no_bundle(
    operator: Operator, tsa: LocalTsa, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle, _ = exported_story(operator, tsa, monkeypatch)
    document = json.loads(bundle.read_text())
    document["timestamps"][0]["tokens"][0] = base64.b64encode(b"not a token").decode()
    bundle.write_text(json.dumps(document))
    done = verify_bundle_cmd(operator, bundle, tsa.root)
    assert done.returncode == 2
    assert "timestamps[0].tokens[0]: not an RFC 3161 time-stamp response" in done.stderr


def test_the_servers_signer_stamps_with_the_authorities_the_environment_names(
    operator: Operator, tsa: LocalTsa, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_TSA_URLS", f"{tsa.url} {tsa.url}?second")
    settings = Settings(database_url=operator.url, keys_dir=str(operator.keys), checkpoint_dir=str(operator.published))
    operator.append(2)
    with Ledger(env_settings(operator.url)) as ledger:
        signed = Signer(settings.ledger_paths()).sign(ledger)  # what the checkpoint schedule calls on each tick
    assert signed is not None
    assert [(s, a) for s, a, _ in operator.tokens()] == [
        (signed.checkpoint.size, tsa.url),
        (signed.checkpoint.size, f"{tsa.url}?second"),
    ]
    assert len(list(operator.published.glob(f"{signed.checkpoint.size:020d}.*.tsr"))) == 2


def test_a_trusted_tsa_file_without_a_certificate_is_a_usage_error_naming_it(operator: Operator) -> None:
    garbage = operator.published.parent / "root.pem"
    garbage.write_text("not a certificate\n")
    done = operator.verify(garbage)
    assert done.returncode == 2
    assert f"trusted TSA certificate file {garbage} holds no PEM certificate" in done.stderr


def test_a_bundle_with_tokens_where_rfc3161_client_is_missing_could_not_run_and_says_what_to_install(
    operator: Operator, tsa: LocalTsa, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle, _ = exported_story(operator, tsa, monkeypatch)
    without = (  # importing a module that sys.modules maps to None raises ImportError, as if it were not installed
        "import sys; sys.modules['rfc3161_client'] = None; from scripts.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    trusted = str(operator.keys / "trusted.keys")
    done = subprocess.run(
        [sys.executable, "-c", without, "verify-bundle", str(bundle), "--trusted-keys", trusted],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "checking them needs rfc3161-client (pip install rfc3161-client)" in done.stderr
    assert "Traceback" not in done.stderr
