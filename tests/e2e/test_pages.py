"""The legal and risk pages in a real browser: sign in, filter, open an incident, read its verdicts, follow the
evidence, download the CSV and the bundle, print, sign out; and the access rules as a browser meets them."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scripts.cli import main as ledger
from tests.e2e.conftest import ARTIFACTS, Served, screenshot, sign_in

INCIDENT = "INC-FN"  # the missed sepsis (tests.projections.scenarios.false_negative): four governance failures


def test_no_session_sends_the_browser_to_sign_in_and_back_to_the_page_asked_for(page: Any, served: Served) -> None:
    """A page opened without a session shows the sign-in form; signing in lands on the page first asked for."""
    page.goto(f"{served.base}/incidents/{INCIDENT}")
    assert page.url.startswith(f"{served.base}/signin")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
    sign_in(page, served, then=f"/incidents/{INCIDENT}")
    assert page.get_by_role("heading", level=1).inner_text() == f"Incident {INCIDENT}"


def test_a_reader_filters_the_list_opens_an_incident_reads_its_verdicts_and_follows_the_evidence(
    page: Any, served: Served
) -> None:
    """The list filters by unit and counts; the incident shows every question's verdict with links to the events
    behind it; a link opens that event's page, with its seq, hash and inclusion proof."""
    sign_in(page, served)
    rows = page.locator("table.incidents tbody tr")
    assert rows.count() == 5
    assert rows.first.locator("th").inner_text() == "INC-WA"  # its deadline has passed: first
    screenshot(page, "incidents")
    page.get_by_label("Unit").select_option("ed")
    page.get_by_role("button", name="Apply the filters").click()
    page.wait_for_url("**/incidents?*unit=ed*")
    assert rows.count() == 1
    page.get_by_role("link", name=INCIDENT).click()
    page.wait_for_url(f"**/incidents/{INCIDENT}")
    report = page.locator("section.report")
    approval = report.locator("li.answer", has_text="Did the approval's scope cover this site")
    assert approval.locator(".verdict").inner_text().strip().endswith("no")
    assert report.locator(".verdict-no").count() >= 4  # the four failures of the scenario
    assert page.locator("#verify").count() == 1
    screenshot(page, "incident", full_page=False)
    link = approval.locator("ul.evidence a").first
    seq = link.inner_text().removeprefix("seq ")
    link.click()
    page.wait_for_url(f"**/events/{seq}")
    assert page.get_by_role("heading", level=1).inner_text().startswith(f"Event {seq}")
    assert page.get_by_role("heading", name="Inclusion proof").is_visible()
    assert page.locator("code.hash").count() >= 3
    screenshot(page, "event")


def test_the_timeline_csv_and_the_evidence_bundle_download_and_the_bundle_verifies(
    page: Any, served: Served, tmp_path: Path
) -> None:
    """The CSV has one row per timeline event; the bundle is `ledger export`'s file and `ledger verify-bundle`
    verifies it under the server's trusted keys."""
    sign_in(page, served, then=f"/incidents/{INCIDENT}")
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Timeline (CSV)").click()
    rows = list(csv.reader(io.StringIO(Path(csv_download.value.path()).read_text("utf-8"))))
    shown = page.locator("table.events tbody tr").count()
    assert rows[0][:3] == ["seq", "event_id", "type"] and len(rows) == shown + 1
    with page.expect_download() as bundle_download:
        page.get_by_role("link", name="Evidence bundle").click()
    bundle = tmp_path / bundle_download.value.suggested_filename
    bundle_download.value.save_as(bundle)
    trusted = served.tmp / "keys" / "trusted.keys"
    assert ledger(["verify-bundle", str(bundle), "--trusted-keys", str(trusted)]) == 0


def test_the_incident_prints_as_a_dossier_whose_first_page_reads_clearly(page: Any, served: Served) -> None:
    """Printed, the incident is one column without navigation or forms, times in UTC, each event's seq; the first
    page is saved as a picture to look at (pdftoppm where there is one, else the print media on screen)."""
    sign_in(page, served, then=f"/incidents/{INCIDENT}")
    page.emulate_media(media="print")
    assert not page.locator("header.site nav").is_visible()
    assert page.locator(".t-utc").first.is_visible() and not page.locator(".t-local").first.is_visible()
    pdf = ARTIFACTS / "incident-print.pdf"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.pdf(path=str(pdf), format="A4", print_background=True)
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftoppm"):
        prefix = ARTIFACTS / "incident-print-page"
        subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(prefix)],
                       check=True, timeout=60)  # fmt: skip
    else:
        screenshot(page, "incident-print-page", full_page=False)


def test_signing_out_ends_the_session_even_for_a_copy_of_its_cookie(page: Any, served: Served) -> None:
    """After sign-out the pages send the browser to sign in, and the old cookie, put back, is refused."""
    sign_in(page, served)
    kept = [c for c in page.context.cookies() if c["name"] == "ledger_session"]
    assert kept and kept[0]["httpOnly"] and kept[0]["sameSite"] == "Strict"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin?signed_out=true")
    page.context.add_cookies(kept)
    page.goto(f"{served.base}/incidents")
    assert page.url.startswith(f"{served.base}/signin")


@pytest.mark.parametrize("damage", ["forged", "altered"])
def test_a_forged_or_altered_session_cookie_sends_the_browser_to_sign_in(
    page: Any, served: Served, damage: str
) -> None:
    """A cookie the server did not sign, or one changed by a character, opens no page (expiry: tests/api)."""
    sign_in(page, served)
    cookie = next(c for c in page.context.cookies() if c["name"] == "ledger_session")
    value = cookie["value"]
    # Altered: one character of the signed payload (the signature's last character may differ in padding bits only).
    altered = ("f" if value[0] != "f" else "g") + value[1:]
    bad = "eyJrIjoiYWRtaW4iLCJzIjoieCJ9.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb" if damage == "forged" else altered
    page.context.add_cookies([{**cookie, "value": bad}])
    page.goto(f"{served.base}/incidents")
    assert page.url.startswith(f"{served.base}/signin")


def test_a_reader_cannot_open_the_auditors_log_and_an_auditor_can(page: Any, served: Served) -> None:
    """The raw log is auditor and admin material: a reader gets 403 and no log link; an auditor reads it."""
    sign_in(page, served)
    assert page.get_by_role("link", name="Log").count() == 0
    response = page.goto(f"{served.base}/log")
    assert response.status == 403
    page.context.clear_cookies()
    sign_in(page, served, "auditor", then="/log")
    assert page.get_by_role("heading", level=1).inner_text() == "The log"


def test_a_form_posted_from_another_site_is_refused_and_the_session_goes_on(page: Any, served: Served) -> None:
    """A page of another origin that posts the sign-out form signs nobody out."""
    sign_in(page, served)
    other = page.context.new_page()
    other.set_content(
        f'<form id="f" method="post" action="{served.base}/signout"><input name="form_token" value="x"></form>'
    )
    with other.expect_navigation():
        other.evaluate("document.getElementById('f').submit()")
    assert "Sign out" not in other.content() or other.url.endswith("/signin")
    page.reload()
    assert page.url == f"{served.base}/incidents"


@pytest.mark.parametrize("role", ["emitter"])
def test_an_emitter_key_cannot_sign_in(page: Any, served: Served, role: str) -> None:
    """Emitter keys belong to machines: the form refuses them, without echoing the key."""
    page.goto(f"{served.base}/signin")
    page.get_by_label("API key").fill(served.keys[role])
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("Emitter keys cannot sign in")
    assert served.keys[role] not in page.content()
