"""verify.js, the reader's in-browser verifier, agrees with the Python proof core, run in headless Chromium.

1. The RFC 6962 vectors of transparency-dev/merkle (all 196, from ``../shared/conformance/``, the ones
   tests/unit/test_merkle_vectors.py runs the Python verifier on): verify.js rejects exactly those with
   ``wantErr``.
2. Signed notes and checkpoints the Python side signs, and forgeries of them: verify.js accepts exactly
   what ``ledger.proof.checkpoint.open_checkpoint`` accepts, and reads the same origin, size and root.
3. Entries framed and proven by the Python core: verify.js verifies each against the signed root, and
   refuses the one whose proof has a byte altered, or whose entry is another event than the one shown.

The page is served from http://127.0.0.1 by Playwright's router (no socket is opened): WebCrypto needs a
secure context, which a loopback origin is.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from ledger.errors import MalformedProof, SignatureInvalid
from ledger.proof import merkle
from ledger.proof.chain import entry_bytes
from ledger.proof.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.proof.cosignature import cosign
from ledger.proof.keys import Keyring, SigningKey, format_verifier_key, generate, parse_verifier_key
from ledger.proof.note import sign_note
from tests.e2e.chromium import chromium

if TYPE_CHECKING:  # the module stays importable where Playwright is absent (the fixture skips)
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
VERIFY_JS = ROOT / "api" / "pages" / "static" / "verify.js"
VECTORS = ROOT.parent / "shared" / "conformance" / "transparency-dev-merkle"
ABSENT = f"conformance vectors not found at {VECTORS} (shared/ must sit beside the project checkout)"
ORIGIN = "hospital.example/ledger"
BLANK = "<!doctype html><html lang=en><head><title>verify.js</title></head><body></body></html>"

# Runs one verifier over many cases in the page; null where it accepts, "Name: message" where it refuses
# with one of verify.js's own errors. Any other exception (a TypeError: a bug) fails the evaluate call.
_RUN_INCLUSION = """async (cases) => {
  const V = globalThis.LedgerVerify, hex = (h) => V.fromHex(h, "vector");
  const out = [];
  for (const c of cases) {
    try {
      await V.verifyInclusion({ index: BigInt(c.index), size: BigInt(c.size), leaf: hex(c.leaf),
                                proof: c.proof.map(hex), root: hex(c.root) });
      out.push(null);
    } catch (e) { if (!(e instanceof V.VerifyError)) throw e; out.push(`${e.name}: ${e.message}`); }
  }
  return out;
}"""
_RUN_CONSISTENCY = """async (cases) => {
  const V = globalThis.LedgerVerify, hex = (h) => V.fromHex(h, "vector");
  const out = [];
  for (const c of cases) {
    try {
      await V.verifyConsistency({ size1: BigInt(c.size1), size2: BigInt(c.size2), root1: hex(c.root1),
                                  root2: hex(c.root2), proof: c.proof.map(hex) });
      out.push(null);
    } catch (e) { if (!(e instanceof V.VerifyError)) throw e; out.push(`${e.name}: ${e.message}`); }
  }
  return out;
}"""
_OPEN_CHECKPOINTS = """async ([notes, keys]) => {
  const V = globalThis.LedgerVerify;
  const pinned = await Promise.all(keys.map((k) => V.parseVerifierKey(k)));
  const out = [];
  for (const note of notes) {
    try {
      const c = await V.openCheckpoint(note, pinned);
      out.push({ origin: c.origin, size: c.size.toString(), root: V.toHex(c.rootHash), by: c.verifiedBy });
    } catch (e) { if (!(e instanceof V.VerifyError)) throw e; out.push({ error: `${e.name}: ${e.message}` }); }
  }
  return out;
}"""
_VERIFY_EVENTS = """async ([note, key, items]) => {
  const V = globalThis.LedgerVerify;
  const checkpoint = await V.openCheckpoint(note, [await V.parseVerifierKey(key)]);
  const out = [];
  for (const item of items) {
    try {
      const r = await V.verifyEvent(item, checkpoint, { eventId: item.shown_event_id });
      out.push({ seq: Number(r.seq), leaf: r.leaf });
    } catch (e) { if (!(e instanceof V.VerifyError)) throw e; out.push({ error: `${e.name}: ${e.message}` }); }
  }
  return out;
}"""


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    """A blank page on a loopback origin with verify.js loaded, shared by the module's tests."""
    with chromium() as browser:
        tab = browser.new_page()
        tab.route("http://127.0.0.1/**", lambda route: route.fulfill(body=BLANK, content_type="text/html"))
        tab.goto("http://127.0.0.1/verify")
        tab.add_script_tag(path=str(VERIFY_JS))
        yield tab


# -- 1. The RFC 6962 vectors ----------------------------------------------------------------------------


def _vectors(kind: str) -> list[dict[str, Any]]:
    files = sorted((VECTORS / kind).rglob("*.json"))
    return [{"name": p.relative_to(VECTORS).as_posix(), **json.loads(p.read_text("utf-8"))} for p in files]


def _hex(text: str | None) -> str:
    return base64.b64decode(text or "", validate=True).hex()


def _mismatches(cases: list[dict[str, Any]], outcomes: list[str | None]) -> list[str]:
    return [
        f"{case['name']} ({case['desc']}): wantErr {case['wantErr']}, got {outcome or 'accepted'}"
        for case, outcome in zip(cases, outcomes, strict=True)
        if (outcome is not None) != case["wantErr"]
    ]


@pytest.mark.skipif(not VECTORS.is_dir(), reason=ABSENT)
def test_verify_js_rejects_exactly_the_inclusion_vectors_that_want_an_error(page: Page) -> None:
    """Every inclusion vector: verify.js computes the root, compares it, and refuses exactly the wantErr ones."""
    cases = _vectors("inclusion")
    args = [
        {
            "index": str(c["leafIdx"]),
            "size": str(c["treeSize"]),
            "leaf": _hex(c["leafHash"]),
            "proof": [_hex(p) for p in c["proof"] or []],
            "root": _hex(c["root"]),
        }
        for c in cases
    ]
    outcomes = page.evaluate(_RUN_INCLUSION, args)
    assert _mismatches(cases, outcomes) == []
    assert sum(1 for c in cases if not c["wantErr"]) > 0 < sum(1 for c in cases if c["wantErr"])


@pytest.mark.skipif(not VECTORS.is_dir(), reason=ABSENT)
def test_verify_js_rejects_exactly_the_consistency_vectors_that_want_an_error(page: Page) -> None:
    """Every consistency vector: verify.js refuses exactly the wantErr ones; all 196 vector files are run."""
    cases = _vectors("consistency")
    args = [
        {
            "size1": str(c["size1"]),
            "size2": str(c["size2"]),
            "root1": _hex(c["root1"]),
            "root2": _hex(c["root2"]),
            "proof": [_hex(p) for p in c["proof"] or []],
        }
        for c in cases
    ]
    outcomes = page.evaluate(_RUN_CONSISTENCY, args)
    assert _mismatches(cases, outcomes) == []
    assert len(cases) + len(_vectors("inclusion")) == 196


# -- 2. Signed notes and checkpoints, signed by the Python core -------------------------------------------


def _replace_last_signature(note: str, change: Callable[[bytes], bytes]) -> str:
    text, _, line = note[:-1].rpartition("\n")
    name, encoded = line.rsplit(" ", 1)
    raw = change(base64.b64decode(encoded))
    return f"{text}\n{name} {base64.b64encode(raw).decode()}\n"


def _non_canonical_last_signature(note: str) -> str:
    """The note with its last signature's unused padding bit set: the same bytes, spelt otherwise."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    text, _, line = note[:-1].rpartition("\n")
    name, encoded = line.rsplit(" ", 1)
    data = encoded.rstrip("=")
    spelt = data[:-1] + alphabet[alphabet.index(data[-1]) ^ 1] + encoded[len(data) :]
    assert spelt != encoded and base64.b64decode(spelt) == base64.b64decode(encoded)
    return f"{text}\n{name} {spelt}\n"


def _flip(raw: bytes, at: int) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1 :]


def _note_cases(signer: SigningKey, witness: SigningKey, impostor: SigningKey) -> dict[str, str]:
    """Named signed checkpoints: honest ones, and each kind of forgery or malformation."""
    root = merkle.leaf_hash(b"the root")
    body = Checkpoint(ORIGIN, 42, root)
    good = sign_checkpoint(body, signer)
    encoded_root = base64.b64encode(root).decode()
    return {
        "signed by the pinned key": good,
        "cosigned by a witness the reader does not pin": sign_checkpoint(body, witness, signer),
        "with tlog-cosignature/v1 lines after its signature": good
        + cosign(body.body(), witness, timestamp=1).line()
        + cosign(body.body(), impostor, timestamp=2**63 - 1).line(),
        "with an extension line": sign_checkpoint(Checkpoint(ORIGIN, 42, root, ("opaque extension",)), signer),
        "a tree of size 2^64-1": sign_checkpoint(Checkpoint(ORIGIN, 2**64 - 1, root), signer),
        "non-ASCII origin": sign_checkpoint(Checkpoint("hôpital.example/ledger", 7, root), signer),
        "signed only by an unpinned key": sign_checkpoint(body, witness),
        "signed by another key of the same name": sign_checkpoint(body, impostor),
        "size changed after signing": good.replace("\n42\n", "\n43\n", 1),
        "root changed after signing": good.replace(encoded_root, base64.b64encode(bytes(32)).decode()),
        "one signature bit flipped": _replace_last_signature(good, lambda raw: _flip(raw, 10)),
        "key id bit flipped": _replace_last_signature(good, lambda raw: _flip(raw, 0)),
        "signature truncated": _replace_last_signature(good, lambda raw: raw[:-1]),
        "signature is only a key id": _replace_last_signature(good, lambda raw: raw[:4]),
        "non-canonical base64 signature": _non_canonical_last_signature(good),
        "no blank line": good.replace("\n\n", "\n", 1),
        "no signature line": good.split("\n\n")[0] + "\n\n",
        "signature line without final newline": good[:-1],
        "hyphen instead of em dash": good.replace("\u2014 ", "- ", 1),
        "tab in the text": good.replace(ORIGIN, ORIGIN + "\t", 1),
        "carriage return line ends": good.replace("\n", "\r\n"),
        "size with a leading zero": sign_note(f"{ORIGIN}\n042\n{encoded_root}\n", signer),
        "empty": "",
        "two lines only": sign_note(f"{ORIGIN}\n42\n", signer),
        "root of 31 bytes": sign_note(f"{ORIGIN}\n42\n{base64.b64encode(root[:31]).decode()}\n", signer),
        "size past 2^64-1": sign_note(f"{ORIGIN}\n{2**64}\n{encoded_root}\n", signer),
        "empty extension line": sign_note(f"{ORIGIN}\n42\n{encoded_root}\n\n", signer),
    }


def _python_outcome(note: str, keyring: Keyring) -> dict[str, Any]:
    try:
        checkpoint = open_checkpoint(note, keyring)
    except (MalformedProof, SignatureInvalid) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"origin": checkpoint.origin, "size": str(checkpoint.size), "root": checkpoint.root_hash.hex()}


def test_verify_js_opens_exactly_the_checkpoints_the_python_core_opens(page: Page) -> None:
    """Honest, cosigned and malformed or forged checkpoints: the same verdicts, and the same origin, size and root."""
    signer, witness = generate("hospital.example/ledger"), generate("witness.example")
    impostor = generate(signer.name)
    cases = _note_cases(signer, witness, impostor)
    pinned = format_verifier_key(signer.verifier())
    keyring = Keyring([parse_verifier_key(pinned)])
    expected = {name: _python_outcome(note, keyring) for name, note in cases.items()}
    got = dict(zip(cases, page.evaluate(_OPEN_CHECKPOINTS, [list(cases.values()), [pinned]]), strict=True))
    verdicts = {name: ("error" in expected[name], "error" in got[name]) for name in cases}
    assert {name: v for name, v in verdicts.items() if v[0] != v[1]} == {}
    for name, outcome in got.items():
        if "error" not in outcome:
            assert outcome.pop("by") == [parse_verifier_key(pinned).label], name
            assert outcome == expected[name], name
    assert sum(1 for o in expected.values() if "error" not in o) == 6  # the six honest ones


def test_verify_js_refuses_a_verifier_key_whose_id_is_not_its_own(page: Page) -> None:
    """A pinned key whose key id does not match its name and public key is refused before any note is read."""
    key = format_verifier_key(generate("hospital.example/ledger").verifier())
    name, key_id, encoded = key.split("+", 2)
    wrong_id = f"{name}+{int(key_id, 16) ^ 1:08x}+{encoded}"
    outcomes = page.evaluate(
        """async (keys) => Promise.all(keys.map(async (k) => {
             try { return (await globalThis.LedgerVerify.parseVerifierKey(k)).label; }
             catch (e) { return `${e.name}: ${e.message}`; } }))""",
        [key, wrong_id, "no-plus-signs", f"{name}+{key_id}+AAAA"],
    )
    assert outcomes[0] == f"{name}+{key_id}"
    assert outcomes[1].startswith("MalformedProof: key id")
    assert outcomes[2].startswith("MalformedProof: verifier key is not of the form")
    assert outcomes[3].startswith("MalformedProof: verifier key type")


# -- 3. Entries proven against a signed checkpoint -------------------------------------------------------------


def _log(count: int) -> tuple[list[dict[str, Any]], merkle.MemoryNodes]:
    """``count`` framed entries (seq 1..count) and the perfect nodes of their tree."""
    items, nodes = [], merkle.MemoryNodes()
    for seq in range(1, count + 1):
        event_id = f"00000000-0000-4000-8000-{seq:012d}"
        body = orjson.dumps({"event_id": event_id, "type": "output.shown", "schema_version": 1})
        entry = entry_bytes(seq=seq, recorded_us=1_700_000_000_000_000 + seq, body=body)
        nodes.add(merkle.nodes_for_append(start_index=seq - 1, leaf_hashes=[merkle.leaf_hash(entry)], reader=nodes))
        items.append({"seq": seq, "entry": base64.b64encode(entry).decode(), "shown_event_id": event_id})
    return items, nodes


def test_verify_js_verifies_every_entry_and_refuses_exactly_the_altered_one(page: Page) -> None:
    """Seven entries proven in a tree of seven: all verify, except the one with a proof byte altered,
    the one claimed as another seq, and the one shown as another event."""
    signer = generate("hospital.example/ledger")
    items, nodes = _log(7)
    size = len(items)
    for item in items:
        item["proof"] = [h.hex() for h in merkle.inclusion_proof(index=item["seq"] - 1, size=size, reader=nodes)]
    note = sign_checkpoint(Checkpoint(ORIGIN, size, merkle.root(size, nodes)), signer)
    altered = items[2]["proof"][1]
    items[2]["proof"][1] = altered[:10] + format(int(altered[10:12], 16) ^ 0x80, "02x") + altered[12:]
    items[4]["seq"] = 6  # the entry of seq 5, claimed as seq 6
    items[5]["shown_event_id"] = items[0]["shown_event_id"]  # the page shows another event than this entry's

    results = page.evaluate(_VERIFY_EVENTS, [note, format_verifier_key(signer.verifier()), items])

    failed = {n: r["error"] for n, r in enumerate(results) if "error" in r}
    assert sorted(failed) == [2, 4, 5]
    assert failed[2].startswith("RootMismatch: calculated root")
    assert failed[4] == "MalformedProof: entry holds seq 5, not 6"
    assert failed[5] == "MalformedProof: entry of seq 6 holds another event than the one shown"
    for n in (0, 1, 3, 6):
        entry = base64.b64decode(items[n]["entry"])
        assert results[n] == {"seq": n + 1, "leaf": merkle.leaf_hash(entry).hex()}
