"""The messaging engine (django_textlink.sending): single sends, bulk sends, recovery.

Only TextLink's HTTP is faked: by ``responses`` (the client and everything above it run
for real), or by the TextLink sandbox (``run_sandbox()``, a real local server) where
several threads send at once. Tests whose threads each open a database connection run
on a file SQLite database (see ``file_db``): the shared in-memory one locks whole tables.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import responses
from django.db import connection
from django.utils import timezone
from urllib3.exceptions import MaxRetryError, NewConnectionError

import django_textlink
from django_textlink import sending
from django_textlink.backends import get_backend
from django_textlink.exceptions import (
    TextLinkAPIError,
    TextLinkConnectionError,
    TextLinkInvalidResponseError,
    TextLinkRateLimitError,
    TextLinkRefusedError,
    TextLinkServerError,
    TextLinkTimeoutError,
)
from django_textlink.messaging.claim import claim
from django_textlink.messaging.single import Outcome, record
from django_textlink.models import Broadcast, Contact, SMSMessage
from django_textlink.phone import InvalidPhoneNumber, normalize_phone
from django_textlink.sandbox import RunningSandbox, run_sandbox
from django_textlink.sending import (
    Pacer,
    chunk_ranges,
    create_broadcast,
    deliver,
    enqueue_broadcast,
    requeue,
    resume_broadcast,
    run_chunk,
)
from tests.support.concurrency import file_sqlite_database, run_in_threads

BASE_URL = "https://textlinksms.test/api"  # TEXTLINK["BASE_URL"] in tests/settings.py
SEND_URL = f"{BASE_URL}/send-sms"
PHONE = "+381601234567"
#: Distinct valid numbers, in order.
PHONES = [f"+1202555{i:04d}" for i in range(200)]
PENDING = ("queued", "sending")


# -- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _textlink_settings(settings: Any) -> None:
    """No connect retries (so no sleeps); the rest as tests/settings.py has it."""
    settings.TEXTLINK = {**settings.TEXTLINK, "MAX_RETRIES": 0, "RETRY_BACKOFF": 0}


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """TextLink faked by ``responses``: an unregistered request raises ConnectionError."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def bodies(mock: responses.RequestsMock) -> list[dict[str, Any]]:
    return [json.loads(call.request.body or b"{}") for call in mock.calls]


def textlink(settings: Any, **options: Any) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, **options}


def refused(url: str) -> requests.ConnectionError:
    """What requests raises when nothing listens on the port."""
    return requests.ConnectionError(
        MaxRetryError(None, url, NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]
    )


Answer = tuple[int, dict[str, str], str]


def per_number(
    mock: responses.RequestsMock, answer: Callable[[str, int], Answer | None]
) -> tuple[Counter[str], list[tuple[float, str, int]]]:
    """Route send-sms through ``answer(phone, nth_request_for_that_phone)``; None means
    ``{"ok": true}``. Returns the live request counter and ``(monotonic, phone, status)``
    for every request, in arrival order."""
    seen: Counter[str] = Counter()
    log: list[tuple[float, str, int]] = []
    lock = threading.Lock()

    def callback(request: Any) -> Answer:
        phone = json.loads(request.body)["phone_number"]
        with lock:
            seen[phone] += 1
            nth = seen[phone]
        result = answer(phone, nth) or (200, {}, json.dumps({"ok": True}))
        with lock:
            log.append((time.monotonic(), phone, result[0]))
        return result

    mock.add_callback(responses.POST, SEND_URL, callback=callback, content_type="application/json")
    return seen, log


def statuses(broadcast: Broadcast) -> dict[str, str]:
    return dict(broadcast.messages.values_list("phone_number", "status"))


def only_range(broadcast: Broadcast) -> tuple[int, int]:
    [(first, last)] = chunk_ranges(broadcast.pk)
    return first, last


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[RunningSandbox]:
    """The TextLink sandbox (answers after 20 ms), configured as TextLink."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with run_sandbox(latency=0.02) as srv:
        textlink(settings, API_KEY=srv.api_key, BASE_URL=srv.base_url)
        yield srv


def sent_phones(server: RunningSandbox) -> Counter[str]:
    return Counter(call.request["phone_number"] for call in server.api_calls("send-sms"))


@pytest.fixture
def file_db(tmp_path: Any) -> Iterator[None]:
    yield from file_sqlite_database(tmp_path)


# -- a single message: django_textlink.send_sms ---------------------------------------------------


@pytest.mark.django_db
def test_send_sms_stores_the_message_sends_it_and_returns_the_row(rsps):
    rsps.post(SEND_URL, json={"ok": True})

    message = django_textlink.send_sms("+381 60 123 4567", "Hello")

    stored = SMSMessage.objects.get()
    assert message.pk == stored.pk
    assert message.status == stored.status == "sent"
    assert stored.direction == "outbound"
    assert stored.phone_number == PHONE  # normalized to E.164
    assert stored.text == "Hello"
    assert stored.sent_at is not None
    assert stored.error == ""
    assert stored.attempts == 1
    assert stored.claimed_at is None
    assert stored.queued_by_textlink is False
    assert bodies(rsps) == [{"phone_number": PHONE, "text": "Hello", "custom_id": stored.custom_id}]


@pytest.mark.django_db
def test_send_sms_passes_the_sim_card_and_links_the_contact(rsps):
    rsps.post(SEND_URL, json={"ok": True})
    contact = Contact.objects.create(phone_number=PHONE, name="Ana")

    message = django_textlink.send_sms(PHONE, "Hi", sim_card_id=7, contact=contact)

    message.refresh_from_db()
    assert (message.sim_card_id, message.contact_id) == (7, contact.pk)
    assert bodies(rsps)[0]["sim_card_id"] == 7


@pytest.mark.django_db
def test_a_queued_answer_is_sent_and_recorded_as_queued_by_textlink(rsps):
    rsps.post(SEND_URL, json={"ok": True, "queued": True})

    message = django_textlink.send_sms(PHONE, "Hello")

    message.refresh_from_db()
    assert message.status == "sent"
    assert message.queued_by_textlink is True


@pytest.mark.django_db
def test_every_message_has_its_own_custom_id_and_sends_it(rsps):
    rsps.post(SEND_URL, json={"ok": True})

    messages = [django_textlink.send_sms(PHONE, f"Message {i}") for i in range(3)]

    ids = [m.custom_id for m in messages]
    assert all(ids)
    assert len(set(ids)) == 3
    assert [body["custom_id"] for body in bodies(rsps)] == ids
    assert [body["text"] for body in bodies(rsps)] == ["Message 0", "Message 1", "Message 2"]


@pytest.mark.django_db
@pytest.mark.parametrize("number", ["12345", "not a number", "", "+1 000 000 0000", None])
def test_an_invalid_number_raises_and_stores_nothing(rsps, number):
    with pytest.raises(InvalidPhoneNumber):
        django_textlink.send_sms(number, "Hello")

    assert not SMSMessage.objects.exists()
    assert len(rsps.calls) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["", "   ", "\n\t", None, "x" * 1601])
def test_empty_or_overlong_text_raises_value_error_and_stores_nothing(rsps, text):
    with pytest.raises(ValueError, match="text"):
        django_textlink.send_sms(PHONE, text)

    assert not SMSMessage.objects.exists()
    assert len(rsps.calls) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("sim_card_id", [-1, True, 1.5, "3"])
def test_a_bad_sim_card_id_raises_value_error_and_stores_nothing(rsps, sim_card_id):
    """Not an IntegrityError from the database: the id is checked before anything is stored."""
    with pytest.raises(ValueError, match="sim_card_id must be a whole number >= 0"):
        django_textlink.send_sms(PHONE, "Hello", sim_card_id=sim_card_id)
    with pytest.raises(ValueError, match="sim_card_id must be a whole number >= 0"):
        create_broadcast([PHONE], "Hello", sim_card_id=sim_card_id, enqueue=False)

    assert not SMSMessage.objects.exists()
    assert not Broadcast.objects.exists()
    assert len(rsps.calls) == 0


@pytest.mark.django_db
def test_sim_card_zero_is_a_sim_card_id(rsps):
    rsps.post(SEND_URL, json={"ok": True})

    message = django_textlink.send_sms(PHONE, "Hello", sim_card_id=0)

    assert message.sim_card_id == 0
    assert json.loads(rsps.calls[0].request.body)["sim_card_id"] == 0


# -- every TextLink fault on a single send ------------------------------------------------------

FAULTS = [
    pytest.param(
        lambda mock: mock.post(SEND_URL, json={"ok": False, "message": "Not enough credits"}),
        "failed",
        TextLinkAPIError,
        "Not enough credits",
        id="ok-false",
    ),
    pytest.param(
        lambda mock: mock.post(
            SEND_URL,
            status=429,
            json={"ok": False, "message": "Too many requests"},
            headers={"Retry-After": "30"},
        ),
        "failed",
        TextLinkRateLimitError,
        "Too many requests",
        id="429",
    ),
    pytest.param(
        lambda mock: mock.post(SEND_URL, status=500, body="Internal Server Error"),
        "unknown",
        TextLinkServerError,
        "HTTP 500",
        id="500",
    ),
    pytest.param(
        lambda mock: mock.post(
            SEND_URL, status=200, body="<html>maintenance</html>", content_type="text/html"
        ),
        "unknown",
        TextLinkInvalidResponseError,
        "not JSON",
        id="non-json",
    ),
    pytest.param(
        lambda mock: mock.post(SEND_URL, body=requests.ReadTimeout("Read timed out.")),
        "unknown",
        TextLinkTimeoutError,
        "read timeout",
        id="read-timeout",
    ),
    pytest.param(
        lambda mock: mock.post(SEND_URL, body=refused(SEND_URL)),
        "failed",
        TextLinkConnectionError,
        "Could not connect",
        id="connection-refused",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("fault", "status", "error_class", "reason"), FAULTS)
def test_every_fault_leaves_the_row_with_its_status_and_reason_then_raises(
    rsps, fault, status, error_class, reason
):
    fault(rsps)

    with pytest.raises(error_class) as excinfo:
        django_textlink.send_sms(PHONE, "Hello")

    stored = SMSMessage.objects.get()  # never lost
    assert stored.status == status
    assert reason in stored.error
    assert stored.sent_at is None
    assert stored.claimed_at is None  # not left "sending"
    assert excinfo.value.sms_message.pk == stored.pk  # type: ignore[attr-defined]
    assert excinfo.value.sms_message.status == status  # type: ignore[attr-defined]
    assert len(rsps.calls) == 1  # never retried: it may have been sent


@pytest.mark.django_db
def test_ok_false_raises_a_textlink_refusal_with_the_message(rsps):
    rsps.post(SEND_URL, json={"ok": False, "message": "Not enough credits"})

    with pytest.raises(TextLinkAPIError) as excinfo:
        django_textlink.send_sms(PHONE, "Hello")

    assert type(excinfo.value) is TextLinkRefusedError
    assert excinfo.value.message == "Not enough credits"
    assert excinfo.value.sms_message.error.startswith("Not enough credits")  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_connection_refused_is_retried_only_because_nothing_was_sent(rsps, settings):
    textlink(settings, MAX_RETRIES=2)
    rsps.post(SEND_URL, body=refused(SEND_URL))

    with pytest.raises(TextLinkConnectionError):
        django_textlink.send_sms(PHONE, "Hello")

    assert len(rsps.calls) == 3
    assert SMSMessage.objects.get().status == "failed"


# -- never sent twice -----------------------------------------------------------------------------


def queued_message(phone: str = PHONE, **fields: Any) -> SMSMessage:
    defaults = {"text": "Hello", "status": "queued", "custom_id": sending.new_custom_id()}
    return SMSMessage.objects.create(phone_number=phone, **{**defaults, **fields})


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["sending", "sent", "failed", "unknown"])
def test_deliver_sends_nothing_for_a_message_that_is_not_queued(rsps, status):
    message = queued_message(status=status, attempts=1, claimed_at=timezone.now())

    result = deliver(message)

    assert len(rsps.calls) == 0
    assert result.status == status
    message.refresh_from_db()
    assert (message.status, message.attempts) == (status, 1)


@pytest.mark.django_db
def test_deliver_on_a_stale_copy_of_a_queued_message_sends_nothing(rsps):
    """Two workers loaded the same queued row; the conditional update lets one through."""
    rsps.post(SEND_URL, json={"ok": True})
    message = queued_message()
    first = SMSMessage.objects.get(pk=message.pk)
    second = SMSMessage.objects.get(pk=message.pk)

    deliver(first)
    result = deliver(second)  # it still believes the row is queued

    assert len(rsps.calls) == 1
    assert result.status == "sent"
    message.refresh_from_db()
    assert message.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_threads_delivering_the_same_messages_send_each_exactly_once(file_db, server):
    messages = [queued_message(phone) for phone in PHONES[:10]]
    pks = [m.pk for m in messages]
    # Each thread holds its own copies, all loaded while every message was still queued.
    copies = [list(SMSMessage.objects.filter(pk__in=pks).order_by("pk")) for _ in range(4)]

    def deliver_all(rows: list[SMSMessage]) -> None:
        for row in rows:
            deliver(row)

    run_in_threads([lambda rows=rows: deliver_all(rows) for rows in copies])

    assert sent_phones(server) == Counter(PHONES[:10])
    assert set(SMSMessage.objects.values_list("status", "attempts")) == {("sent", 1)}


# -- bulk: create_broadcast -----------------------------------------------------------------------


def reason_for(value: str) -> str:
    with pytest.raises(InvalidPhoneNumber) as excinfo:
        normalize_phone(value)
    return str(excinfo.value)


@pytest.mark.django_db
def test_create_broadcast_dedupes_reports_invalid_skips_opted_out_and_links_contacts(rsps):
    Contact.objects.create(phone_number="+12025550101", name="Gone", opted_out=True)
    known = Contact.objects.create(phone_number="+12025550102", name="Known")
    given = Contact.objects.create(phone_number="+12025550199", name="Given")
    recipients = [
        "+12025550100",
        "+1 (202) 555-0100",  # the same number, written differently
        "+12025550101",  # opted out
        "+12025550102",  # an existing contact: linked
        ("+12025550103", given.pk),  # a contact named by the caller
        "12345",
        "not a number",
        "+12025550104",
        "+12025550104",
    ]

    broadcast = create_broadcast(iter(recipients), "Sale today", enqueue=False)

    assert broadcast.recipients == 4
    assert broadcast.skipped_duplicates == 2
    assert broadcast.skipped_invalid == 2
    assert broadcast.skipped_opted_out == 1
    assert broadcast.invalid_numbers == [
        {"value": "12345", "reason": reason_for("12345")},
        {"value": "not a number", "reason": reason_for("not a number")},
    ]
    assert all(item["reason"] for item in broadcast.invalid_numbers)
    rows = {m.phone_number: m for m in broadcast.messages.all()}
    assert set(rows) == {"+12025550100", "+12025550102", "+12025550103", "+12025550104"}
    assert rows["+12025550102"].contact_id == known.pk
    assert rows["+12025550103"].contact_id == given.pk
    assert rows["+12025550100"].contact_id is None
    assert {m.status for m in rows.values()} == {"queued"}
    assert {m.text for m in rows.values()} == {"Sale today"}
    assert {m.direction for m in rows.values()} == {"outbound"}
    assert len({m.custom_id for m in rows.values()}) == 4
    assert broadcast.finished_at is None
    assert len(rsps.calls) == 0  # enqueue=False: nothing sent yet
    progress = broadcast.progress()
    assert (progress["queued"], progress["total"], progress["done"]) == (4, 4, 0)


@pytest.mark.django_db
def test_bulk_inserted_rows_read_back_like_rows_the_orm_saves():
    """create_broadcast inserts with bulk_create: its rows read back like a saved one."""
    before = timezone.now()
    broadcast = create_broadcast(PHONES[:3], "Hi", sim_card_id=5, enqueue=False)
    reference = queued_message(PHONES[3], sim_card_id=5, text="Hi", broadcast=broadcast)

    for row in broadcast.messages.exclude(pk=reference.pk):
        for field in ("direction", "status", "text", "sim_card_id", "queued_by_textlink"):
            assert getattr(row, field) == getattr(reference, field), field
        assert (row.error, row.attempts, row.textlink_id) == ("", 0, None)
        assert (row.claimed_at, row.sent_at) == (None, None)
        assert before <= row.created_at <= timezone.now()
        assert row.created_at.tzinfo is not None
        assert row.updated_at >= row.created_at
        assert SMSMessage.objects.filter(created_at=row.created_at, pk=row.pk).exists()


@pytest.mark.django_db
def test_a_broadcast_without_valid_recipients_is_finished_at_once(rsps):
    broadcast = create_broadcast(["nope", "12"], "Hi")

    assert broadcast.recipients == 0
    assert broadcast.skipped_invalid == 2
    assert broadcast.finished_at is not None
    assert len(rsps.calls) == 0


@pytest.mark.django_db
def test_create_broadcast_sends_everyone_with_the_default_inline_task_backend(
    rsps, django_capture_on_commit_callbacks
):
    rsps.post(SEND_URL, json={"ok": True})
    numbers = PHONES[:120]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        broadcast = create_broadcast(numbers, "Sale today")

    assert len(callbacks) == 1  # handed to the task backend when the transaction commits
    sent = bodies(rsps)
    assert sorted(body["phone_number"] for body in sent) == sorted(numbers)
    custom_ids = dict(broadcast.messages.values_list("phone_number", "custom_id"))
    assert all(body["custom_id"] == custom_ids[body["phone_number"]] for body in sent)
    broadcast.refresh_from_db()
    assert broadcast.finished_at is not None
    progress = broadcast.progress()
    assert {k: v for k, v in progress.items() if v} == {"sent": 120, "total": 120, "done": 120}


@pytest.mark.django_db
def test_chunk_ranges_cover_every_queued_message_once(settings):
    textlink(settings, BULK_CHUNK_SIZE=7)
    broadcast = create_broadcast(PHONES[:30], "Hi", enqueue=False)
    pks = sorted(broadcast.messages.values_list("pk", flat=True))

    ranges = chunk_ranges(broadcast.pk)

    assert len(ranges) == 5
    covered = [pk for pk in pks for first, last in ranges if first <= pk <= last]
    assert covered == pks


# -- bulk: sending the chunks ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_claim_takes_exactly_its_limit_in_order_and_never_a_claimed_message():
    broadcast = create_broadcast(PHONES[:30], "Hi", enqueue=False)
    first, last = only_range(broadcast)
    pks = sorted(broadcast.messages.values_list("pk", flat=True))

    one = claim(broadcast.pk, first, last, 5)
    two = claim(broadcast.pk, first, last, 5)

    assert [m.pk for m in one] == pks[:5]
    assert [m.pk for m in two] == pks[5:10]
    assert {m.attempts for m in one + two} == {1}
    progress = broadcast.progress()
    assert (progress["sending"], progress["queued"]) == (10, 20)
    claimed_at = broadcast.messages.filter(status="sending").values_list("claimed_at", flat=True)
    assert all(at is not None and at <= timezone.now() for at in claimed_at)


@pytest.mark.django_db
def test_a_chunk_run_twice_sends_nobody_twice(rsps, settings):
    textlink(settings, BULK_CONCURRENCY=8, BULK_RATE_LIMIT=None)
    rsps.post(SEND_URL, json={"ok": True})
    broadcast = create_broadcast(PHONES[:30], "Hi", enqueue=False)
    first, last = only_range(broadcast)

    assert run_chunk(broadcast.pk, first, last) == {"sent": 30}
    assert len(rsps.calls) == 30

    assert run_chunk(broadcast.pk, first, last) == {}
    assert len(rsps.calls) == 30
    assert enqueue_broadcast(broadcast.pk) == 0  # nothing queued: no chunk at all
    assert Counter(body["phone_number"] for body in bodies(rsps)) == Counter(PHONES[:30])


@pytest.mark.django_db(transaction=True)
def test_workers_running_the_same_chunk_at_once_send_each_message_exactly_once(
    file_db, server, settings
):
    textlink(settings, BULK_CONCURRENCY=5, BULK_RATE_LIMIT=None)
    broadcast = create_broadcast(PHONES[:60], "Hi", enqueue=False)
    first, last = only_range(broadcast)

    totals = run_in_threads([lambda: run_chunk(broadcast.pk, first, last) for _ in range(4)])

    assert sent_phones(server) == Counter(PHONES[:60])
    assert sum(t.get("sent", 0) for t in totals) == 60
    assert sum(1 for t in totals if t.get("sent")) >= 2  # the work really was shared
    assert set(statuses(broadcast).values()) == {"sent"}
    broadcast.refresh_from_db()
    assert broadcast.finished_at is not None


@pytest.mark.django_db
def test_a_429_mid_bulk_pauses_and_requeues_then_sends_them_later(rsps, settings):
    textlink(settings, BULK_CONCURRENCY=5, BULK_RATE_LIMIT=None)
    limited = PHONES[3]
    refusal = (429, {"Retry-After": "0.3"}, json.dumps({"ok": False, "message": "Slow down"}))
    seen, log = per_number(
        rsps, lambda phone, nth: refusal if phone == limited and nth == 1 else None
    )
    broadcast = create_broadcast(PHONES[:12], "Hi", enqueue=False)

    totals = run_chunk(broadcast.pk, *only_range(broadcast))

    assert totals == {"sent": 12, "queued": 1}  # one attempt put back in the queue
    assert set(statuses(broadcast).values()) == {"sent"}  # no message lost
    accepted = Counter(phone for _, phone, status in log if status == 200)
    assert accepted == Counter(PHONES[:12])  # none accepted twice
    assert seen[limited] == 2
    row = broadcast.messages.get(phone_number=limited)
    assert (row.attempts, row.error) == (2, "")
    # The pacer paused: nothing was sent for Retry-After seconds after the 429, beyond
    # the requests of the same wave, which had already left.
    refused_at = next(at for at, phone, status in log if status == 429)
    later = [at for at, _, _ in log[5:]]
    assert min(later) - refused_at >= 0.29


@pytest.mark.django_db
def test_a_persistently_rate_limited_message_fails_after_bulk_max_attempts(rsps, settings):
    textlink(settings, BULK_CONCURRENCY=5, BULK_RATE_LIMIT=None, BULK_MAX_ATTEMPTS=3)
    limited = PHONES[1]
    refusal = (429, {"Retry-After": "0"}, json.dumps({"ok": False, "message": "Slow down"}))
    seen, _log = per_number(rsps, lambda phone, nth: refusal if phone == limited else None)
    broadcast = create_broadcast(PHONES[:12], "Hi", enqueue=False)

    totals = run_chunk(broadcast.pk, *only_range(broadcast))

    assert seen[limited] == 3
    assert all(seen[phone] == 1 for phone in PHONES[:12] if phone != limited)
    assert totals == {"sent": 11, "queued": 2, "failed": 1}
    row = broadcast.messages.get(phone_number=limited)
    assert (row.status, row.attempts) == ("failed", 3)
    assert "Slow down" in row.error
    broadcast.refresh_from_db()
    assert broadcast.finished_at is not None  # failed is final


@pytest.mark.django_db
def test_a_500_for_some_numbers_marks_them_unknown_and_sends_the_rest(rsps, settings):
    textlink(settings, BULK_CONCURRENCY=4, BULK_RATE_LIMIT=None)
    broken = {PHONES[2], PHONES[7]}
    error = (500, {}, "Internal Server Error")
    seen, _log = per_number(rsps, lambda phone, nth: error if phone in broken else None)
    broadcast = create_broadcast(PHONES[:10], "Hi", enqueue=False)

    totals = run_chunk(broadcast.pk, *only_range(broadcast))

    assert totals == {"sent": 8, "unknown": 2}
    assert seen == Counter(PHONES[:10])  # nothing retried
    rows = {m.phone_number: m for m in broadcast.messages.all()}
    for phone, row in rows.items():
        if phone in broken:
            assert (row.status, row.sent_at) == ("unknown", None)
            assert "HTTP 500" in row.error
        else:
            assert (row.status, row.error) == ("sent", "")
            assert row.sent_at is not None
        assert row.claimed_at is None
    progress = broadcast.progress()
    assert (progress["sent"], progress["unknown"], progress["done"]) == (8, 2, 10)


@pytest.mark.django_db
def test_one_wave_with_every_kind_of_outcome_is_recorded_row_by_row(rsps, settings):
    textlink(settings, BULK_CONCURRENCY=6, BULK_RATE_LIMIT=None, BULK_MAX_ATTEMPTS=1)
    answers: dict[str, Answer] = {
        PHONES[0]: (200, {}, json.dumps({"ok": True, "queued": True})),
        PHONES[1]: (200, {}, json.dumps({"ok": False, "message": "Invalid number A"})),
        PHONES[2]: (200, {}, json.dumps({"ok": False, "message": "Invalid number B"})),
        PHONES[3]: (500, {}, "oops"),
        PHONES[4]: (429, {"Retry-After": "0"}, json.dumps({"ok": False, "message": "Slow"})),
    }
    per_number(rsps, lambda phone, nth: answers.get(phone))
    broadcast = create_broadcast(PHONES[:6], "Hi", enqueue=False)

    run_chunk(broadcast.pk, *only_range(broadcast))

    rows = {m.phone_number: m for m in broadcast.messages.all()}
    got = {p: (r.status, r.queued_by_textlink, r.error.split(" (")[0]) for p, r in rows.items()}
    assert got == {
        PHONES[0]: ("sent", True, ""),
        PHONES[1]: ("failed", False, "Invalid number A"),
        PHONES[2]: ("failed", False, "Invalid number B"),
        PHONES[3]: ("unknown", False, "TextLink answered HTTP 500"),
        PHONES[4]: ("failed", False, "Slow"),
        PHONES[5]: ("sent", False, ""),
    }
    assert {p for p, r in rows.items() if r.sent_at is not None} == {PHONES[0], PHONES[5]}


@pytest.mark.django_db
def test_bulk_rate_limit_spaces_the_sends(rsps, settings):
    # 50 per second in bursts of one wave (5): 25 sends need at least 20 more slots.
    textlink(settings, BULK_RATE_LIMIT=50, BULK_CONCURRENCY=5)
    _seen, log = per_number(rsps, lambda phone, nth: None)
    broadcast = create_broadcast(PHONES[:25], "Hi", enqueue=False)

    started = time.monotonic()
    run_chunk(broadcast.pk, *only_range(broadcast))
    elapsed = time.monotonic() - started

    assert elapsed >= 0.38
    times = sorted(at for at, _, _ in log)
    assert times[-1] - times[0] >= 0.38
    # In any window of 0.2 s, at most burst + rate * 0.2 = 5 + 10 sends (+1 for edges).
    for i, first in enumerate(times):
        in_window = [t for t in times[i:] if t - first < 0.2]
        assert len(in_window) <= 16
    assert set(statuses(broadcast).values()) == {"sent"}


def test_pacer_allows_one_burst_then_the_rate():
    pacer = Pacer(100, burst=10)
    started = time.monotonic()
    for _ in range(10):
        pacer.wait()
    burst_done = time.monotonic() - started
    for _ in range(10):
        pacer.wait()
    total = time.monotonic() - started
    assert burst_done < 0.05  # the first ten go at once
    assert total >= 0.09  # the next ten are spaced by 10 ms


# -- a worker killed mid-send, and the restart --------------------------------------------------


@pytest.mark.django_db
def test_resume_after_a_worker_died_marks_its_claim_unknown_and_sends_the_rest(server):
    broadcast = create_broadcast(PHONES[:30], "Hi", enqueue=False)
    first, last = only_range(broadcast)
    # A worker claims a wave, gets two of its messages out, and dies before recording.
    dead = claim(broadcast.pk, first, last, 5)
    backend = get_backend()
    for message in dead[:2]:
        backend.send_sms(message.phone_number, message.text, custom_id=message.custom_id)
    assert broadcast.progress()["sending"] == 5

    result = resume_broadcast(broadcast, stale_after=0)

    assert result == {"marked_unknown": 5, "chunks": 1}
    phones = sent_phones(server)
    assert max(phones.values()) == 1  # nobody got it twice
    assert set(phones) == set(PHONES[:30]) - {m.phone_number for m in dead[2:]}
    rows = statuses(broadcast)
    assert {phone for phone, status in rows.items() if status == "unknown"} == {
        m.phone_number for m in dead
    }
    assert Counter(rows.values()) == Counter({"sent": 25, "unknown": 5})
    assert not broadcast.messages.filter(status__in=PENDING).exists()
    assert "worker stopped" in broadcast.messages.filter(status="unknown").first().error
    broadcast.refresh_from_db()
    assert broadcast.finished_at is not None

    # Resuming again, or running the chunk again, sends nothing more.
    assert resume_broadcast(broadcast, stale_after=0) == {"marked_unknown": 0, "chunks": 0}
    assert run_chunk(broadcast.pk, first, last) == {}
    assert sent_phones(server) == phones


@pytest.mark.django_db
def test_resume_leaves_a_fresh_claim_to_its_live_worker(rsps):
    rsps.post(SEND_URL, json={"ok": True})
    broadcast = create_broadcast(PHONES[:10], "Hi", enqueue=False)
    claimed = claim(broadcast.pk, *only_range(broadcast), 3)

    result = resume_broadcast(broadcast)  # stale after CLAIM_TIMEOUT (300 s)

    assert result == {"marked_unknown": 0, "chunks": 1}
    assert len(rsps.calls) == 7
    assert {body["phone_number"] for body in bodies(rsps)}.isdisjoint(
        {m.phone_number for m in claimed}
    )
    assert broadcast.progress()["sending"] == 3
    broadcast.refresh_from_db()
    assert broadcast.finished_at is None  # still in flight


@pytest.mark.django_db
def test_a_late_record_does_not_overwrite_a_message_resume_marked_unknown(rsps):
    broadcast = create_broadcast(PHONES[:2], "Hi", enqueue=False)
    [claimed, _other] = claim(broadcast.pk, *only_range(broadcast), 2)
    resume_broadcast(broadcast, stale_after=0)

    record([Outcome(claimed.pk, "sent")], max_attempts=5, attempts={})

    assert broadcast.messages.get(pk=claimed.pk).status == "unknown"
    assert len(rsps.calls) == 0


# -- requeue --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_requeue_sends_failed_messages_again_and_unknown_ones_only_when_asked(
    rsps, settings, django_capture_on_commit_callbacks
):
    textlink(settings, BULK_CONCURRENCY=5, BULK_RATE_LIMIT=None)
    failing = {PHONES[1], PHONES[4]}
    unclear = {PHONES[6], PHONES[8]}

    def first_time(phone: str, nth: int) -> Answer | None:
        if nth > 1:
            return None
        if phone in failing:
            return 200, {}, json.dumps({"ok": False, "message": "No SIM available"})
        if phone in unclear:
            return 502, {}, "Bad Gateway"
        return None

    seen, _log = per_number(rsps, first_time)
    broadcast = create_broadcast(PHONES[:10], "Hi", enqueue=False)
    run_chunk(broadcast.pk, *only_range(broadcast))
    assert Counter(statuses(broadcast).values()) == Counter(sent=6, failed=2, unknown=2)

    with django_capture_on_commit_callbacks(execute=True):
        assert requeue(broadcast.messages.all()) == 2  # the failed ones only

    rows = statuses(broadcast)
    assert {p for p, s in rows.items() if s == "unknown"} == unclear  # not re-sent
    assert Counter(rows.values()) == Counter(sent=8, unknown=2)
    assert all(seen[phone] == 2 for phone in failing)
    assert all(seen[phone] == 1 for phone in set(PHONES[:10]) - failing)
    assert all(broadcast.messages.get(phone_number=p).error == "" for p in failing)
    broadcast.refresh_from_db()
    assert broadcast.finished_at is not None

    unknown_pks = list(broadcast.messages.filter(status="unknown").values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        assert requeue(unknown_pks) == 0  # an unknown message may have arrived: not by default
        assert requeue(unknown_pks, include_unknown=True) == 2

    assert set(statuses(broadcast).values()) == {"sent"}
    assert all(seen[phone] == 2 for phone in unclear)
    assert sum(seen.values()) == 14
    broadcast.refresh_from_db()
    assert broadcast.finished_at is not None


@pytest.mark.django_db
def test_requeue_a_failed_single_message_and_never_a_sent_or_inbound_one(
    rsps, django_capture_on_commit_callbacks
):
    rsps.post(SEND_URL, json={"ok": False, "message": "No SIM available"})
    rsps.post(SEND_URL, json={"ok": True})
    with pytest.raises(TextLinkAPIError):
        django_textlink.send_sms(PHONE, "Hello")
    message = SMSMessage.objects.get()
    inbound = SMSMessage.objects.create(
        phone_number=PHONE, text="Hi", direction="inbound", status="received"
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert requeue([message, inbound]) == 1

    message.refresh_from_db()
    assert (message.status, message.error) == ("sent", "")
    assert len(rsps.calls) == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert requeue([message.pk, inbound.pk], include_unknown=True) == 0
    assert len(rsps.calls) == 2


# -- SQL statements -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_wave_costs_one_claim_and_one_record_statement(rsps, settings, django_assert_num_queries):
    textlink(settings, BULK_RATE_LIMIT=None)  # default BULK_CONCURRENCY: 50
    rsps.post(SEND_URL, json={"ok": True})
    broadcast = create_broadcast(PHONES[:100], "Hi", enqueue=False)
    first, last = only_range(broadcast)

    # Two waves of 50: claim + record each, then the broadcast's "finished" check. The
    # second claim reached the end of the range, so no empty claim follows.
    with django_assert_num_queries(5):
        run_chunk(broadcast.pk, first, last)

    assert set(statuses(broadcast).values()) == {"sent"}


@pytest.mark.django_db
def test_creating_a_thousand_recipients_takes_a_handful_of_statements(
    django_assert_max_num_queries,
):
    # Savepoint, broadcast, contacts lookup, one multi-row INSERT, counts, re-read, release:
    # bulk_create splits its INSERT only by the database's parameter limit, which Django
    # before 6.0 takes as SQLite's historical 999 (so about 16 INSERTs of 62 rows there).
    # The contacts are looked up (and their rows inserted) in batches of fewer numbers than
    # that limit, so 998 + 2 numbers there.
    limit = connection.features.max_query_params
    columns = len(SMSMessage._meta.concrete_fields) - 1  # every column but the id
    batches = [1000] if limit is None else [min(1000, limit - 1), 1000 - min(1000, limit - 1)]
    per_insert = 1000 if limit is None else limit // columns
    statements = sum(1 + math.ceil(batch / per_insert) for batch in batches if batch)
    with django_assert_max_num_queries(5 + statements):
        broadcast = create_broadcast(
            (f"+38160{1_000_000 + i:07d}" for i in range(1000)), "Hi", enqueue=False
        )
    assert broadcast.messages.count() == 1000
