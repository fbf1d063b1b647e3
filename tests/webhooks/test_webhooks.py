"""TextLink's four webhooks (django_textlink.webhooks: views, parsing) and what their
events do (its store and handlers): authentication, parsing, de-duplication, processing
exactly once, rollback and replay.

Everything runs through Django's test client and the real views, models and signals; no
TextLink HTTP is involved except where a test asserts that none happens. Tests whose
threads each open a database connection run on a file SQLite database (``file_db``): the
shared in-memory one refuses a second writer at once. With ``TEXTLINK_TEST_DB=postgres``
they run on PostgreSQL as they are.
"""

from __future__ import annotations

import io
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

import pytest
import responses
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import django_textlink
from django_textlink import signals
from django_textlink.backends.locmem import tag_updates
from django_textlink.models import Contact, SMSMessage, WebhookEvent
from django_textlink.webhooks import store
from django_textlink.webhooks.parsing import FIELD_TYPES
from tests.support.concurrency import file_sqlite_database, run_in_threads
from tests.support.inline_tasks import run_tasks_inline
from tests.support.webhook_posts import SIGNALS, Fired, recording_signals, texts_of, url

SECRET = "whsec-test-0123456789"  # TEXTLINK["WEBHOOK_SECRET"] in tests/settings.py
PHONE = "+381601234567"
OTHER_PHONE = "+12025550143"
TIMESTAMP = 1748463114559  # JavaScript milliseconds, as TextLink sends them
WHEN = datetime.fromtimestamp(TIMESTAMP / 1000, tz=dt_timezone.utc)
BASE_URL = "https://textlinksms.test/api"
KINDS = ("received", "sent", "failed", "tag")
MAX_BODY = 64 * 1024

# -- the documented payloads (the TextLink API notes, "Webhooks") ---------------------------------

#: The generic sample of the docs: the fields every message webhook may be cut down to.
GENERIC = {"secret": SECRET, "phone_number": PHONE, "text": "Working!", "timestamp": 1748455363370}

DOCUMENTED: dict[str, dict[str, Any]] = {
    "received-full": {
        "secret": SECRET,
        "phone_number": PHONE,
        "text": "Hi",
        "tag": "Cold",
        "name": "John",
        "sim_card_id": 123,
    },
    "received-minimal": dict(GENERIC),
    "received-older-page": {**GENERIC, "received": True, "sent": False},
    "sent-full": {
        "secret": SECRET,
        "phone_number": PHONE,
        "text": "Hi",
        "portal": True,
        "timestamp": TIMESTAMP,
        "sim_card_id": 123,
    },
    "sent-minimal": dict(GENERIC),
    "sent-older-page": {**GENERIC, "sent": True, "received": False, "portal": False},
    "failed-full": {
        "secret": SECRET,
        "phone_number": PHONE,
        "text": "Hi",
        "portal": False,
        "timestamp": TIMESTAMP,
        "textlink_id": 100123,
        "custom_id": "1234",
        "sim_card_id": 123,
    },
    "failed-minimal": dict(GENERIC),
    # The documented tag sample shows no secret; TextLink says the secret is in "each
    # request", so it is added here (a tag webhook without it is refused: see
    # test_a_tag_webhook_without_a_secret_is_refused).
    "tag-full": {
        "secret": SECRET,
        "name": "John",
        "phone_number": PHONE,
        "tag": "Warm",
        "subuser_id": 6,
    },
    "tag-minimal": {"secret": SECRET, "phone_number": PHONE, "tag": "Warm"},
}


# -- helpers and fixtures -------------------------------------------------------------------------


def encode(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def post(client: Client, kind: str, body: Any, **extra: Any) -> HttpResponse:
    return client.post(url(kind), data=encode(body), content_type="application/json", **extra)


def without_secret(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "secret"}


def reason(response: HttpResponse) -> str:
    data = json.loads(response.content)
    assert data["ok"] is False
    return str(data["error"])


def textlink(settings: Any, **options: Any) -> None:
    settings.TEXTLINK = {**settings.TEXTLINK, **options}


def nothing_stored() -> None:
    assert WebhookEvent.objects.count() == 0
    assert SMSMessage.objects.count() == 0
    assert Contact.objects.count() == 0


def assert_no_secret(value: Any, secret: str = SECRET) -> None:
    shown = list(texts_of(value))
    assert not [text for text in shown if secret in text]
    assert "key:secret" not in shown


@pytest.fixture(autouse=True)
def _tasks_inline(settings: Any) -> None:
    """Tasks (a tag push, task-mode processing) run at once, whatever an earlier test left
    in settings.TASKS: so a push that should not happen would really show."""
    run_tasks_inline(settings)


@pytest.fixture
def fired() -> Iterator[Fired]:
    with recording_signals("test-webhooks") as recorder:
        yield recorder


@pytest.fixture
def raising() -> Iterator[Callable[[str], None]]:
    """``raising(kind)`` connects a receiver to that kind's signal that raises."""
    connected: list[Signal] = []

    def connect(kind: str) -> None:
        def receiver(sender: Any, **kwargs: Any) -> None:
            raise RuntimeError("receiver exploded")

        SIGNALS[kind].connect(receiver, weak=False, dispatch_uid="test-webhooks-raising")
        connected.append(SIGNALS[kind])

    yield connect
    for signal in connected:
        signal.disconnect(dispatch_uid="test-webhooks-raising")


@pytest.fixture
def file_db(tmp_path: Any) -> Iterator[None]:
    yield from file_sqlite_database(tmp_path)


# -- the documented payloads ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(DOCUMENTED))
def test_each_documented_payload_is_accepted_stored_and_signalled_once(
    client, fired, textlink_locmem, caplog, case
):
    kind = case.split("-")[0]
    body = DOCUMENTED[case]
    caplog.set_level(logging.DEBUG)

    response = post(client, kind, body)

    assert response.status_code == 200, response.content
    answer = json.loads(response.content)
    assert answer["ok"] is True
    assert answer["duplicate"] is False
    [event] = WebhookEvent.objects.all()
    assert answer["event"] == event.pk
    assert event.kind == kind
    assert event.payload == without_secret(body)
    assert event.state == WebhookEvent.State.PROCESSED
    assert event.error == ""
    assert event.attempts == 1
    assert_no_secret(event)

    assert fired.kinds() == [kind]
    [kwargs] = fired.of(kind)
    assert kwargs["sender"] is WebhookEvent
    assert kwargs["event"].pk == event.pk
    if kind == "tag":
        assert set(kwargs) == {"signal", "sender", "event", "contact", "old_tag", "new_tag"}
        contact = kwargs["contact"]
        assert isinstance(contact, Contact)
        assert contact.pk is not None
        assert contact.phone_number == PHONE
        assert (kwargs["old_tag"], kwargs["new_tag"]) == ("", "Warm")
    else:
        assert set(kwargs) == {"signal", "sender", "event", "message"}
        message = kwargs["message"]
        assert isinstance(message, SMSMessage)
        assert message.pk is not None
        assert message.phone_number == PHONE
        assert message.text == body["text"]
        assert SMSMessage.objects.get() == message
    assert_no_secret(kwargs)
    # Nothing was sent or pushed to TextLink, and the secret is in no log line.
    assert textlink_locmem == []
    assert tag_updates == []
    assert SECRET not in caplog.text


@pytest.mark.django_db
def test_received_processing_creates_the_contact_and_an_inbound_message(
    client, fired, textlink_locmem, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(client, "received", {**DOCUMENTED["received-full"], "timestamp": TIMESTAMP})

    assert response.status_code == 200
    contact = Contact.objects.get()
    assert (contact.phone_number, contact.name, contact.tag) == (PHONE, "John", "Cold")
    # A tag TextLink told us about is saved as synced and never pushed back.
    assert contact.tag_sync_state == Contact.TagSync.SYNCED
    assert contact.tag_synced_at is not None
    assert callbacks == []
    assert tag_updates == []
    assert textlink_locmem == []
    message = SMSMessage.objects.get()
    assert message.direction == SMSMessage.Direction.INBOUND
    assert message.status == SMSMessage.Status.RECEIVED
    assert (message.phone_number, message.text, message.sim_card_id) == (PHONE, "Hi", 123)
    assert message.contact == contact
    assert message.created_at == WHEN
    assert fired.of("received")[0]["message"] == message


@pytest.mark.django_db
def test_received_updates_an_existing_contact_without_pushing_its_tag(
    client, textlink_locmem, django_capture_on_commit_callbacks
):
    contact = Contact.objects.create(
        phone_number=PHONE,
        name="Old name",
        tag="Local",
        tag_sync_state=Contact.TagSync.PENDING,
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(client, "received", DOCUMENTED["received-full"])

    assert response.status_code == 200
    contact.refresh_from_db()
    assert (contact.name, contact.tag) == ("John", "Cold")
    assert contact.tag_sync_state == Contact.TagSync.SYNCED
    assert Contact.objects.count() == 1
    assert SMSMessage.objects.get().contact == contact
    assert callbacks == []
    assert tag_updates == []


@pytest.mark.django_db
def test_received_with_the_http_backend_makes_no_call_to_textlink(client):
    with responses.RequestsMock() as rsps:  # any request would raise ConnectionError
        response = post(client, "received", DOCUMENTED["received-full"])
        assert len(rsps.calls) == 0
    assert response.status_code == 200
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["STOP", "stop", " Unsubscribe ", "Cancel\n", "stopall", "QUIT"])
def test_an_opt_out_keyword_opts_the_contact_out(client, text):
    response = post(client, "received", {**GENERIC, "text": text})

    assert response.status_code == 200
    contact = Contact.objects.get()
    assert contact.opted_out is True
    assert contact.opted_out_at is not None
    assert SMSMessage.objects.get().text == text


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["Stop it please", "STOP STOP", "", "S T O P", "Hi"])
def test_other_texts_do_not_opt_out(client, text):
    assert post(client, "received", {**GENERIC, "text": text}).status_code == 200
    assert Contact.objects.get().opted_out is False


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["START", " start ", "Unstop", "subscribe"])
def test_an_opt_in_keyword_resubscribes(client, text):
    Contact.objects.create(phone_number=PHONE, opted_out=True, opted_out_at=WHEN)

    assert post(client, "received", {**GENERIC, "text": text}).status_code == 200

    contact = Contact.objects.get()
    assert contact.opted_out is False
    assert contact.opted_out_at is None


@pytest.mark.django_db
def test_stop_then_start_round_trip(client):
    post(client, "received", {**GENERIC, "text": "STOP", "timestamp": 1})
    assert Contact.objects.get().opted_out is True
    post(client, "received", {**GENERIC, "text": "START", "timestamp": 2})
    assert Contact.objects.get().opted_out is False
    assert SMSMessage.objects.count() == 2


@pytest.mark.django_db
def test_custom_opt_out_and_opt_in_keywords(client, settings):
    textlink(settings, OPT_OUT_KEYWORDS=["odjava", "Prekid"], OPT_IN_KEYWORDS=["PRIJAVA"])

    post(client, "received", {**GENERIC, "text": "STOP", "timestamp": 1})
    assert Contact.objects.get().opted_out is False  # the defaults are replaced
    post(client, "received", {**GENERIC, "text": " Odjava ", "timestamp": 2})
    assert Contact.objects.get().opted_out is True
    post(client, "received", {**GENERIC, "text": "prijava", "timestamp": 3})
    assert Contact.objects.get().opted_out is False
    post(client, "received", {**GENERIC, "text": "PREKID", "timestamp": 4})
    assert Contact.objects.get().opted_out is True


# -- sent and failed: reconciling outbound messages -----------------------------------------------


def outbound(**fields: Any) -> SMSMessage:
    values: dict[str, Any] = {
        "direction": SMSMessage.Direction.OUTBOUND,
        "phone_number": PHONE,
        "text": "Hi",
        "status": SMSMessage.Status.UNKNOWN,
    }
    values.update(fields)
    return SMSMessage.objects.create(**values)


@pytest.mark.django_db
def test_sent_marks_the_message_found_by_custom_id_as_sent(client, fired):
    message = outbound(custom_id="cid-1", text="Something else")
    other = outbound(custom_id="cid-2", text="Hi")

    response = post(
        client, "sent", {**DOCUMENTED["sent-full"], "portal": False, "custom_id": "cid-1"}
    )

    assert response.status_code == 200
    message.refresh_from_db()
    other.refresh_from_db()
    assert message.status == SMSMessage.Status.SENT
    assert message.sent_at == WHEN
    assert other.status == SMSMessage.Status.UNKNOWN
    assert SMSMessage.objects.count() == 2
    assert fired.of("sent")[0]["message"] == message


@pytest.mark.django_db
def test_sent_without_custom_id_settles_a_message_of_unknown_fate_by_content(client, fired):
    """A read timeout left the message ``unknown``; TextLink's sent webhook settles it."""
    older = outbound(text="Hi", created_at=WHEN.replace(year=2024))
    message = outbound(text="Hi")
    other_text = outbound(text="Not this one")

    response = post(client, "sent", {**DOCUMENTED["sent-full"], "portal": False})

    assert response.status_code == 200
    assert SMSMessage.objects.count() == 3
    statuses = dict(SMSMessage.objects.values_list("pk", "status"))
    assert statuses == {older.pk: "unknown", message.pk: "sent", other_text.pk: "unknown"}
    assert fired.of("sent")[0]["message"] == message


@pytest.mark.django_db
def test_sent_from_the_portal_records_a_new_outbound_message(client, fired):
    existing = outbound(text="Hi", status=SMSMessage.Status.QUEUED)

    response = post(client, "sent", DOCUMENTED["sent-full"])

    assert response.status_code == 200
    message = SMSMessage.objects.exclude(pk=existing.pk).get()
    assert message.direction == SMSMessage.Direction.OUTBOUND
    assert message.status == SMSMessage.Status.SENT
    assert (message.phone_number, message.text, message.sim_card_id) == (PHONE, "Hi", 123)
    assert message.sent_at == WHEN
    assert message.contact == Contact.objects.get(phone_number=PHONE)
    existing.refresh_from_db()
    assert existing.status == SMSMessage.Status.QUEUED  # a portal message is another message
    assert fired.of("sent")[0]["message"] == message


@pytest.mark.django_db
def test_failed_finds_the_message_send_sms_sent_by_its_custom_id(client, fired, textlink_locmem):
    message = django_textlink.send_sms(PHONE, "Your order shipped")
    assert message.status == SMSMessage.Status.SENT
    [entry] = textlink_locmem
    assert entry.custom_id == message.custom_id  # what TextLink would echo back

    response = post(
        client,
        "failed",
        {**DOCUMENTED["failed-full"], "custom_id": entry.custom_id, "text": "Your order shipped"},
    )

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == SMSMessage.Status.FAILED
    assert message.textlink_id == 100123
    assert message.error
    assert SMSMessage.objects.count() == 1
    assert fired.of("failed")[0]["message"] == message


@pytest.mark.django_db
def test_failed_with_an_integer_custom_id_finds_the_message(client):
    message = outbound(custom_id="1234", status=SMSMessage.Status.SENT)

    post(client, "failed", {**DOCUMENTED["failed-full"], "custom_id": 1234})

    message.refresh_from_db()
    assert message.status == SMSMessage.Status.FAILED
    assert SMSMessage.objects.count() == 1


@pytest.mark.django_db
def test_failed_without_custom_id_falls_back_to_textlink_id(client, fired):
    by_content = outbound(text="Hi", status=SMSMessage.Status.SENT)
    by_id = outbound(text="Something else", status=SMSMessage.Status.SENT, textlink_id=100123)
    body = {key: v for key, v in DOCUMENTED["failed-full"].items() if key != "custom_id"}

    post(client, "failed", body)

    by_id.refresh_from_db()
    by_content.refresh_from_db()
    assert by_id.status == SMSMessage.Status.FAILED
    assert by_content.status == SMSMessage.Status.SENT
    assert fired.of("failed")[0]["message"] == by_id


@pytest.mark.django_db
def test_an_unknown_custom_id_falls_back_to_textlink_id(client):
    by_id = outbound(text="Something else", status=SMSMessage.Status.SENT, textlink_id=100123)

    post(client, "failed", {**DOCUMENTED["failed-full"], "custom_id": "not-ours"})

    by_id.refresh_from_db()
    assert by_id.status == SMSMessage.Status.FAILED
    assert SMSMessage.objects.count() == 1


@pytest.mark.django_db
def test_failed_without_any_id_falls_back_to_the_newest_match_by_phone_and_text(client, fired):
    older = outbound(text="Hi", status=SMSMessage.Status.SENT, created_at=WHEN.replace(year=2024))
    newest = outbound(text="Hi", status=SMSMessage.Status.SENT)
    other_text = outbound(text="Hello", status=SMSMessage.Status.SENT)
    other_phone = outbound(text="Hi", status=SMSMessage.Status.SENT, phone_number=OTHER_PHONE)

    post(client, "failed", DOCUMENTED["failed-minimal"] | {"text": "Hi"})

    statuses = dict(SMSMessage.objects.values_list("pk", "status"))
    assert statuses == {
        older.pk: "sent",
        newest.pk: "failed",
        other_text.pk: "sent",
        other_phone.pk: "sent",
    }
    assert fired.of("failed")[0]["message"] == newest


@pytest.mark.django_db
def test_two_failed_webhooks_for_two_identical_messages_fail_both(client):
    first = outbound(text="Hi", status=SMSMessage.Status.SENT, created_at=WHEN.replace(year=2024))
    second = outbound(text="Hi", status=SMSMessage.Status.SENT)

    post(client, "failed", {**DOCUMENTED["failed-minimal"], "text": "Hi", "timestamp": 1})
    post(client, "failed", {**DOCUMENTED["failed-minimal"], "text": "Hi", "timestamp": 2})

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("failed", "failed")
    assert SMSMessage.objects.count() == 2


@pytest.mark.django_db
def test_failed_for_a_message_we_do_not_know_records_it_as_failed(client, fired):
    response = post(client, "failed", DOCUMENTED["failed-full"])

    assert response.status_code == 200
    message = SMSMessage.objects.get()
    assert message.direction == SMSMessage.Direction.OUTBOUND
    assert message.status == SMSMessage.Status.FAILED
    assert message.textlink_id == 100123
    assert message.custom_id is None  # TextLink's custom_id is not ours to claim
    assert fired.of("failed")[0]["message"] == message


@pytest.mark.django_db
def test_a_failed_webhook_that_overtakes_its_sent_webhook_is_not_turned_back_to_sent(
    client, fired, textlink_locmem
):
    message = django_textlink.send_sms(PHONE, "Hi")
    custom_id = message.custom_id

    post(client, "failed", {**DOCUMENTED["failed-full"], "custom_id": custom_id})
    post(client, "sent", {**DOCUMENTED["sent-full"], "portal": False, "custom_id": custom_id})

    message.refresh_from_db()
    assert message.status == SMSMessage.Status.FAILED
    assert SMSMessage.objects.count() == 1
    assert fired.kinds() == ["failed", "sent"]


@pytest.mark.django_db
def test_the_documented_sent_webhook_for_an_api_message_records_no_second_message(
    client, fired, textlink_locmem
):
    message = django_textlink.send_sms(PHONE, "Hi")

    response = post(client, "sent", {**DOCUMENTED["sent-full"], "portal": False})

    assert response.status_code == 200
    assert SMSMessage.objects.count() == 1
    assert fired.of("sent")[0]["message"] == message


@pytest.mark.django_db
def test_a_documented_sent_webhook_after_the_failed_one_records_no_second_message(
    client, textlink_locmem
):
    message = django_textlink.send_sms(PHONE, "Hi")
    post(client, "failed", {**DOCUMENTED["failed-full"], "custom_id": message.custom_id})

    post(client, "sent", {**DOCUMENTED["sent-full"], "portal": False})

    message.refresh_from_db()
    assert message.status == SMSMessage.Status.FAILED
    assert SMSMessage.objects.count() == 1


# -- tag ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_tag_webhook_updates_the_contact_and_signals_old_and_new_tag_without_an_echo(
    client, fired, textlink_locmem, django_capture_on_commit_callbacks
):
    contact = Contact.objects.create(phone_number=PHONE, name="John", tag="Cold")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(client, "tag", DOCUMENTED["tag-full"])

    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.tag == "Warm"
    assert contact.subuser_id == 6
    assert contact.tag_sync_state == Contact.TagSync.SYNCED
    [kwargs] = fired.of("tag")
    assert fired.kinds() == ["tag"]
    assert kwargs["contact"] == contact
    assert kwargs["contact"].tag == "Warm"  # already saved when the signal is sent
    assert (kwargs["old_tag"], kwargs["new_tag"]) == ("Cold", "Warm")
    # No push back to TextLink: no task, no textlink_locmem tag update.
    assert callbacks == []
    assert tag_updates == []


@pytest.mark.django_db
def test_tag_webhook_with_the_http_backend_makes_no_call_to_textlink(
    client, django_capture_on_commit_callbacks
):
    Contact.objects.create(phone_number=PHONE, tag="Cold")
    with responses.RequestsMock() as rsps, django_capture_on_commit_callbacks(execute=True):
        response = post(client, "tag", DOCUMENTED["tag-full"])
        assert len(rsps.calls) == 0
    assert response.status_code == 200
    assert Contact.objects.get().tag == "Warm"


@pytest.mark.django_db
def test_a_tag_webhook_without_a_secret_is_refused(client):
    """The docs' tag sample has no ``secret``: with a secret configured, it is a 403."""
    body = without_secret(DOCUMENTED["tag-full"])
    assert post(client, "tag", body).status_code == 403
    nothing_stored()


# -- authentication -------------------------------------------------------------------------------

NEAR_MISSES = [
    pytest.param("wrong", id="wrong"),
    pytest.param(SECRET[:-1] + "8", id="last-char-off"),
    pytest.param("X" + SECRET[1:], id="first-char-off"),
    pytest.param(SECRET[:-1], id="prefix"),
    pytest.param(SECRET[:1], id="one-char-prefix"),
    pytest.param(SECRET + "0", id="longer"),
    pytest.param(SECRET + " ", id="trailing-space"),
    pytest.param(" " + SECRET, id="leading-space"),
    pytest.param(SECRET + "\n", id="trailing-newline"),
    pytest.param(SECRET + "\x00", id="trailing-nul"),
    pytest.param(SECRET.upper(), id="upper-case"),
    pytest.param("", id="empty"),
    pytest.param(123, id="int"),
    pytest.param(0, id="zero"),
    pytest.param(None, id="null"),
    pytest.param(True, id="true"),
    pytest.param([SECRET], id="list"),
    pytest.param({"secret": SECRET}, id="object"),
    pytest.param(1.5, id="float"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("secret", NEAR_MISSES)
def test_a_wrong_secret_is_refused_and_nothing_is_stored(client, fired, caplog, kind, secret):
    body = {**DOCUMENTED[f"{kind}-full"], "secret": secret}

    response = post(client, kind, body)

    assert response.status_code == 403
    assert SECRET not in response.content.decode()
    nothing_stored()
    assert fired.calls == []
    if isinstance(secret, str) and len(secret.strip()) > 4:
        assert secret.strip() not in caplog.text  # what the caller sent is not logged


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_secret_is_refused(client, fired, kind):
    response = post(client, kind, without_secret(DOCUMENTED[f"{kind}-full"]))

    assert response.status_code == 403
    nothing_stored()
    assert fired.calls == []


@pytest.mark.django_db
def test_a_secret_in_a_header_or_the_query_string_is_not_enough(client):
    body = without_secret(DOCUMENTED["received-full"])
    assert post(client, "received", body, headers={"X-Secret": SECRET}).status_code == 403
    response = client.post(
        f"{url('received')}?secret={SECRET}", data=encode(body), content_type="application/json"
    )
    assert response.status_code == 403
    nothing_stored()


@pytest.mark.django_db
def test_wrong_types_with_a_wrong_secret_are_refused_before_they_are_validated(client):
    response = post(client, "received", {"secret": "wrong", "phone_number": 123})
    assert response.status_code == 403


@pytest.mark.django_db
def test_rotation_both_secrets_are_accepted_and_a_removed_one_is_refused(client, settings):
    old, new = "whsec-old-aaaaaaaaaaaa", "whsec-new-bbbbbbbbbbbb"
    textlink(settings, WEBHOOK_SECRET=[old, new])

    assert post(client, "received", {**GENERIC, "secret": old, "text": "a"}).status_code == 200
    assert post(client, "received", {**GENERIC, "secret": new, "text": "b"}).status_code == 200
    assert post(client, "received", {**GENERIC, "secret": SECRET, "text": "c"}).status_code == 403

    textlink(settings, WEBHOOK_SECRET=[new])
    assert post(client, "received", {**GENERIC, "secret": old, "text": "d"}).status_code == 403
    assert post(client, "received", {**GENERIC, "secret": new, "text": "e"}).status_code == 200

    assert sorted(SMSMessage.objects.values_list("text", flat=True)) == ["a", "b", "e"]
    for event in WebhookEvent.objects.all():
        assert_no_secret(event, old)
        assert_no_secret(event, new)


@pytest.mark.django_db
def test_rotation_with_a_tuple_of_secrets(client, settings):
    textlink(settings, WEBHOOK_SECRET=("one-secret-value", "two-secret-value"))
    assert (
        post(client, "tag", {**DOCUMENTED["tag-full"], "secret": "two-secret-value"}).status_code
        == 200
    )
    assert post(client, "tag", {**DOCUMENTED["tag-full"], "secret": "three"}).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("configured", [None, "", "absent"])
@pytest.mark.parametrize("kind", KINDS)
def test_no_secret_configured_refuses_everything_when_debug_is_off(
    client, settings, fired, configured, kind
):
    settings.DEBUG = False
    options = {key: v for key, v in settings.TEXTLINK.items() if key != "WEBHOOK_SECRET"}
    if configured != "absent":
        options["WEBHOOK_SECRET"] = configured
    settings.TEXTLINK = options

    assert post(client, kind, DOCUMENTED[f"{kind}-full"]).status_code == 403
    assert post(client, kind, without_secret(DOCUMENTED[f"{kind}-full"])).status_code == 403
    nothing_stored()
    assert fired.calls == []


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_no_secret_configured_accepts_with_a_warning_when_debug_is_on(
    client, settings, fired, caplog, kind
):
    settings.DEBUG = True
    textlink(settings, WEBHOOK_SECRET=None)

    with caplog.at_level(logging.WARNING, logger="django_textlink.webhooks"):
        response = post(client, kind, without_secret(DOCUMENTED[f"{kind}-full"]))

    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 1
    assert fired.kinds() == [kind]
    warnings = [
        r
        for r in caplog.records
        if r.name == "django_textlink.webhooks" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    assert "WEBHOOK_SECRET" in warnings[0].getMessage()


@pytest.mark.django_db
def test_with_debug_on_a_configured_secret_is_still_required(client, settings):
    settings.DEBUG = True
    assert post(client, "received", {**GENERIC, "secret": "wrong"}).status_code == 403
    assert post(client, "received", without_secret(GENERIC)).status_code == 403
    nothing_stored()


# -- methods, malformed bodies, field types, size -------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def test_methods_other_than_post_answer_405(client, kind, method):
    response = client.generic(
        method, url(kind), data=encode(DOCUMENTED[f"{kind}-full"]), content_type="application/json"
    )

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    nothing_stored()


MALFORMED = [
    pytest.param(b"", id="empty"),
    pytest.param(b"hello", id="not-json"),
    pytest.param(b"secret=" + SECRET.encode(), id="form-encoded"),
    pytest.param(b'{"secret": "' + SECRET.encode() + b'"', id="truncated"),
    pytest.param(json.dumps([GENERIC]).encode(), id="array"),
    pytest.param(json.dumps(SECRET).encode(), id="string"),
    pytest.param(b"123", id="number"),
    pytest.param(b"null", id="null"),
    pytest.param(b"true", id="true"),
    pytest.param(b'{"secret": "' + SECRET.encode() + b'", "text": "\xff\xfe"}', id="invalid-utf8"),
    pytest.param(json.dumps(GENERIC).encode("utf-16"), id="utf-16"),
    pytest.param(b"\xef\xbb\xbf" + json.dumps(GENERIC).encode(), id="utf8-bom"),
    pytest.param(json.dumps(GENERIC).encode() + b" {}", id="trailing-data"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("body", MALFORMED)
def test_a_body_that_is_not_a_json_object_answers_400(client, fired, kind, body):
    response = post(client, kind, body)

    assert response.status_code == 400
    assert "JSON" in reason(response)
    nothing_stored()
    assert fired.calls == []


WRONG_TYPES = [
    ("phone_number", 123),
    ("phone_number", ["+381601234567"]),
    ("phone_number", "+3816012345670000000000000000000000"),
    ("text", 5),
    ("text", "x" * 10_001),
    ("name", {"first": "John"}),
    ("name", "J" * 201),
    ("tag", 7),
    ("tag", "t" * 101),
    ("custom_id", 1.5),
    ("custom_id", True),
    ("custom_id", "c" * 65),
    ("sim_card_id", "12"),
    ("sim_card_id", True),
    ("sim_card_id", 12.5),
    ("textlink_id", "100123"),
    ("textlink_id", False),
    ("subuser_id", "6"),
    ("timestamp", "x"),
    ("timestamp", True),
    ("portal", "yes"),
    ("portal", 1),
    ("sent", "true"),
    ("received", 0),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value"), WRONG_TYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_a_field_of_the_wrong_type_answers_400_naming_the_field(client, fired, kind, field, value):
    response = post(client, kind, {**DOCUMENTED[f"{kind}-full"], field: value})

    assert response.status_code == 400
    assert f"'{field}'" in reason(response)
    nothing_stored()
    assert fired.calls == []


@pytest.mark.django_db
def test_fields_at_their_length_limits_and_nulls_are_accepted(client):
    body = {
        **GENERIC,
        "text": "x" * 10_000,
        "name": "J" * 200,
        "tag": "t" * 100,
        "custom_id": "c" * 64,
        "sim_card_id": None,
        "portal": None,
        "timestamp": 1748455363370.5,
        "unknown_field": {"kept": [1, 2]},
    }
    assert post(client, "received", body).status_code == 200
    assert WebhookEvent.objects.get().payload == without_secret(body)


def padded(body: dict[str, Any], size: int) -> bytes:
    """``body`` as JSON padded with trailing whitespace (still valid JSON) to ``size`` bytes."""
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_a_body_of_exactly_64_kib_is_accepted_and_one_byte_more_is_413(client, kind):
    body = DOCUMENTED[f"{kind}-full"]
    assert post(client, kind, padded(body, MAX_BODY)).status_code == 200

    response = post(client, kind, padded({**body, "x": 1}, MAX_BODY + 1))
    assert response.status_code == 413
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
def test_a_huge_body_is_refused_413(client):
    response = post(client, "received", padded(GENERIC, 5 * 1024 * 1024))
    assert response.status_code == 413
    nothing_stored()


@pytest.mark.django_db
def test_the_body_limit_is_a_setting(client, settings):
    textlink(settings, WEBHOOK_MAX_BODY=200)
    assert post(client, "received", padded(GENERIC, 200)).status_code == 200
    assert post(client, "received", padded(GENERIC, 201)).status_code == 413


class CountingInput(io.BytesIO):
    """A ``wsgi.input`` that counts the bytes the application read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size: int | None = -1) -> bytes:
        chunk = super().readline(size)
        self.bytes_read += len(chunk)
        return chunk


def post_raw(client: Client, kind: str, body: bytes, content_length: str | None) -> tuple[Any, int]:
    """POST ``body`` as the raw request stream with the given Content-Length header
    (None: no header at all); returns the response and how many bytes the view read."""
    stream = CountingInput(body)
    extra: dict[str, Any] = {"wsgi.input": stream}
    if content_length is not None:
        extra["CONTENT_LENGTH"] = content_length
    response = client.generic("POST", url(kind), content_type="application/json", **extra)
    return response, stream.bytes_read


@pytest.mark.django_db
def test_a_declared_oversize_body_is_refused_without_being_read(client):
    body = padded(GENERIC, 1024 * 1024)
    response, read = post_raw(client, "received", body, str(len(body)))
    assert response.status_code == 413
    assert read == 0
    nothing_stored()


@pytest.mark.django_db
@pytest.mark.parametrize("declared", ["100", "0", "", "abc", "-1", None])
def test_a_content_length_that_lies_does_not_let_a_huge_body_in(client, declared):
    """The header claims little, the stream holds 1 MiB: the view reads no more than the
    limit (in fact no more than declared), and refuses what it got."""
    body = padded(GENERIC, 1024 * 1024)

    response, read = post_raw(client, "received", body, declared)

    assert response.status_code in (400, 413)
    assert read <= MAX_BODY + 1
    if declared and declared.isdigit():
        assert read <= int(declared)
    nothing_stored()


@pytest.mark.django_db
def test_a_content_length_larger_than_the_body_is_fine(client):
    body = encode(GENERIC)
    response, read = post_raw(client, "received", body, str(MAX_BODY))
    assert response.status_code == 200
    assert read == len(body)


# -- CSRF -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_webhooks_are_csrf_exempt_while_other_views_still_enforce_csrf(textlink_locmem):
    csrf_client = Client(enforce_csrf_checks=True)

    for kind in KINDS:
        assert post(csrf_client, kind, DOCUMENTED[f"{kind}-full"]).status_code == 200
    assert WebhookEvent.objects.count() == 4

    response = csrf_client.post(reverse("textlink:verify"), {"phone_number": PHONE})
    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert textlink_locmem == []  # the refused form sent no code
    # The same form without CSRF enforcement goes through (so the 403 above was CSRF).
    response = Client().post(reverse("textlink:verify"), {"phone_number": PHONE})
    assert response.status_code == 302


# -- duplicates -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(DOCUMENTED))
def test_the_same_body_twice_is_one_event_one_record_one_signal(client, fired, case):
    kind = case.split("-")[0]
    body = DOCUMENTED[case]

    first = post(client, kind, body)
    second = post(client, kind, body)

    assert (first.status_code, second.status_code) == (200, 200)
    first_answer, second_answer = json.loads(first.content), json.loads(second.content)
    assert first_answer["duplicate"] is False
    assert second_answer["duplicate"] is True
    assert second_answer["ok"] is True
    assert second_answer["event"] == first_answer["event"]
    assert WebhookEvent.objects.count() == 1
    assert WebhookEvent.objects.get().attempts == 1
    assert SMSMessage.objects.count() == (0 if kind == "tag" else 1)
    assert Contact.objects.count() == 1
    assert fired.kinds() == [kind]


@pytest.mark.django_db
def test_a_duplicate_with_another_key_order_and_whitespace_is_the_same_event(client, fired):
    body = DOCUMENTED["received-full"]
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=4).encode()

    assert post(client, "received", body).status_code == 200
    response = post(client, "received", reordered)

    assert json.loads(response.content)["duplicate"] is True
    assert WebhookEvent.objects.count() == 1
    assert fired.kinds() == ["received"]


@pytest.mark.django_db
def test_the_same_body_with_another_secret_during_rotation_is_the_same_event(
    client, settings, fired
):
    textlink(settings, WEBHOOK_SECRET=["whsec-old-aaaaaaaaaaaa", "whsec-new-bbbbbbbbbbbb"])
    body = without_secret(DOCUMENTED["received-full"])

    first = post(client, "received", {**body, "secret": "whsec-old-aaaaaaaaaaaa"})
    second = post(client, "received", {**body, "secret": "whsec-new-bbbbbbbbbbbb"})

    assert (first.status_code, second.status_code) == (200, 200)
    assert json.loads(second.content)["duplicate"] is True
    assert WebhookEvent.objects.count() == 1
    assert SMSMessage.objects.count() == 1
    assert fired.kinds() == ["received"]


@pytest.mark.django_db
def test_the_same_body_to_two_webhook_urls_is_two_events(client, fired):
    body = DOCUMENTED["failed-minimal"]
    assert post(client, "sent", body).status_code == 200
    assert post(client, "failed", body).status_code == 200
    assert sorted(WebhookEvent.objects.values_list("kind", flat=True)) == ["failed", "sent"]
    assert fired.kinds() == ["sent", "failed"]


@pytest.mark.django_db
def test_a_payload_that_differs_in_one_field_is_another_event(client, fired):
    assert post(client, "received", {**GENERIC, "timestamp": 1}).status_code == 200
    assert post(client, "received", {**GENERIC, "timestamp": 2}).status_code == 200
    assert WebhookEvent.objects.count() == 2
    assert SMSMessage.objects.count() == 2


@pytest.mark.django_db
def test_the_dedup_key_is_unique_in_the_database_itself():
    """Not just a check in Python: the database refuses a second row with the same key."""
    key = store.dedup_key("received", {"phone_number": PHONE})
    WebhookEvent.objects.create(kind="received", payload={}, dedup_key=key)
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookEvent.objects.create(kind="sent", payload={"other": 1}, dedup_key=key)
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_racing_store_event_calls_keep_one_row(file_db):
    payload = without_secret(DOCUMENTED["received-full"])

    results = run_in_threads([lambda: store.store_event("received", payload)] * 10)

    assert WebhookEvent.objects.count() == 1
    assert sorted(created for _event, created in results) == [False] * 9 + [True]
    assert {event.pk for event, _created in results} == {WebhookEvent.objects.get().pk}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", ["received-full", "failed-full", "tag-full"])
def test_ten_identical_posts_at_once_give_one_event_one_record_one_signal(file_db, fired, case):
    kind = case.split("-")[0]
    body = encode(DOCUMENTED[case])

    def deliver() -> tuple[int, dict[str, Any]]:
        response = Client().post(url(kind), data=body, content_type="application/json")
        return response.status_code, json.loads(response.content)

    results = run_in_threads([deliver] * 10)

    assert [status for status, _answer in results] == [200] * 10
    assert Counter(answer["duplicate"] for _status, answer in results) == {True: 9, False: 1}
    event = WebhookEvent.objects.get()
    assert {answer["event"] for _status, answer in results} == {event.pk}
    assert event.state == WebhookEvent.State.PROCESSED, event.error
    assert event.attempts == 1
    assert SMSMessage.objects.count() == (0 if kind == "tag" else 1)
    assert Contact.objects.count() == 1
    assert fired.kinds() == [kind]


# -- receivers that raise: rollback, failed event, replay -----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_raising_receiver_still_answers_200_rolls_back_and_replays_exactly_once(
    raising, fired, caplog
):
    client = Client()
    raising("received")

    response = post(client, "received", DOCUMENTED["received-full"])

    assert response.status_code == 200
    assert json.loads(response.content)["ok"] is True
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.FAILED
    assert "receiver exploded" in event.error
    assert "RuntimeError" in event.error
    assert event.payload == without_secret(DOCUMENTED["received-full"])
    # The whole processing was rolled back: no message, and no contact either.
    assert SMSMessage.objects.count() == 0
    assert Contact.objects.count() == 0
    assert any("failed" in r.getMessage() for r in caplog.records)

    # A duplicate post does not reprocess a failed event (only a replay does).
    again = post(client, "received", DOCUMENTED["received-full"])
    assert json.loads(again.content)["duplicate"] is True
    assert SMSMessage.objects.count() == 0

    signals.sms_received.disconnect(dispatch_uid="test-webhooks-raising")
    fired.calls.clear()
    assert store.replay([event.pk]) == 1

    event.refresh_from_db()
    assert event.state == WebhookEvent.State.PROCESSED
    assert event.error == ""
    assert event.attempts == 2
    assert event.processed_at is not None
    message = SMSMessage.objects.get()
    assert (message.text, message.contact.name) == ("Hi", "John")
    assert fired.kinds() == ["received"]

    # A second replay (or one of a processed event) does nothing.
    assert store.replay([event.pk]) == 0
    assert store.replay([event.pk, event.pk]) == 0
    assert SMSMessage.objects.count() == 1
    assert fired.kinds() == ["received"]
    event.refresh_from_db()
    assert event.attempts == 2


@pytest.mark.django_db
def test_a_raising_sent_receiver_leaves_the_message_as_it_was(client, raising):
    message = outbound(custom_id="cid-1")
    raising("sent")

    post(client, "sent", {**DOCUMENTED["sent-full"], "portal": False, "custom_id": "cid-1"})

    message.refresh_from_db()
    assert message.status == SMSMessage.Status.UNKNOWN
    assert message.sent_at is None
    assert WebhookEvent.objects.get().state == WebhookEvent.State.FAILED


@pytest.mark.django_db
def test_a_raising_failed_receiver_leaves_the_message_as_it_was(client, raising):
    message = outbound(custom_id="1234", status=SMSMessage.Status.SENT)
    raising("failed")

    assert post(client, "failed", DOCUMENTED["failed-full"]).status_code == 200

    message.refresh_from_db()
    assert (message.status, message.textlink_id, message.error) == ("sent", None, "")
    assert WebhookEvent.objects.get().state == WebhookEvent.State.FAILED
    signals.sms_failed.disconnect(dispatch_uid="test-webhooks-raising")
    assert store.replay([WebhookEvent.objects.get().pk]) == 1
    message.refresh_from_db()
    assert message.status == SMSMessage.Status.FAILED


@pytest.mark.django_db
def test_a_raising_tag_receiver_leaves_the_tag_as_it_was(client, raising):
    Contact.objects.create(phone_number=PHONE, tag="Cold")
    raising("tag")

    assert post(client, "tag", DOCUMENTED["tag-full"]).status_code == 200

    assert Contact.objects.get().tag == "Cold"
    assert WebhookEvent.objects.get().state == WebhookEvent.State.FAILED


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["received", "sent", "failed", "tag"])
def test_an_event_that_cannot_be_processed_is_failed_not_a_500(client, fired, kind):
    response = post(client, kind, {"secret": SECRET, "phone_number": "+1 not a phone"})

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.FAILED
    assert "phone number" in event.error
    assert fired.calls == []


@pytest.mark.django_db
def test_replay_ignores_pending_and_unknown_events():
    event, created = store.store_event("received", without_secret(GENERIC))
    assert created
    assert store.replay([event.pk, 999_999]) == 0
    event.refresh_from_db()
    assert event.state == WebhookEvent.State.PENDING


# -- processing as a background task --------------------------------------------------------------


@pytest.mark.django_db
def test_with_task_processing_the_event_is_processed_after_the_commit(
    client, settings, fired, django_capture_on_commit_callbacks
):
    textlink(settings, WEBHOOK_PROCESSING="task")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(client, "received", DOCUMENTED["received-full"])

    assert response.status_code == 200
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PENDING
    assert fired.calls == []
    for callback in callbacks:
        callback()  # the default task backend runs it immediately
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
    assert fired.kinds() == ["received"]
    assert SMSMessage.objects.count() == 1


# -- known crashes on hostile input (never a 500 for bad input) -----------------------------------


def post_never_raises(client: Client, kind: str, body: bytes) -> int:
    """The status the view answers; an exception escaping the view fails the test."""
    return int(post(client, kind, body).status_code)


@pytest.mark.django_db
def test_deeply_nested_json_answers_400(client):
    assert post_never_raises(client, "received", b"[" * 60_000) == 400


@pytest.mark.django_db
def test_a_secret_with_a_lone_surrogate_answers_403(client):
    assert post_never_raises(client, "received", b'{"secret": "\\ud800"}') == 403


@pytest.mark.django_db
def test_a_field_with_a_lone_surrogate_answers_400(client):
    body = encode(without_secret(GENERIC))[:-1] + b', "secret": "' + SECRET.encode()
    body += b'", "text": "\\udc00"}'
    assert post_never_raises(client, "received", body) == 400


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_answer_400(client, token):
    body = encode(GENERIC)[:-1] + b', "timestamp_extra": ' + token.encode() + b"}"
    assert post_never_raises(client, "received", body) == 400


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["text", "phone_number", "name", "unknown_field"])
def test_a_nul_character_in_a_field_answers_400(client, field):
    body = encode({**GENERIC, field: "a\x00b"})
    assert post_never_raises(client, "received", body) == 400
    assert not WebhookEvent.objects.exists()


# -- arbitrary input: only ever 200, 400, 403, 405 or 413 -----------------------------------------

ALLOWED_STATUSES = {200, 400, 403, 405, 413}

#: JSON values including NaN/Infinity, lone surrogates and NUL: each must give a clean 400.
TEXT = st.characters(exclude_categories=())
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(TEXT, max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(TEXT, max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
plausible = {
    "phone_number": st.sampled_from([PHONE, OTHER_PHONE, "+1 not a phone", "", "0601234567"]),
    "text": st.sampled_from(["Hi", "STOP", " start ", "", "x" * 10_001])
    | st.text(TEXT, max_size=30),
    "name": st.sampled_from(["John", ""]),
    "tag": st.sampled_from(["Cold", "Warm", ""]),
    "custom_id": st.sampled_from(["1234", "cid-1"]) | st.integers(),
    "sim_card_id": st.integers(min_value=-5, max_value=2**64),
    "textlink_id": st.integers(min_value=-5, max_value=2**64),
    "subuser_id": st.integers(min_value=-5, max_value=2**64),
    "timestamp": st.integers(min_value=-(2**62), max_value=2**62) | st.floats(-1e20, 1e20),
    "portal": st.booleans(),
    "sent": st.booleans(),
    "received": st.booleans(),
}
field_values = {field: plausible[field] | json_values for field in FIELD_TYPES}
secret_values = st.sampled_from([SECRET, SECRET, SECRET, "wrong", SECRET + " "]) | json_scalars


@st.composite
def mixed_objects(draw: st.DrawFn) -> dict[str, Any]:
    """Dicts that mix the known fields (plausible values or any JSON), unknown keys, and a
    secret that is right most of the time."""
    body: dict[str, Any] = {}
    for field in draw(st.lists(st.sampled_from(sorted(FIELD_TYPES)), unique=True, max_size=8)):
        body[field] = draw(field_values[field])
    body.update(draw(st.dictionaries(st.text(TEXT, max_size=8), json_values, max_size=2)))
    if draw(st.integers(0, 9)):  # the secret is there 90% of the time
        body["secret"] = draw(secret_values)
    return body


@st.composite
def mutated_documented(draw: st.DrawFn) -> dict[str, Any]:
    """A documented payload with up to three known fields replaced or removed, maybe an
    unknown key or two, and (one time in ten) another secret: mostly processable."""
    body = dict(DOCUMENTED[draw(st.sampled_from(sorted(DOCUMENTED)))])
    for field in draw(st.lists(st.sampled_from(sorted(FIELD_TYPES)), unique=True, max_size=3)):
        if draw(st.booleans()):
            body[field] = draw(field_values[field])
        else:
            body.pop(field, None)
    body.update(draw(st.dictionaries(st.text(TEXT, max_size=8), json_values, max_size=2)))
    if not draw(st.integers(0, 9)):
        body["secret"] = draw(secret_values)
    return body


def as_json(strategy: Any) -> Any:
    return strategy.map(lambda value: json.dumps(value).encode())


bodies = st.one_of(
    st.binary(max_size=200),
    as_json(json_values),
    as_json(mixed_objects()),
    as_json(mutated_documented()),
    as_json(mutated_documented()),
    st.integers(MAX_BODY + 1, MAX_BODY + 4096).map(lambda size: b" " * size),
)
methods = st.sampled_from(["POST"] * 8 + ["GET", "PUT"])


def fuzz(client: Client, strategy: Any, *, max_examples: int = 150) -> Counter[str]:
    """Post ``strategy``'s bodies with random methods to random webhook URLs; count the
    statuses and, for accepted events, their states. Each example runs in a savepoint that
    is rolled back, so examples are independent (and failures shrink reliably)."""
    seen: Counter[str] = Counter()

    @hypothesis_settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(kind=st.sampled_from(KINDS), method=methods, body=strategy)
    def check(kind: str, method: str, body: bytes) -> None:
        with transaction.atomic():
            # The test client re-raises any exception the view lets escape.
            response = client.generic(method, url(kind), data=body, content_type="application/json")
            assert response.status_code in ALLOWED_STATUSES, (response.status_code, body[:200])
            seen[str(response.status_code)] += 1
            if response.status_code == 200:
                event = WebhookEvent.objects.get(pk=json.loads(response.content)["event"])
                seen[event.state] += 1
            transaction.set_rollback(True)

    check()
    return seen


@pytest.mark.django_db
def test_arbitrary_bodies_never_get_a_500(settings, textlink_locmem):
    settings.DEBUG_PROPAGATE_EXCEPTIONS = True
    client = Client(raise_request_exception=True)

    seen = fuzz(client, bodies, max_examples=300)

    # The run reached every outcome, processing included.
    assert {"200", "400", "403", "405", "processed"} <= set(seen), seen


@pytest.mark.django_db
def test_arbitrary_objects_with_the_right_secret_never_get_a_500(settings, textlink_locmem):
    settings.DEBUG_PROPAGATE_EXCEPTIONS = True
    client = Client(raise_request_exception=True)
    objects = mixed_objects() | mutated_documented()
    right_secret = objects.map(lambda value: {**value, "secret": SECRET})

    seen = fuzz(client, as_json(right_secret))

    assert {"200", "400", "processed", "failed"} <= set(seen), seen
    assert not {"pending", "processing"} & set(seen), seen


# -- TextLink's sent/failed webhooks for a verification SMS: the code is never stored ------------


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["sent", "failed"])
def test_the_webhook_for_a_verification_sms_never_stores_the_code(
    client, textlink_locmem, fired, kind
):
    from django.core import management

    from django_textlink.verification import PhoneVerification

    PhoneVerification().start(PHONE)
    code = textlink_locmem[-1].code
    body = {"secret": SECRET, "phone_number": PHONE, "portal": False, "timestamp": TIMESTAMP,
            "text": textlink_locmem[-1].text}  # fmt: skip
    assert code in body["text"]

    response = post(client, kind, body)

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.PROCESSED
    assert code not in json.dumps(event.payload)
    assert not SMSMessage.objects.exists()  # not recorded as one of our messages
    assert fired.calls == []
    out = io.StringIO()
    management.call_command("dumpdata", "django_textlink", stdout=out)
    assert code not in out.getvalue()


@pytest.mark.django_db
def test_a_sent_webhook_for_our_own_message_keeps_its_text_even_after_a_code(
    client, textlink_locmem
):
    from django_textlink.verification import PhoneVerification

    PhoneVerification().start(PHONE)
    message = django_textlink.send_sms(PHONE, "Your table is ready")
    body = {"secret": SECRET, "phone_number": PHONE, "portal": False, "text": message.text}

    assert post(client, "sent", body).status_code == 200

    assert WebhookEvent.objects.get().payload["text"] == "Your table is ready"
    assert SMSMessage.objects.count() == 1
