"""The sandbox's HTTP server: TextLink's API under ``/api/``, the inbox at ``/``, the
inbox's forms under ``/inbox/`` and the JSON control API under ``/_sandbox/``.

A :class:`~http.server.ThreadingHTTPServer` (one daemon thread per connection, HTTP/1.1
keep-alive, ``Content-Length`` on every answer) from the standard library only; HTTPS
when the config has a certificate (the TLS handshake runs in the connection's thread).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypedDict
from urllib.parse import parse_qs, urlsplit

from django_textlink import __version__
from django_textlink.sandbox.config import (
    DEFAULT_API_KEY,
    DEFAULT_MAX_CALLS,
    DEFAULT_MAX_MESSAGES,
    Faults,
    SandboxConfig,
    clean_phone,
    mask_key,
    parse_fault,
)
from django_textlink.sandbox.inbox import inbox_href, render_inbox
from django_textlink.sandbox.state import SandboxError, SandboxState
from django_textlink.sandbox.tls import server_context

logger = logging.getLogger("django_textlink.sandbox")

MAX_BODY = 1024 * 1024
#: Seconds an idle keep-alive connection is kept open.
IDLE_TIMEOUT = 300
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}

HTML_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


class SandboxServer(ThreadingHTTPServer):
    """TextLink's four endpoints, a web inbox and a control API, in memory.

    ``connections`` counts every TCP connection accepted; ``api_connections`` only those
    that carried at least one call of TextLink's API, so a client's keep-alive reuse can
    be checked while a test also uses the control API (over its own connection)."""

    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, config: SandboxConfig, *, state: SandboxState | None = None) -> None:
        self.config = config
        self.state = state or SandboxState(config)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._handler_threads: list[threading.Thread] = []
        self._serving = False
        #: TCP connections accepted so far (keep-alive clients reuse theirs).
        self.connections = 0
        #: Connections that carried at least one call to ``/api/``.
        self.api_connections = 0
        #: Set when the config has a certificate: every connection is then TLS.
        self.ssl_context: ssl.SSLContext | None = (
            server_context(config.tls_cert, config.tls_key) if config.tls_cert else None
        )
        if ":" in config.host:
            self.address_family = socket.AF_INET6
        super().__init__((config.host, config.port), SandboxHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() looks up the host's FQDN, which can take seconds.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        """Where a client on this machine reaches the sandbox, e.g. ``http://127.0.0.1:8025``."""
        host = self.config.host
        if host in ("", "0.0.0.0"):  # noqa: S104 - reading, not binding
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"{self.config.scheme}://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What ``TEXTLINK["BASE_URL"]`` must be: ``http://127.0.0.1:8025/api``."""
        return f"{self.url}/api"

    @property
    def loopback_only(self) -> bool:
        try:
            return ipaddress.ip_address(self.config.host).is_loopback
        except ValueError:
            return self.config.host == "localhost"

    # -- connections ---------------------------------------------------------------------

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._serving = True
        super().serve_forever(poll_interval)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.ssl_context is not None:
            # The handshake happens on the first read, in the connection's own thread: a
            # client that never completes it does not block the accepting loop.
            sock = self.ssl_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        return sock, address

    def count_api_connection(self) -> None:
        with self.lock:
            self.api_connections += 1

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        with self.lock:
            self.connections += 1
            self._sockets = [sock for sock in self._sockets if sock.fileno() != -1]
            self._handler_threads = [t for t in self._handler_threads if t.is_alive()]
            if isinstance(request, socket.socket):
                self._sockets.append(request)
            self._handler_threads.append(thread)
        thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: clients that time out and hang up are normal here."""
        if self.config.verbose:
            logger.exception("Error while answering %s", client_address)

    def stop(self) -> None:
        """Stop serving, close open keep-alive connections, wait for the handlers."""
        self.stopping.set()
        if self._serving:
            self.shutdown()
        with self.lock:
            open_sockets = list(self._sockets)
            threads = list(self._handler_threads)
        for sock in open_sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + 5
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.server_close()
        self.state.sender.close()


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"TextLinkSandbox/{__version__}"
    #: Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and
    #: the client's delayed ACK add ~40 ms to every answer on a reused connection.
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT
    server: SandboxServer
    #: Whether this connection was counted in ``server.api_connections``.
    _api_counted = False

    @property
    def state(self) -> SandboxState:
        return self.server.state

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.config.verbose:
            super().log_message(format, *args)

    # -- methods -------------------------------------------------------------------------

    def do_GET(self) -> None:
        if not self._host_allowed():
            return
        parts = urlsplit(self.path)
        query = _query(parts.query)
        path = parts.path
        if path == "/":
            self._inbox(query)
        elif path == "/favicon.ico":
            self._send(404, b"", "text/plain")
        elif path.startswith("/_sandbox/"):
            self._control_get(path.removeprefix("/_sandbox/"), query)
        elif path.startswith("/api/"):
            self._json(405, {"ok": False, "message": "Use POST"}, {"Allow": "POST"})
        else:
            self._json(404, {"ok": False, "message": "Not found"})

    def do_POST(self) -> None:
        if not self._host_allowed() or not self._same_origin():
            return
        raw = self._read_body()
        if raw is None:
            return
        path = urlsplit(self.path).path
        if path.startswith("/api/"):
            self._api(path.removeprefix("/api/"), raw)
        elif path.startswith("/inbox/"):
            self._form(path.removeprefix("/inbox/"), raw)
        elif path.startswith("/_sandbox/"):
            self._control_post(path.removeprefix("/_sandbox/"), raw)
        else:
            self._json(404, {"ok": False, "message": "Not found"})

    def do_DELETE(self) -> None:
        if not self._host_allowed() or not self._same_origin():
            return
        if self._read_body() is None:
            return
        if urlsplit(self.path).path == "/_sandbox/faults":
            self._json(200, {"ok": True, "faults": self.state.clear_faults().to_dict()})
        else:
            self._json(405, {"ok": False, "message": "Method not allowed"})

    def do_PUT(self) -> None:
        if self._read_body() is not None:
            self._json(405, {"ok": False, "message": "Method not allowed"})

    do_PATCH = do_PUT

    # -- guards ------------------------------------------------------------------------------

    def _host_allowed(self) -> bool:
        """On loopback, refuse other Host names (a DNS-rebinding page cannot drive it)."""
        if not self.server.loopback_only:
            return True
        host = self.headers.get("Host")
        if host is None:
            return True
        name = urlsplit(f"//{host}").hostname or ""
        if name in LOOPBACK_NAMES or name == self.server.config.host:
            return True
        self.close_connection = True
        self._json(403, {"ok": False, "message": "Unknown Host header"})
        return False

    def _same_origin(self) -> bool:
        """Refuse POSTs from other web pages (the inbox's forms and the control API
        change state and fire webhooks with the secret)."""
        fetch_site = self.headers.get("Sec-Fetch-Site")
        origin = self.headers.get("Origin")
        expected = f"{self.server.config.scheme}://{self.headers.get('Host', '')}"
        cross = fetch_site not in (None, "same-origin", "none") or (
            origin is not None and origin != expected
        )
        if cross:
            self.close_connection = True
            self._json(403, {"ok": False, "message": "Cross-origin requests are refused"})
        return not cross

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._json(411, {"ok": False, "message": "Send a Content-Length"})
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._json(413, {"ok": False, "message": f"The body must be 0 to {MAX_BODY} bytes"})
            return None
        return self.rfile.read(length) if length else b""

    # -- TextLink's API -----------------------------------------------------------------

    def _api(self, endpoint: str, raw: bytes) -> None:
        if not self._api_counted:
            self._api_counted = True
            self.server.count_api_connection()
        call = self.state.receive(endpoint, dict(self.headers.items()), raw)
        latency = self.state.faults.latency
        if latency and self.server.stopping.wait(latency):
            self.close_connection = True
            return
        result = self.state.answer(call)
        answer = result.answer
        if answer.drop:
            self.close_connection = True
        elif answer.text:
            self._send(
                answer.status,
                str(answer.body).encode(),
                "text/plain; charset=utf-8",
                dict(answer.headers),
            )
        else:
            self._json(answer.status, answer.body, dict(answer.headers))
        if result.followups:
            threading.Thread(target=_run_all, args=(result.followups,), daemon=True).start()

    # -- the inbox -------------------------------------------------------------------------

    def _inbox(self, query: dict[str, str]) -> None:
        phone = _phone_param(query.get("phone"))
        refresh = _int_param(query.get("refresh"), self.server.config.refresh, 0, 3600)
        notice_id = _int_param(query.get("notice"), 0, 0, 2**31)
        notice = self.state.notice(notice_id) if notice_id else None
        page = render_inbox(
            self.state, url=self.server.url, phone=phone, refresh=refresh, notice=notice
        )
        self._send(200, page.encode("utf-8"), "text/html; charset=utf-8", HTML_HEADERS)

    def _form(self, action: str, raw: bytes) -> None:
        fields = _query(raw.decode("utf-8", "replace"))
        phone_filter = _phone_param(fields.get("filter"))
        refresh = _int_param(fields.get("refresh"), 0, 0, 3600)
        state = self.state
        try:
            if action == "reply":
                message, outcome = state.reply(
                    fields.get("phone_number", ""),
                    fields.get("text", ""),
                    name=fields.get("name", "").strip() or None,
                )
                phone_filter = phone_filter or message.phone_number
                notice = state.add_notice(
                    "success", f"Reply from {message.phone_number} stored.", [outcome]
                )
            elif action == "fail":
                message, outcomes = state.fail(_int_param(fields.get("message_id"), 0, 0, 2**62))
                notice = state.add_notice(
                    "success",
                    f"Message {message.id} to {message.phone_number} marked failed.",
                    outcomes,
                )
            elif action == "tag":
                phone = fields.get("phone_number", "")
                outcome = state.change_tag(phone, fields.get("tag", "").strip())
                notice = state.add_notice(
                    "success", f"Tag of {outcome.phone_number} changed.", [outcome]
                )
            elif action == "faults":
                state.set_faults(_faults_from_form(fields))
                notice = state.add_notice("success", f"Faults: {state.faults.describe()}.")
            elif action == "reset":
                state.reset()
                phone_filter = None
                notice = state.add_notice("success", "The sandbox was cleared.")
            else:
                self._json(404, {"ok": False, "message": "Not found"})
                return
        except (SandboxError, ValueError) as err:
            notice = state.add_notice("error", str(err))
        location = inbox_href(phone_filter, refresh=refresh or None, notice=notice)
        self._send(303, b"", "text/plain", {"Location": location})

    # -- the control API -------------------------------------------------------------------

    def _control_get(self, route: str, query: dict[str, str]) -> None:
        state = self.state
        now = state.clock()
        if route == "health":
            self._json(200, {"ok": True, "base_url": self.server.base_url})
        elif route == "messages":
            phone = _phone_param(query.get("phone"))
            kind = query.get("kind") or None
            messages = [m.to_dict(now) for m in state.list_messages(phone, kind)]
            self._json(200, {"ok": True, "messages": messages})
        elif route.startswith("messages/"):
            message_id = _int_param(route.removeprefix("messages/"), 0, 0, 2**62)
            message = state.get_message(message_id)
            if message is None:
                self._json(404, {"ok": False, "message": "No such message"})
            else:
                self._json(200, {"ok": True, "message": message.to_dict(now)})
        elif route == "tags":
            with state.lock:
                tags = dict(state.tags)
            self._json(200, {"ok": True, "tags": tags})
        elif route == "calls":
            with state.lock:
                calls = [c.to_dict() for c in reversed(state.calls)]
            self._json(200, {"ok": True, "calls": calls})
        elif route == "webhooks":
            with state.lock:
                hooks = [w.to_dict() for w in reversed(state.webhooks)]
            self._json(200, {"ok": True, "webhooks": hooks})
        elif route == "faults":
            self._json(200, {"ok": True, "faults": state.faults.to_dict()})
        else:
            self._json(404, {"ok": False, "message": "Not found"})

    def _control_post(self, route: str, raw: bytes) -> None:
        state = self.state
        try:
            data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (UnicodeDecodeError, ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            self._json(400, {"ok": False, "message": "The body must be a JSON object"})
            return
        now = state.clock()
        try:
            if route == "faults":
                self._json(200, {"ok": True, "faults": state.set_faults(data).to_dict()})
            elif route == "reset":
                state.reset()
                self._json(200, {"ok": True})
            elif route == "reply":
                message, outcome = state.reply(
                    data.get("phone_number", ""),
                    data.get("text", ""),
                    name=data.get("name"),
                    tag=data.get("tag"),
                    sim_card_id=data.get("sim_card_id"),
                )
                self._json(
                    200, {"ok": True, "message": message.to_dict(now), "webhook": outcome.to_dict()}
                )
            elif route == "fail":
                message_id = data.get("message_id")
                if message_id is not None and (
                    not isinstance(message_id, int) or isinstance(message_id, bool)
                ):
                    raise SandboxError("message_id must be a whole number.")
                custom_id = data.get("custom_id")
                if message_id is None and custom_id is None:
                    raise SandboxError("Give a message_id or a custom_id.")
                message, outcomes = state.fail(message_id, custom_id=custom_id)
                self._json(
                    200,
                    {
                        "ok": True,
                        "message": message.to_dict(now),
                        "webhooks": [o.to_dict() for o in outcomes],
                    },
                )
            elif route == "tag":
                tag = data.get("tag")
                if not isinstance(tag, str):
                    raise SandboxError("Give the tag as a string.")
                outcome = state.change_tag(data.get("phone_number", ""), tag, name=data.get("name"))
                self._json(200, {"ok": True, "webhook": outcome.to_dict()})
            else:
                self._json(404, {"ok": False, "message": "Not found"})
        except SandboxError as err:
            status = 404 if "No such message" in str(err) else 400
            self._json(status, {"ok": False, "message": str(err)})
        except ValueError as err:
            self._json(400, {"ok": False, "message": str(err)})

    # -- writing ---------------------------------------------------------------------------

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._send(status, data, "application/json", headers)

    def _send(
        self,
        status: int,
        data: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Write one answer; a ``Content-Type`` in ``headers`` replaces ``content_type``."""
        extra = dict(headers or {})
        for name in [name for name in extra if name.lower() == "content-type"]:
            content_type = extra.pop(name)
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            for name, value in extra.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if data:
                self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client hung up (after its own timeout, say)
            self.close_connection = True


def _run_all(actions: list[Callable[[], object]]) -> None:
    for action in actions:
        with suppress(Exception):
            action()


def _query(text: str) -> dict[str, str]:
    """The first value of each parameter."""
    return {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()}


def _phone_param(value: str | None) -> str | None:
    """A phone from a query string; an unencoded ``+`` arrives as a space."""
    if not value or not value.strip():
        return None
    if value.startswith(" "):
        value = "+" + value.lstrip()
    return clean_phone(value) or value.strip()


def _int_param(value: str | None, default: int, low: int, high: int) -> int:
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        return default
    return min(max(number, low), high)


def _faults_from_form(fields: dict[str, str]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in ("latency", "error_rate", "queued_rate"):
        value = fields.get(name, "").strip()
        if value:
            try:
                changes[name] = float(value)
            except ValueError:
                label = name.replace("_", " ").capitalize()
                raise SandboxError(f"{label} must be a number.") from None
    numbers: dict[str, Any] = {}
    for line in fields.get("numbers", "").splitlines():
        if line.strip():
            key, answer = parse_fault(line.strip())
            numbers[key] = answer
    changes["numbers"] = numbers
    return changes


# -- running it -----------------------------------------------------------------------------


class SandboxSettings(TypedDict, total=False):
    """The keyword settings :func:`run_sandbox` passes on to :func:`make_config`, where
    their defaults are."""

    host: str
    port: int
    api_key: str
    site_url: str | None
    webhook_base: str | None
    webhook_secret: str | None
    webhook_timeout: float
    latency: float
    error_rate: float
    queued_rate: float
    faults: dict[str, Any] | None
    seed: int | None
    verbose: bool
    auto_webhooks: bool
    refresh: int
    max_messages: int
    max_calls: int
    tls_cert: str | None
    tls_key: str | None


def make_config(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str = DEFAULT_API_KEY,
    site_url: str | None = None,
    webhook_base: str | None = None,
    webhook_secret: str | None = None,
    webhook_timeout: float = 10.0,
    latency: float = 0.0,
    error_rate: float = 0.0,
    queued_rate: float = 0.0,
    faults: dict[str, Any] | None = None,
    seed: int | None = None,
    verbose: bool = False,
    auto_webhooks: bool = False,
    refresh: int = 0,
    max_messages: int = DEFAULT_MAX_MESSAGES,
    max_calls: int = DEFAULT_MAX_CALLS,
    tls_cert: str | None = None,
    tls_key: str | None = None,
) -> SandboxConfig:
    """A :class:`SandboxConfig` from keyword arguments; ``faults`` maps phone numbers (or
    ``"send-code:+1..."``) to answers: ``500``, ``"json:{...}"``, ``{"status": 400,
    "body": {...}}``, ``{"status": 429, "headers": {"Retry-After": "30"}}``,
    :class:`~django_textlink.sandbox.config.Answer` objects..."""
    fault_settings = Faults().updated(
        {
            "latency": latency,
            "error_rate": error_rate,
            "queued_rate": queued_rate,
            "numbers": faults or {},
        }
    )
    return SandboxConfig(
        host=host,
        port=port,
        api_key=api_key,
        site_url=site_url,
        webhook_base=webhook_base,
        webhook_secret=webhook_secret,
        webhook_timeout=webhook_timeout,
        faults=fault_settings,
        seed=seed,
        verbose=verbose,
        auto_webhooks=auto_webhooks,
        refresh=refresh,
        max_messages=max_messages,
        max_calls=max_calls,
        tls_cert=tls_cert,
        tls_key=tls_key,
    )


@contextmanager
def serving(config: SandboxConfig) -> Iterator[SandboxServer]:
    """Start a :class:`SandboxServer` in a daemon thread; stop it on exit."""
    server = SandboxServer(config)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        daemon=True,
        name=f"textlink-sandbox-{server.port}",
    )
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=5)


def banner(server: SandboxServer, notes: list[str] | None = None) -> str:
    config = server.config
    received = config.webhook_url("received")
    hooks = received.rsplit("/received/", 1)[0] + "/<kind>/" if received else "(no --site-url)"
    key = mask_key(config.api_key)
    secret = "set" if config.webhook_secret else "not set"
    lines = [
        f"TextLink sandbox: inbox at {server.url}/",
        f"  API base URL   {server.base_url}   (API key: {key})",
        f"  Webhooks to    {hooks}   (secret: {secret})",
        f"  Faults         {config.faults.describe()}",
        f"  Control API    {server.url}/_sandbox/messages, /_sandbox/faults, /_sandbox/reset",
        "Point your site at it:",
        f'  TEXTLINK = {{..., "BASE_URL": "{server.base_url}", '
        + (f'"API_KEY": "{key}"}}' if key == config.api_key else '"API_KEY": <that same key>}'),
    ]
    if not server.loopback_only:
        lines.append(
            "WARNING: listening beyond this machine; the inbox and control API have no login."
        )
    lines.extend(notes or [])
    lines.append("Press Ctrl+C to stop.")
    return "\n".join(lines)


def serve(
    config: SandboxConfig,
    *,
    write: Callable[[str], None] | None = None,
    notes: Callable[[SandboxServer], list[str]] | None = None,
) -> int:
    """Run the sandbox in this thread until Ctrl+C or SIGTERM. Returns an exit status.
    ``notes`` adds lines to the banner once the server listens."""
    out = write or (lambda text: print(text, flush=True))
    if config.verbose:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        server = SandboxServer(config)
    except OSError as err:
        out(f"Cannot listen on {config.host}:{config.port}: {err.strerror or err}. "
            "Is another sandbox running? Pick another --port.")  # fmt: skip
        return 1
    out(banner(server, notes(server) if notes else None))

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        out("Stopping the TextLink sandbox.")
    finally:
        server.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        sys.stdout.flush()
    return 0


__all__ = ["SandboxHandler", "SandboxServer", "banner", "make_config", "serve", "serving"]
