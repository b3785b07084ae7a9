"""The emitters' client: what a clinical system uses to send events to the ledger's API.

    http      LedgerClient: retries, backoff, batches (httpx)
    events    a typed helper per event type of the catalogue
    receipts  what the ledger answers for each event

It imports the event catalogue and httpx only, so the API's tests, the
command line (``ledger serve --demo``) and an emitting system may all use it.
"""
