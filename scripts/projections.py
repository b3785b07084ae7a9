"""`ledger projections`: rebuild the read models, run them, and show their position and lag.

    ledger projections status  [--format text|json]     position, head, lag and health of each view
    ledger projections rebuild [--batch-size N]          drop every view and build it again from the log
    ledger projections run     [--follow] [--pause S]    project what is new (and keep following)

Exit codes: 0 done; 1 a projection failed (it names the seq and event type, and
never skips it); 2 usage; 3 could not run (database unreachable, views built by
another version: rebuild).
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

import orjson

from projections.errors import ProjectionFailed, ViewsOutdated
from projections.runner import DEFAULT_BATCH, REBUILD_BATCH, ProjectionStatus, Projector
from scripts.common import Exit, add_database_option, counted, number_in, open_ledger, say


def add_parser(subparsers: Any, name: str) -> None:
    """Register `ledger projections` and its actions."""
    parser = subparsers.add_parser(
        name,
        help="rebuild, run and inspect the read models (views) built from the log",
        description="The views behind the queries: incidents, timelines, accountability, tools, gaps.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    status = actions.add_parser("status", help="position, lag and health of each view")
    add_database_option(status)
    status.add_argument("--format", choices=("text", "json"), default="text")
    status.set_defaults(run=run_status)

    rebuild = actions.add_parser("rebuild", help="drop every view and rebuild it from the whole log")
    add_database_option(rebuild)
    rebuild.add_argument("--batch-size", type=_positive, default=REBUILD_BATCH, metavar="N")
    rebuild.set_defaults(run=run_rebuild)

    follow = actions.add_parser("run", help="project the records not yet in the views (and keep following)")
    add_database_option(follow)
    follow.add_argument("--follow", action="store_true", help="keep following new records until interrupted")
    follow.add_argument("--batch-size", type=_positive, default=DEFAULT_BATCH, metavar="N")
    poll, pause = number_in(0, 3600, above_low=True), number_in(0, 3600)
    follow.add_argument("--interval", type=poll, default=0.2, metavar="S", help="seconds between polls (--follow), "
                        "more than 0 and at most 3600 (default 0.2)")  # fmt: skip
    follow.add_argument("--pause", type=pause, default=0.0, metavar="S",
                        help="seconds to pause between batches, 0 to 3600 (default 0)")  # fmt: skip
    follow.set_defaults(run=run_follow)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run_status(args: argparse.Namespace) -> int:
    """Print each view's position and lag; exit 1 if one has failed."""
    with open_ledger(args, create_tables=False) as ledger:
        statuses = Projector(ledger).status()
    for status in statuses:
        say(_describe(status))
    if args.format == "json":
        sys.stdout.buffer.write(orjson.dumps([s.to_json() for s in statuses], option=orjson.OPT_INDENT_2) + b"\n")
    return Exit.INTEGRITY if any(s.state == "failed" for s in statuses) else Exit.OK


def _describe(status: ProjectionStatus) -> str:
    lag = "" if status.lag_seconds is None else f", {status.lag_seconds:.1f} s"
    where = f"position {status.position} of {status.head} (lag: {counted(status.lag_events, 'record')}{lag})"
    text = f"{status.name:<10} {status.state:<8} {where}"
    if status.built_version != status.version:
        text += f"; built by version {status.built_version}, code is version {status.version}: rebuild"
    if status.failure:
        failure = status.failure
        text += f"; FAILED at seq {failure['seq']} ({failure['event_type']}): {failure['reason']}"
    return text


def run_rebuild(args: argparse.Namespace) -> int:
    """Rebuild every view; report the rate."""
    with open_ledger(args, create_tables=False) as ledger:
        projector = Projector(ledger)
        say(f"rebuilding the views of {ledger.url.display} ({ledger.head_seq()} records)")
        try:
            report = projector.rebuild(batch_size=args.batch_size, progress=_progress if sys.stderr.isatty() else None)
        except ProjectionFailed as exc:
            say(f"ledger projections: {exc}")
            return Exit.INTEGRITY
    rate = f"{report.events_per_second:,.0f} records/s"
    say(f"rebuilt: {counted(report.events, 'record')} in {report.seconds:.1f} s ({rate})")
    return Exit.OK


def run_follow(args: argparse.Namespace) -> int:
    """Project new records; with --follow, keep going until interrupted."""
    with open_ledger(args, create_tables=False) as ledger:
        projector = Projector(ledger)
        try:
            position = _catch_up(projector, args)
            while args.follow:
                threading.Event().wait(args.interval)
                position = _catch_up(projector, args)
        except ProjectionFailed as exc:
            say(f"ledger projections: {exc}")
            return Exit.INTEGRITY
        except ViewsOutdated as exc:
            say(f"ledger projections: could not run: {exc}")
            return Exit.COULD_NOT_RUN
    say(f"views current up to seq {position}")
    return Exit.OK


def _catch_up(projector: Projector, args: argparse.Namespace) -> int:
    pause = threading.Event()
    while projector.step(batch_size=args.batch_size):
        if args.pause:
            pause.wait(args.pause)
    return projector.position()


def _progress(position: int) -> None:
    sys.stderr.write(f"\r  {position:,} records projected")
    sys.stderr.flush()
