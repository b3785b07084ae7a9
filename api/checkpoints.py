"""The server's checkpoints: one signer, used by the schedule and by the evidence route.

Every ``checkpoint_interval_s`` seconds (0: never) a background thread signs the
log's head when the log has grown since the last checkpoint and a signing key is
active. Signing is ``ledger.checkpointing.make_checkpoint``: it refuses a head
that is not an extension of the last checkpoint signed, keeps the checkpoint in
the database and publishes it to the checkpoint folder.

Signing is serialized by the checkpoint folder's lock, which ``make_checkpoint``
holds (``CheckpointDirectory.signing_lock``), across the server's worker
processes and ``ledger checkpoint`` alike. Without it, a signer that read a
smaller head could try to sign after another signed a larger one, and be
refused as inconsistent: a false alarm.

With a witness policy ($LEDGER_WITNESS_POLICY, c2sp.org/tlog-policy), each
checkpoint the schedule signs is then sent to the policy's witnesses
(``ledger.checkpointing.witness_checkpoint``) and published cosigned once their
quorum is met; a quorum not met is logged and left to the next checkpoint (the
witnesses are asked again from the size they hold). The evidence route does not
wait for witnesses.

Failures are logged by type name (never a value) and tried again at the next
tick. A refusal for integrity (``IntegrityError``: an inconsistent checkpoint, a
broken chain) is an integrity alarm, logged at error level at every tick until
someone looks; it is never swallowed.
"""

from __future__ import annotations

import logging
import threading
from typing import Final

from api.errors import NoSigningKey
from api.runtime import Runtime
from api.settings import Settings
from ledger.checkpointing import Signed, make_checkpoint, witness_checkpoint
from ledger.config import LedgerPaths
from ledger.errors import IntegrityError, StoreUnavailable
from ledger.index import index_age
from ledger.proof.checkpoint import CheckpointDirectory
from ledger.proof.cosignature import Policy, parse_policy
from ledger.proof.files import parse_file
from ledger.proof.keys import format_verifier_key
from ledger.signing import KeyFolder
from ledger.store import Ledger

log = logging.getLogger("api.checkpoints")

STOP_TIMEOUT_S: Final = 30.0  # how long shutdown waits for a signing in progress


class Signer:
    """Signs the log's head with the folder's active key, one signing at a time."""

    def __init__(self, paths: LedgerPaths, *, witnesses: Policy | None = None, index_interval: float = 0.0) -> None:
        self.paths = paths
        self.witnesses = witnesses
        self.index_interval = index_interval  # commit the index when its last commit is this old (0: at every signing)
        self.keys = KeyFolder(paths.keys_dir)
        self.signed_size = 0  # the largest tree size this process has seen signed
        self._lock = threading.Lock()

    def has_key(self) -> bool:
        """True when a signing key is active."""
        return self.keys.has_active_key()

    def sign(self, ledger: Ledger) -> Signed | None:
        """The checkpoint of the head, signed now or found signed; None for an empty log.

        NoSigningKey without an active key; IntegrityError (from make_checkpoint)
        if the head is not an extension of the last checkpoint signed.
        """
        if not self.has_key():
            raise NoSigningKey("the server has no active signing key: run `ledger signing-keys generate`")
        key = self.keys.active_key()
        self.paths.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        folder = CheckpointDirectory(self.paths.checkpoint_dir)
        with self._lock:
            index = self.index_interval <= 0 or index_age(ledger) >= self.index_interval
            signed = make_checkpoint(
                ledger, key, origin=self.paths.origin, folder=folder, index=index, tsas=self.paths.tsa_urls
            )
        if signed is not None:
            self.signed_size = max(self.signed_size, signed.checkpoint.size)
        return signed

    def witness(self, ledger: Ledger, signed: Signed) -> None:
        """Have the policy's witnesses cosign ``signed`` (nothing without a policy); the outcome is logged."""
        if self.witnesses is None:
            return
        folder = CheckpointDirectory(self.paths.checkpoint_dir)
        result = witness_checkpoint(ledger, signed, self.witnesses, folder=folder)
        fields = {"seq": signed.checkpoint.size, "cosigned": len(result.quorum.cosigned_at)}
        if result.quorum.met:
            log.info("checkpoint cosigned by its witnesses", extra={"fields": fields})
        else:
            log.warning("witness quorum not met: checkpoint published without cosignatures", extra={"fields": fields})

    def verifier_keys(self) -> list[str]:
        """Every key ever active, as verifier-key lines (what a bundle carries)."""
        return [format_verifier_key(key) for key in self.keys.keyring()]


class CheckpointSchedule:
    """The thread that signs the head every ``interval`` seconds, if the log has grown."""

    def __init__(self, runtime: Runtime, signer: Signer, *, interval: float) -> None:
        self.runtime = runtime
        self.signer = signer
        self.interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned_no_key = False

    @classmethod
    def of(cls, runtime: Runtime, settings: Settings) -> CheckpointSchedule:
        """The schedule the settings ask for (not started)."""
        ledger_settings = settings.ledger_settings()
        path = ledger_settings.witness_policy  # one that does not parse stops the start, naming it
        policy = parse_file(path, parse_policy, what="witness policy file") if path else None
        signer = Signer(ledger_settings.paths, witnesses=policy, index_interval=settings.index_interval_s)
        return cls(runtime, signer, interval=settings.checkpoint_interval_s)

    @property
    def running(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start ticking (unless the interval is 0: checkpoints are then signed on demand only)."""
        if self.interval <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="ledger-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking; wait for a signing in progress to finish."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT_S)
            if self._thread.is_alive():
                log.warning("checkpoint thread still signing at shutdown")

    def tick(self) -> Signed | None:
        """One round: sign if the log grew; every failure is logged by type and left for the next tick."""
        try:
            return self._sign_if_grown()
        except IntegrityError as exc:
            log.error("integrity alarm: refusing to sign a checkpoint", extra={"fields": _exc(exc)})
        except StoreUnavailable as exc:
            log.warning("checkpoint not signed: the store is unavailable", extra={"fields": _exc(exc)})
        except Exception as exc:  # anything else: logged by type, tried again at the next tick
            log.error("checkpoint not signed", extra={"fields": _exc(exc)})
        return None

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self.tick()

    def _sign_if_grown(self) -> Signed | None:
        if not self.signer.has_key():
            if not self._warned_no_key:
                log.warning("no active signing key: checkpoints are not signed until one is generated")
                self._warned_no_key = True
            return None
        ledger = self.runtime.store().ledger
        if ledger.head_seq() <= self.signer.signed_size:
            return None
        signed = self.signer.sign(ledger)
        if signed is not None and signed.new:
            log.info("checkpoint signed", extra={"fields": {"seq": signed.checkpoint.size}})
            self.signer.witness(ledger, signed)
        return signed


def _exc(exc: BaseException) -> dict[str, str]:
    return {"exc_type": type(exc).__name__}
