"""The admin of webhook events (failed ones listed and replayed) and of contacts' two-way
tag sync ("Set tag", failed pushes shown and retried, the change form) and conversations
(the thread of a contact's messages, with a reply box that sends through send_sms).

The Django test client, as a superuser unless said otherwise; LocMemBackend records sends
(``django_textlink.outbox``) and tag pushes (``locmem.tag_updates``); where TextLink must
refuse something, the HTTP backend talks to TextLink faked by ``responses``. Tasks run
inline (the immediate backend), after the commit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import responses
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

import django_textlink
from django_textlink import signals
from django_textlink.admin import contacts as contact_admin
from django_textlink.admin import events as event_admin
from django_textlink.admin._common import TAG_MAX_LENGTH
from django_textlink.backends.locmem import tag_updates
from django_textlink.models import Contact, SMSMessage, WebhookEvent
from tests.support.changelist import action_data

pytestmark = pytest.mark.django_db

State = WebhookEvent.State
Sync = Contact.TagSync
Status = SMSMessage.Status
Direction = SMSMessage.Direction

EVENTS_URL = "/admin/django_textlink/webhookevent/"
CONTACTS_URL = "/admin/django_textlink/contact/"
MESSAGES_URL = "/admin/django_textlink/smsmessage/"
SECRET = "whsec-test-0123456789"  # TEXTLINK["WEBHOOK_SECRET"] in tests/settings.py
BASE_URL = "https://textlinksms.test/api"  # TEXTLINK["BASE_URL"] in tests/settings.py
TAG_URL = f"{BASE_URL}/update-contect-tag"  # sic: TextLink's spelling
SEND_URL = f"{BASE_URL}/send-sms"
HTTP_BACKEND = "django_textlink.backends.textlink.TextLinkBackend"
PHONE = "+381601234567"
OTHER_PHONE = "+12025550143"
RAISING_UID = "test-admin-events-raising"


@pytest.fixture(autouse=True)
def _no_retries(settings: Any) -> None:
    """A tag push through the HTTP backend fails at once (no retry, no backoff)."""
    settings.TEXTLINK = {**settings.TEXTLINK, "MAX_RETRIES": 0, "RETRY_BACKOFF": 0}


@pytest.fixture
def http_backend(settings: Any) -> Iterator[responses.RequestsMock]:
    """The HTTP backend, TextLink faked by ``responses`` (nothing registered: refused)."""
    settings.TEXTLINK = {**settings.TEXTLINK, "BACKEND": HTTP_BACKEND}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def raising_receiver() -> Iterator[None]:
    """A receiver of ``sms_received`` that raises, disconnected after the test."""

    def receiver(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver exploded")

    signals.sms_received.connect(receiver, weak=False, dispatch_uid=RAISING_UID)
    yield
    signals.sms_received.disconnect(dispatch_uid=RAISING_UID)


def webhook(client: Client, kind: str, body: dict[str, Any]) -> WebhookEvent:
    response = client.post(
        reverse(f"textlink:webhook-{kind}"),
        data=json.dumps({"secret": SECRET, **body}),
        content_type="application/json",
    )
    assert response.status_code == 200  # also when a receiver raises
    return WebhookEvent.objects.order_by("-pk").first()


def shown_messages(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def fresh(obj: Any) -> Any:
    return type(obj).objects.get(pk=obj.pk)


def conversation_url(contact: Contact) -> str:
    return reverse("admin:django_textlink_contact_conversation", args=[contact.pk])


def reply_token(client: Client, contact: Contact) -> str:
    html = client.get(conversation_url(contact)).content.decode()
    match = re.search(r'name="_send_token" value="([^"]+)"', html)
    assert match, "the conversation page has a reply form"
    return match.group(1)


def staff(*perms: str) -> Client:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


# -- webhook events ------------------------------------------------------------------------------


@pytest.fixture
def stored_events(raising_receiver: None) -> dict[str, WebhookEvent]:
    client = Client()
    failed = webhook(client, "received", {"phone_number": PHONE, "text": "Hello there"})
    tag = webhook(client, "tag", {"phone_number": OTHER_PHONE, "tag": "Warm"})
    assert (failed.state, tag.state) == (State.FAILED, State.PROCESSED)
    return {"failed": failed, "processed": tag}


def test_failed_events_are_listed_with_their_error_and_filtered(
    admin_client: Client, stored_events: dict[str, WebhookEvent]
) -> None:
    failed, processed = stored_events["failed"], stored_events["processed"]

    html = admin_client.get(EVENTS_URL).content.decode()
    assert re.search(r'textlink-status--failed"><span aria-hidden="true">✗</span> failed', html)
    assert re.search(
        r'textlink-status--processed"><span aria-hidden="true">✓</span> processed', html
    )
    assert "RuntimeError: receiver exploded" in html
    assert "Replay failed events" in html
    assert "django_textlink/admin.css" in html

    def listed(query: str) -> set[int]:
        response = admin_client.get(EVENTS_URL + query)
        assert response.status_code == 200
        return {event.pk for event in response.context["cl"].result_list}

    assert listed("") == {failed.pk, processed.pk}
    assert listed("?state__exact=failed") == {failed.pk}
    assert listed("?kind__exact=tag") == {processed.pk}
    assert listed("?q=38160123") == {failed.pk}  # in payload.phone_number
    assert listed("?q=hello+THERE") == {failed.pk}  # in payload.text, any case
    assert listed("?q=exploded") == {failed.pk}  # in the error
    assert listed("?q=nobody") == set()
    assert listed(f"?received_at__year={timezone.now().year}") == {failed.pk, processed.pk}


def test_an_event_page_is_read_only_with_the_payload_as_json(
    admin_client: Client, stored_events: dict[str, WebhookEvent]
) -> None:
    failed = stored_events["failed"]
    page = admin_client.get(reverse("admin:django_textlink_webhookevent_change", args=[failed.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert '<pre class="textlink-json">' in html
    assert "&quot;phone_number&quot;: &quot;+381601234567&quot;" in html
    assert "\n  &quot;text&quot;: &quot;Hello there&quot;" in html  # indented
    assert SECRET not in html  # never stored
    assert 'name="_save"' not in html
    assert admin_client.get(EVENTS_URL + "add/").status_code == 403
    before = fresh(failed)
    admin_client.post(reverse("admin:django_textlink_webhookevent_change", args=[failed.pk]), {})
    assert fresh(failed).state == before.state == State.FAILED


def test_replay_processes_a_failed_event_exactly_once_more(
    admin_client: Client, stored_events: dict[str, WebhookEvent]
) -> None:
    failed, processed = stored_events["failed"], stored_events["processed"]
    assert SMSMessage.objects.count() == 0  # the failed processing was rolled back
    signals.sms_received.disconnect(dispatch_uid=RAISING_UID)  # the receiver is fixed

    response = admin_client.post(
        EVENTS_URL, action_data("replay_failed", [failed.pk, processed.pk]), follow=True
    )

    assert response.status_code == 200
    assert shown_messages(response) == [
        "1 event replayed successfully.",
        "1 selected event was skipped: only failed events are replayed.",
    ]
    event = fresh(failed)
    assert (event.state, event.error, event.attempts) == (State.PROCESSED, "", 2)
    message = SMSMessage.objects.get()
    assert (message.text, message.direction, message.phone_number) == (
        "Hello there",
        Direction.INBOUND,
        PHONE,
    )
    assert fresh(processed).attempts == 1

    # Once more: nothing left to replay, nothing processed twice.
    again = admin_client.post(
        EVENTS_URL, action_data("replay_failed", [failed.pk, processed.pk]), follow=True
    )
    assert shown_messages(again) == [
        "None of the selected events failed: there is nothing to replay."
    ]
    assert SMSMessage.objects.count() == 1
    assert fresh(failed).attempts == 2


def test_a_replay_that_fails_again_says_so(
    admin_client: Client, stored_events: dict[str, WebhookEvent]
) -> None:
    failed = stored_events["failed"]

    response = admin_client.post(EVENTS_URL, action_data("replay_failed", [failed.pk]), follow=True)

    assert shown_messages(response) == ["1 event failed again: see its error."]
    event = fresh(failed)
    assert (event.state, event.attempts) == (State.FAILED, 2)
    assert "receiver exploded" in event.error
    assert SMSMessage.objects.count() == 0


def test_replay_is_limited_per_run(
    admin_client: Client, raising_receiver: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_admin, "REPLAY_LIMIT", 2)
    client = Client()
    failed = [
        webhook(client, "received", {"phone_number": PHONE, "text": f"Hi {n}"}) for n in range(3)
    ]
    signals.sms_received.disconnect(dispatch_uid=RAISING_UID)

    response = admin_client.post(
        EVENTS_URL, action_data("replay_failed", [e.pk for e in failed]), follow=True
    )

    assert shown_messages(response) == [
        "2 events replayed successfully.",
        "Only the oldest 2 failed events were replayed: run the action again for the others.",
    ]
    assert [fresh(e).state for e in failed] == [State.PROCESSED, State.PROCESSED, State.FAILED]


def test_events_need_permissions(stored_events: dict[str, WebhookEvent]) -> None:
    viewer = staff("django_textlink.view_webhookevent")
    html = viewer.get(EVENTS_URL).content.decode()
    assert "receiver exploded" in html
    assert "Replay failed events" not in html  # needs the change permission
    failed = stored_events["failed"]
    viewer.post(EVENTS_URL, action_data("replay_failed", [failed.pk]))
    assert fresh(failed).attempts == 1
    assert Client().get(EVENTS_URL).status_code == 302  # to the login page


# -- tags: set, pushed after the commit, failed pushes shown and retried --------------------------


@pytest.fixture
def people() -> list[Contact]:
    return [
        Contact.objects.create(phone_number="+12025550101", name="Ada", tag="beta"),
        Contact.objects.create(phone_number="+12025550102", name="Grace", tag=""),
        Contact.objects.create(phone_number="+12025550103", name="Linus", tag="VIP"),
    ]


def test_set_tag_asks_for_the_tag_then_pushes_after_the_commit(
    admin_client: Client, people: list[Contact], django_capture_on_commit_callbacks: Any
) -> None:
    ids = [contact.pk for contact in people]

    page = admin_client.post(CONTACTS_URL, action_data("set_tag", ids))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Set the tag of contacts" in html
    assert "The tag will be set on <strong>3</strong> contacts" in html
    assert '<input type="hidden" name="_textlink_set_tag" value="1">' in html
    assert 'name="tag"' in html
    assert tag_updates == []

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CONTACTS_URL,
            action_data("set_tag", ids, _textlink_set_tag="1", _apply="Set tag", tag=" VIP "),
            follow=True,
        )
        assert tag_updates == []  # nothing is pushed before the commit

    assert shown_messages(response) == [
        "Tag “VIP” set on 2 contacts; it is pushed to TextLink in the background.",
        "1 contact already had this tag, in sync with TextLink: left alone.",
    ]
    assert sorted(tag_updates) == [("+12025550101", "VIP"), ("+12025550102", "VIP")]
    for contact in people:
        saved = fresh(contact)
        assert (saved.tag, saved.tag_sync_state) == ("VIP", Sync.SYNCED)


def test_set_tag_with_an_empty_tag_removes_it(
    admin_client: Client, people: list[Contact], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CONTACTS_URL,
            action_data("set_tag", [people[0].pk], _textlink_set_tag="1", _apply="1", tag=""),
            follow=True,
        )

    assert shown_messages(response) == [
        "Tag removed from 1 contact; the change is pushed to TextLink in the background."
    ]
    assert tag_updates == [("+12025550101", "")]
    assert fresh(people[0]).tag == ""


def test_set_tag_refuses_a_too_long_tag(admin_client: Client, people: list[Contact]) -> None:
    assert Contact._meta.get_field("tag").max_length == TAG_MAX_LENGTH
    response = admin_client.post(
        CONTACTS_URL,
        action_data("set_tag", [people[0].pk], _textlink_set_tag="1", _apply="1", tag="x" * 101),
    )

    assert response.status_code == 200
    assert "Ensure this value has at most 100 characters" in response.content.decode()
    assert fresh(people[0]).tag == "beta"
    assert tag_updates == []


def test_a_failed_push_is_shown_and_the_retry_action_pushes_again(
    admin_client: Client,
    people: list[Contact],
    http_backend: responses.RequestsMock,
    django_capture_on_commit_callbacks: Any,
) -> None:
    ada = people[0]
    http_backend.upsert(responses.POST, TAG_URL, json={"ok": False, "message": "Contact not found"})
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            CONTACTS_URL,
            action_data("set_tag", [ada.pk], _textlink_set_tag="1", _apply="1", tag="Warm"),
        )
    assert (fresh(ada).tag, fresh(ada).tag_sync_state) == ("Warm", Sync.FAILED)

    html = admin_client.get(CONTACTS_URL).content.decode()
    assert re.search(
        r'textlink-status--failed"><span aria-hidden="true">✗</span> push failed', html
    )
    assert "Contact not found" in html
    assert re.search(r'textlink-status--synced"><span aria-hidden="true">✓</span> in sync', html)
    failed_only = admin_client.get(CONTACTS_URL + "?tag_sync_state__exact=failed")
    assert [c.pk for c in failed_only.context["cl"].result_list] == [ada.pk]

    # TextLink is fixed: the retry queues the push again, sent after the commit.
    http_backend.upsert(responses.POST, TAG_URL, json={"ok": True})
    calls = len(http_backend.calls)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CONTACTS_URL,
            action_data("retry_tag_push", [contact.pk for contact in people]),
            follow=True,
        )
        assert fresh(ada).tag_sync_state == Sync.PENDING

    assert shown_messages(response)[:2] == [
        "1 tag push queued again.",
        "2 selected contacts were left alone: only failed tag pushes, and pushes pending for "
        "more than 5 minutes, are retried.",
    ]
    pushed = [json.loads(call.request.body) for call in http_backend.calls[calls:]]
    assert pushed == [{"phone_number": ada.phone_number, "tag": "Warm"}]
    saved = fresh(ada)
    assert (saved.tag_sync_state, saved.tag_sync_error) == (Sync.SYNCED, "")
    assert saved.tag_synced_at is not None

    nothing = admin_client.post(CONTACTS_URL, action_data("retry_tag_push", [ada.pk]), follow=True)
    assert shown_messages(nothing) == [
        "No tag push of the selected contacts failed or is stuck: there is nothing to retry."
    ]


def test_a_tag_push_stuck_pending_is_retried_and_a_recent_one_is_not(
    admin_client: Client,
    people: list[Contact],
    http_backend: responses.RequestsMock,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """A push whose task was lost (a worker died) stays ``pending``: after
    STALE_TAG_PUSH it can be retried; one queued a moment ago is left to its task."""
    stuck, recent = people[0], people[1]
    long_ago = timezone.now() - timedelta(minutes=6)
    Contact.objects.filter(pk=stuck.pk).update(
        tag="Lost", tag_sync_state=Sync.PENDING, updated_at=long_ago
    )
    Contact.objects.filter(pk=recent.pk).update(tag="New", tag_sync_state=Sync.PENDING)
    http_backend.upsert(responses.POST, TAG_URL, json={"ok": True})

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CONTACTS_URL, action_data("retry_tag_push", [stuck.pk, recent.pk]), follow=True
        )

    assert shown_messages(response)[:2] == [
        "1 tag push queued again.",
        "1 selected contact was left alone: only failed tag pushes, and pushes pending for "
        "more than 5 minutes, are retried.",
    ]
    pushed = [json.loads(call.request.body) for call in http_backend.calls]
    assert pushed == [{"phone_number": stuck.phone_number, "tag": "Lost"}]
    assert fresh(stuck).tag_sync_state == Sync.SYNCED
    assert fresh(recent).tag_sync_state == Sync.PENDING


def contact_form(contact: Contact, **changes: Any) -> dict[str, Any]:
    data = {
        "phone_number": contact.phone_number,
        "name": contact.name,
        "tag": contact.tag,
        "opted_out": "on" if contact.opted_out else "",
        **changes,
    }
    return {key: value for key, value in data.items() if value != ""} | {"_save": "Save"}


def test_editing_the_tag_pushes_it_and_editing_the_name_does_not(
    admin_client: Client, people: list[Contact], django_capture_on_commit_callbacks: Any
) -> None:
    ada = people[0]
    url = reverse("admin:django_textlink_contact_change", args=[ada.pk])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(url, contact_form(ada, tag="gamma"))
    assert response.status_code == 302
    assert len(callbacks) == 1
    assert tag_updates == [(ada.phone_number, "gamma")]
    assert fresh(ada).tag_sync_state == Sync.SYNCED

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(url, contact_form(fresh(ada), name="Ada L."))
    assert response.status_code == 302
    assert callbacks == []
    assert tag_updates == [(ada.phone_number, "gamma")]
    assert (fresh(ada).name, fresh(ada).tag) == ("Ada L.", "gamma")


def test_adding_a_contact_with_a_tag_pushes_it(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CONTACTS_URL + "add/",
            {"phone_number": "+1 202 555 0177", "name": "New", "tag": "lead", "_save": "Save"},
        )
    assert response.status_code == 302
    assert tag_updates == [("+12025550177", "lead")]


def test_tag_actions_need_the_change_permission(people: list[Contact]) -> None:
    viewer = staff("django_textlink.view_contact")
    html = viewer.get(CONTACTS_URL).content.decode()
    assert "Set tag" not in html
    assert "Retry failed tag pushes" not in html
    assert "/conversation/" not in html  # the link would be refused
    response = viewer.post(
        CONTACTS_URL,
        action_data("set_tag", [people[0].pk], _textlink_set_tag="1", _apply="1", tag="x"),
    )
    assert response.status_code == 302  # back to the changelist: "No action selected."
    assert fresh(people[0]).tag == "beta"


# -- conversations ---------------------------------------------------------------------------------


@pytest.fixture
def ada() -> Contact:
    return Contact.objects.create(phone_number=PHONE, name="Ada", tag="beta")


@pytest.fixture
def thread(ada: Contact) -> list[SMSMessage]:
    """Four messages with Ada, stored out of order; one only matches by number."""
    now = timezone.now()

    def at(minutes: int, **fields: Any) -> SMSMessage:
        return SMSMessage.objects.create(created_at=now - timedelta(minutes=minutes), **fields)

    rows = [
        at(10, direction=Direction.OUTBOUND, status=Status.SENT, phone_number=PHONE,
           text="Your parcel <b>ships</b> today", contact=ada),
        at(30, direction=Direction.INBOUND, status=Status.RECEIVED, phone_number=PHONE,
           text="Where is my parcel?", contact=ada),
        at(5, direction=Direction.INBOUND, status=Status.RECEIVED, phone_number=PHONE,
           text="Thanks!", contact=None),
        at(2, direction=Direction.OUTBOUND, status=Status.FAILED, phone_number=PHONE,
           text="You're welcome", error="No SIM available", contact=ada),
    ]  # fmt: skip
    SMSMessage.objects.create(phone_number=OTHER_PHONE, text="Someone else", status=Status.SENT)
    return rows


def test_the_conversation_shows_both_directions_oldest_first(
    admin_client: Client, ada: Contact, thread: list[SMSMessage]
) -> None:
    response = admin_client.get(conversation_url(ada))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Conversation with Ada (+381601234567)" in html
    texts = [
        "Where is my parcel?",
        "Your parcel &lt;b&gt;ships&lt;/b&gt; today",  # escaped
        "Thanks!",
        "You&#x27;re welcome",
    ]
    positions = [html.index(text) for text in texts]
    assert positions == sorted(positions)
    assert "Someone else" not in html
    bubbles = re.findall(r'class="textlink-bubble textlink-bubble--(\w+)"', html)
    assert bubbles == ["inbound", "outbound", "inbound", "outbound"]
    assert re.search(r'textlink-status--sent"><span aria-hidden="true">✓</span> sent', html)
    assert re.search(r'textlink-status--failed"><span aria-hidden="true">✗</span> failed', html)
    assert "No SIM available" in html
    assert html.count('<span class="textlink-direction">Received</span>') == 2
    assert html.count('<span class="textlink-direction">Sent</span>') == 2
    assert '<form method="post" action="/admin/django_textlink/contact/' in html
    assert 'data-sms-counter="sms-counter"' in html
    assert 'id="sms-counter"' in html
    assert "Send anyway" not in html
    assert "textlink-opted-out" not in html
    assert "older message" not in html


def test_the_conversation_is_linked_from_the_changelist_and_the_change_page(
    admin_client: Client, ada: Contact
) -> None:
    url = conversation_url(ada)
    assert url == f"/admin/django_textlink/contact/{ada.pk}/conversation/"
    assert f'href="{url}"' in admin_client.get(CONTACTS_URL).content.decode()
    change = admin_client.get(reverse("admin:django_textlink_contact_change", args=[ada.pk]))
    assert f'href="{url}"' in change.content.decode()


def test_a_reply_is_sent_with_send_sms_and_appears_in_the_thread(
    admin_client: Client, ada: Contact, thread: list[SMSMessage]
) -> None:
    url = conversation_url(ada)
    token = reply_token(admin_client, ada)

    response = admin_client.post(
        url, {"text": "On my way\r\nSee you", "sim_card_id": "7", "_send_token": token}
    )

    assert response.status_code == 302
    assert response["Location"] == url  # post/redirect/get
    [entry] = django_textlink.outbox
    assert (entry.phone_number, entry.text) == (PHONE, "On my way\nSee you")
    reply = SMSMessage.objects.get(text="On my way\nSee you")
    assert (reply.contact, reply.status, reply.sim_card_id) == (ada, Status.SENT, 7)
    assert reply.direction == Direction.OUTBOUND

    page = admin_client.get(url)
    assert shown_messages(page) == ["SMS sent to +381601234567."]
    html = page.content.decode()
    assert html.index("You&#x27;re welcome") < html.index("On my way<br>See you")

    # The same page posted again (a double click) does not send twice.
    again = admin_client.post(url, {"text": "On my way", "_send_token": token}, follow=True)
    assert len(django_textlink.outbox) == 1
    assert "This reply was already sent" in shown_messages(again)[0]


def test_a_reply_textlink_refuses_shows_the_error_and_keeps_the_text(
    admin_client: Client, ada: Contact, http_backend: responses.RequestsMock
) -> None:
    http_backend.upsert(responses.POST, SEND_URL, json={"ok": False, "message": "No SIM online"})
    token = reply_token(admin_client, ada)

    response = admin_client.post(
        conversation_url(ada), {"text": "Are you <there>?", "_send_token": token}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="textlink-reply-error"' in html
    assert "The SMS was not sent: No SIM online" in html
    assert ">\nAre you &lt;there&gt;?</textarea>" in html  # the typed text is kept
    assert re.search(r'textlink-status--failed"><span aria-hidden="true">✗</span> failed', html)
    failed = SMSMessage.objects.get()
    assert (failed.status, failed.contact) == (Status.FAILED, ada)
    new_token = re.search(r'name="_send_token" value="([^"]+)"', html)
    assert new_token
    assert new_token.group(1) != token  # the next try may be sent


def test_an_empty_reply_is_refused(admin_client: Client, ada: Contact) -> None:
    token = reply_token(admin_client, ada)
    response = admin_client.post(conversation_url(ada), {"text": "  ", "_send_token": token})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert django_textlink.outbox == []
    assert SMSMessage.objects.count() == 0


def test_a_reply_to_a_contact_who_opted_out_needs_send_anyway(
    admin_client: Client, ada: Contact
) -> None:
    Contact.objects.filter(pk=ada.pk).update(opted_out=True, opted_out_at=timezone.now())
    url = conversation_url(ada)
    html = admin_client.get(url).content.decode()
    assert 'id="textlink-opted-out"' in html
    assert "This contact opted out of SMS" in html
    assert 'name="send_anyway"' in html

    refused = admin_client.post(url, {"text": "Hi", "_send_token": reply_token(admin_client, ada)})
    assert refused.status_code == 200
    assert "tick “Send anyway” to reply all the same" in refused.content.decode()
    assert ">\nHi</textarea>" in refused.content.decode()
    assert django_textlink.outbox == []

    sent = admin_client.post(
        url, {"text": "Hi", "send_anyway": "on", "_send_token": reply_token(admin_client, ada)}
    )
    assert sent.status_code == 302
    assert [entry.text for entry in django_textlink.outbox] == ["Hi"]


def test_only_the_latest_messages_are_shown(
    admin_client: Client, ada: Contact, thread: list[SMSMessage], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contact_admin, "CONVERSATION_LENGTH", 3)

    html = admin_client.get(conversation_url(ada)).content.decode()

    assert "1 older message is not shown (only the latest 3)." in html
    assert "Where is my parcel?" not in html  # the oldest
    assert "Thanks!" in html
    link = re.search(r'<a href="([^"]+)">See all the messages with this number', html)
    assert link
    listed = admin_client.get(link.group(1).replace("&amp;", "&"))
    assert listed.status_code == 200
    assert {m.phone_number for m in listed.context["cl"].result_list} == {PHONE}


def test_the_conversation_queries_do_not_grow_with_messages(
    admin_client: Client, ada: Contact
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(conversation_url(ada)).status_code == 200
        return len(captured)

    SMSMessage.objects.create(phone_number=PHONE, text="one", contact=ada, status=Status.SENT)
    few = queries()
    SMSMessage.objects.bulk_create(
        SMSMessage(phone_number=PHONE, text=f"n{n}", contact=ada, status=Status.SENT)
        for n in range(30)
    )
    assert queries() == few


def test_the_conversation_needs_the_change_permission(ada: Contact) -> None:
    url = conversation_url(ada)
    viewer = staff("django_textlink.view_contact")
    assert viewer.get(url).status_code == 403
    assert viewer.post(url, {"text": "Hi"}).status_code == 403
    assert django_textlink.outbox == []
    assert Client().get(url).status_code == 302  # to the login page


def test_a_reply_needs_the_add_message_permission(ada: Contact) -> None:
    url = conversation_url(ada)
    editor = staff("django_textlink.change_contact")

    page = editor.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="textlink-no-reply"' in html
    assert 'id="textlink-reply"' not in html
    assert editor.post(url, {"text": "Hi", "send_anyway": "on"}).status_code == 403
    assert django_textlink.outbox == []

    editor.get(url)  # a fresh permission cache for the next check
    user = User.objects.get(username="staff")
    user.user_permissions.add(Permission.objects.get(codename="add_smsmessage"))
    editor.force_login(User.objects.get(pk=user.pk))
    token = reply_token(editor, ada)
    assert editor.post(url, {"text": "Hi", "_send_token": token}).status_code == 302
    assert [entry.phone_number for entry in django_textlink.outbox] == [PHONE]


def test_the_conversation_of_a_missing_contact_is_404(admin_client: Client) -> None:
    assert admin_client.get("/admin/django_textlink/contact/999/conversation/").status_code == 404
