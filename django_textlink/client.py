"""The TextLink HTTP client: the only module in django-textlink that speaks HTTP to TextLink.

:class:`TextLinkClient` wraps TextLink's four endpoints with typed results and one error
hierarchy (:mod:`django_textlink.exceptions`).

Connections
    One :class:`requests.Session` per client, with a keep-alive connection pool of
    ``pool_size`` connections, so repeated calls skip the TCP and TLS handshakes.

Thread safety
    A client may be shared by many threads (the bulk sender does exactly that): the
    session's pool is thread-safe, the client keeps no per-call state, and cookies are
    refused so nothing in the session is written during a call. Size ``pool_size`` to
    the number of threads that send at once; extra threads open short-lived connections
    rather than block.

Timeouts and retries
    Every call has a finite timeout (a number, or a ``(connect, read)`` pair). A call is
    retried, at most ``max_retries`` (<= 2) times with exponential backoff and jitter,
    only when the request surely never reached TextLink: connection refused, DNS
    failure, connect timeout. It is never retried after a read timeout, a dropped
    connection or any answer (5xx included): TextLink may already have sent the SMS, and
    a retry could send it twice. Such errors have ``delivery_unknown = True``.

Secrets
    The API key is never part of ``repr``, ``str``, exception text or log lines, and
    phone numbers in log lines are masked (``+381*******67``).
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from http.cookiejar import DefaultCookiePolicy
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from django_textlink import __version__
from django_textlink._masking import Secret, mask_phone
from django_textlink._payloads import (
    send_code_payload,
    send_sms_payload,
    update_contact_tag_payload,
    verify_code_payload,
)
from django_textlink._values import InvalidValue
from django_textlink.conf import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_POOL_SIZE,
    DEFAULT_RETRY_BACKOFF,
    DEFAULT_TIMEOUT,
    Timeout,
    base_url_problem,
    parse_max_retries,
    parse_pool_size,
    parse_retry_backoff,
    parse_timeout,
)
from django_textlink.conf import MAX_RETRIES_LIMIT as MAX_RETRIES_LIMIT
from django_textlink.exceptions import (
    TextLinkAuthenticationError,
    TextLinkConfigurationError,
    TextLinkConnectionError,
    TextLinkInvalidResponseError,
    TextLinkRateLimitError,
    TextLinkRefusedError,
    TextLinkServerError,
    TextLinkTimeoutError,
    TextLinkTransportError,
)
from django_textlink.results import SendCodeResult, SendResult, TagResult, VerifyResult

logger = logging.getLogger("django_textlink.client")

#: TextLink's paths. ``update-contect-tag`` is spelled that way by TextLink itself.
ENDPOINT_SEND_SMS = "send-sms"
ENDPOINT_SEND_CODE = "send-code"
#: Stands for the body of a send-code answer in errors (it may carry the code).
CODE_ANSWER_WITHHELD = "[send-code answer withheld: it may carry the code]"
ENDPOINT_VERIFY_CODE = "verify-code"
ENDPOINT_UPDATE_CONTACT_TAG = "update-contect-tag"

BODY_EXCERPT_LENGTH = 200

T = TypeVar("T")


def _argument(name: str, parse: Callable[[object], T], value: object) -> T:
    """``value`` parsed by ``parse`` (the parser of the matching ``TEXTLINK`` option, so
    the limits and their wording are the settings'), or ValueError naming ``name``."""
    try:
        return parse(value)
    except InvalidValue as err:
        raise ValueError(f"{name} {err}") from None


def _user_agent() -> str:
    import django

    return (
        f"django-textlink/{__version__} (+https://pypi.org/project/django-textlink/) "
        f"python-requests/{requests.__version__} Django/{django.get_version()}"
    )


class _BearerAuth(AuthBase):
    """Adds ``Authorization: Bearer <key>`` to each request without putting the key in
    the session's headers (which show up in debugging output)."""

    def __init__(self, api_key: Secret) -> None:
        self._api_key = api_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._api_key.reveal()}"
        return request

    def __repr__(self) -> str:
        return "<BearerAuth ********>"


def _never_reached(err: requests.ConnectionError) -> bool:
    """True when a connection error happened before any byte of the request was sent."""
    if isinstance(err, requests.ConnectTimeout):
        return True
    reason: object = err.args[0] if err.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:  # pragma: no cover - older Pythons returned None
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


class TextLinkClient:
    """A client for TextLink's HTTP API.

    >>> client = TextLinkClient(api_key="...")            # doctest: +SKIP
    >>> client.send_sms("+11234567890", "Hello")          # doctest: +SKIP
    SendResult(queued=False)
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: Timeout = DEFAULT_TIMEOUT,
        *,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
        pool_size: int = DEFAULT_POOL_SIZE,
        session: requests.Session | None = None,
        verify: bool | str | None = None,
    ) -> None:
        """The defaults are those of the ``TEXTLINK`` options (``conf.DEFAULTS``), and each
        argument is checked by the same parser as its option (no Django settings needed):
        a bad ``max_retries``, ``retry_backoff`` or ``pool_size`` raises ``ValueError``, a
        missing ``api_key`` or a bad ``base_url`` or ``timeout``
        :class:`~django_textlink.exceptions.TextLinkConfigurationError`."""
        if not isinstance(api_key, str) or not api_key:
            raise TextLinkConfigurationError(
                'A TextLink API key is required (settings.TEXTLINK["API_KEY"]).'
            )
        max_retries = _argument("max_retries", parse_max_retries, max_retries)
        retry_backoff = _argument("retry_backoff", parse_retry_backoff, retry_backoff)
        pool_size = _argument("pool_size", parse_pool_size, pool_size)
        problem = base_url_problem(base_url)
        if problem:
            raise TextLinkConfigurationError(f"The TextLink base URL {problem}")
        try:
            timeout = parse_timeout(timeout)
        except InvalidValue as err:
            raise TextLinkConfigurationError(f"The TextLink timeout {err}") from None
        self._api_key = Secret(api_key)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.pool_size = pool_size
        #: TLS verification: None keeps requests' default (certifi, or REQUESTS_CA_BUNDLE);
        #: a path trusts that CA bundle (e.g. a corporate proxy's CA).
        self.verify = verify
        #: Called with the number of seconds to wait between retries (tests replace it).
        self.sleep: Callable[[float], None] = time.sleep
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.auth = _BearerAuth(self._api_key)
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.session.headers.update({"User-Agent": _user_agent(), "Accept": "application/json"})

    def __repr__(self) -> str:
        return f"<TextLinkClient base_url={self.base_url!r} timeout={self.timeout!r}>"

    __str__ = __repr__

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def __enter__(self) -> TextLinkClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the four endpoints ----------------------------------------------------------------

    def send_sms(
        self,
        phone_number: str,
        text: str,
        *,
        sim_card_id: int | None = None,
        custom_id: str | None = None,
    ) -> SendResult:
        """Send ``text`` to ``phone_number`` (E.164). ``custom_id`` is echoed back by
        TextLink's failed-message webhook; ``sim_card_id`` picks the sending SIM."""
        payload = send_sms_payload(phone_number, text, sim_card_id=sim_card_id, custom_id=custom_id)
        data = self._post(ENDPOINT_SEND_SMS, payload)
        return SendResult(queued=data.get("queued") is True, extra=_extra(data, "queued"))

    def send_code(
        self,
        phone_number: str,
        *,
        service_name: str | None = None,
        sim_card_id: int | None = None,
        custom_id: str | None = None,
        expiration_time: int | None = None,
        source_country: str | None = None,
    ) -> SendCodeResult:
        """Ask TextLink to send a verification code. ``expiration_time`` is in
        milliseconds; ``source_country`` is the ISO-2 country of the *sending* SIM."""
        payload = send_code_payload(
            phone_number,
            service_name=service_name,
            sim_card_id=sim_card_id,
            custom_id=custom_id,
            expiration_time=expiration_time,
            source_country=source_country,
        )
        data = self._post(ENDPOINT_SEND_CODE, payload)
        code = data.get("code")
        return SendCodeResult(
            code=None if code is None else str(code),
            queued=data.get("queued") is True,
            extra=_extra(data, "queued", "code"),
        )

    def verify_code(self, phone_number: str, code: str) -> VerifyResult:
        """Check ``code`` for ``phone_number``. A wrong or expired code returns a falsy
        result; only faults (auth, transport, server) raise."""
        payload = verify_code_payload(phone_number, code)
        try:
            data = self._post(ENDPOINT_VERIFY_CODE, payload)
        except TextLinkRefusedError as err:  # TextLink's {"ok": false}: a wrong code
            return VerifyResult(valid=False, message=err.message, extra=_extra(err.payload))
        return VerifyResult(valid=True, message=str(data.get("message") or ""), extra=_extra(data))

    def update_contact_tag(self, phone_number: str, tag: str) -> TagResult:
        """Set the tag of a contact in TextLink (``/update-contect-tag``)."""
        data = self._post(
            ENDPOINT_UPDATE_CONTACT_TAG, update_contact_tag_payload(phone_number, tag)
        )
        return TagResult(extra=_extra(data))

    # -- transport -------------------------------------------------------------------------

    def _post(self, endpoint: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/{endpoint}"
        masked = mask_phone(payload.get("phone_number"))
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = self.session.post(
                    url, json=payload, timeout=self.timeout, allow_redirects=False, **self._tls
                )
            except requests.exceptions.SSLError as err:
                # The TLS handshake failed: nothing was sent, and retrying cannot help.
                raise TextLinkConnectionError(
                    f"TLS with TextLink at {self.base_url} failed: {type(err).__name__}",
                    endpoint=endpoint,
                    delivery_unknown=False,
                ) from err
            except requests.ConnectionError as err:
                reached = not _never_reached(err)
                if not reached and attempt < self.max_retries:
                    delay = self._backoff(attempt)
                    attempt += 1
                    logger.warning(
                        "TextLink %s for %s: could not connect (%s); retry %d of %d in %.2fs",
                        endpoint, masked, type(err).__name__, attempt, self.max_retries, delay,
                    )  # fmt: skip
                    self.sleep(delay)
                    continue
                raise self._transport_error(endpoint, err, reached=reached) from err
            except requests.Timeout as err:  # a read timeout: the request was sent
                raise self._transport_error(endpoint, err, reached=True) from err
            except requests.RequestException as err:
                raise TextLinkTransportError(
                    f"Request to TextLink failed: {type(err).__name__}", endpoint=endpoint
                ) from err
            logger.debug(
                "TextLink %s for %s: HTTP %d in %.0f ms",
                endpoint, masked, response.status_code, (time.monotonic() - started) * 1000,
            )  # fmt: skip
            return self._parse(endpoint, response)

    @property
    def _tls(self) -> dict[str, Any]:
        return {} if self.verify is None else {"verify": self.verify}

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half the delay fixed, half random."""
        delay = self.retry_backoff * (1 << attempt)
        return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not security

    def _transport_error(
        self, endpoint: str, err: requests.RequestException, *, reached: bool
    ) -> TextLinkTransportError:
        if isinstance(err, requests.Timeout):
            kind = "read" if reached else "connect"
            return TextLinkTimeoutError(
                f"TextLink did not answer in time ({kind} timeout after {self.timeout!r}s)"
                + ("; it may have acted on the request" if reached else ""),
                endpoint=endpoint,
                delivery_unknown=reached,
            )
        if reached:
            message = "The connection to TextLink broke after the request was sent"
        else:
            message = f"Could not connect to TextLink at {self.base_url}"
        return TextLinkConnectionError(message, endpoint=endpoint, delivery_unknown=reached)

    def _redact(self, text: str) -> str:
        key = self._api_key.reveal()
        return text.replace(key, "********") if key else text

    def _parse(self, endpoint: str, response: requests.Response) -> dict[str, Any]:
        status = response.status_code
        # Redact before cutting: a key straddling the cut would otherwise leak its start.
        excerpt = self._redact(response.text)[:BODY_EXCERPT_LENGTH]
        if endpoint == ENDPOINT_SEND_CODE:
            # Whatever send-code answers may carry the code: never in an error or a log.
            excerpt = CODE_ANSWER_WITHHELD
        data: Any
        try:
            data = response.json()
        except ValueError:
            data = None
        message = ""
        if isinstance(data, dict) and data.get("message") is not None:
            message = self._redact(str(data["message"]))[:BODY_EXCERPT_LENGTH]

        if status in (401, 403):
            raise TextLinkAuthenticationError(
                message or f"TextLink refused the API key (HTTP {status})",
                endpoint=endpoint, status_code=status, body_excerpt=excerpt,
            )  # fmt: skip
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise TextLinkRateLimitError(
                message or "TextLink is rate-limiting requests (HTTP 429)",
                retry_after=retry_after, endpoint=endpoint, body_excerpt=excerpt,
            )  # fmt: skip
        # A 4xx carrying TextLink's own {"ok": false, "message"} is a refusal like any other.
        refusal = 400 <= status < 500 and isinstance(data, dict) and data.get("ok") is False
        if not (200 <= status < 300 or refusal):
            error = TextLinkServerError(
                f"TextLink answered HTTP {status}" + (f": {message}" if message else ""),
                endpoint=endpoint, status_code=status, body_excerpt=excerpt,
            )  # fmt: skip
            # A redirect or a 4xx was not acted on; after a 5xx TextLink may have sent it.
            error.delivery_unknown = status >= 500
            raise error
        if not isinstance(data, dict):
            what = "not JSON" if data is None else f"JSON but not an object ({type(data).__name__})"
            raise TextLinkInvalidResponseError(
                f"TextLink answered HTTP {status} with a body that is {what}: {excerpt!r}",
                endpoint=endpoint, status_code=status, body_excerpt=excerpt,
            )  # fmt: skip
        ok = data.get("ok")
        if ok is True:
            return data
        if ok is False:
            text = message or "TextLink refused the request without a message"
            error_class = (
                TextLinkAuthenticationError if _is_auth_message(text) else TextLinkRefusedError
            )
            payload = {
                key: self._redact(value) if isinstance(value, str) else value
                for key, value in data.items()
                if not (endpoint == ENDPOINT_SEND_CODE and key == "code")
            }
            raise error_class(text, endpoint=endpoint, status_code=status, payload=payload)
        raise TextLinkInvalidResponseError(
            f"TextLink answered HTTP {status} without an 'ok' field: {excerpt!r}",
            endpoint=endpoint, status_code=status, body_excerpt=excerpt,
        )  # fmt: skip


def _is_auth_message(message: str) -> bool:
    """TextLink's known refusal of a key is "API key not found"."""
    lowered = message.lower()
    return "api key" in lowered and any(
        word in lowered for word in ("not found", "invalid", "missing", "expired", "revoked")
    )


def _extra(data: Mapping[str, Any], *drop: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "ok" and k not in drop}


__all__ = ["TextLinkClient", "parse_retry_after"]
