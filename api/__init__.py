"""The ledger's HTTP API (FastAPI): app factory, settings, dependencies, routes, error mapping.

``api.app.create_app()`` builds the app; nothing happens at import time. The
emitters' client is ``ledger.client.http.LedgerClient``.
"""
