"""The incident page's Verify control in a real browser: verify.js checks every event the page shows against the
key the reader pinned, and a server that alters one byte of one proof is caught at exactly that event.

The altering server is the same app wrapped, in this test only, by an ASGI layer that flips one hexadecimal
digit of one proof in the proofs answer: the app itself has no switch for it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.app import create_app
from api.settings import Settings
from ledger.config import DEFAULT_ORIGIN
from ledger.proof.checkpoint import CheckpointDirectory, open_checkpoint
from ledger.proof.keys import format_verifier_key, generate, parse_keyring
from tests.e2e.conftest import Served, screenshot, serving, sign_in

INCIDENT = "INC-FN"  # the missed sepsis (tests.projections.scenarios.false_negative)


class AlterOneProofByte:
    """Test-only ASGI layer: in the proofs answer, one hex digit of the first hash of one event's proof is changed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.altered_seq: int | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/proofs.json"):
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, keep)
        body = self._alter(b"".join(chunks)) if start.get("status") == 200 else b"".join(chunks)
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    def _alter(self, body: bytes) -> bytes:
        answer = orjson.loads(body)
        event = answer["events"][len(answer["events"]) // 2]
        first = event["proof"][0]
        event["proof"][0] = first[:-1] + ("0" if first[-1] != "0" else "1")
        self.altered_seq = event["seq"]
        return orjson.dumps(answer)


@dataclasses.dataclass(frozen=True)
class Tampering:
    """A second server over the same ledger, behind the altering layer."""

    served: Served
    layer: AlterOneProofByte


@pytest.fixture(scope="module")
def tampering(served: Served) -> Iterator[Tampering]:
    """The app over the scenarios' ledger, wrapped by AlterOneProofByte, on another free port; stopped after."""
    settings = Settings(
        database_url=served.url,
        checkpoint_interval_s=0,
        keys_dir=str(served.tmp / "keys"),
        checkpoint_dir=str(served.tmp / "checkpoints"),
        time_zone="Europe/Paris",
        session_secret="e2e-tampering-" + os.urandom(16).hex(),
    )
    layer = AlterOneProofByte(create_app(settings))
    with serving(layer, name="e2e-tampering") as base:
        yield Tampering(dataclasses.replace(served, base=base), layer)


def _trusted_key(served: Served) -> str:
    """The key a reader was given out of band: the first line of the server's trusted keys file."""
    return (served.tmp / "keys" / "trusted.keys").read_text("utf-8").splitlines()[0].strip()


def _shown_seqs(page: Any) -> set[int]:
    """Every seq the incident page shows: its events table, and every link to an event (report, clocks, drawings)."""
    rows = page.locator("table.events tbody tr").evaluate_all("rows => rows.map(r => r.dataset.seq)")
    links = page.locator('main a[href^="/events/"]').evaluate_all("links => links.map(a => a.getAttribute('href'))")
    return {int(seq) for seq in rows} | {int(href.rsplit("/", 1)[1]) for href in links}


def _verify(page: Any, key: str) -> str:
    """Pin ``key``, press Verify, wait for the verdict; the status line."""
    page.get_by_label("Your pinned verifier key").fill(key)
    page.get_by_role("button", name="Verify", exact=True).click()
    status = page.locator("#verify-status")
    page.wait_for_function("() => /verified|failed/.test(document.getElementById('verify-status').className)")
    return str(status.inner_text())


def _results(page: Any) -> dict[int, str]:
    items = page.locator("#verify-results li").evaluate_all("items => items.map(i => [i.dataset.seq, i.className])")
    return {int(seq): state for seq, state in items}


def test_verify_checks_every_event_shown_against_the_pinned_key_and_names_the_checkpoint(
    page: Any, served: Served
) -> None:
    """With the key the hospital gave, every event the page shows is verified in the browser, and the page says
    against which checkpoint (origin, size, root: those of the latest signed checkpoint); the key stays pinned."""
    sign_in(page, served, then=f"/incidents/{INCIDENT}")
    key = _trusted_key(served)
    assert key in page.locator("[data-published-key]").all_inner_texts()

    status = _verify(page, key)

    folder = CheckpointDirectory(served.tmp / "checkpoints")
    latest = open_checkpoint(folder.latest() or "", parse_keyring(key), origin=DEFAULT_ORIGIN)
    shown = _shown_seqs(page)
    assert len(shown) >= 10
    assert _results(page) == dict.fromkeys(shown, "verified")
    assert status.startswith(f"All {len(shown)} events verified against the checkpoint of {DEFAULT_ORIGIN}")
    assert f"tree size {latest.size}, root {latest.root_hash.hex()}" in status
    assert "the pinned key is one the hospital publishes" in status
    page.locator("#verify").scroll_into_view_if_needed()
    screenshot(page, "incident-verified", full_page=False)
    page.reload()
    assert page.get_by_label("Your pinned verifier key").input_value() == key


def test_a_key_the_hospital_did_not_sign_with_verifies_nothing(page: Any, served: Served) -> None:
    """Pinned to another key, the checkpoint's signature does not verify, and no event is called verified."""
    sign_in(page, served, then=f"/incidents/{INCIDENT}")
    stranger = format_verifier_key(generate("ledger.e2e.example").verifier())

    status = _verify(page, stranger)

    assert re.match(r"Not verified: note has no signature by a pinned key .*\(SignatureInvalid\)\.", status)
    assert "verified" not in _results(page).values()


def test_a_server_that_alters_one_proof_byte_is_caught_at_exactly_that_event(page: Any, tampering: Tampering) -> None:
    """Against the altering server, the one event whose proof lost a byte fails with a root mismatch; every other
    event shown still verifies, and the page says how many failed."""
    served = tampering.served
    sign_in(page, served, then=f"/incidents/{INCIDENT}")

    status = _verify(page, _trusted_key(served))

    altered = tampering.layer.altered_seq
    shown = _shown_seqs(page)
    assert altered in shown
    assert _results(page) == {seq: "failed" if seq == altered else "verified" for seq in shown}
    failure = page.locator(f'#verify-results li[data-seq="{altered}"]').inner_text()
    assert "does not match the expected root" in failure and "(RootMismatch)" in failure
    assert status.startswith(f"1 of {len(shown)} events NOT verified")
