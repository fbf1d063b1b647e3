"""What the sandbox knows and does, apart from HTTP: messages, codes, tags, faults, and
the actions that play TextLink's part towards the site (reply, fail, change tag).

All of it lives in memory, behind one lock; network I/O (webhooks) happens outside it.
"""

from __future__ import annotations

import hmac
import itertools
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from django_textlink.sandbox.codes import (
    CODE_DIGITS,
    CheckOutcome,
    CodeBook,
    CodeStatus,
    IssuedCode,
    random_code,
)
from django_textlink.sandbox.config import (
    DEFAULT_EXPIRATION_MS,
    ENDPOINTS,
    Answer,
    Faults,
    SandboxConfig,
    clean_phone,
    is_e164,
    mask_key,
)
from django_textlink.sandbox.webhooks import WebhookOutcome, WebhookSender, now_ms

#: The SIM a message went out on (or came in on) when the request names none.
DEFAULT_SIM_CARD_ID = 1
MAX_TEXT = 10_000
MAX_LOG = 1000

API_KEY_NOT_FOUND = {"ok": False, "message": "API key not found"}
INJECTED_ERROR = {"ok": False, "message": "Sandbox: injected server error"}


class SandboxError(ValueError):
    """A request to the sandbox itself (control API, inbox form) that cannot be done."""


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Message:
    """Something the sandbox "sent" (``sms``, ``code``) or "received" (``reply``)."""

    id: int
    kind: str  # "sms" | "code" | "reply"
    direction: str  # "outbound" | "inbound"
    phone_number: str
    text: str
    created_at: float
    status: str  # "sent" | "queued" | "failed" | "received"
    sim_card_id: int | None = None
    custom_id: str | None = None
    queued: bool = False
    name: str | None = None
    # verification codes only
    code: str | None = None
    service_name: str | None = None
    source_country: str | None = None
    expiration_time: int | None = None
    expires_at: float | None = None
    #: The code as the sandbox's :class:`~django_textlink.sandbox.codes.CodeBook` keeps it.
    issued_code: IssuedCode | None = None

    def code_status(self, now: float) -> CodeStatus | None:
        """``"pending"``, ``"used"``, ``"superseded"`` (a newer code was sent) or
        ``"expired"``; None for what is not a code."""
        return None if self.issued_code is None else self.issued_code.status(now)

    def to_dict(self, now: float) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "textlink_id": self.id,
            "kind": self.kind,
            "direction": self.direction,
            "phone_number": self.phone_number,
            "text": self.text,
            "status": self.status,
            "queued": self.queued,
            "sim_card_id": self.sim_card_id,
            "custom_id": self.custom_id,
            "timestamp": int(self.created_at * 1000),
            "created_at": iso(self.created_at),
        }
        if self.kind == "reply":
            data["name"] = self.name
        if self.kind == "code":
            data.update(
                code=self.code,
                code_status=self.code_status(now),
                service_name=self.service_name,
                source_country=self.source_country,
                expiration_time=self.expiration_time,
                expires_at=None if self.expires_at is None else iso(self.expires_at),
            )
        return data


@dataclass
class Call:
    """One request to TextLink's API, recorded when it arrived (before any latency) and
    completed with the answer given.

    ``endpoint`` is the path after ``/api/`` (``"send-sms"``), ``headers`` the request's
    headers as sent (``Authorization`` included), ``request`` the JSON body (None when it
    was not JSON). ``status`` is None until answered, and stays None when no answer was
    given (the connection was dropped, or the sandbox stopped during the latency)."""

    id: int
    endpoint: str
    phone_number: str | None
    at: float
    headers: dict[str, str] = field(default_factory=dict)
    request: Any = None
    status: int | None = None
    answer: Any = None
    #: Why the answer is not the normal one: "error_rate", "number", or None.
    fault: str | None = None

    def header(self, name: str) -> str | None:
        """A request header by name, whatever its case."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    def to_dict(self) -> dict[str, Any]:
        """For the control API: the API key in ``Authorization`` is masked."""
        headers = {
            name: _masked_authorization(value) if name.lower() == "authorization" else value
            for name, value in self.headers.items()
        }
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "phone_number": self.phone_number,
            "status": self.status,
            "answer": self.answer,
            "fault": self.fault,
            "request": self.request,
            "headers": headers,
            "created_at": iso(self.at),
        }


def _masked_authorization(value: str) -> str:
    scheme, _, key = value.partition(" ")
    return f"{scheme} {mask_key(key.strip())}" if key else mask_key(value)


@dataclass
class Notice:
    """A line shown once at the top of the inbox after a form was posted."""

    id: int
    level: str  # "success" | "error"
    text: str
    outcomes: list[WebhookOutcome] = field(default_factory=list)


@dataclass
class ApiResult:
    answer: Answer
    #: Run after the answer was written (the webhooks TextLink would fire on its own).
    followups: list[Callable[[], object]] = field(default_factory=list)


class SandboxState:
    """The sandbox's memory and behaviour. Thread-safe."""

    def __init__(
        self,
        config: SandboxConfig,
        *,
        sender: WebhookSender | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.sender = sender or WebhookSender(config)
        #: Wall-clock seconds; replace it in tests to move time (code expiry).
        self.clock = clock
        self.lock = threading.RLock()
        self._message_ids = itertools.count(1)
        self._call_ids = itertools.count(1)
        self._notice_ids = itertools.count(1)
        self.messages: list[Message] = []
        #: The verification codes: the model the console/locmem backends use too.
        self.codes = CodeBook(clock=lambda: self.clock(), generate=self._new_code)
        #: Every API call received, oldest first (up to ``config.max_calls``).
        self.calls: deque[Call] = deque(maxlen=config.max_calls)
        self.webhooks: deque[WebhookOutcome] = deque(maxlen=MAX_LOG)
        self.notices: deque[Notice] = deque(maxlen=100)
        self.tags: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.faults: Faults = config.faults
        self.rng = random.Random(config.seed)  # noqa: S311 - fault injection, not security

    # -- housekeeping --------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every message, code, tag and log; faults go back to the startup ones."""
        with self.lock:
            self.messages.clear()
            self.codes.clear()
            self.calls.clear()
            self.webhooks.clear()
            self.notices.clear()
            self.tags.clear()
            self.names.clear()
            self.faults = self.config.faults
            self.rng = random.Random(self.config.seed)  # noqa: S311

    def set_faults(self, changes: dict[str, Any]) -> Faults:
        with self.lock:
            self.faults = self.faults.updated(changes)
            return self.faults

    def clear_faults(self) -> Faults:
        with self.lock:
            self.faults = Faults()
            return self.faults

    def add_notice(
        self, level: str, text: str, outcomes: list[WebhookOutcome] | None = None
    ) -> int:
        with self.lock:
            notice = Notice(next(self._notice_ids), level, text, list(outcomes or []))
            self.notices.append(notice)
            return notice.id

    def notice(self, notice_id: int) -> Notice | None:
        with self.lock:
            return next((n for n in self.notices if n.id == notice_id), None)

    # -- reading -----------------------------------------------------------------------------

    def list_messages(self, phone: str | None = None, kind: str | None = None) -> list[Message]:
        """Newest first; only ``phone``'s and only of ``kind`` when given."""
        with self.lock:
            found = [
                m
                for m in self.messages
                if (phone is None or m.phone_number == phone) and (kind is None or m.kind == kind)
            ]
        found.reverse()
        return found

    def get_message(self, message_id: int) -> Message | None:
        with self.lock:
            return next((m for m in self.messages if m.id == message_id), None)

    def phones(self) -> list[tuple[str, int, str | None]]:
        """``(phone, message count, tag)``, the most recently active first."""
        with self.lock:
            counts: dict[str, int] = {}
            for message in reversed(self.messages):
                counts[message.phone_number] = counts.get(message.phone_number, 0) + 1
            for phone in self.tags:
                counts.setdefault(phone, 0)
            return [(phone, count, self.tags.get(phone)) for phone, count in counts.items()]

    def last_code(self, phone: str) -> str | None:
        """The newest code sent to ``phone`` (whatever its status), or None."""
        codes = self.list_messages(phone, "code")
        return codes[0].code if codes else None

    def api_calls(self, endpoint: str | None = None) -> list[Call]:
        """The API calls received, oldest first; only those to ``endpoint`` when given."""
        with self.lock:
            return [c for c in self.calls if endpoint is None or c.endpoint == endpoint]

    # -- storing -----------------------------------------------------------------------------

    def _store(self, message: Message) -> Message:
        """Append (the lock is held by the caller)."""
        self.messages.append(message)
        overflow = len(self.messages) - self.config.max_messages
        if overflow > 0:
            del self.messages[:overflow]
        return message

    def _new_message(self, **fields: Any) -> Message:
        return self._store(Message(id=next(self._message_ids), created_at=self.clock(), **fields))

    def _new_code(self) -> str:
        if self.config.seed is not None:  # reproducible on purpose (--seed)
            return f"{self.rng.randrange(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        return random_code()

    # -- TextLink's API ------------------------------------------------------------------

    def authorized(self, authorization: str | None) -> bool:
        scheme, _, key = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            key.strip().encode("utf-8", "surrogatepass"),
            self.config.api_key.encode("utf-8", "surrogatepass"),
        )

    def receive(self, endpoint: str, headers: Mapping[str, str], raw: bytes) -> Call:
        """Record a call of TextLink's API as it arrives, before any latency: a test sees
        a request that is still waiting for its answer (a client that timed out, say)."""
        body: Any
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError, RecursionError):
            body = None
        phone = body.get("phone_number") if isinstance(body, dict) else None
        with self.lock:
            call = Call(
                id=next(self._call_ids),
                endpoint=endpoint,
                phone_number=phone if isinstance(phone, str) else None,
                at=self.clock(),
                headers=dict(headers),
                request=body,
            )
            self.calls.append(call)
        return call

    def api(self, endpoint: str, authorization: str | None, raw: bytes) -> ApiResult:
        """Record and answer one call at once (no latency): :meth:`receive`, then
        :meth:`answer`."""
        headers = {} if authorization is None else {"Authorization": authorization}
        return self.answer(self.receive(endpoint, headers, raw))

    def answer(self, call: Call) -> ApiResult:
        """Answer a call recorded by :meth:`receive` (the latency was already waited for),
        and complete its record with the answer."""
        endpoint, body, authorization = call.endpoint, call.request, call.header("Authorization")
        phone = call.phone_number
        fault: str | None = None
        result = ApiResult(Answer(200, {"ok": True}))
        with self.lock:
            faults = self.faults
            fail = faults.error_rate > 0 and self.rng.random() < faults.error_rate
            queue = faults.queued_rate > 0 and self.rng.random() < faults.queued_rate
            if endpoint not in ENDPOINTS:
                result.answer = Answer(404, {"ok": False, "message": "Not found"})
            elif fail:
                result.answer, fault = Answer(500, INJECTED_ERROR), "error_rate"
            elif not self.authorized(authorization):
                result.answer = Answer(200, API_KEY_NOT_FOUND)
            elif not isinstance(body, dict):
                result.answer = Answer(400, _refuse("The body must be a JSON object"))
            elif phone is None or not is_e164(phone):
                result.answer = Answer(200, _refuse("Invalid phone number"))
            elif (special := faults.answer_for(endpoint, phone)) is not None:
                result.answer, fault = special, "number"
            elif endpoint == "send-sms":
                result = self._send_sms(phone, body, queue)
            elif endpoint == "send-code":
                result = self._send_code(phone, body)
            elif endpoint == "verify-code":
                result = self._verify_code(phone, body)
            else:
                result = self._update_tag(phone, body)
            answer = result.answer
            call.status = None if answer.drop else answer.status
            call.answer = "(connection dropped)" if answer.drop else answer.body
            call.fault = fault
        return result

    def _send_sms(self, phone: str, body: dict[str, Any], queue: bool) -> ApiResult:
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return ApiResult(Answer(200, _refuse("Text is required")))
        options = _options(body)
        if isinstance(options, str):
            return ApiResult(Answer(200, _refuse(options)))
        message = self._new_message(
            kind="sms",
            direction="outbound",
            phone_number=phone,
            text=text,
            status="queued" if queue else "sent",
            queued=queue,
            **options,
        )
        answer = Answer(200, {"ok": True, "queued": True} if queue else {"ok": True})
        return ApiResult(answer, self._auto_sent(message))

    def _send_code(self, phone: str, body: dict[str, Any]) -> ApiResult:
        options = _options(body)
        if isinstance(options, str):
            return ApiResult(Answer(200, _refuse(options)))
        expiration = body.get("expiration_time", DEFAULT_EXPIRATION_MS)
        if not isinstance(expiration, int) or isinstance(expiration, bool) or expiration <= 0:
            return ApiResult(
                Answer(200, _refuse("expiration_time must be a positive number of milliseconds"))
            )
        # TextLink's own Python client sends "" for both unless told otherwise: not given.
        service = _unless_blank(body.get("service_name"))
        country = _unless_blank(body.get("source_country"))
        if service is not None and not isinstance(service, str):
            return ApiResult(Answer(200, _refuse("service_name must be a string")))
        if country is not None and (not isinstance(country, str) or len(country) != 2):
            return ApiResult(Answer(200, _refuse("source_country must be an ISO-2 country code")))
        issued = self.codes.issue(phone, expiration)
        code = issued.code
        text = f"Your {service} verification code is {code}" if service else f"Your code is {code}"
        message = self._new_message(
            kind="code",
            direction="outbound",
            phone_number=phone,
            text=text,
            status="sent",
            code=code,
            service_name=service,
            source_country=country,
            expiration_time=expiration,
            expires_at=issued.expires_at,
            issued_code=issued,
            **options,
        )
        return ApiResult(Answer(200, {"ok": True, "code": code}), self._auto_sent(message))

    def _verify_code(self, phone: str, body: dict[str, Any]) -> ApiResult:
        given = body.get("code")
        if isinstance(given, int) and not isinstance(given, bool):
            given = str(given)
        if not isinstance(given, str) or not given.strip():
            return ApiResult(Answer(200, _refuse("Code is required")))
        outcome = self.codes.check(phone, given)
        if outcome is CheckOutcome.VALID:
            return ApiResult(Answer(200, {"ok": True}))
        if outcome is CheckOutcome.EXPIRED:
            return ApiResult(Answer(200, _refuse("Code expired")))
        return ApiResult(Answer(200, _refuse("Invalid code")))  # wrong, or none pending

    def _update_tag(self, phone: str, body: dict[str, Any]) -> ApiResult:
        tag = body.get("tag")
        if not isinstance(tag, str):
            return ApiResult(Answer(200, _refuse("Tag is required")))
        self.tags[phone] = tag
        followups: list[Callable[[], object]] = []
        if self.config.auto_webhooks:
            followups.append(lambda: self._fire("tag", self._tag_payload(phone, tag)))
        return ApiResult(Answer(200, {"ok": True}), followups)

    def _auto_sent(self, message: Message) -> list[Callable[[], object]]:
        if not self.config.auto_webhooks:
            return []
        payload = _sent_payload(message)
        return [lambda: self._fire("sent", payload, message.id)]

    # -- playing TextLink's part towards the site ------------------------------------------

    def _fire(
        self, kind: str, payload: dict[str, Any], message_id: int | None = None
    ) -> WebhookOutcome:
        outcome = self.sender.send(kind, payload, message_id=message_id)
        with self.lock:
            self.webhooks.append(outcome)
        return outcome

    def _tag_payload(self, phone: str, tag: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"phone_number": phone, "tag": tag}
        name = self.names.get(phone)
        if name:
            payload = {"name": name, **payload}
        return payload

    def reply(
        self,
        phone_number: str,
        text: str,
        *,
        name: str | None = None,
        tag: str | None = None,
        sim_card_id: int | None = None,
    ) -> tuple[Message, WebhookOutcome]:
        """An SMS arrives from ``phone_number``: stored, then the received webhook fires."""
        phone = _phone(phone_number)
        if not isinstance(text, str) or not text.strip():
            raise SandboxError("Write the text of the reply.")
        if len(text) > MAX_TEXT:
            raise SandboxError(f"The text is longer than {MAX_TEXT} characters.")
        for label, value in (("name", name), ("tag", tag)):
            if value is not None and not isinstance(value, str):
                raise SandboxError(f"The {label} must be a string.")
        if sim_card_id is not None and (
            not isinstance(sim_card_id, int) or isinstance(sim_card_id, bool)
        ):
            raise SandboxError("sim_card_id must be a whole number.")
        with self.lock:
            if name:
                self.names[phone] = name
            if tag is not None:
                self.tags[phone] = tag
            message = self._new_message(
                kind="reply",
                direction="inbound",
                phone_number=phone,
                text=text,
                status="received",
                sim_card_id=sim_card_id,
                name=name or self.names.get(phone),
            )
            payload: dict[str, Any] = {
                "phone_number": phone,
                "text": text,
                "timestamp": int(message.created_at * 1000),
                "sim_card_id": DEFAULT_SIM_CARD_ID if sim_card_id is None else sim_card_id,
            }
            if phone in self.tags:
                payload["tag"] = self.tags[phone]
            if message.name:
                payload["name"] = message.name
        return message, self._fire("received", payload, message.id)

    def fail(
        self, message_id: int | None = None, *, custom_id: str | None = None
    ) -> tuple[Message, list[WebhookOutcome]]:
        """An outbound message failed: the sent webhook, then the failed one (with its
        ``custom_id`` and ``textlink_id``)."""
        with self.lock:
            message = None
            if message_id is not None:
                message = self.get_message(message_id)
            elif custom_id is not None:
                message = next(
                    (m for m in reversed(self.messages) if m.custom_id == str(custom_id)), None
                )
            if message is None:
                raise SandboxError("No such message in the sandbox.")
            if message.direction != "outbound":
                raise SandboxError("Only a message sent through the API can fail.")
            message.status = "failed"
            sent = _sent_payload(message)
            failed = {
                "phone_number": message.phone_number,
                "text": message.text,
                "portal": False,
                "timestamp": now_ms(),
                "textlink_id": message.id,
                "sim_card_id": sent["sim_card_id"],
            }
            if message.custom_id is not None:
                failed["custom_id"] = message.custom_id
        return message, [
            self._fire("sent", sent, message.id),
            self._fire("failed", failed, message.id),
        ]

    def change_tag(self, phone_number: str, tag: str, *, name: str | None = None) -> WebhookOutcome:
        """The contact's tag changes in TextLink: stored, then the tag webhook fires."""
        phone = _phone(phone_number)
        if not isinstance(tag, str):
            raise SandboxError("The tag must be a string.")
        if name is not None and not isinstance(name, str):
            raise SandboxError("The name must be a string.")
        with self.lock:
            self.tags[phone] = tag
            if name:
                self.names[phone] = name
            payload = self._tag_payload(phone, tag)
        return self._fire("tag", payload)


def _refuse(message: str) -> dict[str, Any]:
    return {"ok": False, "message": message}


def _unless_blank(value: object) -> object:
    """None for an empty (or blank) string, which TextLink takes as "not given"."""
    return None if isinstance(value, str) and not value.strip() else value


def _phone(value: object) -> str:
    phone = clean_phone(value)
    if phone is None:
        raise SandboxError("Enter a phone number in international form, such as +12025550143.")
    return phone


def _options(body: dict[str, Any]) -> dict[str, Any] | str:
    """``sim_card_id`` and ``custom_id`` from a request, or the refusal's message."""
    sim = body.get("sim_card_id")
    if sim is not None and (not isinstance(sim, int) or isinstance(sim, bool)):
        return "sim_card_id must be a number"
    custom_id = body.get("custom_id")
    if custom_id is not None and not isinstance(custom_id, str | int):
        return "custom_id must be a string"
    return {"sim_card_id": sim, "custom_id": None if custom_id is None else str(custom_id)}


def _sent_payload(message: Message) -> dict[str, Any]:
    """TextLink's sent webhook, as its docs show it (no ids: the site matches on the text)."""
    return {
        "phone_number": message.phone_number,
        "text": message.text,
        "portal": False,
        "timestamp": int(message.created_at * 1000),
        "sim_card_id": DEFAULT_SIM_CARD_ID if message.sim_card_id is None else message.sim_card_id,
    }
