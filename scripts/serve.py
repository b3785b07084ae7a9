"""`ledger serve`: the API under uvicorn, on the database of $LEDGER_DATABASE_URL (SQLite by default).

The app is named by its import string (``api.app:create_app``, a factory), so
workers can be separate processes; each builds its own app from the
environment. Logs are JSON lines on stderr. On SIGTERM or Ctrl-C, uvicorn stops
accepting connections, lets in-flight requests finish (up to
--graceful-timeout seconds), and the app's lifespan commits every queued append
before the store is closed.

With --demo, a checkpoint-signing key is generated first if none is active (so
the server's schedule has something to sign with), the demo hospital (scripts/demo_hospital) is
loaded through the API's client once the server is up, and the demo's admin, emitter
and reader keys are printed to stderr with the docs' address and the command
that verifies the ledger. The keys are minted once per ledger and kept in its
state folder (scripts/demo_keys.py): a restart prints the same ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from api.logging import log_config
from api.settings import Settings
from ledger.apikeys import KeyStore
from ledger.checkpointing import make_checkpoint
from ledger.client.http import EventConflict, LedgerApiError, LedgerClient
from ledger.config import LedgerSettings
from ledger.errors import LedgerError, StoreUnavailable
from ledger.ownership import check_belongs
from ledger.proof.checkpoint import CheckpointDirectory
from ledger.signing import KeyFolder
from ledger.store import Ledger
from ledger.store.url import ENV_VAR
from scripts.common import Exit, add_database_option, ledger_settings, say
from scripts.demo_keys import DEMO_SOURCE, DemoKeys, demo_keys

APP = "api.app:create_app"
ORGANISATIONS_APP = "api.organisations:create_deployment_from_settings"
DEMO_SIGNING_KEY = "ledger.demo.example"
DEMO_OPERATOR = {"id": "ledger-demo", "role": "ledger_operator", "kind": "system"}


def add_parser(subparsers: Any, name: str) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        name,
        help="serve the REST API (and the pages) with uvicorn",
        description="Run the ledger's HTTP API. The database comes from --database-url or $LEDGER_DATABASE_URL.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    parser.add_argument("--graceful-timeout", type=int, default=30, help="seconds to finish in-flight requests")
    parser.add_argument("--demo", action="store_true", help="load the demo story and print demo API keys")
    parser.add_argument(
        "--organisations",
        metavar="FILE",
        help="serve one ledger per organisation and their top-level ledger, as the deployment FILE describes "
        "(JSON: docs/scaling.md)",
    )
    add_database_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    if not 1 <= args.workers <= 64 or not 0 < args.port < 65536:
        say("ledger serve: --workers must be 1-64 and --port 1-65535")
        return Exit.USAGE
    if args.organisations:
        return _serve_organisations(args)
    if args.database_url:
        os.environ[ENV_VAR] = args.database_url  # the workers read it from the environment
    settings = ledger_settings()
    base = f"http://{args.host}:{args.port}"
    say(f"serving {settings.database.display} at {base}")
    say(f"  pages: {base}/   API docs: {base}/docs   OpenAPI: {base}/openapi.json")
    _check_settings()
    _check_master_keys(settings)
    _check_checkpoint_folder(settings)
    if args.demo:
        _ensure_signing_key(settings)
        paths = settings.paths
        keys = demo_keys(KeyStore(settings.database), paths.state_dir or paths.keys_dir.parent)
        threading.Thread(target=_load_demo, args=(base, keys, settings), name="demo-loader", daemon=True).start()
    _uvicorn(APP, args)
    return Exit.OK


def _serve_organisations(args: argparse.Namespace) -> int:
    """Serve a deployment of organisation ledgers (api.organisations), after the same checks for each ledger."""
    from api.organisations import organisation_settings, read_deployment
    from api.settings import ORGANISATIONS_ENV
    from ledger.organisations import Deployment

    if args.demo or args.database_url:
        say("ledger serve: --organisations names every database itself; it takes neither --demo nor --database-url")
        return Exit.USAGE
    deployment = Deployment.from_json(read_deployment(args.organisations))  # InputError: one line, exit 2
    base = f"http://{args.host}:{args.port}"
    say(f"serving {len(deployment.members)} organisation ledgers and their top-level ledger at {base}")
    for name, organisation in (*deployment.members.items(), ("top", deployment.top)):
        path = f"{base}/top" if organisation is deployment.top else f"{base}/orgs/{name}"
        settings = organisation_settings(_check_settings(), organisation).ledger_settings()
        say(f"  {name}: {settings.database.display} at {path}/")
        _check_master_keys(settings)
        _check_checkpoint_folder(settings)
    os.environ[ORGANISATIONS_ENV] = str(Path(args.organisations).resolve())  # the workers read it
    _uvicorn(ORGANISATIONS_APP, args)
    return Exit.OK


def _uvicorn(app: str, args: argparse.Namespace) -> None:
    uvicorn.run(
        app,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=_log_config(args.log_level),
        access_log=False,
        timeout_graceful_shutdown=args.graceful_timeout,
        server_header=False,
    )


def _log_config(level: str) -> dict[str, Any]:
    return log_config(level)


def _check_settings() -> Settings:
    """Before uvicorn starts: a malformed LEDGER_API_* setting stops `serve` with one line naming it (exit 2)."""
    return Settings.from_env()


def _check_master_keys(settings: LedgerSettings) -> None:
    """Before uvicorn starts: master keys that cannot open the ledger's key table stop `serve` with one clear line.

    Otherwise the app's startup fails on them inside uvicorn, which logs a
    traceback. A database that is down is left to the server, which answers 503
    until it comes up.
    """
    try:
        with Ledger(settings) as ledger:
            _ = ledger.keys
    except StoreUnavailable:
        return


def _check_checkpoint_folder(settings: LedgerSettings) -> None:
    """Before uvicorn starts: a checkpoint folder that belongs to another ledger stops `serve` (exit 2, one line).

    Otherwise every scheduled signing would be refused, and the server would
    publish nothing while it seemed to run.
    """
    folder = settings.paths.checkpoint_dir
    if not folder.is_dir():
        return
    try:
        with Ledger(settings) as ledger:
            check_belongs(folder, ledger)
    except StoreUnavailable:
        return


def _ensure_signing_key(settings: LedgerSettings) -> None:
    """Generate and activate a demo signing key (recorded in the log) unless one is active."""
    folder = KeyFolder(settings.paths.keys_dir)
    if folder.has_active_key():
        return
    with Ledger(settings) as ledger:
        key = folder.activate_new(DEMO_SIGNING_KEY, ledger=ledger, actor=DEMO_OPERATOR, reason="demo").key
    say(f"demo: signing key {key.name} {key.verifier().key_id:08x} generated in {folder.path}")


def _load_demo(base: str, keys: DemoKeys, settings: LedgerSettings) -> None:
    """Wait for the server, load the story through the client, then say where everything is."""
    from scripts.demo_hospital import DEFAULT_SEED, load

    with LedgerClient(base, keys.tokens["admin"], retries=20, timeout=60.0) as client:
        _wait_ready(client)
        try:
            loaded = load.through_api(client, seed=DEFAULT_SEED)
        except EventConflict:
            say("demo: this ledger already holds another version of the demo story; serve a fresh database "
                "(delete var/, or pass --database-url) to load this one")  # fmt: skip
            return
        except LedgerApiError as exc:
            say(f"demo: the demo hospital could not be loaded: {exc}")
            return
    say(load.describe(loaded))
    _sign_checkpoint(settings)
    kept = "minted now" if keys.minted else "kept from an earlier start"
    say(f"demo ready. Pages: {base}/ (sign in with the reader key below)   API docs: {base}/docs")
    say(f"  demo API keys ({kept}, in {keys.path}):")
    say(f"    admin:    {keys.tokens['admin']}")
    say(f"    emitter:  {keys.tokens['emitter']}   (may append for source {DEMO_SOURCE})")
    say(f"    reader:   {keys.tokens['reader']}")
    say("  more keys: ledger api-keys create --help")
    for line in load.where_to_look(base):
        say(line)
    say(f"  verify the ledger: {_command()} verify --database-url {settings.database.display}")


def _sign_checkpoint(settings: LedgerSettings) -> None:
    """Publish a checkpoint of the story now (the schedule would in a minute), so `verify` has one to check."""
    paths = settings.paths
    try:
        paths.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        with Ledger(settings) as ledger:
            key = KeyFolder(paths.keys_dir).active_key()
            folder = CheckpointDirectory(paths.checkpoint_dir)
            signed = make_checkpoint(ledger, key, origin=paths.origin, folder=folder)
    except (LedgerError, OSError) as exc:  # said in one line; the server goes on serving
        say(f"demo: no checkpoint published: {exc}")
        return
    if signed is not None:
        say(f"demo: checkpoint of size {signed.checkpoint.size} published in {paths.checkpoint_dir}")


def _command() -> str:
    """How this command was started (.venv/bin/ledger under `make demo`), so the line printed can be pasted."""
    started = sys.argv[0]
    return started if os.path.basename(started) == "ledger" else "ledger"


def _wait_ready(client: Any, *, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            client.log(limit=1)
            return
        except Exception:  # not up yet (connection refused, 503)
            time.sleep(0.2)
