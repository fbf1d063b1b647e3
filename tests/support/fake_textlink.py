"""A small, real HTTP server that imitates TextLink, for integration tests and benchmarks.

::

    with run_fake_textlink(api_key="tl-fake-key") as server:
        client = TextLinkClient(api_key="tl-fake-key", base_url=server.base_url)
        client.send_sms("+11234567890", "Hi")
        assert server.requests[-1][0] == "/api/send-sms"

* HTTP/1.1 with keep-alive, bound to ``127.0.0.1`` on a free port, served from a daemon thread.
* ``requests``: every POST received, as ``(path, headers, json_body)``, e.g.
  ``("/api/send-sms", {"Authorization": "Bearer ...", ...}, {"phone_number": ..., ...})``.
* ``connections``: how many TCP connections were accepted (1 for a client that reuses its
  keep-alive connection).
* ``responses``: overrides, ``{path: (status, body, headers)}``; ``path`` is either the full
  request path (``"/api/send-sms"``) or the endpoint name (``"send-sms"``). A ``str``/``bytes``
  body is sent as is, anything else as JSON.
* ``delay``: seconds to wait before answering (after the request has been recorded).
* A wrong or missing Bearer key gets ``{"ok": false, "message": "API key not found"}``
  (overrides in ``responses`` are answered whatever the key).
* ``codes``/``tags``: what send-code issued per phone and what update-contect-tag set.
"""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DEFAULT_API_KEY = "tl-fake-key-0123456789"

Override = tuple[int, Any, dict[str, str]]


class FakeTextLinkServer(ThreadingHTTPServer):
    """TextLink's four endpoints, with codes kept in memory per phone number."""

    daemon_threads = True
    request_queue_size = 256  # bulk senders open dozens of connections at once
    allow_reuse_address = True

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        delay: float = 0.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        #: When set, connections are TLS (the handshake runs in the handler thread).
        self.ssl_context = ssl_context
        #: The CA file a client must trust (set by ``run_fake_textlink(tls=True)``).
        self.cafile: str | None = None
        self.api_key = api_key
        self.delay = delay
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.responses: dict[str, Override] = {}
        self.connections = 0
        #: The last code sent to each phone number (what /verify-code checks against).
        self.codes: dict[str, str] = {}
        #: Tags set through /update-contect-tag.
        self.tags: dict[str, str] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        self._handler_threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def base_url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}/api"

    # -- connection bookkeeping ----------------------------------------------------------

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        return sock, address

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        with self.lock:
            self.connections += 1
            # Forget finished connections, so a long benchmark does not pile them up.
            self._sockets = [sock for sock in self._sockets if sock.fileno() != -1]
            self._handler_threads = [t for t in self._handler_threads if t.is_alive()]
            if isinstance(request, socket.socket):
                self._sockets.append(request)
            self._handler_threads.append(thread)
        thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients that time out and hang up are expected here."""

    def stop(self) -> None:
        """Stop serving, drop every open keep-alive connection and wait for the handlers."""
        self.stopping.set()
        self.shutdown()
        with self.lock:
            open_sockets = list(self._sockets)
            threads = list(self._handler_threads)
        for sock in open_sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout=5)
        self.server_close()

    # -- the fake API ----------------------------------------------------------------------

    def answer(self, path: str, headers: dict[str, str], body: Any) -> Override:
        endpoint = path.rsplit("/", 1)[-1]
        override = self.responses.get(path) or self.responses.get(endpoint)
        if override is not None:
            return override
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return 200, {"ok": False, "message": "API key not found"}, {}
        if not isinstance(body, dict):
            return 400, {"ok": False, "message": "Body must be a JSON object"}, {}
        phone = body.get("phone_number")
        if not isinstance(phone, str) or not phone.startswith("+"):
            return 200, {"ok": False, "message": "Invalid phone number"}, {}
        if endpoint == "send-sms":
            if not body.get("text"):
                return 200, {"ok": False, "message": "Text is required"}, {}
            return 200, {"ok": True}, {}
        if endpoint == "send-code":
            code = f"{secrets.randbelow(10**6):06d}"
            with self.lock:
                self.codes[phone] = code
            return 200, {"ok": True, "code": code}, {}
        if endpoint == "verify-code":
            with self.lock:
                expected = self.codes.get(phone)
                valid = expected is not None and secrets.compare_digest(
                    str(body.get("code", "")), expected
                )
                if valid:
                    del self.codes[phone]
            if valid:
                return 200, {"ok": True}, {}
            return 200, {"ok": False, "message": "Invalid code"}, {}
        if endpoint == "update-contect-tag":
            with self.lock:
                self.tags[phone] = str(body.get("tag", ""))
            return 200, {"ok": True}, {}
        return 404, "Not Found", {"Content-Type": "text/plain"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and the
    #: client's delayed ACK would add ~40 ms to every answer on a reused connection.
    disable_nagle_algorithm = True
    server: FakeTextLinkServer

    def log_message(self, format: str, *args: Any) -> None:
        """No per-request logging to stderr."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = dict(self.headers.items())
        with self.server.lock:
            self.server.requests.append((self.path, headers, body))
        if self.server.delay and self.server.stopping.wait(self.server.delay):
            self.close_connection = True
            return
        status, payload, extra_headers = self.server.answer(self.path, headers, body)
        self._send(status, payload, extra_headers)

    def do_GET(self) -> None:
        self._send(405, {"ok": False, "message": "Method not allowed"}, {"Allow": "POST"})

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        if isinstance(payload, bytes):
            data = payload
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            if not any(name.lower() == "content-type" for name in headers):
                self.send_header("Content-Type", "application/json")
            for name, value in headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client hung up (e.g. after its read timeout)
            self.close_connection = True


def _self_signed_context(directory: Path) -> tuple[ssl.SSLContext, str]:
    """A server context with a fresh self-signed certificate for 127.0.0.1 (needs openssl)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, str(cert)


@contextmanager
def run_fake_textlink(
    delay: float = 0.0, api_key: str = DEFAULT_API_KEY, *, tls: bool = False
) -> Iterator[FakeTextLinkServer]:
    """Start a :class:`FakeTextLinkServer` in a daemon thread; stop it on exit.

    ``tls=True`` serves HTTPS with a throwaway self-signed certificate (as TextLink serves
    HTTPS); trust it with ``verify=server.cafile``.
    """
    with tempfile.TemporaryDirectory() as directory:
        context, cafile = _self_signed_context(Path(directory)) if tls else (None, None)
        server = FakeTextLinkServer(api_key=api_key, delay=delay, ssl_context=context)
        server.cafile = cafile
        with _serving(server):
            yield server


@contextmanager
def _serving(server: FakeTextLinkServer) -> Iterator[None]:
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        server.stop()
        thread.join(timeout=5)


__all__ = ["DEFAULT_API_KEY", "FakeTextLinkServer", "run_fake_textlink"]
