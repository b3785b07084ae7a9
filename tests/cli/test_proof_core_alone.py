"""The proof core stands alone: an auditor verifies a bundle with cryptography, orjson and pydantic only.

A bundle is made here from the proof core's own functions; then a fresh
interpreter imports the proof core, verifies the bundle and runs
`ledger verify-bundle` on it, and must load no database driver, no
eventsourcing and no web framework. The last test does it in a virtual
environment that has nothing else installed.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from ledger.catalogue import EXAMPLES, canonical_bytes, validate_event
from ledger.proof import merkle
from ledger.proof.bundle import Bundle, BundleEntry
from ledger.proof.chain import GENESIS, entry_bytes, link_hash
from ledger.proof.checkpoint import Checkpoint, sign_checkpoint
from ledger.proof.keys import format_verifier_key, generate

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("psycopg", "sqlite3", "_sqlite3", "eventsourcing", "fastapi", "starlette", "uvicorn", "httpx")
PROOF_CORE_DEPENDENCIES = ("cryptography", "orjson", "pydantic")
VERIFY = """
import sys
from pathlib import Path
from ledger.proof import bundle, canonical, chain, checkpoint, keys, merkle, note, sealed, verify
report = bundle.verify_bundle(bundle.parse_bundle(Path(sys.argv[1]).read_bytes()),
                              trusted=keys.parse_keyring(Path(sys.argv[2]).read_text()))
assert report.ok, report.failures
from scripts.cli import main
code = main(["verify-bundle", sys.argv[1], "--trusted-keys", sys.argv[2]])
print(code, sorted(m for m in sys.modules if m.startswith(%r) or m.split(".")[0] in %r))
""" % ("ledger.store", FORBIDDEN)  # noqa: UP031 (the braces of the script are its own)


@pytest.fixture(scope="module")
def bundle_and_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Three catalogue events, chained, in a tree, under a signed checkpoint: a bundle as `ledger export` makes."""
    folder = tmp_path_factory.mktemp("alone")
    bodies = [canonical_bytes(validate_event(EXAMPLES[t])) for t in ("tool.registered", "incident.reported")]
    entries, leaves, prev = [], [], GENESIS
    for seq, body in enumerate(bodies, start=1):
        entry = entry_bytes(seq=seq, recorded_us=1_700_000_000_000_000 + seq, body=body)
        entries.append((seq, entry, body, prev, link_hash(prev=prev, entry=entry)))
        leaves.append(merkle.leaf_hash(entry))
        prev = entries[-1][-1]
    nodes = merkle.MemoryNodes(merkle.nodes_for_append(start_index=0, leaf_hashes=leaves, reader=merkle.MemoryNodes()))
    size, key = len(leaves), generate("ledger.alone.example")
    note = sign_checkpoint(Checkpoint("ledger.alone.example/log", size, merkle.root(size, nodes)), key)
    proven = [
        BundleEntry(seq, 1_700_000_000_000_000 + seq, body, before, hash_,
                    merkle.inclusion_proof(index=seq - 1, size=size, reader=nodes))
        for seq, _, body, before, hash_ in entries
    ]  # fmt: skip
    verifier = format_verifier_key(key.verifier())
    (folder / "bundle.json").write_bytes(Bundle("INC-2026-041", note, [verifier], proven).to_bytes())
    (folder / "trusted.keys").write_text(verifier + "\n")
    return folder / "bundle.json", folder / "trusted.keys"


def run_alone(python: str, bundle: Path, trusted: Path) -> str:
    """Verify in a new interpreter that sees the project's source and nothing installed beyond ``python``'s own."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONNOUSERSITE": "1"}
    done = subprocess.run(
        [python, "-c", VERIFY, str(bundle), str(trusted)], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_verifying_a_bundle_loads_no_database_driver_eventsourcing_or_web_framework(
    bundle_and_keys: tuple[Path, Path],
) -> None:
    assert run_alone(sys.executable, *bundle_and_keys) == "0 []"


def test_a_bundle_verifies_in_a_fresh_environment_with_only_the_proof_cores_dependencies(
    bundle_and_keys: tuple[Path, Path], tmp_path: Path
) -> None:
    env = tmp_path / "venv"
    venv.create(env, with_pip=False, system_site_packages=False)
    site = next((env / "lib").glob("python*/site-packages"))
    for name in _with_requirements(PROOF_CORE_DEPENDENCIES):
        _install_as_installed_here(name, site)
    installed = sorted(d.metadata["Name"].lower() for d in importlib.metadata.distributions(path=[str(site)]))
    assert not {"psycopg", "eventsourcing", "fastapi", "httpx"} & set(installed)
    assert run_alone(str(env / "bin" / "python"), *bundle_and_keys) == "0 []"


def _with_requirements(names: tuple[str, ...]) -> set[str]:
    """The distributions ``names`` need to run (their non-optional requirements, recursively)."""
    needed, todo = set(), list(names)
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in needed:
            continue
        needed.add(name)
        for requirement in importlib.metadata.requires(name) or []:
            if "extra ==" not in requirement:
                todo.append(requirement.split(";")[0].split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip())
    return needed


def _install_as_installed_here(name: str, site: Path) -> None:
    """Copy a distribution's files (as its RECORD lists them) from this environment: offline, and the same version."""
    dist = importlib.metadata.distribution(name)
    for file in dist.files or []:
        source = Path(str(dist.locate_file(file)))
        if source.is_file() and not str(file).startswith(".."):
            target = site / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
