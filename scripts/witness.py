"""`ledger witness`: run a C2SP tlog-witness for other parties' ledgers, or make its key.

    ledger witness generate-key --name witness.example/w1 --key-file w1.key   prints the policy vkey
    ledger witness vkey --key-file w1.key                                    prints it again
    ledger witness serve --key-file w1.key --logs logs.txt --state w1.sqlite3 [--host H] [--port P]

The logs file names the ledgers witnessed, one line each: ``log <origin> <vkey>...``
(the vkeys from the ledger's ``trusted.keys``). The state file remembers, per
origin, the last size and root cosigned: keep it, and never hand it to a log's
operator. The HTTP surface is one route, ``POST /add-checkpoint`` (ledger.witness).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledger.proof.cosignature import cosigner_key, format_cosigner_key
from ledger.proof.files import read_text
from ledger.proof.keys import generate, load_signing_key, save_signing_key
from ledger.witness import MAX_BODY, Reply, Witness, parse_witness_logs
from scripts.common import Exit, say


def add_parser(subparsers: Any, name: str) -> None:
    """Register the subcommand and its three actions."""
    parser = subparsers.add_parser(
        name,
        help="run a C2SP tlog-witness that cosigns other ledgers' checkpoints, or make its key",
        description="A witness cosigns a log's checkpoint only if it extends the last one it cosigned.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    make = actions.add_parser("generate-key", help="make the witness's signing key; print its vkey for policies")
    make.add_argument("--name", required=True, help="the witness's key name, e.g. witness.regulator.example/w1")
    make.add_argument("--key-file", type=Path, required=True, help="where to write the key (mode 0600, never replaced)")
    make.set_defaults(run=_generate)
    show = actions.add_parser("vkey", help="print the witness's vkey (the line for a policy's `witness` entry)")
    show.add_argument("--key-file", type=Path, required=True)
    show.set_defaults(run=_vkey)
    serve = actions.add_parser("serve", help="serve POST /add-checkpoint")
    serve.add_argument("--key-file", type=Path, required=True, help="the witness's signing key")
    serve.add_argument("--logs", type=Path, required=True, help="the logs witnessed: `log <origin> <vkey>...` lines")
    serve.add_argument("--state", type=Path, required=True, help="the witness's SQLite state file (made if absent)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7380)
    serve.set_defaults(run=_serve)


def _generate(args: argparse.Namespace) -> int:
    key = generate(args.name)
    save_signing_key(key, args.key_file)
    say(f"witness key {args.name} written to {args.key_file}; its vkey (for policies) is on stdout")
    sys.stdout.write(format_cosigner_key(cosigner_key(key)) + "\n")
    return Exit.OK


def _vkey(args: argparse.Namespace) -> int:
    sys.stdout.write(format_cosigner_key(cosigner_key(load_signing_key(args.key_file))) + "\n")
    return Exit.OK


def open_witness(*, key_file: Path, logs_file: Path, state: Path) -> Witness:
    """The witness of these files; a bad key or logs file stops here (exit 2, naming it)."""
    logs = parse_witness_logs(read_text(logs_file, what="witness logs file"))
    return Witness(load_signing_key(key_file), logs, state)


def app_for(witness: Witness) -> Starlette:
    """The witness's HTTP app: ``POST /add-checkpoint`` and nothing else."""

    async def add_checkpoint(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            return _response(Reply.text(400, f"malformed request: body larger than {MAX_BODY} bytes"))
        body = await request.body()
        return _response(await run_in_threadpool(witness.add_checkpoint, body))

    return Starlette(routes=[Route("/add-checkpoint", add_checkpoint, methods=["POST"])])


def _response(reply: Reply) -> Response:
    # The content type goes as a header: as media_type, Starlette would add a charset to text/x.tlog.size.
    return Response(reply.body, status_code=reply.status, headers={"content-type": reply.content_type})


def _serve(args: argparse.Namespace) -> int:
    witness = open_witness(key_file=args.key_file, logs_file=args.logs, state=args.state)
    vkey = format_cosigner_key(cosigner_key(witness.key))
    say(f"witness {vkey} for {', '.join(witness.logs.origins())} on http://{args.host}:{args.port}")
    uvicorn.run(app_for(witness), host=args.host, port=args.port, log_level="warning")
    return Exit.OK
