/*
 * verify.js: check the ledger's proofs in the reader's own browser, trusting only a key the reader pinned.
 *
 * Plain JavaScript, no library, no build step; the browser's WebCrypto does SHA-256 and Ed25519.
 * Byte for byte the same rules as the Python proof core (ledger/proof/), which docs/ledger-format.md
 * and docs/auditing.md describe:
 *
 *   leaf_hash(d)      = SHA-256(0x00 || d)                         RFC 6962 / RFC 9162 section 2.1
 *   node_hash(l, r)   = SHA-256(0x01 || l || r)
 *   entry(n)          = u64be(seq) || i64be(recorded_us) || canonical bytes     the tree's leaf data
 *   verifier key      = name+<8 hex key id>+base64(0x01 || 32-byte Ed25519 public key)
 *   key id            = SHA-256(name || 0x0A || 0x01 || public key)[:4]        c2sp.org/signed-note
 *   signed note       = text, a blank line, then lines "— <name> base64(key id || signature)"
 *   checkpoint text   = origin, tree size (decimal), base64 root hash, then extension lines
 *                                                                             c2sp.org/tlog-checkpoint
 *
 * Verifying computes a root from a proof first and only then compares it (transparency-dev/merkle's
 * RootFromInclusionProof). Three kinds of failure, as in the Python core:
 *
 *   VerifyError
 *    +-- MalformedProof     the input cannot be what it claims (a bad size, a short hash, bad base64)
 *    +-- RootMismatch       the proof computes another root than the one signed (expected, calculated)
 *    +-- SignatureInvalid   no pinned key signed the note, or a signature by a pinned key is wrong
 *
 * Sizes and indexes are BigInt inside (a tree may hold up to 2^64 - 1 leaves); numbers are accepted.
 * Everything is exported as globalThis.LedgerVerify; verify-control.js wires it to the incident page.
 */
(function (root) {
  "use strict";

  const HASH_SIZE = 32;
  const LEAF_PREFIX = 0x00;
  const NODE_PREFIX = 0x01;
  const ED25519_TYPE = 0x01;
  const KEY_ID_LEN = 4;
  const KEY_LEN = 32;
  const MAX_SIZE = (1n << 64n) - 1n;
  const MAX_SIGNATURES = 100;
  const SIGNATURE_PREFIX = "\u2014 "; // em dash, space

  // -- Errors ---------------------------------------------------------------------------------------

  class VerifyError extends Error {
    constructor(message) {
      super(message);
      this.name = new.target.name;
    }
  }
  class MalformedProof extends VerifyError {}
  class SignatureInvalid extends VerifyError {}
  class RootMismatch extends VerifyError {
    constructor(expected, calculated) {
      super(`calculated root ${toHex(calculated)} does not match the expected root ${toHex(expected)}`);
      this.expected = toHex(expected);
      this.calculated = toHex(calculated);
    }
  }

  // -- Bytes ----------------------------------------------------------------------------------------

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  function toHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function fromHex(text, what) {
    if (typeof text !== "string" || !/^([0-9a-f]{2})*$/.test(text)) {
      throw new MalformedProof(`${what} is not lowercase hexadecimal`);
    }
    return Uint8Array.from(text.match(/../g) || [], (pair) => parseInt(pair, 16));
  }

  function encodeBase64(bytes) {
    return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
  }

  /** Standard padded base64, its canonical spelling only (a flipped padding bit must not decode the same). */
  function decodeBase64(text, what) {
    if (typeof text !== "string") throw new MalformedProof(`${what} is not text`);
    let binary;
    try {
      binary = atob(text);
    } catch {
      throw new MalformedProof(`${what} is not valid base64`);
    }
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    if (encodeBase64(bytes) !== text) throw new MalformedProof(`${what} is not canonical base64`);
    return bytes;
  }

  function equalBytes(a, b) {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
    return diff === 0;
  }

  const utf8 = (text) => new TextEncoder().encode(text);

  async function sha256(...parts) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(...parts)));
  }

  // -- Merkle tree (RFC 6962) -------------------------------------------------------------------------

  function leafHash(data) {
    return sha256(Uint8Array.of(LEAF_PREFIX), data);
  }

  function nodeHash(left, right) {
    return sha256(Uint8Array.of(NODE_PREFIX), left, right);
  }

  function toBig(value, what) {
    if (typeof value === "bigint") return value;
    if (Number.isSafeInteger(value)) return BigInt(value);
    throw new MalformedProof(`${what} is not an integer`);
  }

  const bitLength = (n) => (n === 0n ? 0 : n.toString(2).length);
  const bitCount = (n) => n.toString(2).replaceAll("0", "").length;
  const trailingZeros = (n) => bitLength(n & -n) - 1; // n > 0

  /** Where leaf `index`'s path in `size` leaves the right border: [inner, border] hash counts. */
  function decompose(index, size) {
    const inner = bitLength(index ^ (size - 1n));
    return [inner, bitCount(index >> BigInt(inner))];
  }

  async function chainInner(seed, hashes, index) {
    for (const [level, sibling] of hashes.entries()) {
      seed = (index >> BigInt(level)) & 1n ? await nodeHash(sibling, seed) : await nodeHash(seed, sibling);
    }
    return seed;
  }

  async function chainInnerRight(seed, hashes, index) {
    for (const [level, sibling] of hashes.entries()) {
      if ((index >> BigInt(level)) & 1n) seed = await nodeHash(sibling, seed);
    }
    return seed;
  }

  async function chainBorder(seed, hashes) {
    for (const sibling of hashes) seed = await nodeHash(sibling, seed);
    return seed;
  }

  function checkHash(name, value) {
    if (!(value instanceof Uint8Array) || value.length !== HASH_SIZE) {
      const length = value instanceof Uint8Array ? value.length : "not";
      throw new MalformedProof(`${name} is ${length} bytes, expected ${HASH_SIZE}`);
    }
  }

  function checkProof(proof, expected, what) {
    if (proof.length !== expected) throw new MalformedProof(`${what} has ${proof.length} hashes, expected ${expected}`);
    proof.forEach((value, position) => checkHash(`proof hash ${position}`, value));
  }

  function compare(expected, calculated) {
    if (!equalBytes(expected, calculated)) throw new RootMismatch(expected, calculated);
  }

  /** The root that `proof` yields for `leaf` at `index` in a tree of `size` leaves. */
  async function rootFromInclusionProof({ index, size, leaf, proof }) {
    index = toBig(index, "leaf index");
    size = toBig(size, "tree size");
    if (!(0n <= index && index < size)) throw new MalformedProof(`leaf index ${index} is outside a tree of size ${size}`);
    checkHash("leaf hash", leaf);
    const [inner, border] = decompose(index, size);
    checkProof(proof, inner + border, `inclusion proof for ${index} in ${size}`);
    const seed = await chainInner(leaf, proof.slice(0, inner), index);
    return chainBorder(seed, proof.slice(inner));
  }

  /** Check that `leaf` is leaf `index` of the `size`-leaf tree with `root`; throws a VerifyError if not. */
  async function verifyInclusion({ index, size, leaf, proof, root: expected }) {
    // 1. Refuse what cannot be a proof (rootFromInclusionProof checks the rest).
    checkHash("root", expected);
    // 2. Compute the root the proof leads to.
    const calculated = await rootFromInclusionProof({ index, size, leaf, proof });
    // 3. Compare it with the root given.
    compare(expected, calculated);
  }

  /** Check that the `size1`-leaf tree with `root1` is a prefix of the `size2`-leaf tree with `root2`. */
  async function verifyConsistency({ size1, size2, root1, root2, proof }) {
    size1 = toBig(size1, "size1");
    size2 = toBig(size2, "size2");
    // 1. Refuse what cannot be a proof; equal sizes need no computing.
    if (size1 > size2) throw new MalformedProof(`size1 ${size1} is greater than size2 ${size2}: a log cannot shrink`);
    if (size1 < 1n) throw new MalformedProof(`size1 is ${size1}: consistency with an empty tree proves nothing`);
    if (size1 === size2) {
      if (proof.length) throw new MalformedProof(`sizes are equal (${size1}) but the proof has ${proof.length} hashes`);
      compare(root2, root1);
      return;
    }
    checkHash("root1", root1);
    checkHash("root2", root2);
    // 2. Compute both roots the proof leads to: the tail of leaf size1-1's path, above the largest
    //    perfect subtree ending at size1, whose hash comes first unless it is the whole first tree.
    let [inner, border] = decompose(size1 - 1n, size2);
    const shift = trailingZeros(size1);
    inner -= shift;
    const seeded = size1 === 1n << BigInt(shift);
    checkProof(proof, inner + border + (seeded ? 0 : 1), `consistency proof from ${size1} to ${size2}`);
    const [seed, path] = seeded ? [root1, proof] : [proof[0], proof.slice(1)];
    const mask = (size1 - 1n) >> BigInt(shift);
    const calculated1 = await chainBorder(await chainInnerRight(seed, path.slice(0, inner), mask), path.slice(inner));
    const calculated2 = await chainBorder(await chainInner(seed, path.slice(0, inner), mask), path.slice(inner));
    // 3. Compare each with the root given.
    compare(root1, calculated1);
    compare(root2, calculated2);
  }

  // -- Verifier keys (c2sp.org/signed-note, Go's text encoding) -----------------------------------------

  function keyNameDefect(name) {
    if (!name) return "key name is empty";
    for (const char of name) {
      const code = char.codePointAt(0);
      if (char === "+") return `key name ${JSON.stringify(name)} contains '+'`;
      if (/\s/u.test(char)) return `key name ${JSON.stringify(name)} contains a space`;
      if (code < 0x20) return `key name ${JSON.stringify(name)} contains a control character`;
      if (code >= 0xd800 && code <= 0xdfff) return `key name ${JSON.stringify(name)} is not valid Unicode`;
    }
    return null;
  }

  const formatKeyId = (keyId) => keyId.toString(16).padStart(8, "0");

  async function computeKeyId(name, publicKey) {
    const digest = await sha256(utf8(name), Uint8Array.of(0x0a, ED25519_TYPE), publicKey);
    return new DataView(digest.buffer).getUint32(0);
  }

  /** Parse `name+keyid+base64(0x01 || public key)`; the key id must be the key's. */
  async function parseVerifierKey(text) {
    if (typeof text !== "string") throw new MalformedProof("verifier key is not text");
    text = text.trim();
    const first = text.indexOf("+");
    const second = first < 0 ? -1 : text.indexOf("+", first + 1);
    if (second < 0) throw new MalformedProof("verifier key is not of the form name+keyid+key");
    const [name, hexId, encoded] = [text.slice(0, first), text.slice(first + 1, second), text.slice(second + 1)];
    const defect = keyNameDefect(name);
    if (defect) throw new MalformedProof(defect);
    if (!/^[0-9a-f]{8}$/.test(hexId)) throw new MalformedProof("verifier key id is not 8 lowercase hex digits");
    const raw = decodeBase64(encoded, "verifier key");
    if (raw.length === 0 || raw[0] !== ED25519_TYPE) throw new MalformedProof("verifier key type is not Ed25519 (0x01)");
    if (raw.length !== 1 + KEY_LEN) throw new MalformedProof(`verifier key is ${raw.length - 1} bytes, expected ${KEY_LEN}`);
    const publicKey = raw.slice(1);
    const keyId = parseInt(hexId, 16);
    const computed = await computeKeyId(name, publicKey);
    if (keyId !== computed) {
      throw new MalformedProof(`key id ${hexId} does not match key ${name} (computed ${formatKeyId(computed)})`);
    }
    return { name, keyId, publicKey, label: `${name}+${hexId}`, text };
  }

  async function verifySignature(key, message, signature) {
    let ok = false;
    try {
      const publicKey = await crypto.subtle.importKey("raw", key.publicKey, { name: "Ed25519" }, false, ["verify"]);
      ok = await crypto.subtle.verify({ name: "Ed25519" }, publicKey, signature, message);
    } catch {
      ok = false; // a public key WebCrypto will not import verifies nothing
    }
    if (!ok) throw new SignatureInvalid(`invalid signature for key ${key.label}`);
  }

  // -- Signed notes (c2sp.org/signed-note) ----------------------------------------------------------------

  function decodeNote(data) {
    if (typeof data === "string") return data;
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(data);
    } catch {
      throw new MalformedProof("note is not valid UTF-8");
    }
  }

  /** No control characters but the newline; no lone surrogates (they are not UTF-8). */
  function checkCharacters(message) {
    let offset = 0;
    for (const char of message) {
      const code = char.codePointAt(0);
      if (code < 0x20 && char !== "\n") {
        throw new MalformedProof(`note contains control character U+${code.toString(16).toUpperCase().padStart(4, "0")} at offset ${offset}`);
      }
      if (code >= 0xd800 && code <= 0xdfff) throw new MalformedProof(`note is not valid UTF-8 (lone surrogate at offset ${offset})`);
      offset++;
    }
  }

  function parseSignatureLine(line, number) {
    const where = `signature line ${number}`;
    if (!line.startsWith(SIGNATURE_PREFIX)) throw new MalformedProof(`${where} does not start with an em dash (U+2014) and a space`);
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(" ");
    if (space < 0) throw new MalformedProof(`${where} has no space between key name and signature`);
    const [name, encoded] = [rest.slice(0, space), rest.slice(space + 1)];
    if (encoded.includes(" ")) throw new MalformedProof(`${where} has more than two fields (a key name has no spaces)`);
    const defect = keyNameDefect(name);
    if (defect) throw new MalformedProof(`${where}: ${defect}`);
    const raw = decodeBase64(encoded, `${where}: signature`);
    if (raw.length <= KEY_ID_LEN) throw new MalformedProof(`${where}: signature is too short (${raw.length} bytes)`);
    const keyId = new DataView(raw.buffer).getUint32(0);
    return { name, keyId, signature: raw.slice(KEY_ID_LEN), label: `${name}+${formatKeyId(keyId)}` };
  }

  /** Parse a signed note strictly: { text, signatures }; MalformedProof names the first defect. */
  function parseNote(data) {
    const message = decodeNote(data);
    if (!message) throw new MalformedProof("note is empty");
    checkCharacters(message);
    const split = message.lastIndexOf("\n\n");
    if (split < 0) throw new MalformedProof("note has no blank line between its text and its signatures");
    const [text, block] = [message.slice(0, split + 1), message.slice(split + 2)];
    if (!block) throw new MalformedProof("note has no signature lines after its blank line");
    if (!block.endsWith("\n")) throw new MalformedProof("last signature line does not end with a newline");
    const lines = block.slice(0, -1).split("\n");
    if (lines.length > MAX_SIGNATURES) throw new MalformedProof(`note has ${lines.length} signature lines, more than ${MAX_SIGNATURES}`);
    return { text, signatures: lines.map((line, i) => parseSignatureLine(line, i + 1)) };
  }

  /**
   * Verify a signed note against the pinned `keys` (parsed verifier keys, at least one).
   * 1. Parse strictly. 2. Verify each signature by a pinned key (name and key id); ignore the others.
   * 3. Refuse the note unless a pinned key signed it. Returns { text, verifiedBy: [labels], ignored: [labels] }.
   */
  async function verifyNote(data, keys) {
    if (!keys || keys.length === 0) throw new SignatureInvalid("no pinned key: a note cannot be verified against nothing");
    // 1. Parse strictly.
    const note = parseNote(data);
    const message = utf8(note.text);
    // 2. Verify the signatures by pinned keys.
    const verifiedBy = [];
    const ignored = [];
    for (const sig of note.signatures) {
      const key = keys.find((k) => k.name === sig.name && k.keyId === sig.keyId);
      if (!key) {
        ignored.push(sig.label);
        continue;
      }
      await verifySignature(key, message, sig.signature);
      if (!verifiedBy.includes(key.label)) verifiedBy.push(key.label);
    }
    // 3. At least one pinned key must have signed.
    if (verifiedBy.length === 0) {
      const found = note.signatures.map((s) => s.label).join(", ");
      throw new SignatureInvalid(`note has no signature by a pinned key (signed by ${found})`);
    }
    return { text: note.text, verifiedBy, ignored };
  }

  // -- Checkpoints (c2sp.org/tlog-checkpoint) --------------------------------------------------------------

  function checkLine(line, what) {
    if (!line) throw new MalformedProof(`${what} is empty`);
    for (const char of line) {
      if (char.codePointAt(0) < 0x20) throw new MalformedProof(`${what} contains a control character`);
    }
  }

  /** Parse a checkpoint's note text strictly: { origin, size (BigInt), rootHash, extensions }. */
  function parseCheckpointBody(text) {
    if (!text.endsWith("\n")) throw new MalformedProof("checkpoint body does not end with a newline");
    const lines = text.slice(0, -1).split("\n");
    if (lines.length < 3) throw new MalformedProof(`checkpoint body has ${lines.length} line(s), needs origin, tree size and root hash`);
    const [origin, sizeText, rootText, ...extensions] = lines;
    checkLine(origin, "origin");
    if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) throw new MalformedProof("tree size is not a decimal number without leading zeros");
    const size = BigInt(sizeText);
    if (size > MAX_SIZE) throw new MalformedProof(`tree size ${size} is outside 0..2^64-1`);
    const rootHash = decodeBase64(rootText, "root hash");
    if (rootHash.length !== HASH_SIZE) throw new MalformedProof(`root hash is ${rootHash.length} bytes, expected ${HASH_SIZE}`);
    extensions.forEach((line, i) => checkLine(line, `extension line ${i + 1}`));
    return { origin, size, rootHash, extensions };
  }

  /** Verify a signed checkpoint against the pinned keys, then parse it; with `origin`, refuse another log's. */
  async function openCheckpoint(signed, keys, { origin } = {}) {
    const note = await verifyNote(signed, keys);
    const checkpoint = parseCheckpointBody(note.text);
    if (origin !== undefined && checkpoint.origin !== origin) {
      throw new VerifyError(`checkpoint is for origin ${JSON.stringify(checkpoint.origin)}, expected ${JSON.stringify(origin)}`);
    }
    return { ...checkpoint, verifiedBy: note.verifiedBy };
  }

  // -- Entries and events -------------------------------------------------------------------------------------

  /** An entry's frame: u64be seq, i64be recorded_us, then the event's canonical JSON bytes. */
  function parseEntry(entry) {
    if (entry.length <= 16) throw new MalformedProof(`entry is ${entry.length} bytes, too short to hold an event`);
    const view = new DataView(entry.buffer, entry.byteOffset, entry.byteLength);
    let event;
    try {
      event = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(entry.subarray(16)));
    } catch {
      throw new MalformedProof("entry's event is not UTF-8 JSON");
    }
    return { seq: view.getBigUint64(0), recordedUs: view.getBigInt64(8), event };
  }

  /**
   * Verify one event of a proofs answer against a checkpoint already opened with a pinned key:
   * 1. its entry is the event claimed (its seq, and its event_id when `eventId` is given);
   * 2. the leaf is SHA-256(0x00 || entry), computed here, never taken from the server;
   * 3. the inclusion proof leads from that leaf, at index seq - 1, to the checkpoint's root.
   * Throws a VerifyError naming what failed.
   */
  async function verifyEvent(item, checkpoint, { eventId } = {}) {
    const seq = toBig(item.seq, "seq");
    // 1. The entry is the event shown.
    const entry = decodeBase64(item.entry, `entry of seq ${seq}`);
    const parsed = parseEntry(entry);
    if (parsed.seq !== seq) throw new MalformedProof(`entry holds seq ${parsed.seq}, not ${seq}`);
    if (eventId !== undefined && parsed.event.event_id !== eventId) {
      throw new MalformedProof(`entry of seq ${seq} holds another event than the one shown`);
    }
    if (seq > checkpoint.size) throw new MalformedProof(`seq ${seq} is past the checkpoint's tree size ${checkpoint.size}`);
    // 2. The leaf, from the entry's bytes.
    const leaf = await leafHash(entry);
    // 3. The proof, from that leaf to the signed root.
    const proof = item.proof.map((node, i) => fromHex(node, `proof hash ${i} of seq ${seq}`));
    await verifyInclusion({ index: seq - 1n, size: checkpoint.size, leaf, proof, root: checkpoint.rootHash });
    return { seq, eventId: parsed.event.event_id, type: parsed.event.type, leaf: toHex(leaf) };
  }

  root.LedgerVerify = Object.freeze({
    VerifyError,
    MalformedProof,
    RootMismatch,
    SignatureInvalid,
    toHex,
    fromHex,
    encodeBase64,
    decodeBase64,
    leafHash,
    nodeHash,
    rootFromInclusionProof,
    verifyInclusion,
    verifyConsistency,
    computeKeyId,
    parseVerifierKey,
    parseNote,
    verifyNote,
    parseCheckpointBody,
    openCheckpoint,
    parseEntry,
    verifyEvent,
  });
})(globalThis);
