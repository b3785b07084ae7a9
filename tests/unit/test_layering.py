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
# `ledger serve` starts the API, and the benchmark serves its unsealed twin: they may import it, openly
COMPOSITION_ROOTS = {"scripts/serve.py": {"api"}, "scripts/bench_apps.py": {"api"}}


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
    allowed = {str(p.relative_to(ROOT)): ALLOWED[package] for p in sorted((ROOT / package).rglob("*.py"))}
    for path, extra in COMPOSITION_ROOTS.items():
        if path in allowed:
            allowed[path] = allowed[path] | extra
    offenders = {
        path: sorted(project_imports(ROOT / path) - layer)
        for path, layer in allowed.items()
        if project_imports(ROOT / path) - layer
    }
    assert offenders == {}


@pytest.mark.parametrize("module", AUDITOR_TOOLS)
def test_the_auditors_tools_import_the_ledger_only(module: str) -> None:
    assert project_imports(ROOT / module) <= {"ledger", "scripts"}


# -- The module graph ------------------------------------------------------------------

PROJECT = tuple(ALLOWED)
PROOF_CORE_MAY_IMPORT = ("ledger.proof", "ledger.errors", "ledger.catalogue")
FORBIDDEN_IN_PROOF_CORE = {"psycopg", "psycopg_pool", "sqlite3", "_sqlite3", "eventsourcing", "fastapi", "starlette"}


def _modules() -> dict[str, Path]:
    """Every module of the project by dotted name (a package by its __init__)."""
    found = {}
    for package in PROJECT:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def imports_of(name: str) -> tuple[set[str], set[str]]:
    """(project modules, other top-level packages) that module ``name`` imports, anywhere in it."""
    path, project, other = MODULES[name], set(), set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import module` imports the module; `from module import name`, the module
            targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                       for a in node.names]  # fmt: skip
        else:
            continue
        for target in targets:
            (project if target.split(".")[0] in PROJECT else other).add(target)
    return {t for t in project if t in MODULES and t != name}, {t.split(".")[0] for t in other}


GRAPH = {name: imports_of(name)[0] for name in MODULES}


def reachable(start: str) -> set[str]:
    """The project modules ``start`` imports, directly or through others (``start`` included)."""
    seen, todo = {start}, [start]
    while todo:
        for target in GRAPH[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def cycles() -> list[list[str]]:
    """Groups of modules that import each other, directly or round a loop (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        for target in GRAPH[name]:
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            group = []
            while not group or group[-1] != name:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for name in sorted(GRAPH):
        if name not in index:
            visit(name)
    return found


PROOF_CORE = sorted(name for name in MODULES if name.startswith("ledger.proof"))


def test_no_module_imports_itself_round_a_loop() -> None:
    assert cycles() == []


@pytest.mark.parametrize("module", PROOF_CORE)
def test_the_proof_core_imports_only_itself_the_errors_and_the_catalogue(module: str) -> None:
    outside = sorted(name for name in reachable(module) if not name.startswith(PROOF_CORE_MAY_IMPORT))
    assert outside in ([], ["ledger"])  # `ledger` is the empty package every module of it sits in


@pytest.mark.parametrize("module", PROOF_CORE)
def test_the_proof_core_reaches_no_database_driver_no_eventsourcing_no_web_framework(module: str) -> None:
    reached = set().union(*(imports_of(name)[1] for name in reachable(module)))
    assert reached & FORBIDDEN_IN_PROOF_CORE == set()


@pytest.mark.parametrize("module", sorted(name for name in MODULES if name.startswith("ledger.client")))
def test_the_emitters_client_imports_only_the_catalogue(module: str) -> None:
    outside = sorted(name for name in reachable(module) if not name.startswith(("ledger.client", "ledger.catalogue")))
    assert set(outside) <= {"ledger", "ledger.errors", "ledger.proof.canonical"}  # what the catalogue needs


def test_the_one_module_that_translates_database_errors_loads_no_driver_but_sqlite3() -> None:
    reached = set().union(*(imports_of(name)[1] for name in reachable("ledger.dberrors")))
    assert reached & FORBIDDEN_IN_PROOF_CORE <= {"sqlite3"}


SERVICES = ("ledger.apikeys", "ledger.erasure", "ledger.signing", "ledger.checkpointing", "ledger.evidence",
            "ledger.audit", "ledger.verify_chunks", "ledger.client", "ledger.ownership")  # fmt: skip


@pytest.mark.parametrize("module", sorted(name for name in MODULES if name.startswith("ledger.store")))
def test_the_store_imports_no_service_built_on_it(module: str) -> None:
    assert sorted(name for name in reachable(module) if name.startswith(SERVICES)) == []


# -- Configuration -----------------------------------------------------------------------

# The composition roots: the server's (its settings, and `ledger serve`) and the command line's.
ENVIRONMENT_READERS = {"api/settings.py", "scripts/common.py", "scripts/serve.py"}


def reads_the_environment(path: Path) -> bool:
    """Whether a module touches ``os.environ`` or calls ``os.getenv`` (or imports either by name)."""
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb", "getenvb"):
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                return True
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            if {a.name for a in node.names} & {"environ", "getenv", "environb", "getenvb"}:
                return True
    return False


def test_only_the_composition_roots_read_the_environment() -> None:
    """ledger, projections and api take their configuration as settings, read by the roots and passed down."""
    readers = sorted(
        str(path.relative_to(ROOT))
        for package in ("ledger", "projections", "api")
        for path in (ROOT / package).rglob("*.py")
        if reads_the_environment(path)
    )
    assert set(readers) <= ENVIRONMENT_READERS, readers


# -- The ledger's public surface -----------------------------------------------------------

# What projections may import of ledger (named in ledger/__init__.py): these modules, and the catalogue's and
# the proof core's submodules. The recorders, the plan and the services stay behind the Ledger facade.
PUBLIC_SURFACE = {"ledger", "ledger.store", "ledger.config", "ledger.errors", "ledger.dberrors"}
PUBLIC_PACKAGES = ("ledger.catalogue", "ledger.proof")
# eventsourcing's recorders of the log: only the store's own modules may import them or reach for them.
RECORDER_MODULES = {"ledger.store.recorder", "ledger.store.postgres", "ledger.store.sqlite"}


def on_the_public_surface(module: str) -> bool:
    """Whether ``module`` is part of what ledger offers the layers above."""
    return (
        module in PUBLIC_SURFACE
        or module.startswith(tuple(p + "." for p in PUBLIC_PACKAGES))
        or (module in PUBLIC_PACKAGES)
    )


@pytest.mark.parametrize("module", sorted(name for name in MODULES if name.startswith("projections")))
def test_projections_import_only_the_ledgers_public_surface(module: str) -> None:
    """A projection reads the log through the Ledger facade, never through the store's insides or a service."""
    reached = sorted(name for name in GRAPH[module] if name.startswith("ledger") and not on_the_public_surface(name))
    assert reached == []


def reaches_for_the_recorder(path: Path) -> bool:
    """Whether a module uses a Ledger's recorder: ``ledger.recorder``, ``….app.recorder`` or ``ledger_recorder``."""
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not isinstance(node, ast.Attribute):
            continue
        if node.attr == "ledger_recorder":
            return True
        owner = node.value
        if node.attr == "recorder" and (
            (isinstance(owner, ast.Attribute) and owner.attr in ("app", "ledger"))
            or (isinstance(owner, ast.Name) and owner.id == "ledger")
        ):
            return True
    return False


@pytest.mark.parametrize("module", sorted(name for name in MODULES if not name.startswith("ledger.store")))
def test_nothing_outside_the_store_touches_the_recorder(module: str) -> None:
    """The store's recorders are reached through Ledger's methods only: no import of them, no ledger.recorder."""
    assert sorted(GRAPH[module] & RECORDER_MODULES) == []
    assert not reaches_for_the_recorder(MODULES[module])
