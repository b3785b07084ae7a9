"""A time-stamping authority for the tests: OpenSSL's own ``openssl ts -reply`` behind HTTP on 127.0.0.1.

``local_tsa(folder)`` makes a throwaway root CA and a TSA certificate under it
(extendedKeyUsage critical, timeStamping), then answers RFC 3161 requests
(POST, application/timestamp-query) by running ``openssl ts -reply`` on each,
from a thread that stops when the block ends. The ledger's client and
verifier are thus tested against a real RFC 3161 implementation, not against
tokens made by the library that verifies them.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_CONFIG = """\
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = {folder}/serial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
[ v3_tsa ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
"""


@dataclass(frozen=True)
class LocalTsa:
    """A running authority: where to send requests, and the root certificate an auditor would trust."""

    url: str
    root: Path


def _openssl(*args: str, cwd: Path, data: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], cwd=cwd, input=data, capture_output=True, check=True).stdout


def make_authority(folder: Path, name: str) -> Path:
    """A root CA and a TSA certificate signed by it, in ``folder``; the root certificate's file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tsa.cnf").write_text(_CONFIG.format(folder=folder))
    (folder / "serial").write_text("01\n")
    curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl("req", "-x509", *curve, "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
             "-subj", f"/CN={name} Root", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign", cwd=folder)  # fmt: skip
    _openssl("req", "-new", *curve, "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", f"/CN={name}", cwd=folder)
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "tsa.pem", "-days", "30", "-extfile", "tsa.cnf", "-extensions", "v3_tsa", cwd=folder)  # fmt: skip
    return folder / "ca.pem"


def reply(folder: Path, query: bytes) -> bytes:
    """``openssl ts -reply`` to one DER request, with the authority in ``folder``."""
    (folder / "request.tsq").write_bytes(query)
    return _openssl("ts", "-reply", "-config", "tsa.cnf", "-queryfile", "request.tsq", "-signer", "tsa.pem",
                    "-inkey", "tsa.key", cwd=folder)  # fmt: skip


@contextmanager
def local_tsa(folder: Path, *, name: str = "Test TSA") -> Iterator[LocalTsa]:
    """An authority answering on 127.0.0.1 while the block runs."""
    root = make_authority(folder, name)
    lock = threading.Lock()  # openssl's serial file and the request file are shared

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self.send_error(415)
                return
            with lock:
                answer = reply(folder, query)
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalTsa(f"http://127.0.0.1:{server.server_address[1]}/tsa", root)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
