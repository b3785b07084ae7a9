"""Dependencies point one way: api -> projections -> ledger, scripts -> ledger (and projections).

Nothing imports api; the auditor's verification commands import ledger only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {
    "ledger": {"ledger"},
    "projections": {"ledger", "projections"},
    "api": {"api", "projections", "ledger"},
    "scripts": {"scripts", "ledger", "projections"},
}
AUDITOR_TOOLS = ["scripts/verify.py", "scripts/verify_bundle.py", "scripts/trust.py", "scripts/common.py",
                 "scripts/files.py", "scripts/pgschema.py"]  # fmt: skip


def project_imports(path: Path) -> set[str]:
    """Top-level project packages a module imports (anywhere in it)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found |= {n.split(".")[0] for n in names if n.split(".")[0] in ALLOWED}
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_import_only_what_their_layer_allows(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(project_imports(path) - ALLOWED[package])
        for path in sorted((ROOT / package).rglob("*.py"))
        if project_imports(path) - ALLOWED[package]
    }
    assert offenders == {}


@pytest.mark.parametrize("module", AUDITOR_TOOLS)
def test_the_auditors_tools_import_the_ledger_only(module: str) -> None:
    assert project_imports(ROOT / module) <= {"ledger", "scripts"}
