"""`ledger witness` over real HTTP on 127.0.0.1: it cosigns a growing log and nothing else (c2sp.org/tlog-witness).

Each test starts its witnesses in threads (tests.witnesses.running) and stops them on leaving; the state
files live in the test's tmp_path, so a witness stopped and started again on its file is the same witness.
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from ledger.proof.cosignature import check_quorum, parse_policy
from ledger.proof.keys import generate
from ledger.witness import MAX_PROOF_LINES
from ledger.witnessing import ask_witnesses, cosigned, request_body
from tests.witnesses import ToyLog, WitnessFiles, running, witness_files

ORIGIN = "hospital.example/ledger"


@pytest.fixture
def log() -> ToyLog:
    return ToyLog(generate("hospital.example/ledger-key"), ORIGIN)


def _witness(tmp_path: Path, name: str, log: ToyLog) -> WitnessFiles:
    return witness_files(tmp_path / name, name, origin=ORIGIN, log_keys=[log.key])


def _post(url: str, *, old: int, proof: list[bytes], note: str) -> httpx.Response:
    return httpx.post(f"{url}/add-checkpoint", content=request_body(old=old, proof=proof, note=note), timeout=10)


def _add(url: str, log: ToyLog, *, old: int) -> httpx.Response:
    return _post(url, old=old, proof=log.proof(old), note=log.checkpoint())


def _assert_conflict(response: httpx.Response, size: int) -> None:
    assert response.status_code == 409
    assert response.headers["content-type"] == "text/x.tlog.size"
    assert response.text == f"{size}\n"


def test_two_witnesses_cosign_a_growing_log_and_a_two_of_two_policy_is_met(tmp_path: Path, log: ToyLog) -> None:
    w1, w2 = _witness(tmp_path, "w1.example", log), _witness(tmp_path, "w2.example", log)
    with running(w1) as url1, running(w2) as url2:
        policy = parse_policy(f"{w1.policy_line('w1', url1)}\n{w2.policy_line('w2', url2)}\n"
                              "group both all w1 w2\nquorum both\n")  # fmt: skip
        old = 0
        for growth in (3, 5, 1, 13):
            log.grow(growth)
            note = log.checkpoint()
            answers = ask_witnesses(note, policy, old=old, proof_from=log.proof)
            assert [a.problem for a in answers] == ["", ""]
            result = check_quorum(cosigned(note, answers), policy)
            assert result.met and set(result.cosigned_at) == {"w1", "w2"}
            old = log.size


def test_cosigned_checkpoint_keeps_the_logs_signature_first(tmp_path: Path, log: ToyLog) -> None:
    w1 = _witness(tmp_path, "w1.example", log)
    log.grow(4)
    with running(w1) as url:
        note = log.checkpoint()
        response = _add(url, log, old=0)
    assert response.status_code == 200
    assert response.text.startswith("— w1.example ") and response.text.endswith("\n")
    assert (note + response.text).startswith(note)


def test_witness_refuses_a_rolled_back_checkpoint_with_409_and_its_size(tmp_path: Path, log: ToyLog) -> None:
    w1 = _witness(tmp_path, "w1.example", log)
    log.grow(5)
    rolled_back = log.checkpoint()
    log.grow(3)
    with running(w1) as url:
        assert _add(url, log, old=0).status_code == 200
        _assert_conflict(_post(url, old=0, proof=[], note=rolled_back), 8)
        _assert_conflict(_post(url, old=5, proof=[], note=rolled_back), 8)


def test_witness_refuses_a_fork_at_its_size_with_409(tmp_path: Path, log: ToyLog) -> None:
    w1 = _witness(tmp_path, "w1.example", log)
    fork = ToyLog(log.key, ORIGIN, salt=b"fork")
    log.grow(8)
    fork.grow(8)
    with running(w1) as url:
        assert _add(url, log, old=0).status_code == 200
        _assert_conflict(_post(url, old=8, proof=[], note=fork.checkpoint()), 8)


def test_witness_refuses_a_fork_that_is_not_an_extension_with_422(tmp_path: Path, log: ToyLog) -> None:
    # The spec's code for a consistency proof that does not verify from the witness's own root.
    w1 = _witness(tmp_path, "w1.example", log)
    fork = ToyLog(log.key, ORIGIN, salt=b"fork")
    log.grow(8)
    fork.grow(12)
    with running(w1) as url:
        assert _add(url, log, old=0).status_code == 200
        response = _post(url, old=8, proof=fork.proof(8), note=fork.checkpoint())
        assert response.status_code == 422
        log.grow(4)
        assert _add(url, log, old=8).status_code == 200


def test_witness_restarted_on_its_state_file_keeps_its_size_and_refuses_an_old_head(
    tmp_path: Path, log: ToyLog
) -> None:
    w1 = _witness(tmp_path, "w1.example", log)
    log.grow(6)
    old_head = log.checkpoint()
    log.grow(4)
    with running(w1) as url:
        assert _add(url, log, old=0).status_code == 200
    with running(w1) as url:  # a new server, a new Witness, the same state file
        _assert_conflict(_post(url, old=0, proof=[], note=old_head), 10)
        log.grow(2)
        assert _add(url, log, old=10).status_code == 200


def test_log_retries_from_the_size_the_witness_says_it_holds(tmp_path: Path, log: ToyLog) -> None:
    w1 = _witness(tmp_path, "w1.example", log)
    log.grow(8)
    with running(w1) as url:
        assert _add(url, log, old=0).status_code == 200
        log.grow(4)
        policy = parse_policy(f"{w1.policy_line('w1', url)}\nquorum w1\n")
        answers = ask_witnesses(log.checkpoint(), policy, old=3, proof_from=log.proof)  # a stale guess
    assert answers[0].problem == "" and answers[0].cosignature is not None


def test_log_reports_a_witness_ahead_of_it_without_retrying_around_it(tmp_path: Path, log: ToyLog) -> None:
    w1 = _witness(tmp_path, "w1.example", log)
    log.grow(9)
    with running(w1) as url:
        assert _add(url, log, old=0).status_code == 200
        policy = parse_policy(f"{w1.policy_line('w1', url)}\nquorum w1\n")
        answers = ask_witnesses(log.checkpoint(5), policy, old=0, proof_from=lambda n: log.proof(n, 5))
    assert answers[0].cosignature is None and "another head at size 9" in answers[0].problem


def test_concurrent_submissions_from_one_old_size_are_cosigned_once(tmp_path: Path, log: ToyLog) -> None:
    # The spec's race: check and update are one transaction, so only one of them can move the size from 0.
    w1 = _witness(tmp_path, "w1.example", log)
    log.grow(10)
    notes = [log.checkpoint(size) for size in range(2, 11)]
    statuses: list[int] = []
    with running(w1) as url:
        threads = [
            threading.Thread(target=lambda n=n: statuses.append(_post(url, old=0, proof=[], note=n).status_code))
            for n in notes
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(statuses) == [200] + [409] * (len(notes) - 1)


def test_unknown_origin_is_404(tmp_path: Path, log: ToyLog) -> None:
    w1 = _witness(tmp_path, "w1.example", log)
    other = ToyLog(log.key, "elsewhere.example/log")
    other.grow(2)
    with running(w1) as url:
        assert _add(url, other, old=0).status_code == 404


def test_checkpoint_signed_by_an_untrusted_key_is_403(tmp_path: Path, log: ToyLog) -> None:
    w1 = _witness(tmp_path, "w1.example", log)
    impostor = ToyLog(generate("hospital.example/ledger-key"), ORIGIN)
    impostor.grow(2)
    with running(w1) as url:
        assert _add(url, impostor, old=0).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 01\n\n",
        b"new 0\n\nx",
        "old 0\n{proof}\n\n{note}",
        b"old 0\nnot base64\n\n",
        "old 0\n" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" * (MAX_PROOF_LINES + 1) + "\n{note}",
        "old 9\n\n{note}",
        b"\xff\xfe",
    ],
    ids=["empty", "leading-zero", "no-old", "short-hash", "bad-base64", "64-proof-lines", "old-above-size", "latin"],
)
def test_malformed_request_is_400(tmp_path: Path, log: ToyLog, body: bytes | str) -> None:
    w1 = _witness(tmp_path, "w1.example", log)
    log.grow(3)
    if isinstance(body, str):
        body = body.replace("{proof}", "AAAA").replace("{note}", log.checkpoint()).encode()
    with running(w1) as url:
        response = httpx.post(f"{url}/add-checkpoint", content=body, timeout=10)
    assert response.status_code == 400
    assert ORIGIN not in response.text  # nothing of the request is echoed


def test_proof_lines_sent_with_old_size_zero_are_refused(tmp_path: Path, log: ToyLog) -> None:
    w1 = _witness(tmp_path, "w1.example", log)
    log.grow(4)
    with running(w1) as url:
        assert _post(url, old=0, proof=log.proof(2), note=log.checkpoint()).status_code == 422


def test_log_reports_a_witness_that_cosigned_a_fork_as_a_conflict(tmp_path: Path, log: ToyLog) -> None:
    w1 = _witness(tmp_path, "w1.example", log)
    fork = ToyLog(log.key, ORIGIN, salt=b"fork")
    fork.grow(6)
    log.grow(9)
    with running(w1) as url:
        assert _add(url, fork, old=0).status_code == 200  # the witness was shown a fork first
        policy = parse_policy(f"{w1.policy_line('w1', url)}\nquorum w1\n")
        answers = ask_witnesses(log.checkpoint(), policy, old=6, proof_from=log.proof)
    assert answers[0].cosignature is None and "another head at size 6 (conflict, HTTP 422)" in answers[0].problem
