"""`ledger bench` (and `make bench`): every measurement the issues name, each beside its peer or limit, one run.

    ledger bench [--events N] [--reuse] [--quick] [--postgres-url URL] [--json FILE] [--table FILE] [--update-docs]

One run fills a ledger on SQLite and one on PostgreSQL to --events with what
`ledger generate --events N --seed S` appends (the demo hospital's shape,
scripts/demo_hospital/volume.py), once, and every measurement but the append
rates reads that ledger; with --reuse the filled ledgers are kept
(var/bench/ledgers/, schema bench_ledger_<N>_s<seed>) and a later run of the
same size and seed skips the fill. On each store:

    append     the library's batch append            beside plain eventsourcing, and (PostgreSQL)
               (a scratch ledger)                     a binary COPY of the same rows: the database's limit
    http       appends through `ledger serve`          beside the library and a do-nothing handler (PostgreSQL)
    verify     `ledger verify`'s procedure            beside bare SHA-256 chaining of the same bytes, and
                                                      (PostgreSQL) a bare COPY read: the streaming limit
    proofs     inclusion proofs from stored subtrees  beside pymerkle's at the same tree size
    queries    incident timeline / accountability p50 and p95
    rebuild    every view rebuilt from the log
    index      the completeness index built, its proofs, its recomputation beside verify (issue 20)
    pages      incident page, its JSON, the list, the tool dossier, served over the ledger (PostgreSQL;
               scripts/bench_pages.py's timings)
    lag        commit to visible at a steady 1,000 ev/s (last: it appends)
    memory     peak resident memory of each measurement (VmHWM, reset before each)

It writes one JSON result file and one Markdown table (``--update-docs`` puts
the table in docs/performance.md between its bench markers), with the machine,
its load, the date, the command, each target beside its figure and whether it
is met, and the seconds each phase took. Not a test: machines here are shared
and noisy; the ratios, measured side by side in the same run, are the figures
to read. The older per-issue deep dives remain in scripts/bench.py, whose
helpers this reuses.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import random
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Final

import orjson

from scripts.common import Exit, say

PG_URL: Final = "postgresql://postgres@127.0.0.1:5432/test"
DOCS: Final = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
QUICK_EVENTS: Final = 10_000  # one demo hospital: the five incidents are in
LEDGERS: Final = Path("var/bench/ledgers")  # the filled ledgers kept by --reuse
INDEX_STEP: Final = 100_000  # the index is built in catch-ups of this many events
DEFAULT_SIGNING_S: Final = 60.0  # the server's checkpoint interval as shipped (api.settings): the index's HTTP row
INDEX_ROUNDS: Final = 5  # alternating rounds of append alone and with the index kept (medians)
PHASES: list[tuple[str, float]] = []  # (phase, seconds) of the run, in order, for the table's last line


@dataclass
class Row:
    """One figure, its peer or limit from the same run, their ratio, and the target it answers."""

    measure: str
    store: str
    figure: float
    unit: str
    peer: str = ""
    peer_figure: float | None = None
    target: str = ""
    met: bool | None = None
    peak_mb: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """figure / peer figure."""
        return None if not self.peer_figure else self.figure / self.peer_figure


def add_parser(subparsers: Any, name: str) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(name, help="run every benchmark, each figure beside its peer; write JSON + table")
    parser.add_argument("--events", type=int, default=100_000, help="events in each benchmark ledger")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS:,} events, short phases: a smoke run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres-url", default=PG_URL, help="'' to skip PostgreSQL")
    parser.add_argument("--json", type=Path, default=Path("var/bench/result.json"), help="the JSON result file")
    parser.add_argument("--table", type=Path, default=Path("var/bench/result.md"), help="the Markdown table")
    parser.add_argument("--update-docs", action="store_true", help="put the table in docs/performance.md")
    parser.add_argument("--reuse", action="store_true",
                        help=f"keep the filled ledgers ({LEDGERS}/, schema bench_ledger_<N>_s<seed>) and reuse them "
                        "in a later run of the same size and seed, skipping the fill")  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run every measurement on each store; write the results."""
    if args.events < 100:
        say("ledger bench: --events must be at least 100")
        return Exit.USAGE
    events = QUICK_EVENTS if args.quick else args.events
    started, load = datetime.now(UTC), os.getloadavg()[1]
    PHASES.clear()
    rows: list[Row] = []
    with _stores(args.postgres_url, events=events, seed=args.seed, reuse=args.reuse) as stores:
        for store in stores:
            say(f"bench: {store.name}, {events:,} events")
            PHASES.append((store.name, 0.0))
            rows += _store_rows(store, events=events, seed=args.seed, quick=args.quick)
        if args.postgres_url:
            try:
                rows += _http_rows(args.postgres_url, events=min(events, 20_000), seed=args.seed, rows=rows,
                                   rounds=1 if args.quick else INDEX_ROUNDS)  # fmt: skip
            except RuntimeError as exc:  # said in the table, not hidden: the other figures still stand
                say(f"bench: HTTP appends not measured: {str(exc)[:200]}")
                rows.append(Row("HTTP append, batches of 100, one client", "PostgreSQL", float("nan"), "ev/s",
                                note=f"not measured: {str(exc)[:120]}"))  # fmt: skip
    result = {"machine": _machine(), "started": started.isoformat(), "events": events, "quick": args.quick,
              "command": "ledger " + " ".join(sys.argv[1:]), "load": [load, os.getloadavg()[1]],
              "minutes": (datetime.now(UTC) - started).total_seconds() / 60, "phases": PHASES,
              "rows": [{**asdict(r), "ratio": r.ratio} for r in rows]}  # fmt: skip
    table = markdown(result)
    for path, content in ((args.json, orjson.dumps(result, option=orjson.OPT_INDENT_2)), (args.table, table.encode())):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    if args.update_docs:
        _update_docs(table)
    print(table)
    say(f"bench: {len(rows)} figures; JSON in {args.json}, table in {args.table}")
    return Exit.OK


# --- the stores ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    """One store: the ledger every measurement reads (filled once), and a scratch ledger for the append rates."""

    name: str
    url: str
    scratch_url: str
    fill_record: Path | None  # where a kept ledger's fill figure is remembered (--reuse), else None


@contextlib.contextmanager
def _stores(postgres_url: str, *, events: int, seed: int, reuse: bool) -> Iterator[list[Store]]:
    """A SQLite file and a PostgreSQL schema to fill, each with a scratch twin; the scratch ones removed afterwards,
    the filled ones too unless ``reuse`` (then kept in var/bench/ledgers and schema bench_ledger_<N>_s<seed>)."""
    import psycopg

    scratch = f"bench_{uuid.uuid4().hex[:8]}"
    kept = f"bench_ledger_{events}_s{seed}"
    schemas = [scratch] if reuse else [scratch, f"{scratch}_fill"]
    with TemporaryDirectory() as tmp:
        folder = LEDGERS if reuse else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"ledger-{events}-s{seed}" if reuse else "bench"
        record = (lambda store: folder / f"{name}-{store}.fill.json") if reuse else (lambda store: None)
        stores = [Store("SQLite", f"sqlite:///{folder.resolve()}/{name}.sqlite3", f"sqlite:///{tmp}/scratch.sqlite3",
                        record("sqlite"))]  # fmt: skip
        if postgres_url:
            with psycopg.connect(postgres_url, autocommit=True) as conn:
                for schema in schemas:
                    conn.execute(f"CREATE SCHEMA {schema}")
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {kept}")
            filled = kept if reuse else schemas[1]
            stores.append(Store("PostgreSQL", f"{postgres_url}?schema={filled}", f"{postgres_url}?schema={scratch}",
                                record("postgresql")))  # fmt: skip
        try:
            yield stores
        finally:
            if postgres_url:
                with psycopg.connect(postgres_url, autocommit=True) as conn:
                    for schema in schemas:
                        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
                    if not reuse:
                        conn.execute(f"DROP SCHEMA IF EXISTS {kept} CASCADE")


def _store_rows(store: Store, *, events: int, seed: int, quick: bool) -> list[Row]:
    """Every measurement on one store; all but the append rates over one ledger filled once to ``events``."""
    from ledger.store import Ledger
    from scripts.common import ledger_settings

    name, rows = store.name, []
    with _phase("appends"), Ledger(ledger_settings(store.scratch_url)) as scratch:
        rows += _append_rows(name, scratch, seed=seed + 1, events=min(events // 2, 20_000))
    with Ledger(ledger_settings(store.url)) as ledger:
        with _phase("fill"):
            rows.append(_fill(store, ledger, seed=seed, events=events))
        size = ledger.head_seq()
        _drop_index(ledger)
        with _phase("verify"):
            rows += _verify_rows(name, ledger, size)
        with _phase("proofs"):
            rows += _proof_rows(name, ledger, size)
        rows += _projection_rows(name, ledger, quick=quick)
        with _phase("index"):
            rows += _index_rows(name, ledger, verify_rate=next(r.figure for r in rows if r.measure == "verify"))
        if name == "PostgreSQL":
            with _phase("pages"):
                rows += _page_rows(name, ledger, store.url, samples=10 if quick else 50)
    with _phase("lag"):  # last: it appends
        rows.append(_lag_row(name, store.url, quick=quick))
    return rows


def _fill(store: Store, ledger: Any, *, seed: int, events: int) -> Row:
    """What `ledger generate --events N --seed S` appends, into the ledger; a kept ledger already full is reused."""
    from scripts.generate import PROGRESS_EVERY, batches

    measure = "fill (ledger generate), batches of 5,000"
    if store.fill_record is not None and store.fill_record.is_file() and ledger.head_seq() >= events:
        kept = orjson.loads(store.fill_record.read_bytes())
        filled = kept.pop("filled")
        note = f"{ledger.head_seq():,} events in the ledger, kept from the fill of {filled} UTC (--reuse)"
        return replace(Row(**kept), note=note)
    done = created = 0
    with _peak() as peak:
        started = time.perf_counter()
        for batch in batches(seed, events):
            created += sum(r.created for r in ledger.submit(batch))
            before, done = done, done + len(batch)
            if done // PROGRESS_EVERY > before // PROGRESS_EVERY:
                say(f"bench:     {done:,} of {events:,}, {done / (time.perf_counter() - started):,.0f} ev/s")
        seconds = time.perf_counter() - started
    row = Row(measure, store.name, created / seconds, "ev/s", peak_mb=peak(),
              note=f"{ledger.head_seq():,} events in the ledger")  # fmt: skip
    if store.fill_record is not None and created == done:  # a whole fill, not the top-up of a partial one
        store.fill_record.write_bytes(orjson.dumps({**asdict(row), "filled": datetime.now(UTC).isoformat()[:16]}))
    return row


# --- appends -------------------------------------------------------------------------------------


def _append_rows(store: str, ledger: Any, *, seed: int, events: int) -> list[Row]:
    """Batches of 100: the ledger's append of canonical facts beside plain eventsourcing's, then COPY's."""
    from scripts.bench import PlainApp, facts_of, run_batches
    from scripts.benchkit import PlainRecorded
    from scripts.demo_hospital import volume

    sample = list(volume.events(seed, events))
    facts = facts_of(sample)
    with TemporaryDirectory() as tmp:
        plain_env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{tmp}/plain.sqlite3"}
        if store == "PostgreSQL":
            params = ledger.url.settings
            plain_env = {**params, "PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_SCHEMA": params.get(
                "POSTGRES_SCHEMA", "public"), "CREATE_TABLE": "y"}  # fmt: skip
        plain = PlainApp(env=plain_env)
        with _peak() as plain_peak:
            plain_rate = run_batches(lambda items: plain.save(*items), [PlainRecorded.of(f) for f in facts], 100)
        plain.close()
    with _peak() as peak:
        ledger_rate = run_batches(ledger.append_facts, facts, 100)
    rows = [
        Row("library append, batches of 100", store, ledger_rate, "ev/s", "plain eventsourcing", plain_rate,
            "ledger / plain >= 0.75 (issue 2)", ledger_rate / plain_rate >= 0.75, peak(),
            f"{len(facts):,} events; plain eventsourcing peak {plain_peak():.0f} MB"),
    ]  # fmt: skip
    rows += _indexed_append_rows(store, ledger, [facts_of(list(volume.events(seed + 1 + r, events // 2)))
                                                 for r in range(2 * INDEX_ROUNDS)])  # fmt: skip
    if store == "PostgreSQL":
        copy_rate = _copy_rate(ledger, facts)
        rows.append(Row("library append, batches of 100", store, ledger_rate, "ev/s", "binary COPY of the same rows",
                        copy_rate, ">= 10,000 ev/s (issue 2)", ledger_rate >= 10_000, peak()))  # fmt: skip
    return rows


def _indexed_append_rows(store: str, ledger: Any, batches: list[Sequence[Any]]) -> list[Row]:
    """The index's whole cost beside the library's append (no target: issue 20's is on the HTTP path, where
    emitters append): INDEX_ROUNDS alternating rounds on one ledger, medians, of append alone and of append then the
    catch-up that indexes those events (what a signing's commit runs), timed in."""
    from ledger.index import IndexStore, catch_up
    from scripts.bench import run_batches

    index = IndexStore(ledger)
    rates: dict[str, list[float]] = {"alone": [], "indexed": []}
    for facts, kind in zip(batches, itertools.cycle(rates), strict=False):
        catch_up(index, head=ledger.head_seq())  # untimed: the round before's entries
        started = time.perf_counter()
        run_batches(ledger.append_facts, facts, 100)
        if kind == "indexed":
            catch_up(index, head=ledger.head_seq())
        rates[kind].append(len(facts) / (time.perf_counter() - started))
    alone, indexed = (statistics.median(r) for r in rates.values())
    return [Row("library append, then the index's catch-up over those events", store, indexed, "ev/s",
                "library append alone", alone,
                note=f"the index's CPU beside the append's; medians of {INDEX_ROUNDS} alternating rounds of "
                     f"{len(batches[0]):,} events")]  # fmt: skip


def _copy_rate(ledger: Any, facts: Sequence[Any]) -> float:
    """Binary COPY of (seq, event id, type, body, two hashes) into an unlogged table: PostgreSQL's own limit."""
    import psycopg

    from scripts.benchkit import rate

    settings = ledger.url.settings
    conninfo = (f"host={settings['POSTGRES_HOST']} port={settings['POSTGRES_PORT']} "
                f"dbname={settings['POSTGRES_DBNAME']} user={settings['POSTGRES_USER']}")  # fmt: skip
    rows = [(n, f.originator_id, f.event_type, f.body, bytes(32), bytes(32)) for n, f in enumerate(facts)]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE copied (seq bigint, event_id uuid, type text, body bytea, "
                     "prev_hash bytea, hash bytea)")  # fmt: skip
        started = time.perf_counter()
        for start in range(0, len(rows), 100):
            with conn.transaction(), conn.cursor() as cur, cur.copy("COPY copied FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "uuid", "text", "bytea", "bytea", "bytea"])
                for row in rows[start : start + 100]:
                    copy.write_row(row)
        return rate(len(rows), time.perf_counter() - started)


def _http_rows(
    postgres_url: str, *, events: int, seed: int, rows: Sequence[Row] = (), rounds: int = INDEX_ROUNDS
) -> list[Row]:
    """Batches of 100 through `ledger serve` (one worker), beside a handler that does no work (the web stack); then
    the completeness index's cost on that path (``_index_http_row``)."""
    from scripts.demo_hospital import volume

    sample = [dict(e, source="epic-prod") for e in volume.events(seed + 2, events)]
    bodies = [
        (orjson.dumps({"events": sample[i : i + 100]}), len(sample[i : i + 100])) for i in range(0, len(sample), 100)
    ]
    rates = {name: _posting_rate(postgres_url, bodies, app=app)
             for name, app in (("ledger serve", None), ("null", "scripts.bench_apps:create_null_app"))}  # fmt: skip
    measure = "HTTP append, batches of 100, one client"
    found = [Row(measure, "PostgreSQL", rates["ledger serve"], "ev/s", "a do-nothing handler (same stack)",
                 rates["null"], ">= 5,000 ev/s (issue 3)", rates["ledger serve"] >= 5_000,
                 note=f"{len(sample):,} events")]  # fmt: skip
    library = [r for r in rows if r.store == "PostgreSQL" and r.measure.startswith("library append")]
    if library:
        found.append(Row(measure, "PostgreSQL", rates["ledger serve"], "ev/s", "the library, batches of 100",
                         library[0].figure))  # fmt: skip
    return [*found, *_index_http_rows(postgres_url, bodies, rounds)]


def _index_http_rows(postgres_url: str, bodies: list[tuple[bytes, int]], rounds: int) -> list[Row]:
    """Issue 20's cost of the index, where emitters append.

    As shipped, the server signs a checkpoint, committing the index first, every DEFAULT_SIGNING_S: no signing
    falls within a run, so posting is the same with the index as without it, and the index's commit up to the
    last event (timed after the posting, on a ledger opened before) is its whole cost: with / without is posting
    against posting and that commit, in the same run (rounds, medians). Beside it, a stress no target asks for: a
    server signing every second, each signing committing the index, against the same server whose signings do
    not (an index interval of 10^9 s), in alternating rounds; that compares servers, so it moves with the
    machine from one round to the next."""
    runs = [_post_and_commit(postgres_url, bodies, every=DEFAULT_SIGNING_S, index=True) for _ in range(rounds)]
    events = sum(n for _, n in bodies[1:])
    without = statistics.median(events / post for post, _, _ in runs)
    with_ = statistics.median(events / (post + commit) for post, commit, _ in runs)
    commit_s = statistics.median(commit for _, commit, _ in runs)
    each = [post / (post + commit) for post, commit, _ in runs]
    shipped = Row("HTTP append with the completeness index kept", "PostgreSQL", with_, "ev/s",
                  "the same posting, without the index's commit", without, "with / without >= 0.85 (issue 20)",
                  with_ / without >= 0.85,
                  note=f"the server as shipped (a checkpoint every {DEFAULT_SIGNING_S:g} s, each committing the "
                       f"index): posting {events:,} events, then the index's commit up to the last one, "
                       f"{commit_s * 1000:.0f} ms (median); medians of {rounds} runs (run by run "
                       f"{min(each):.2f}-{max(each):.2f})")  # fmt: skip
    rates: dict[bool, list[float]] = {True: [], False: []}
    commits = []
    for _, index in itertools.product(range(rounds), (True, False)):
        post, commit, made = _post_and_commit(postgres_url, bodies, every=1.0, index=index)
        rates[index].append(events / (post + commit))
        commits += [made] if index else []
    pairs = [w / o for w, o in zip(rates[True], rates[False], strict=True)]
    stress = Row(
        "HTTP append, the index committed every second",
        "PostgreSQL",
        statistics.median(rates[True]),
        "ev/s",
        "the same server, its signings not committing the index",
        statistics.median(rates[False]),
        note=f"a checkpoint every 1 s ({DEFAULT_SIGNING_S:g} s by default), each committing the index "
        f"({min(commits)}-{max(commits)} commits a run), the commit up to the last event timed in; "
        f"medians of {rounds} alternating rounds (round by round {min(pairs):.2f}-{max(pairs):.2f})",
    )
    return [shipped, stress]  # fmt: skip


def _post_and_commit(postgres_url: str, bodies: list[tuple[bytes, int]], *, every: float, index: bool
) -> tuple[float, float, int]:  # fmt: skip
    """Seconds posting ``bodies`` but the first (sent first, untimed) to a fresh server that signs every ``every``
    seconds, its signings committing the index or (``index`` False) not; then seconds of the index's commit up to
    the last event (0 without the index), on a ledger opened before; and how many commits the index had."""
    with TemporaryDirectory() as folder:
        state = Path(folder)
        env = {"LEDGER_CHECKPOINT_INTERVAL": f"{every:g}", "LEDGER_API_INDEX_INTERVAL_S": "0" if index else "1e9"}
        with _client(postgres_url, signing=(state, env)) as client, _signed_ledger(postgres_url, state) as ledger:
            client.post("/v1/events/batch", content=bodies[0][0]).raise_for_status()
            time.sleep(2 * every if every < DEFAULT_SIGNING_S else 0)  # its first signing, when it comes soon
            started = time.perf_counter()
            _post(client, bodies[1:])
            posted = time.perf_counter()
            commits = _commit_the_index(ledger) if index else 0
            return posted - started, time.perf_counter() - posted if index else 0.0, commits


def _posting_rate(postgres_url: str, bodies: list[tuple[bytes, int]], *, app: str | None = None) -> float:
    """Events per second posting ``bodies`` ((bytes, events) of each batch) to a fresh server (or ``app``)."""
    with _client(postgres_url, app=app) as client:
        started = time.perf_counter()
        _post(client, bodies, name=app or "ledger serve")
        return sum(n for _, n in bodies) / (time.perf_counter() - started)


@contextlib.contextmanager
def _client(postgres_url: str, **options: Any) -> Iterator[Any]:
    """An HTTP client with an emitter's key, on a fresh `ledger serve` (one worker; scripts.bench_api.server's
    ``options``)."""
    import httpx

    from scripts.bench_api import server

    with server(postgres_url, 1, **options) as (port, _, key, _auditor), httpx.Client(
        base_url=f"http://127.0.0.1:{port}", timeout=60,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    ) as client:  # fmt: skip
        yield client


def _post(client: Any, bodies: list[tuple[bytes, int]], *, name: str = "ledger serve") -> None:
    for body, _ in bodies:
        response = client.post("/v1/events/batch", content=body)
        if response.status_code >= 300:
            raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")


def _signed_ledger(postgres_url: str, state: Path) -> Any:
    """The bench server's ledger (scripts.bench_api's schema), opened with its state folder."""
    from ledger.config import STATE_DIR_ENV, LedgerSettings
    from ledger.store import Ledger
    from scripts.bench_api import SCHEMA

    url = f"{postgres_url}?schema={SCHEMA}"
    return Ledger(LedgerSettings.from_environ({**os.environ, STATE_DIR_ENV: str(state)}, url))


def _commit_the_index(ledger: Any) -> int:
    """Commit the index up to the last event, as the server's next signing would (or see the server's commit do
    it); how many commits the index has had."""
    from ledger.index import COMMITTED, IndexStore, commit_index

    store = IndexStore(ledger)
    while any(r.type != COMMITTED for r in ledger.records(after_seq=(store.commits() or [(0, b"")])[-1][0])):
        commit_index(ledger)  # gives way, and is tried again, if the server's signing is committing
    return len(store.commits())


# --- verification and proofs --------------------------------------------------------------------


def _verify_rows(store: str, ledger: Any, size: int) -> list[Row]:
    from ledger.audit import verify_store
    from ledger.signing import TRUSTED, KeyFolder
    from scripts.bench import _bare_chain_rate

    paths = ledger.settings.paths  # a kept ledger has the checkpoints of the runs before: checked as `verify` would

    with _peak() as peak:
        started = time.perf_counter()
        keyring = KeyFolder(paths.keys_dir).keyring() if (paths.keys_dir / TRUSTED).is_file() else None
        report = verify_store(ledger, keyring=keyring, origin=paths.origin)
        verify_rate = report.events / (time.perf_counter() - started)
    intact = "intact" if report.intact else "BROKEN"
    target, met = (
        (">= 300,000 ev/s at 1,000,000 (issue 4)", verify_rate >= 300_000) if store == "PostgreSQL" else ("", None)
    )
    rows = [Row("verify", store, verify_rate, "ev/s", "bare SHA-256 chaining, same bytes",
                _bare_chain_rate(ledger, min(size, 200_000)), target, met, peak(),
                f"{intact}; peak of this process (the verifier's workers are separate processes)")]  # fmt: skip
    if store == "PostgreSQL":
        rows.append(Row("verify", store, verify_rate, "ev/s", "bare COPY read of the log", _copy_read_rate(ledger)))
    return rows


def _copy_read_rate(ledger: Any) -> float:
    import psycopg

    from ledger import pgcopy
    from scripts.benchkit import rate

    source = ledger.copy_source()
    with psycopg.connect(**source.params) as conn:
        started = time.perf_counter()
        rows = sum(1 for _ in pgcopy.copy_rows(conn, source, lo=None, hi=None))
        return rate(rows, time.perf_counter() - started)


def _proof_rows(store: str, ledger: Any, size: int, *, samples: int = 200) -> list[Row]:
    import importlib

    from scripts.bench import _proof_times

    with _peak() as peak:
        p50, p95 = _proof_times(ledger, size, samples)
    tree = importlib.import_module("pymerkle").InmemoryTree(algorithm="sha256")  # untyped: imported by name
    for record in _records(ledger, size):
        tree.append_entry(record)
    times = []
    for index in random.sample(range(1, size + 1), min(samples, size)):
        started = time.perf_counter()
        tree.prove_inclusion(index, size)
        times.append((time.perf_counter() - started) * 1000)
    theirs = statistics.quantiles(times, n=20)
    return [
        Row("inclusion proof p50", store, p50, "ms", "pymerkle (in memory), same size", statistics.median(times)),
        Row("inclusion proof p95", store, p95, "ms", "pymerkle (in memory), same size", theirs[-1],
            "< 5 ms (issue 4)", p95 < 5, peak()),
    ]  # fmt: skip


def _records(ledger: Any, size: int) -> Iterator[bytes]:
    after = 0
    while after < size:
        records = ledger.read(after_seq=after, limit=10_000)
        if not records:
            return
        yield from (r.entry for r in records)
        after = records[-1].seq


# --- projections ---------------------------------------------------------------------------------


def _projection_rows(store: str, ledger: Any, *, quick: bool) -> list[Row]:
    from scripts import bench_projections as pb

    with _phase("rebuild"), _peak() as peak:
        rebuild = pb.measure_rebuild(ledger)
    rows = [Row("projection rebuild", store, rebuild["events_per_second"], "ev/s", target=">= 20,000 ev/s (issue 5)",
                met=rebuild["events_per_second"] >= 20_000, peak_mb=peak(),
                note=f"{rebuild['events']:,} events in {rebuild['seconds']:.0f} s")]  # fmt: skip
    with _phase("queries"), _peak() as peak:
        try:
            queries = pb.measure_queries(ledger, samples=20 if quick else 200)
        except ValueError:  # too few events for an incident
            queries = {}
    for name in queries:
        p95 = queries[name]["p95"]
        rows.append(Row(f"{name} query p50 / p95", store, p95, "ms p95", note=f"p50 {queries[name]['p50']:.1f} ms",
                        target="p95 < 50 ms (issue 5)", met=p95 < 50, peak_mb=peak()))  # fmt: skip
    return rows


def _lag_row(store: str, url: str, *, quick: bool) -> Row:
    from scripts import bench_projections as pb

    lag = pb.measure_lag(url, rate=1000.0, seconds=2.0 if quick else 15.0)
    return Row("projection lag p95 at 1,000 ev/s", store, lag["lag_p95_s"], "s",
               note=f"p50 {lag['lag_p50_s']:.3f} s, {lag['rate']:,.0f} ev/s achieved",
               target="p95 < 1 s (issue 5)", met=lag["lag_p95_s"] < 1)  # fmt: skip


# --- the completeness index and the pages, over the same ledger -----------------------------------


def _index_rows(store: str, ledger: Any, *, verify_rate: float, samples: int = 200) -> list[Row]:
    """The index built over the whole log, its proofs, its recomputation beside verify's steps 1-10 (issue 20)."""
    from ledger.audit import index_claims
    from ledger.index import IndexStore, catch_up
    from ledger.proof.verify import Report, check_index
    from scripts.benchkit import percentile

    index, head = IndexStore(ledger), ledger.head_seq()
    with _peak() as peak:
        started = time.perf_counter()
        # In steps, as a server that commits the index at each checkpoint builds it: one catch-up over a whole
        # 1,000,000-event log, in one transaction, outlasted PostgreSQL's idle-in-transaction timeout (5 s).
        for size in [*range(INDEX_STEP, head, INDEX_STEP), head]:
            catch_up(index, head=size)
        catch_up_rate = head / (time.perf_counter() - started)
    rows = [Row("index build over the whole log", store, catch_up_rate, "ev/s", peak_mb=peak(),
                note=f"catch-up in steps of {INDEX_STEP:,}")]  # fmt: skip
    times = []
    for key in _index_keys(ledger, head, samples):
        started = time.perf_counter()
        index.prove(key, tree_size=head)
        times.append((time.perf_counter() - started) * 1000)
    if times:
        p95 = percentile(times, 0.95)
        rows.append(Row("index proof p50 / p95", store, p95, "ms p95", target="p95 < 10 ms at 1,000,000 (issue 20)",
                        met=p95 < 10 if head >= 1_000_000 else None,
                        note=f"p50 {statistics.median(times):.2f} ms, {len(times)} keys"))  # fmt: skip
    with _peak() as peak:
        claims = index_claims(ledger)
        started = time.perf_counter()
        check_index(((r.seq, r.body) for r in ledger.records()), claims, Report())
        recompute = head / (time.perf_counter() - started)
    rows.append(Row("index recomputation (verify step 11)", store, recompute, "ev/s",
                    "verify, steps 1-10 (the verify row)", verify_rate, peak_mb=peak()))  # fmt: skip
    return rows


def _drop_index(ledger: Any) -> None:
    """Drop the completeness index's tables (derived, rebuilt by the index row): a kept ledger's, from a run
    before, would otherwise add verify's step 11 to the verify row and leave the index row nothing to build."""
    from ledger.index import TABLES, IndexStore

    with IndexStore(ledger).transaction() as run:
        for table in TABLES:
            run(f"DROP TABLE IF EXISTS {{{table}}}", ())


def _index_keys(ledger: Any, head: int, samples: int) -> list[str]:
    """Index keys of events picked at random through the log."""
    from ledger.proof.index import index_keys

    keys: list[str] = []
    rng = random.Random(11)
    for _ in range(samples * 4):
        if len(keys) == samples:
            break
        records = ledger.read(after_seq=rng.randrange(head), limit=1)
        data = orjson.loads(records[0].body).get("data") if records else None
        keys += sorted(index_keys(data))[:1] if isinstance(data, dict) else []
    return keys


_PAGES: Final = {
    "page": "incident page, served",
    "api": "incident accountability JSON, served",
    "list": "incident list page, served",
    "drawn": "incident page drawn in Chromium",
    "dossier": "tool dossier at a random as-of, served",
    "dossier_first": "tool dossier, first answer (draws its plots)",
}
_PAGE_TARGETS: Final = {  # issue 16: (target, limit in ms, checked at 1,000,000 events)
    _PAGES["page"]: ("p95 < 100 ms at 1,000,000 (issue 16)", 100.0),
    _PAGES["dossier"]: ("p95 < 100 ms at 1,000,000 (issue 16)", 100.0),
    _PAGES["drawn"]: ("< 1 s at 1,000,000 (issue 16)", 1000.0),
}


def _page_rows(store: str, ledger: Any, url: str, *, samples: int) -> list[Row]:
    """The pages served by `ledger serve` over this ledger (scripts/bench_pages.py's timings), after a checkpoint."""
    from ledger.checkpointing import make_checkpoint
    from ledger.proof.checkpoint import CheckpointDirectory
    from ledger.signing import KeyFolder
    from scripts import bench_pages

    paths = ledger.settings.paths
    key = KeyFolder(paths.keys_dir).activate_new("bench.example", ledger=ledger, actor=bench_pages._OPERATOR,
                                                 reason=None).key  # fmt: skip
    paths.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    make_checkpoint(ledger, key, origin=paths.origin, folder=CheckpointDirectory(paths.checkpoint_dir))
    ids = [str(r.incident_id) for r in bench_pages._incidents(ledger)]
    with TemporaryDirectory() as tmp:
        served = bench_pages._measure(url, Path(tmp), ids, bench_pages._tools(ledger), samples)
    rows = []
    for name, value in served.items():
        name = _PAGES.get(name, name)
        figures = re.findall(r"[\d.]+", value.replace(",", ""))
        if name == _PAGES["dossier_first"]:
            rows.append(Row(name, store, max(map(float, figures)), "ms, the slowest tool", note=f"each: {value} ms"))
        elif len(figures) == 2:
            target, limit = _PAGE_TARGETS.get(name, ("", None))
            met = None if limit is None or ledger.head_seq() < 1_000_000 else float(figures[1]) < limit
            rows.append(Row(f"{name} p50 / p95", store, float(figures[1]), "ms p95", target=target, met=met,
                            note=f"p50 {float(figures[0]):.1f} ms; {len(ids):,} incidents"))  # fmt: skip
        else:
            rows.append(Row(name, store, float("nan"), "ms", note=value))
    return rows


# --- measuring and writing -----------------------------------------------------------------------


@contextlib.contextmanager
def _phase(name: str) -> Iterator[None]:
    """Say how long a phase took, so a long run shows where its time goes."""
    started = time.perf_counter()
    yield
    seconds = time.perf_counter() - started
    PHASES.append((name, seconds))
    say(f"bench:   {name}: {seconds:.1f} s")


@contextlib.contextmanager
def _peak() -> Iterator[Callable[[], float]]:
    """Peak resident memory (MB) of this process over the block: VmHWM, reset at its start where Linux allows."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    found: list[float] = []
    yield lambda: found[0] if found else float("nan")
    try:
        status = Path("/proc/self/status").read_text()
        found.append(int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024)  # type: ignore[union-attr]
    except (OSError, AttributeError):
        found.append(float("nan"))


def _machine() -> str:
    from scripts.benchkit import machine

    return machine()


def markdown(result: dict[str, Any]) -> str:
    """The result as one Markdown table, with the machine, the date and the size."""
    load = result.get("load") or [float("nan")] * 2
    lines = [
        f"Run {result['started'][:16]} UTC, {result['events']:,} events per ledger"
        f"{' (quick)' if result['quick'] else ''}, on {result['machine']}, in {result.get('minutes', 0):.0f} "
        f"minutes (`{result.get('command', 'ledger bench')}`). The machine was shared with other work (load average "
        f"{load[0]:.1f} at the start, {load[1]:.1f} at the end, 5-minute): read the ratios, measured side by side "
        "in the same run, not the absolute figures.",
        "",
        "| measure | store | figure | peer or limit (same run) | peer | ratio | peak MB | target | met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        peer = "" if row["peer_figure"] is None else f"{row['peer_figure']:,.2f}"
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}"
        peak = "" if row["peak_mb"] is None else f"{row['peak_mb']:,.0f}"
        met = {True: "met", False: "not met", None: ""}[row["met"]]
        note = f" ({row['note']})" if row["note"] else ""
        lines.append(f"| {row['measure']}{note} | {row['store']} | {row['figure']:,.2f} {row['unit']} | {row['peer']} "
                     f"| {peer} | {ratio} | {peak} | {row['target']} | {met} |")  # fmt: skip
    groups: list[str] = []
    for name, seconds in result.get("phases", []):  # a store's name (0 s) opens its group
        groups += [f"{name}:"] if not seconds and name in ("SQLite", "PostgreSQL") else []
        if seconds and groups:
            groups[-1] += f"{',' if not groups[-1].endswith(':') else ''} {name} {seconds:,.0f}"
    if groups:
        lines += ["", f"Seconds each phase took: {'; '.join(groups)}."]
    return "\n".join(lines) + "\n"


def _update_docs(table: str) -> None:
    text = DOCS.read_text()
    block = f"{START}\n{table}{END}"
    if START in text and END in text:
        text = text[: text.index(START)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.replace("\n## ", f"\n## The latest `ledger bench` run\n\n{block}\n\n## ", 1)
    DOCS.write_text(text)
