"""A small HTTP server that speaks OPA's Data API with OPA's own engine, for the remote engine.

``POST /v1/data/<path>`` with ``{"input": ...}`` evaluates ``data.<path>`` on the bundle with
OPA's Go engine (golib_engine.py) and answers ``{"result": ..., "decision_id": ...}`` (no
``result`` when undefined), as ``opa run --server`` does
(openpolicyagent.org/docs/rest-api#get-a-document-with-input). With ``?provenance=true`` it adds
``provenance`` as OPA does: its version and, for a bundle loaded as a bundle (``opa run
--bundle``, ``as_bundle=True``), ``bundles: {<name>: {"revision": <.manifest revision>}}``;
loaded as plain files (``opa run policies/``) OPA reports no bundle, and neither does this.
It can be told to misbehave: ``fault`` = "malformed-json", "slow", "http-500", "undefined",
"bad-shape", or None.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from .golib_engine import GolibEngine

# The OPA release the bindings are built from (opa-golib-python-bindings 0.4.4).
OPA_VERSION = "1.20.2"


class OpaDataApiServer:
    """Start with ``start()``; ``url`` is where it listens; ``stop()`` shuts it down."""

    def __init__(
        self, bundle_dir: str | Path, *, slow_s: float = 1.0, as_bundle: bool = True
    ) -> None:
        self._engine = GolibEngine(bundle_dir)
        self.bundle_name = str(bundle_dir)  # OPA names a bundle loaded from disk by its path
        self.as_bundle = as_bundle
        self.fault: str | None = None
        self.slow_s = slow_s
        self.requests = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> OpaDataApiServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open keep-alive connection, as a killed sidecar would."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._engine.close()
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
                connection.close()

    def evaluate(self, path: str, policy_input: Any) -> tuple[bool, Any]:
        return self._engine.evaluate(path.replace("/", "."), policy_input)

    def provenance(self) -> dict[str, Any]:
        """What OPA reports with ``?provenance=true`` (build fields left out)."""
        provenance: dict[str, Any] = {"version": OPA_VERSION}
        if self.as_bundle:
            provenance["bundles"] = {self.bundle_name: {"revision": self._engine.revision}}
        return provenance

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm
            # and the client's delayed ACK add ~40 ms to every keep-alive request.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
                pass

            def setup(self) -> None:
                super().setup()
                server._connections.add(self.connection)

            def finish(self) -> None:
                server._connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def do_POST(self) -> None:
                server.requests += 1
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if not self.path.startswith("/v1/data/"):
                    return self._send(404, {"code": "not_found", "message": self.path})
                path, _, query = self.path[len("/v1/data/") :].partition("?")
                path = path.strip("/")
                params = parse_qs(query, keep_blank_values=True)
                fault = server.fault
                if fault == "slow":
                    time.sleep(server.slow_s)
                if fault == "http-500":
                    return self._send(500, {"code": "internal_error", "message": "boom"})
                if fault == "malformed-json":
                    return self._send_raw(200, b'{"result": {"allow": tru')
                try:
                    policy_input = json.loads(body or b"{}").get("input")
                    defined, value = server.evaluate(path, policy_input)
                except Exception as exc:  # the engine's error becomes OPA's 500
                    return self._send(500, {"code": "internal_error", "message": str(exc)})
                answer: dict[str, Any] = {"decision_id": str(uuid.uuid4())}
                # As OPA: "?provenance" alone or any "true" (case-insensitive) turns it on.
                if any(v.lower() in {"", "true"} for v in params.get("provenance", [])):
                    answer["provenance"] = server.provenance()
                if fault == "bad-shape":
                    answer["result"] = {"allow": "yes"}
                elif defined and fault != "undefined":
                    answer["result"] = value
                return self._send(200, answer)

            def _send(self, status: int, document: Any) -> None:
                self._send_raw(status, json.dumps(document, ensure_ascii=False).encode())

            def _send_raw(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                # The client may have given up (the timeout tests): nothing to tell it then.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        return Handler
