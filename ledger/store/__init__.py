"""The store: eventsourcing on SQLite (the embedded default) or PostgreSQL, with the chain."""

from ledger.store.ledger import Ledger
from ledger.store.records import Receipt, Record
from ledger.store.url import DatabaseUrl, parse_database_url

__all__ = ["DatabaseUrl", "Ledger", "Receipt", "Record", "parse_database_url"]
