"""`ledger import FILE`: backfill events from a JSON Lines file, all checked before any is appended."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ledger.catalogue import Event, canonical_bytes, emitted_defect, json_schema, validate_event
from ledger.errors import InvalidEvent
from ledger.proof import strict_json
from ledger.proof.chain import content_digest
from ledger.store import Ledger
from scripts.common import Exit, add_database_option, open_ledger, say

BATCH = 1000


def add_parser(subparsers: Any, name: str) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        name,
        help="append events from a JSON Lines file (one envelope per line)",
        description=(
            "Check every line against the catalogue and the ledger first; append nothing if any "
            "line is invalid, is one of the ledger's own control events (legal holds, erasures, "
            "access records, key events, the source ledger) or conflicts with a recorded event. "
            "A rerun appends nothing."
        ),
    )
    parser.add_argument("file", type=Path, help="JSON Lines file, one event envelope per line")
    parser.add_argument("--batch-size", type=int, default=BATCH, help=f"events per transaction (default {BATCH})")
    add_database_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Two passes: check everything, then append in batches."""
    if not 1 <= args.batch_size <= 10_000:
        say("ledger import: --batch-size must be between 1 and 10000")
        return Exit.USAGE
    try:
        lines = sum(1 for _ in _events(args.file))  # pass 1a: every line parses and validates
    except OSError as exc:
        say(f"ledger import: cannot read {args.file}: {exc.strerror}")
        return Exit.COULD_NOT_RUN
    except InvalidEvent as exc:
        say(f"ledger import: {args.file}: line {exc.index}: {'; '.join(map(str, exc.errors))}")
        say("nothing was appended")
        return Exit.USAGE
    with open_ledger(args) as ledger:
        conflict = _first_conflict(ledger, args.file)  # pass 1b: no line conflicts with the ledger
        if conflict is not None:
            line, why = conflict
            say(f"ledger import: {args.file}: line {line}: {why}")
            say("nothing was appended")
            return Exit.USAGE
        appended = _append(ledger, args.file, args.batch_size)  # pass 2
    say(f"{appended} appended, {lines - appended} already recorded ({lines} lines)")
    return Exit.OK


def _events(path: Path) -> Iterator[tuple[int, Event]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                data = strict_json.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise InvalidEvent.from_message("", "not valid JSON").at(number) from exc
            except strict_json.DuplicateKey as exc:  # the key is named only if the catalogue defines it
                raise InvalidEvent([exc.field_error(strict_json.schema_names(json_schema()))]).at(number) from None
            defect = emitted_defect(data)  # a backfill of foreign events: never the ledger's own
            if defect is not None:
                raise InvalidEvent([defect]).at(number)
            try:
                yield number, validate_event(data)
            except InvalidEvent as exc:
                raise exc.at(number) from None


def _first_conflict(ledger: Ledger, path: Path) -> tuple[int, str] | None:
    """The first line whose event_id is already used with other content, in the file or the ledger."""
    seen: dict[str, tuple[int, bytes]] = {}
    batch: list[tuple[int, Event]] = []
    for number, event in _events(path):
        digest = content_digest(canonical_bytes(event))
        first = seen.setdefault(event.event_id, (number, digest))
        if first[1] != digest:
            return number, f"event_id {event.event_id} also on line {first[0]} with different content"
        batch.append((number, event))
        if len(batch) == BATCH:
            found = ledger.find_conflict(batch)
            if found:
                return found[0], str(found[1])
            batch = []
    found = ledger.find_conflict(batch) if batch else None
    return (found[0], str(found[1])) if found else None


def _append(ledger: Ledger, path: Path, size: int) -> int:
    appended, batch = 0, []
    for _, event in _events(path):
        batch.append(event)
        if len(batch) == size:
            appended += sum(r.created for r in ledger.append_batch(batch))
            batch = []
    if batch:
        appended += sum(r.created for r in ledger.append_batch(batch))
    return appended
