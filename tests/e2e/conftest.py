"""The browser suite's fixtures: the real server over a ledger of the five error scenarios, and Chromium.

The server is the app under uvicorn, in a thread, on a free port of 127.0.0.1,
started once per module and stopped at its end. The browser is Debian's
``chromium`` (tests.e2e.chromium: ``$LEDGER_TEST_CHROMIUM``, default /usr/bin/chromium) driven by
Playwright for Python; Playwright's own browser downloads are never used.

Without chromium or Playwright these tests are skipped, and the run says so once
at the end; under CI, or with LEDGER_REQUIRE_BROWSER=1 (set by .ci/run), they fail instead.
Screenshots go to ``$LEDGER_TEST_ARTIFACTS`` (default ``test-artifacts/`` at the
repository's root, which git ignores), one file per name, replaced at each run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.checkpoints import Signer
from api.settings import Settings
from ledger.apikeys import KeyStore, Role
from ledger.signing import KeyFolder
from ledger.store import Ledger
from tests.e2e.chromium import CHROMIUM, required
from tests.ledgers import env_settings
from tests.projections.scenarios import ALL
from tests.serving import serving

ARTIFACTS = Path(os.environ.get("LEDGER_TEST_ARTIFACTS") or Path(__file__).parents[2] / "test-artifacts")
VIEWPORT = {"width": 1280, "height": 800}
_skipped_browser: list[str] = []


@cache
def browser_problem() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    return None


def require_browser(nodeid: str) -> None:
    """Skip (or, under CI, fail) the current test when the browser cannot be driven."""
    problem = browser_problem()
    if problem is None:
        return
    if required():
        pytest.fail(f"{problem}, and CI (or LEDGER_REQUIRE_BROWSER=1) forbids skipping", pytrace=False)
    _skipped_browser.append(nodeid)
    pytest.skip(problem)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped_browser:
        terminalreporter.write_line(
            f"Browser tests SKIPPED: {len(_skipped_browser)} tests did not run ({browser_problem()}).",
            yellow=True,
            bold=True,
        )


@dataclass(frozen=True)
class Served:
    """The running server: its address, its ledger, and a key of each role."""

    base: str
    url: str  # the ledger's database
    tmp: Path
    keys: dict[str, str]


def _ledger(tmp: Path) -> tuple[str, Settings]:
    """A ledger with the five scenarios, a signing key and a checkpoint of them; the server's settings."""
    url = f"sqlite:///{tmp}/ledger.sqlite3"
    settings = Settings(
        database_url=url,
        checkpoint_interval_s=0,
        keys_dir=str(tmp / "keys"),
        checkpoint_dir=str(tmp / "checkpoints"),
        time_zone="Europe/Paris",
        session_secret="e2e-" + os.urandom(16).hex(),
    )
    with Ledger(env_settings(url)) as ledger:
        for scenario in ALL:
            ledger.submit(scenario().events)
        actor = {"id": "operator", "role": "admin", "kind": "person"}
        KeyFolder(tmp / "keys").activate_new("ledger.e2e.example", ledger=ledger, actor=actor, reason=None)
        Signer(settings.ledger_paths()).sign(ledger)
    return url, settings


def _keys(url: str) -> dict[str, str]:
    store = KeyStore(url)
    return {
        "reader": store.create(Role.READER, label="risk manager").token,
        "auditor": store.create(Role.AUDITOR, label="auditor").token,
        "admin": store.create(Role.ADMIN, label="admin").token,
        "emitter": store.create(Role.EMITTER, source="ehr.epic-prod", label="emitter").token,
    }


@pytest.fixture(scope="module")
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app served by uvicorn on a free port of 127.0.0.1, over the scenarios' ledger; stopped after the module."""
    require_browser(request.node.nodeid)
    tmp = tmp_path_factory.mktemp("e2e")
    url, settings = _ledger(tmp)
    keys = _keys(url)
    with serving(create_app(settings), name="e2e-server") as base:
        yield Served(base, url, tmp, keys)


@pytest.fixture(scope="module")
def browser(served: Served) -> Iterator[Any]:
    """Headless Chromium (Debian's), driven by Playwright; closed after the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page at 1280x800; downloads accepted."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot(page: Any, name: str, **options: Any) -> Path:
    """Save a screenshot of the page as ARTIFACTS/NAME.png; its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), **options)
    return path


def sign_in(page: Any, served: Served, role: str = "reader", *, then: str = "/incidents") -> None:
    """Sign in through the form with the role's key, landing on ``then``."""
    page.goto(f"{served.base}{then}")
    page.get_by_label("API key").fill(served.keys[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{served.base}{then}")
