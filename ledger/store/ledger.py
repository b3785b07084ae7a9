"""The ledger's front door: append facts, read them back, by seq or event_id."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from types import TracebackType
from typing import Any
from uuid import UUID

from ledger.catalogue import Event, sensitive_fields, validate_event
from ledger.config import LedgerSettings
from ledger.dberrors import translated
from ledger.errors import EventConflict, InvalidEvent, StoreUnavailable
from ledger.masterkey import MasterKey
from ledger.pgcopy import CopySource
from ledger.privacy import Keys, NewKey, Sealer
from ledger.proof.canonical import canonical_json_validated
from ledger.proof.chain import content_digest
from ledger.proof.sealed import Opened, open_event
from ledger.store.app import Fact, LedgerApplication, recorder_topic
from ledger.store.recorder import topic_of_type
from ledger.store.records import Receipt, Record, StoredCheckpoint, event_uuid
from ledger.store.stream import Scanned, scanned
from ledger.store.url import DatabaseUrl
from ledger.vault import SubjectKeysTaken, Vault

MAX_BATCH = 10_000
# Seal-and-append attempts of one batch while other writers store keys first for its new
# subjects. Each lost race leaves those keys stored, so a second loss needs another new
# subject of the batch to be raced for; more than a few means something else is wrong.
KEY_RACE_ATTEMPTS = 5


def _facts(events: Sequence[Event], canonicals: Sequence[dict[str, Any]]) -> list[Fact]:
    return [
        Fact(event_uuid(e.event_id), 1, e.type, canonical_json_validated(c))
        for e, c in zip(events, canonicals, strict=True)
    ]


class Ledger:
    """An open ledger on SQLite or PostgreSQL.

    ``settings``: what a composition root read from the environment
    (``LedgerSettings.from_environ``); a database URL alone stands for that
    database with nothing else configured (``LedgerSettings.for_database``).
    ``master_key`` and ``previous_master_keys``, when given, replace the
    settings' master keys.
    """

    def __init__(
        self,
        settings: LedgerSettings | DatabaseUrl | str,
        *,
        create_tables: bool = True,
        master_key: MasterKey | None = None,
        previous_master_keys: Sequence[MasterKey] | None = None,
    ) -> None:
        self.settings = settings if isinstance(settings, LedgerSettings) else LedgerSettings.for_database(settings)
        self.url = self.settings.database
        self._create_tables = create_tables
        self._master_key = master_key
        self._previous_master_keys = previous_master_keys  # None: the settings' (a rotation's retired keys)
        self._keys: Keys | None = None
        env = dict(self.url.settings)
        env["APPLICATION_RECORDER_TOPIC"] = recorder_topic(self.url.backend)
        env["CREATE_TABLE"] = "y" if create_tables else "n"
        env.setdefault("POSTGRES_LOCK_TIMEOUT", "30")
        env.setdefault("POSTGRES_CONNECT_TIMEOUT", "5")
        env.setdefault("POSTGRES_POOL_SIZE", "4")
        env.setdefault("POSTGRES_MAX_OVERFLOW", "12")
        path = self.url.sqlite_path
        if path is not None and create_tables:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif path is not None and not path.is_file():
            raise StoreUnavailable(f"no ledger database at {path}")
        with translated():
            self.app = LedgerApplication(env=env)
        self.recorder = self.app.ledger_recorder

    @property
    def datastore(self) -> Any:
        """The log's database connections (eventsourcing's datastore): read models keep their tables beside it."""
        return self.recorder.datastore  # type: ignore[attr-defined]

    @property
    def events_table(self) -> str:
        """The name of the table holding the entries (columns ``seq`` and ``state``, the event's bytes), for a
        reader that wants only those (the completeness index's catch-up); unqualified by schema."""
        return str(self.recorder.events_table_name)  # type: ignore[attr-defined]

    def submit(self, raw_events: Sequence[object]) -> list[Receipt]:
        """Validate raw envelopes against the catalogue, then append them atomically.

        Raises InvalidEvent naming the event's position and the field at fault;
        nothing is written unless every event is valid.
        """
        events = []
        for index, raw in enumerate(raw_events):
            try:
                events.append(validate_event(raw))
            except InvalidEvent as exc:
                raise exc.at(index) from None
        return self.append_batch(events)

    @property
    def keys(self) -> Keys:
        """The subject keys (opened on first use, with the settings' master keys if none were given)."""
        if self._keys is None:
            configured = self.settings.master_keys
            master = self._master_key or configured.current(create=self._create_tables)
            previous = self._previous_master_keys
            vault = Vault(self.datastore, self.url.backend)
            with translated():
                if self._create_tables:
                    vault.create()
                self._keys = Keys(vault, master, configured.previous() if previous is None else previous)
        return self._keys

    def facts(self, events: Sequence[Event]) -> list[Fact]:
        """Validated events as stored facts; new subjects' keys are made and stored first, in their own transaction.

        For comparing with what is stored (``find_conflict``). ``append_batch``
        does not use it: it stores new keys in the append's own transaction.
        """
        canonicals = [e.to_canonical_dict() for e in events]
        if self._seals(events):
            canonicals = Sealer(self.keys).seal_all(canonicals)
        return _facts(events, canonicals)

    def _seals(self, events: Sequence[Event]) -> bool:
        return any(sensitive_fields(e.type) for e in events)

    def _sealed_facts(self, events: Sequence[Event]) -> tuple[list[Fact], list[NewKey]]:
        """Facts sealed under the stored keys, or under fresh keys (returned, not stored) for new subjects."""
        canonicals = [e.to_canonical_dict() for e in events]
        if not self._seals(events):
            return _facts(events, canonicals), []
        sealed = Sealer(self.keys).seal_batch(canonicals)
        return _facts(events, sealed.events), sealed.new_keys

    def open(self, record: Record, *, reveal: bool = True) -> Opened:
        """A record's event with sealed fields opened (``[erased]`` once erased; ``[sealed]`` unless revealed)."""
        return open_event(record.body, self.keys if reveal else None)

    def append(self, event: Event) -> Receipt:
        """Record one event; a retry of the same event returns the original receipt."""
        return self.append_batch([event])[0]

    def append_batch(self, events: Sequence[Event]) -> list[Receipt]:
        """Record events atomically, all or nothing; one receipt per event, in order.

        Raises EventConflict (and writes nothing) if any event_id was already
        recorded with other content.

        Sealing happens before the append lock. A new subject's data key is made
        here and stored in the append's own transaction, so a key is kept only
        with the events sealed under it. If another writer stored a key for one
        of those subjects first, nothing was written: the events are sealed again
        under the stored key and appended again (InputError if it was erased).
        """
        if len(events) > MAX_BATCH:
            raise ValueError(f"a batch holds at most {MAX_BATCH} events")
        for _ in range(KEY_RACE_ATTEMPTS):
            facts, new_keys = self._sealed_facts(events)
            try:
                receipts = self.append_facts(facts, new_keys=new_keys)
            except SubjectKeysTaken:
                continue  # not cached, never stored: the next seal reads the winner's key
            if new_keys:  # (a ledger that never sealed needs no key table)
                self.keys.kept(new_keys)
            return receipts
        raise StoreUnavailable(f"other writers stored new subjects' keys first {KEY_RACE_ATTEMPTS} times; retry")

    def append_facts(self, facts: Sequence[Fact], *, new_keys: Sequence[NewKey] = ()) -> list[Receipt]:
        """Record already-canonical facts (the lower-level form of append_batch).

        ``new_keys``: the fresh keys some facts are sealed under, stored in the
        same transaction (SubjectKeysTaken, with nothing written, if another writer
        stored a key for one of those subjects first).
        """
        if not facts:
            return []
        # The application's mapper, then the recorder's append. Application.save() would first
        # check each fact against a runtime Protocol, which costs more than hashing it; facts
        # are not aggregates, so there is nothing to collect.
        stored = [self.app.mapper.to_stored_event(fact) for fact in facts]
        with translated():
            return self.recorder.append(stored, subject_keys=[k.row() for k in new_keys])

    def find_conflict(self, items: Sequence[tuple[int, Event]]) -> tuple[int, EventConflict] | None:
        """The first (position, conflict) among events whose id is recorded with other content."""
        facts = list(zip([position for position, _ in items], self.facts([e for _, e in items]), strict=True))
        with translated():
            existing = self.recorder.select_existing([f.originator_id for _, f in facts])
        for position, fact in facts:
            earlier = existing.get(fact.originator_id)
            if earlier is not None and earlier.digest != content_digest(fact.body):
                return position, EventConflict(earlier.receipt.event_id, seq=earlier.receipt.seq)
        return None

    def get(self, event_id: str | UUID) -> Record | None:
        """The record of one event, or None if the ledger does not hold it."""
        with translated():
            return self.recorder.select_record(event_uuid(event_id))

    def read(self, *, after_seq: int = 0, limit: int = 1000) -> list[Record]:
        """Up to ``limit`` records after ``after_seq``, in seq order."""
        with translated():
            return self.recorder.select_records(after_seq=after_seq, limit=limit)

    def records(self, *, after_seq: int = 0, page: int = 5000) -> Iterator[Record]:
        """Every record after ``after_seq``, paged so memory stays flat."""
        while batch := self.read(after_seq=after_seq, limit=page):
            yield from batch
            after_seq = batch[-1].seq

    def batches(self, *, after_seq: int, size: int) -> Generator[Sequence[Record | Scanned], None, None]:
        """Every record after ``after_seq``, in seq order, duplicates and gaps included, in lists of up to ``size``.

        For a reader of the whole log (a projections rebuild): on SQLite pages of
        Records (``read``); on PostgreSQL one binary COPY stream from one snapshot,
        of lean ``Scanned`` rows (ledger.store.stream). Records appended after
        that snapshot are left to the reader's ordinary reads.
        """
        source = self.copy_source()  # None on SQLite
        if source is None:
            return self._pages(after_seq, size)
        return scanned(source, after_seq=after_seq, size=size)

    def _pages(self, after_seq: int, size: int) -> Generator[Sequence[Record], None, None]:
        while records := self.read(after_seq=after_seq, limit=size):
            yield records
            after_seq = records[-1].seq

    def events_of_types(self, types: Sequence[str], *, after_seq: int = 0, page: int = 500) -> Iterator[Record]:
        """Every record of one of ``types`` after ``after_seq``, in seq order (read by type: no scan of the log)."""
        if not types:
            raise ValueError("events_of_types needs at least one event type")
        topics = [topic_of_type(t) for t in types]
        while True:
            with translated():
                batch = self.recorder.select_records(after_seq=after_seq, limit=page, topics=topics)
            if not batch:
                return
            yield from batch
            after_seq = batch[-1].seq

    def head_seq(self) -> int:
        """The last seq (0 for an empty ledger)."""
        with translated():
            return int(self.recorder.max_notification_id() or 0)

    def replica_lag_s(self) -> float | None:
        """How many seconds this database is behind the primary it streams from, or None if it is a primary.

        On a PostgreSQL standby: 0.0 once it has replayed everything it received, else
        the age of the last transaction it replayed (an upper bound while the primary writes).
        """
        with translated():
            return self.recorder.replica_lag_s()

    def scan(self, *, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
        """Raw joined rows for verification, in seq order, duplicates and gaps included."""
        with translated():
            yield from self.recorder.scan_records(batch=batch)

    def copy_source(self) -> CopySource | None:
        """Where verification's worker processes read the rows (PostgreSQL), or None (SQLite)."""
        return self.recorder.copy_source()

    def unchained_events(self) -> list[str]:
        """Stored events that carry no chain position (event_ids)."""
        with translated():
            return self.recorder.unchained_events()

    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Stored perfect Merkle nodes among ``keys`` (the merkle.NodeReader protocol)."""
        with translated():
            return self.recorder.get_nodes(keys)

    def store_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        """Keep a signed checkpoint in the database (it is also published outside it)."""
        with translated():
            self.recorder.insert_checkpoint(checkpoint)

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every checkpoint the ledger signed, smallest size first."""
        with translated():
            return self.recorder.select_checkpoints()

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The checkpoint of the largest tree size the ledger signed, or None (one indexed read)."""
        with translated():
            return self.recorder.select_latest_checkpoint()

    def close(self) -> None:
        """Release the database connections."""
        self.app.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
