"""The ledger: the event catalogue, the proof core, the store and the services over it.

This package imports nothing itself (the proof core must load alone). What the
layers above may use, its public surface, is a named set of modules
(``PUBLIC_SURFACE`` in tests/unit/test_layering.py keeps projections to it):

    ledger.store        Ledger (the facade: appends, reads, batches of the whole
                        log, checkpoints, nodes), DatabaseUrl, Receipt, Record
    ledger.config       LedgerSettings, LedgerPaths: the settings the roots build
    ledger.catalogue    the event types, validation, canonical bytes
    ledger.errors       the exceptions
    ledger.dberrors     how a database error is classified (transient, refused)
    ledger.proof        the proof core: what an auditor can trust without a database

Everything else in ``ledger/store/`` (the recorders, the plan, the COPY stream)
is the store's own: only the store touches eventsourcing's recorders. The
services (apikeys, vault, privacy, erasure, signing, checkpointing, evidence,
ownership, audit, verify_chunks, pgcopy, masterkey, organisations) are for the
API and the command line. docs/architecture.md draws the layers.
"""
