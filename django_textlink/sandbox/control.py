"""Driving a sandbox from Python: :class:`SandboxClient` talks to its JSON control API
(a sandbox in another process, or on another machine), and :func:`run_sandbox` starts
one in this process for a test.

::

    from django_textlink.sandbox import run_sandbox

    with run_sandbox(site_url=live_server.url, webhook_secret="...") as sandbox:
        settings.TEXTLINK = {**settings.TEXTLINK, "BASE_URL": sandbox.base_url,
                             "API_KEY": sandbox.api_key}
        ...
        code = sandbox.last_code("+12025550143")
        sandbox.reply("+12025550143", "STOP")

A test that checks the client's side of the wire uses what only an in-process sandbox
has: ``sandbox.api_calls()`` (every request, with its headers and body),
``sandbox.api_connections`` (keep-alive reuse) and ``run_sandbox(tls=True)`` with
``verify=sandbox.cafile`` (HTTPS).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from django_textlink.sandbox.config import DEFAULT_API_KEY, Answer, SandboxConfig
from django_textlink.sandbox.server import SandboxServer, SandboxSettings, make_config, serving
from django_textlink.sandbox.state import Call, SandboxError, SandboxState
from django_textlink.sandbox.tls import self_signed_certificate

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

_UNSET: Any = object()


class SandboxClient:
    """The control API of a running sandbox at ``url`` (``http://127.0.0.1:8025``).

    Every method raises :class:`SandboxError` when the sandbox refuses (an unknown
    message, a bad phone number...). Webhook outcomes are dicts with ``kind``, ``url``,
    ``status`` (the site's HTTP status, or None), ``ok`` (status 200), ``error`` and
    ``body`` (the start of the site's answer).

    ``verify`` is passed to ``requests`` for an HTTPS sandbox: the CA file that signed its
    certificate (``RunningSandbox.cafile`` for ``run_sandbox(tls=True)``)."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str = DEFAULT_API_KEY,
        timeout: float = 30.0,
        verify: str | bool = True,
    ) -> None:
        self.url = url.rstrip("/")
        #: What ``TEXTLINK["BASE_URL"]`` must be to send through this sandbox.
        self.base_url = f"{self.url}/api"
        self.api_key = api_key
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # the sandbox is local: never through a proxy
        self.session.verify = verify

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> SandboxClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------

    def _call(self, method: str, route: str, **kwargs: Any) -> dict[str, Any]:
        response = self.session.request(
            method, f"{self.url}/_sandbox/{route}", timeout=self.timeout, **kwargs
        )
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or data.get("ok") is not True:
            message = data.get("message") if isinstance(data, dict) else None
            raise SandboxError(str(message or f"The sandbox answered HTTP {response.status_code}"))
        return data

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until the sandbox answers (after starting it in another process)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._call("GET", "health")
            except (requests.RequestException, SandboxError):
                if time.monotonic() >= deadline:
                    raise SandboxError(f"No sandbox answered at {self.url}") from None
                time.sleep(0.05)
            else:
                return

    # -- reading -----------------------------------------------------------------------------

    def messages(
        self, phone: str | None = None, *, kind: str | None = None
    ) -> list[dict[str, Any]]:
        """Messages and codes, newest first: all, or only ``phone``'s; ``kind`` is
        ``"sms"``, ``"code"`` or ``"reply"``."""
        params = {key: value for key, value in (("phone", phone), ("kind", kind)) if value}
        return list(self._call("GET", "messages", params=params)["messages"])

    def message(self, message_id: int) -> dict[str, Any]:
        return dict(self._call("GET", f"messages/{int(message_id)}")["message"])

    def last_code(self, phone: str) -> str | None:
        """The newest verification code sent to ``phone`` (None when none was)."""
        codes = self.messages(phone, kind="code")
        return str(codes[0]["code"]) if codes else None

    def tags(self) -> dict[str, str]:
        """Tags set through ``update-contect-tag`` (or :meth:`change_tag`), per phone."""
        return dict(self._call("GET", "tags")["tags"])

    def calls(self) -> list[dict[str, Any]]:
        """TextLink API calls received, newest first, with the answer given (the API key
        in their ``Authorization`` header masked)."""
        return list(self._call("GET", "calls")["calls"])

    def webhooks(self) -> list[dict[str, Any]]:
        """Webhooks sent to the site, newest first, with the site's answer."""
        return list(self._call("GET", "webhooks")["webhooks"])

    def faults(self) -> dict[str, Any]:
        return dict(self._call("GET", "faults")["faults"])

    # -- acting --------------------------------------------------------------------------------

    def reply(
        self,
        phone: str,
        text: str,
        *,
        name: str | None = None,
        tag: str | None = None,
        sim_card_id: int | None = None,
    ) -> dict[str, Any]:
        """An SMS from ``phone`` arrives: fires the received webhook; returns its outcome."""
        body: dict[str, Any] = {"phone_number": phone, "text": text}
        for key, value in (("name", name), ("tag", tag), ("sim_card_id", sim_card_id)):
            if value is not None:
                body[key] = value
        return dict(self._call("POST", "reply", json=body)["webhook"])

    def fail(
        self, message_id: int | None = None, *, custom_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Message ``message_id`` (or the one sent with ``custom_id``) fails: fires the sent
        webhook, then the failed one; returns both outcomes."""
        body: dict[str, Any] = {}
        if message_id is not None:
            body["message_id"] = message_id
        if custom_id is not None:
            body["custom_id"] = custom_id
        return list(self._call("POST", "fail", json=body)["webhooks"])

    def change_tag(self, phone: str, tag: str, *, name: str | None = None) -> dict[str, Any]:
        """The contact's tag changes in TextLink: fires the tag webhook; returns its outcome."""
        body: dict[str, Any] = {"phone_number": phone, "tag": tag}
        if name is not None:
            body["name"] = name
        return dict(self._call("POST", "tag", json=body)["webhook"])

    def set_faults(
        self,
        *,
        latency: float = _UNSET,
        error_rate: float = _UNSET,
        queued_rate: float = _UNSET,
        numbers: Mapping[str, Any] = _UNSET,
    ) -> dict[str, Any]:
        """Change the given fault settings (the others stay); ``numbers`` replaces every
        per-number answer: ``{"+12025550143": 500, "send-code:+1...": {"status": 400,
        "body": {...}}, "+1...": "json:{...}", "+1...": Answer(429, {"ok": False},
        headers={"Retry-After": "30"})}``. Returns the faults now in force."""
        changes: dict[str, Any] = {}
        for key, value in (
            ("latency", latency),
            ("error_rate", error_rate),
            ("queued_rate", queued_rate),
        ):
            if value is not _UNSET:
                changes[key] = value
        if numbers is not _UNSET:
            changes["numbers"] = {
                key: value.to_dict() if isinstance(value, Answer) else value
                for key, value in (numbers or {}).items()
            }
        return dict(self._call("POST", "faults", json=changes)["faults"])

    def clear_faults(self) -> dict[str, Any]:
        """No latency, no errors, no per-number answers."""
        return dict(self._call("DELETE", "faults")["faults"])

    def reset(self) -> None:
        """Forget every message, code, tag and log; faults go back to the startup ones."""
        self._call("POST", "reset", json={})


class RunningSandbox(SandboxClient):
    """A sandbox started by :func:`run_sandbox`: the control API plus direct access to
    the ``server``, its ``state`` and ``config``, and what a test of the client's side of
    the wire needs: :meth:`api_calls`, :attr:`connections`, :attr:`api_connections` and
    :attr:`cafile`."""

    def __init__(self, server: SandboxServer, *, cafile: str | None = None) -> None:
        super().__init__(server.url, api_key=server.config.api_key, verify=cafile or True)
        self.server = server
        self.config: SandboxConfig = server.config
        self.state: SandboxState = server.state
        #: The file a client must trust for an HTTPS sandbox (``verify=sandbox.cafile``):
        #: the self-signed certificate of ``run_sandbox(tls=True)``. None over HTTP.
        self.cafile = cafile

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def connections(self) -> int:
        """TCP connections accepted so far, the control API's own included."""
        return self.server.connections

    @property
    def api_connections(self) -> int:
        """TCP connections that carried at least one call of TextLink's API: 1 after any
        number of calls by a client that reuses its keep-alive connection."""
        return self.server.api_connections

    def api_calls(self, endpoint: str | None = None) -> list[Call]:
        """Every call of TextLink's API received, oldest first, recorded on arrival
        (before any latency), with its full ``headers``, its JSON body as ``request``, and
        once answered its ``status`` and ``answer``. ``endpoint`` (``"send-sms"``) keeps
        only the calls to it. Up to ``max_calls`` are kept (1000 unless configured)."""
        return self.state.api_calls(endpoint)


@contextmanager
def run_sandbox(
    config: SandboxConfig | None = None, *, tls: bool = False, **settings: Unpack[SandboxSettings]
) -> Iterator[RunningSandbox]:
    """Start a sandbox in a daemon thread (on a free port unless ``port`` is given) and
    stop it on exit. Pass a :class:`SandboxConfig`, or its settings as keywords (those of
    :func:`~django_textlink.sandbox.server.make_config`: ``api_key``, ``site_url``,
    ``webhook_base``, ``webhook_secret``, ``webhook_timeout``, ``latency``,
    ``error_rate``, ``queued_rate``, ``faults``, ``seed``, ``host``, ``port``,
    ``verbose``, ``auto_webhooks``, ``refresh``, ``max_messages``, ``max_calls``,
    ``tls_cert``, ``tls_key``).

    ``tls=True`` serves HTTPS with a throwaway self-signed certificate (made with the
    ``openssl`` command, deleted on exit) for ``127.0.0.1``, ``::1`` and ``localhost``;
    a client trusts it with ``verify=sandbox.cafile``. A config's own ``tls_cert`` is
    served as given (``sandbox.cafile`` is then that certificate file)."""
    if config is None:
        config = make_config(**settings)
    with ExitStack() as stack:
        if tls and config.tls_cert is None:
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="tl-sandbox-"))
            cert, key = self_signed_certificate(Path(directory))
            config = replace(config, tls_cert=cert, tls_key=key)
        server = stack.enter_context(serving(config))
        sandbox = RunningSandbox(server, cafile=config.tls_cert)
        try:
            yield sandbox
        finally:
            sandbox.close()


__all__ = ["RunningSandbox", "SandboxClient", "run_sandbox"]
