"""The witness's HTTP interface (C2SP tlog-witness, "HTTP Interface"): ``POST
<prefix>/add-checkpoint`` served from a ``Witness``, and the client call a log makes to it.

The server answers with the statuses ``Witness.add_checkpoint`` chooses (200 with cosignature
lines; 400, 403, 404, 409, 422 as the spec says), plus 404 for any other path, 411 without a
Content-Length and 413 for a body above 64 KiB. HTTP keep-alive is supported (HTTP/1.1).
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog

from gateway.ledger.witness import MAX_REQUEST_BYTES, Witness, WitnessRefusal

log = structlog.get_logger(__name__)

ADD_CHECKPOINT = "/add-checkpoint"


@dataclass(frozen=True)
class WitnessResponse:
    status: int
    content_type: str
    body: str


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: WitnessHTTPServer

    def do_POST(self) -> None:
        if self.path != self.server.prefix + ADD_CHECKPOINT:
            self._answer(404, f"no such endpoint {self.path}; POST {ADD_CHECKPOINT}\n")
            return
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self._answer(411, "a Content-Length is required\n")
            return
        length = int(length_text)
        if length > MAX_REQUEST_BYTES:
            self._answer(413, f"expected a request of at most {MAX_REQUEST_BYTES} bytes\n")
            self.close_connection = True
            return
        body = self.rfile.read(length)
        try:
            cosignatures = self.server.witness.add_checkpoint(body)
        except WitnessRefusal as refusal:
            self._answer(refusal.status, refusal.body, refusal.content_type)
            return
        self._answer(200, cosignatures)

    def do_GET(self) -> None:
        self._answer(404, f"no such endpoint {self.path}; POST {ADD_CHECKPOINT}\n")

    def _answer(self, status: int, text: str, content_type: str = "text/plain") -> None:
        data = text.encode("utf-8")
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        log.info("witness.http", client=self.client_address[0], request=format % args)


class WitnessHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], witness: Witness, prefix: str = "") -> None:
        super().__init__(address, _Handler)
        self.witness = witness
        self.prefix = prefix.rstrip("/")

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}{self.prefix}"


class BackgroundWitness:
    """A witness serving from a thread (tests, demo): ``with BackgroundWitness(w) as url: ...``."""

    def __init__(self, witness: Witness, listen: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        self.server = WitnessHTTPServer(listen, witness)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        return self.server.url

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.server.shutdown()
            self._thread.join(timeout=10)
        self.server.server_close()


def post_add_checkpoint(url: str, body: bytes, timeout_s: float) -> WitnessResponse:
    """POST an add-checkpoint request to a witness at ``url`` (its submission prefix). Network
    failures raise OSError; any HTTP answer is returned."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"expected an http:// or https:// witness URL, found {url!r}")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url.rstrip("/") + ADD_CHECKPOINT,
        data=body,
        method="POST",
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return WitnessResponse(
                response.status,
                response.headers.get_content_type(),
                response.read(MAX_REQUEST_BYTES).decode("utf-8", "replace"),
            )
    except urllib.error.HTTPError as error:
        return WitnessResponse(
            error.code,
            error.headers.get_content_type() if error.headers else "",
            error.read(MAX_REQUEST_BYTES).decode("utf-8", "replace"),
        )
