"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium, driven by Playwright for Python.

Where Playwright or the browser is missing, the tests skip and say so; under CI
(``CI=true``, as .ci/run is started, or LEDGER_REQUIRE_BROWSER=1, which .ci/run
sets) they fail instead, as the PostgreSQL tests do.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path(os.environ.get("LEDGER_TEST_CHROMIUM", "/usr/bin/chromium"))


def required() -> bool:
    """True where the browser tests must run: under CI, or with LEDGER_REQUIRE_BROWSER=1 (set by .ci/run)."""
    return os.environ.get("CI") == "true" or os.environ.get("LEDGER_REQUIRE_BROWSER") == "1"


def _unavailable(reason: str) -> None:
    if required():
        pytest.fail(f"{reason}, and CI forbids skipping the browser tests", pytrace=False)
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed on exit (skipped, or failed under CI, when there is none)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()
