"""`ledger export --incident ID`: one file with an incident's evidence, verifiable offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from ledger.checkpointing import body_of, make_checkpoint
from ledger.errors import IntegrityError
from ledger.evidence import build_bundle, select_evidence, with_index
from ledger.proof.checkpoint import CheckpointDirectory
from ledger.proof.keys import format_verifier_key
from ledger.signing import KeyFolder
from scripts.checkpoint import add_witness_option, cosigned_note, witness_policy
from scripts.common import Exit, add_database_option, counted, open_ledger, say, settings_of


def add_parser(subparsers: Any, name: str) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        name,
        help="export an incident's evidence bundle (events, proofs, signed checkpoint, keys)",
        description=(
            "Select every event relevant to the incident, sign a checkpoint covering them if none does yet, "
            "and write one JSON file that `ledger verify-bundle` checks offline."
        ),
    )
    parser.add_argument("--incident", required=True, metavar="ID", help="the incident_id")
    parser.add_argument("--output", type=Path, help="the bundle file (default: stdout)")
    parser.add_argument(
        "--format",
        choices=("evidence", "fhir"),
        default="evidence",
        help="evidence: the verifiable bundle (default); fhir: a FHIR Bundle (docs/interoperability.md)",
    )
    parser.add_argument("--fhir-version", choices=("R4", "R5"), default="R4", help="with --format fhir")
    parser.add_argument(
        "--with-patient",
        action="store_true",
        help="also prove complete the events about each patient the incident names (by lookup token): every "
        "event about that patient joins the bundle, so export with it only for whoever may see them",
    )
    parser.add_argument("--keys-dir", metavar="DIR", help="default: $LEDGER_KEYS_DIR, else STATE/keys")
    parser.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help="default: $LEDGER_CHECKPOINT_DIR, else STATE/checkpoints",
    )
    add_witness_option(parser)
    add_database_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Select, prove, write (or, with --format fhir, the incident as a FHIR Bundle)."""
    if args.format == "fhir":
        return run_fhir(args)
    settings = settings_of(args)
    paths = settings.paths
    keys = KeyFolder(paths.keys_dir)
    policy = witness_policy(args, settings)
    with open_ledger(args, create_tables=False) as ledger:
        records = select_evidence(ledger, args.incident)
        paths.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        folder = CheckpointDirectory(paths.checkpoint_dir)
        signed = make_checkpoint(
            ledger, keys.active_key(), origin=paths.origin, folder=folder, index=True, tsas=paths.tsa_urls
        )
        if signed is None:  # the incident's events were just read from it: only a wiped log is empty
            raise IntegrityError("the log held the incident's events a moment ago and is now empty")
        note = cosigned_note(ledger, signed, folder=folder, policy=policy)
        verifiers = [format_verifier_key(k) for k in keys.keyring()]
        records, index = with_index(
            ledger, args.incident, records, size=signed.checkpoint.size, patients=args.with_patient
        )
        bundle = build_bundle(
            ledger,
            args.incident,
            records,
            note=note,
            checkpoint=body_of(signed.note),
            keys=verifiers,
            index=index,
        )
    data = bundle.to_bytes()
    if args.output:
        args.output.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
    say(f"exported {counted(len(records), 'event')} with proofs against checkpoint size {signed.checkpoint.size}")
    return Exit.OK


def run_fhir(args: argparse.Namespace) -> int:
    """The incident as a FHIR Bundle, from the views brought up to date first."""
    from projections.errors import NotFound
    from projections.fhir import incident_bundle
    from projections.views import Views

    with open_ledger(args, create_tables=False) as ledger:
        views = Views(ledger)
        views.projector.catch_up()
        try:
            bundle = incident_bundle(views, args.incident, version=args.fhir_version)
        except NotFound:
            say("no such incident in the ledger")
            return Exit.USAGE
    data = orjson.dumps(bundle)
    if args.output:
        args.output.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
    say(f"exported the incident as a FHIR {args.fhir_version} Bundle of {counted(len(bundle['entry']), 'resource')}")
    return Exit.OK
