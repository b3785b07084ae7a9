"""The proof core: everything an independent verifier needs, and nothing that needs a database.

One file per formula (docs/ledger-format.md points at each):

    canonical   the canonical bytes of an event
    chain       entry framing, the chain link, and a stored row's hashes in one call
    merkle      RFC 6962 leaf and node hashes, proofs, and the compact range (the tree's right edge)
    note        C2SP signed notes
    cosignature C2SP witness cosignatures, and the tlog-policy that says which witnesses must cosign
    keys        signing and verifier keys
    checkpoint  checkpoint bodies: made, signed, parsed, opened; the write-once checkpoint folder
    sealed      sealed fields as stored, recognised and opened
    verify      the verification steps over a log's rows, and their report
    bundle      evidence bundles, verified offline
    strict_json outside JSON read strictly (no key twice in one object), as a bundle is
    files       named files read as UTF-8 text, with one clear error when they are not

It imports the standard library, cryptography, orjson, ledger.errors and the
event catalogue (pydantic) only: never a database driver, eventsourcing, the
web framework or ledger.store (tests/unit/test_layering.py keeps it so).
"""
