"""The pages' access rules, without a browser: sessions, form tokens, roles, headers (the e2e suite drives
the same pages in Chromium)."""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from api.app import create_app
from api.pages.secret import SECRET_FILE, session_secret
from api.settings import Settings
from ledger.apikeys import KeyStore, Role
from ledger.config import STATE_DIR_ENV
from ledger.store import Ledger
from tests.ledgers import env_settings
from tests.projections.scenarios import false_negative

SECRET = "test-secret-" + "0" * 20
SESSION = "ledger_session"


@dataclass
class Site:
    client: TestClient
    url: str
    keys: dict[str, str]
    store: KeyStore


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("pages")
    url = f"sqlite:///{tmp}/ledger.sqlite3"
    with Ledger(env_settings(url)) as ledger:
        ledger.submit(false_negative().events)
    store = KeyStore(url)
    keys = {role: store.create(Role(role), label=role).token for role in ("reader", "auditor", "admin")}
    keys["emitter"] = store.create(Role.EMITTER, source="ehr.epic-prod", label="emitter").token
    settings = Settings(database_url=url, checkpoint_interval_s=0, session_secret=SECRET, key_cache_s=0,
                        keys_dir=str(tmp / "keys"), checkpoint_dir=str(tmp / "checkpoints"))  # fmt: skip
    with TestClient(create_app(settings)) as client:
        yield Site(client, url, keys, store)


@pytest.fixture
def client(site: Site) -> Iterator[TestClient]:
    site.client.cookies.clear()
    yield site.client
    site.client.cookies.clear()


def form_token(client: TestClient, path: str = "/signin") -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, token: str, **headers: str) -> Any:
    data = {"api_key": token, "form_token": form_token(client)}
    return client.post("/signin", data=data, headers=headers, follow_redirects=False)


def sent_to_sign_in(response: Any) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith("/signin")


def test_a_page_without_a_session_sends_the_browser_to_sign_in(client: TestClient) -> None:
    """No cookie: 303 to the sign-in page, which will bring the reader back."""
    response = client.get("/incidents/INC-FN", follow_redirects=False)
    assert sent_to_sign_in(response) and response.headers["location"] == "/signin?next=/incidents/INC-FN"


def test_signing_in_sets_a_signed_httponly_strict_cookie_holding_no_api_key(site: Site, client: TestClient) -> None:
    """The session cookie is HttpOnly, SameSite=Strict, expiring, and holds the key's id, never its secret."""
    response = sign_in(client, site.keys["reader"])
    assert response.status_code == 303 and response.headers["location"] == "/incidents"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test
    secret = site.keys["reader"].rsplit("_", 1)[1]
    assert secret not in cookie
    assert client.get("/incidents").status_code == 200


def test_over_https_the_cookies_are_secure(site: Site) -> None:
    """Served over HTTPS, every cookie of the pages says Secure."""
    client = TestClient(site.client.app, base_url="https://testserver")
    response = sign_in(client, site.keys["reader"])
    assert response.status_code == 303 and "Secure" in response.headers["set-cookie"]


@pytest.mark.parametrize("damage", ["forged", "altered", "expired", "signed with another secret"])
def test_a_forged_altered_or_expired_cookie_is_no_session(site: Site, client: TestClient, damage: str) -> None:
    """Only a cookie this server signed, unchanged and younger than a session's life, opens a page."""
    sign_in(client, site.keys["reader"])
    good = client.cookies[SESSION]
    key_id = site.store.authenticate(site.keys["reader"]).key_id  # type: ignore[union-attr]
    payload = {"k": key_id, "s": "abc"}
    if damage == "forged":
        bad = URLSafeTimedSerializer(b"guess", salt="ledger.pages.session").dumps(payload)
    elif damage == "altered":
        bad = ("f" if good[0] != "f" else "g") + good[1:]  # the payload (a signature's last character has padding bits)
    elif damage == "expired":

        class Old(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(time.time()) - 9 * 3600  # past the 8 hours of a session

        bad = URLSafeTimedSerializer(SECRET, salt="ledger.pages.session", signer=Old).dumps(payload)
    else:
        bad = URLSafeTimedSerializer(SECRET + "x", salt="ledger.pages.session").dumps(payload)
    client.cookies.clear()
    client.cookies.set(SESSION, bad)
    assert sent_to_sign_in(client.get("/incidents", follow_redirects=False))


def test_a_revoked_key_ends_its_sessions(site: Site, client: TestClient) -> None:
    """The key behind a session is looked up on every page: once revoked, its session opens nothing."""
    made = site.store.create(Role.READER, label="soon revoked")
    sign_in(client, made.token)
    assert client.get("/incidents", follow_redirects=False).status_code == 200
    site.store.revoke(made.key.key_id)
    assert sent_to_sign_in(client.get("/incidents", follow_redirects=False))


@pytest.mark.parametrize(
    ("headers", "why"),
    [({"Sec-Fetch-Site": "cross-site"}, "another site"), ({"Origin": "http://evil.example"}, "another site"), ({}, "")],
)
def test_a_sign_out_posted_cross_site_or_without_its_token_is_refused(
    site: Site, client: TestClient, headers: dict[str, str], why: str
) -> None:
    """A form post from another site (Sec-Fetch-Site, Origin) or without this session's token: 403, still signed in."""
    sign_in(client, site.keys["reader"])
    token = form_token(client, "/incidents") if headers else form_token(client, "/signin")  # the sign-in form's
    response = client.post("/signout", data={"form_token": token}, headers=headers, follow_redirects=False)
    assert response.status_code == 403 and why in response.text
    assert client.get("/incidents", follow_redirects=False).status_code == 200


def test_a_sign_in_posted_from_another_site_is_refused(site: Site, client: TestClient) -> None:
    """Login CSRF: a sign-in form posted from another site sets no session."""
    response = sign_in(client, site.keys["reader"], **{"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403 and SESSION not in response.headers.get("set-cookie", "")


def test_sign_out_refuses_the_old_cookie_afterwards(site: Site, client: TestClient) -> None:
    """Signing out ends the session on the server: a copy of the cookie is refused."""
    sign_in(client, site.keys["reader"])
    kept = client.cookies[SESSION]
    done = client.post("/signout", data={"form_token": form_token(client, "/incidents")}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/signin?signed_out=true"
    client.cookies.set(SESSION, kept)
    assert sent_to_sign_in(client.get("/incidents", follow_redirects=False))


@pytest.mark.parametrize(("role", "status", "says"), [("emitter", 403, "Emitter keys"), ("none", 401, "not valid")])
def test_an_emitter_or_unknown_key_cannot_sign_in_and_is_not_echoed(
    site: Site, client: TestClient, role: str, status: int, says: str
) -> None:
    token = site.keys.get(role, "lk_0123456789abcdef_" + "ab" * 16)
    response = sign_in(client, token)
    assert response.status_code == status and says in response.text and token not in response.text
    assert SESSION not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_sign_in_returns_only_to_a_page_of_this_site(site: Site, client: TestClient, target: str) -> None:
    data = {"api_key": site.keys["reader"], "form_token": form_token(client), "next": target}
    response = client.post("/signin", data=data, follow_redirects=False)
    assert response.headers["location"] == "/incidents"


def test_a_reader_cannot_reach_the_auditors_log_an_auditor_can(site: Site, client: TestClient) -> None:
    sign_in(client, site.keys["reader"])
    assert client.get("/log").status_code == 403
    client.cookies.clear()
    sign_in(client, site.keys["auditor"])
    assert client.get("/log").status_code == 200


def test_revealing_sensitive_fields_is_for_readers_and_is_recorded_first(site: Site, client: TestClient) -> None:
    """The event page shows sensitive fields sealed; a reader reveals them for a purpose and the read is in the log;
    an auditor sees no reveal form and is refused the post."""
    sign_in(client, site.keys["auditor"])
    sealed = client.get("/events/9")  # out-fn-1's output.generated, which names its patient
    assert "Reveal them for" not in sealed.text and "[sealed]" in sealed.text
    refused = client.post(
        "/events/9/reveal", data={"purpose": "incident_review", "form_token": form_token(client, "/events/9")}
    )
    assert refused.status_code == 403
    client.cookies.clear()
    sign_in(client, site.keys["reader"])
    with Ledger(env_settings(site.url), create_tables=False) as ledger:
        head = ledger.head_seq()
    shown = client.post(
        "/events/9/reveal", data={"purpose": "incident_review", "form_token": form_token(client, "/events/9")}
    )
    assert shown.status_code == 200 and "This read is recorded in the log as" in shown.text
    with Ledger(env_settings(site.url), create_tables=False) as ledger:
        assert ledger.head_seq() == head + 1 and ledger.read(after_seq=head, limit=1)[0].type == "access.recorded"


def test_pages_carry_a_policy_without_inline_scripts_and_the_common_headers(site: Site, client: TestClient) -> None:
    sign_in(client, site.keys["reader"])
    for path in ("/signin", "/incidents", "/incidents/INC-FN", "/events/1", "/tools/sepsis-watch"):
        headers = client.get(path).headers
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"


def _threshold_shown(client: TestClient, as_of: str) -> list[str]:
    page = client.get("/tools/sepsis-watch", params={"as_of": as_of})
    assert page.status_code == 200
    return re.findall(r'threshold-value">([^<]*)<', page.text)


def test_the_dossier_shows_the_threshold_in_effect_at_the_moment_chosen(site: Site, client: TestClient) -> None:
    """sepsis-watch's threshold went from 0.6 to 0.7 at 2026-03-20 08:00 UTC (the site's zone here): the picker's
    local time, or an RFC 3339 time, on either side of it shows the value then."""
    sign_in(client, site.keys["reader"])
    assert _threshold_shown(client, "2026-03-20T07:59") == ["0.6"]
    assert _threshold_shown(client, "2026-03-20T08:00:01") == ["0.7"]
    assert _threshold_shown(client, "2026-03-20T09:59:00+02:00") == ["0.6"]
    assert _threshold_shown(client, "2026-01-01T00:00") == []  # before any setting


def test_the_dossiers_plots_are_inline_svg_the_pages_policy_lets_draw(site: Site, client: TestClient) -> None:
    """No style attribute, stylesheet or script in the plots (the CSP would block them); titled; each id once."""
    sign_in(client, site.keys["reader"])
    text = client.get("/tools/sepsis-watch").text
    svgs = re.findall(r'<svg [^>]*class="plot-svg".*?</svg>', text, flags=re.S)
    assert len(svgs) == 1
    for svg in svgs:
        assert " style=" not in svg and "<style" not in svg and "<script" not in svg
        assert 'role="img"' in svg and "<title" in svg
    ids = re.findall(r' id="([^"]+)"', text)
    assert len(ids) == len(set(ids))


def test_an_unusable_as_of_or_an_unknown_tool_is_a_page_that_repeats_neither(site: Site, client: TestClient) -> None:
    sign_in(client, site.keys["reader"])
    refused = client.get("/tools/sepsis-watch", params={"as_of": "not-a-time<b>"})
    assert refused.status_code == 422 and "not-a-time" not in refused.text
    unknown = client.get("/tools/no-such-tool")
    assert unknown.status_code == 404 and "no-such-tool" not in unknown.text.split("<main", 1)[1]


def test_a_signed_out_browser_asking_for_a_dossier_is_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/tools/sepsis-watch", follow_redirects=False)
    assert sent_to_sign_in(response) and response.headers["location"] == "/signin?next=/tools/sepsis-watch"


def test_the_gaps_and_reliance_pages_show_the_queries_answers_to_a_reader(site: Site, client: TestClient) -> None:
    """INC-FN's log: the unapproved threshold raise is a gap listed with its evidence link; reliance counts
    clin-bob's dismissal; a kind that does not exist or a day that is not one is a 422 page."""
    sign_in(client, site.keys["reader"])
    gaps = client.get("/gaps", params={"kind": "threshold_change_unapproved"})
    assert gaps.status_code == 200 and 'id="gaps-threshold_change_unapproved"' in gaps.text
    assert re.search(r'href="/events/\d+">seq \d+</a> <span class="type">tool.threshold_changed', gaps.text)
    reliance = client.get("/reliance", params={"clinician": "clin-bob"})
    assert reliance.status_code == 200 and "clin-bob" in reliance.text and "Dismissal rate" in reliance.text
    assert client.get("/gaps", params={"kind": "no_such_kind"}).status_code == 422
    assert client.get("/reliance", params={"from": "2026-02-30"}).status_code == 422


def test_the_generated_session_secret_is_kept_private_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unset in the settings, the secret is made once in the state folder (0600) and read back the same."""
    monkeypatch.delenv(STATE_DIR_ENV)
    settings = Settings(database_url=f"sqlite:///{tmp_path}/l.sqlite3")
    first = session_secret(settings)
    path = tmp_path / "l.d" / SECRET_FILE
    assert path.is_file() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert session_secret(settings) == first and len(first) == 64


def test_the_incident_list_and_page_link_each_tool_to_its_dossier(site: Site, client: TestClient) -> None:
    """A risk manager goes from an incident to the tool behind it in one step."""
    sign_in(client, site.keys["reader"])
    listing = client.get("/incidents")
    assert listing.status_code == 200 and '<a href="/tools/sepsis-watch">sepsis-watch</a>' in listing.text
    incident = re.search(r'href="(/incidents/[^"]+)"', listing.text)
    assert incident is not None
    page = client.get(incident.group(1))
    assert page.status_code == 200 and re.search(r'<dd><a href="/tools/[^"]+">', page.text)
