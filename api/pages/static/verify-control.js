/*
 * verify-control.js: the incident page's Verify control, over verify.js (globalThis.LedgerVerify).
 *
 * 1. Read the pinned verifier key (kept in this browser's localStorage once entered) and parse it;
 *    say whether the hospital publishes it.
 * 2. Fetch the proofs of the page's events (the section's data-proofs address, this session's cookie).
 * 3. Open the checkpoint's signed note with the pinned key alone.
 * 4. Verify each event against that checkpoint: its entry is the event the page shows, its leaf is
 *    computed here, its path leads to the signed root.
 * 5. Every event the page shows must have been verified: one without a proof is a failure, never a pass.
 * Each result names what it was verified against: the checkpoint's origin, tree size and root hash.
 */
(function () {
  "use strict";

  const V = globalThis.LedgerVerify;
  const STORAGE_KEY = "ledger.pinnedVerifierKey";
  const section = document.getElementById("verify");
  if (!V || !section) return;
  const form = document.getElementById("verify-form");
  const input = document.getElementById("pinned-key");
  const status = document.getElementById("verify-status");
  const results = document.getElementById("verify-results");

  function say(text, state) {
    status.textContent = text;
    status.className = `verify-status ${state}`;
  }

  function result(seq, state, text) {
    const item = document.createElement("li");
    item.className = state;
    item.dataset.seq = String(seq);
    const label = document.createElement("strong");
    label.textContent = `seq ${seq}`;
    item.append(label, ` ${state === "verified" ? "verified" : "NOT verified"}: ${text}`);
    results.append(item);
  }

  /** Every event the page shows: seq -> event_id (null where the page names the seq only, as in a link). */
  function shownEvents() {
    const shown = new Map();
    for (const link of document.querySelectorAll('main a[href^="/events/"]')) {
      const seq = link.getAttribute("href").slice("/events/".length);
      if (/^[1-9][0-9]*$/.test(seq) && !shown.has(seq)) shown.set(seq, null);
    }
    for (const row of document.querySelectorAll("main [data-seq][data-event-id]")) {
      shown.set(row.dataset.seq, row.dataset.eventId);
    }
    return shown;
  }

  function publishedKeys() {
    return Array.from(document.querySelectorAll("[data-published-key]"), (node) => node.textContent.trim());
  }

  async function pinnedKey() {
    const text = input.value.trim();
    if (!text) throw new V.VerifyError("pin a verifier key first: paste the key your hospital gave you");
    const key = await V.parseVerifierKey(text);
    localStorage.setItem(STORAGE_KEY, key.text);
    return key;
  }

  async function fetchProofs() {
    const response = await fetch(section.dataset.proofs, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new V.VerifyError(`the server did not give the proofs (HTTP ${response.status})`);
    return response.json();
  }

  function describe(checkpoint) {
    return `checkpoint of ${checkpoint.origin}, tree size ${checkpoint.size}, root ${V.toHex(checkpoint.rootHash)}`;
  }

  async function verifyAll(answer, key, shown) {
    // 3. The checkpoint, opened with the pinned key alone.
    const checkpoint = await V.openCheckpoint(answer.checkpoint, [key]);
    const against = describe(checkpoint);
    // 4. Each event the server gave, against it.
    const given = new Map(answer.events.map((item) => [String(item.seq), item]));
    let failed = 0;
    for (const [seq, eventId] of [...shown].sort((a, b) => Number(a[0]) - Number(b[0]))) {
      const item = given.get(seq);
      try {
        // 5. An event shown without a proof is not verified.
        if (!item) throw new V.VerifyError("the server gave no proof for it");
        if (item.proof === null) throw new V.VerifyError("recorded after the latest signed checkpoint: no proof yet");
        const found = await V.verifyEvent(item, checkpoint, eventId === null ? {} : { eventId });
        result(seq, "verified", `${found.type}, leaf ${found.leaf}, in the ${against}`);
      } catch (error) {
        if (!(error instanceof V.VerifyError)) throw error;
        failed += 1;
        result(seq, "failed", `${error.message} (${error.name})`);
      }
    }
    return { failed, against, by: checkpoint.verifiedBy.join(", ") };
  }

  async function run() {
    results.replaceChildren();
    say("Verifying…", "running");
    try {
      // 1. The pinned key, and whether the hospital publishes it.
      const key = await pinnedKey();
      const published = publishedKeys().includes(key.text);
      const keyNote = published ? "the pinned key is one the hospital publishes" : "WARNING: the pinned key is not among the keys this page says the hospital publishes";
      // 2. The proofs.
      const answer = await fetchProofs();
      if (!answer.checkpoint) throw new V.VerifyError("no checkpoint has been signed yet: there is nothing to verify against");
      const shown = shownEvents();
      const outcome = await verifyAll(answer, key, shown);
      const total = shown.size;
      if (outcome.failed === 0) {
        say(`All ${total} events verified against the ${outcome.against}, signed by ${outcome.by}; ${keyNote}.`, "verified");
      } else {
        say(`${outcome.failed} of ${total} events NOT verified against the ${outcome.against}; ${keyNote}.`, "failed");
      }
    } catch (error) {
      const reason = error instanceof V.VerifyError ? `${error.message} (${error.name})` : `an unexpected error: ${error}`;
      say(`Not verified: ${reason}.`, "failed");
    }
  }

  input.value = localStorage.getItem(STORAGE_KEY) || "";
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
})();
