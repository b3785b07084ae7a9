"""axe-core (from the axe-playwright-python package, served by nothing but the test) finds no serious or critical
accessibility violation on the pages a legal and risk team reads: the incident list, an incident (its Verify
results shown), an event, a tool's dossier, the gaps and the reliance pages."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Served, sign_in

INCIDENT = "INC-FN"
BLOCKING = ("serious", "critical")


def _blocking_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.response["testEngine"]["name"] == "axe-core"  # it ran: an empty list is a real pass
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize(
    "path", ["/incidents", f"/incidents/{INCIDENT}", "/events/1", "/tools/sepsis-watch", "/gaps", "/reliance"]
)
def test_axe_finds_no_serious_or_critical_violation(page: Any, served: Served, path: str) -> None:
    """Each page, signed in as a reader, passes axe-core's rules at the serious and critical levels."""
    sign_in(page, served, then=path)
    if path.startswith("/incidents/"):  # the Verify results are part of what a reader reads
        key = (served.tmp / "keys" / "trusted.keys").read_text("utf-8").splitlines()[0]
        page.get_by_label("Your pinned verifier key").fill(key)
        page.get_by_role("button", name="Verify", exact=True).click()
        page.wait_for_function("() => /verified|failed/.test(document.getElementById('verify-status').className)")
    assert _blocking_violations(page) == []
