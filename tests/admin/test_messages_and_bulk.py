"""The admin: changelists, the ``send_sms`` action (Contact and the factory), bulk send
progress pages, retrying failed and unknown messages, read-only messages."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import django_textlink
from django_textlink.admin.actions import new_send_token
from django_textlink.models import Broadcast, Contact, SMSMessage, VerifiedPhoneNumber
from django_textlink.sending import create_broadcast
from tests.support.changelist import action_data
from tests.support.example_server import example_env, run_example
from tests.support.paths import EXAMPLE_DIR

pytestmark = pytest.mark.django_db

Status = SMSMessage.Status
Direction = SMSMessage.Direction
CONTACTS_URL = "/admin/django_textlink/contact/"
MESSAGES_URL = "/admin/django_textlink/smsmessage/"
BROADCASTS_URL = "/admin/django_textlink/broadcast/"
USERS_URL = "/useradmin/auth/user/"


def phone(n: int) -> str:
    return f"+1202555{n:04d}"


def sent_numbers() -> list[str]:
    return sorted(entry.phone_number for entry in django_textlink.outbox)


def send_data(ids: list[int], **extra: Any) -> dict[str, Any]:
    """What the confirmation page's "Send" button posts (with a fresh one-time token)."""
    return action_data(
        "send_sms",
        ids,
        _textlink_send_sms="1",
        _send="Send",
        _send_token=new_send_token(),
        **extra,
    )


def hidden_fields(html: str) -> dict[str, list[str]]:
    """The hidden inputs of a confirmation page, as a browser would post them."""
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html):
        if name != "csrfmiddlewaretoken":
            fields.setdefault(name, []).append(value)
    return fields


def form_action(html: str) -> str:
    match = re.search(r'<form method="post" action="([^"]*)"', html)
    assert match, "the confirmation page has a form"
    return match.group(1).replace("&amp;", "&")


# -- changelists --------------------------------------------------------------------------------


@pytest.fixture
def messages() -> list[SMSMessage]:
    broadcast = Broadcast.objects.create(text="Sale today", recipients=2)
    rows = [
        SMSMessage(phone_number=phone(1), text="Sale today", status=Status.SENT,
                   sent_at=timezone.now(), broadcast=broadcast),
        SMSMessage(phone_number=phone(2), text="Sale today", status=Status.FAILED,
                   error="No SIM", broadcast=broadcast),
        SMSMessage(phone_number=phone(3), text="Your parcel <b>is</b> here", status=Status.UNKNOWN),
        SMSMessage(phone_number=phone(4), text="STOP", direction=Direction.INBOUND,
                   status=Status.RECEIVED),
        SMSMessage(phone_number=phone(5), text="Later", status=Status.QUEUED),
    ]  # fmt: skip
    return SMSMessage.objects.bulk_create(rows)


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("", [phone(1), phone(2), phone(3), phone(4), phone(5)], []),
        ("?status__exact=failed", [phone(2)], [phone(1), phone(3)]),
        ("?direction__exact=inbound", [phone(4)], [phone(1), phone(2)]),
        ("?q=parcel", [phone(3)], [phone(1), phone(4)]),
        (f"?q={phone(5)[1:]}", [phone(5)], [phone(1)]),
        (f"?created_at__year={timezone.now().year}", [phone(1), phone(4)], []),
        ("?created_at__gte=2000-01-01+00:00:00%2B00:00", [phone(1)], []),
    ],
)
def test_message_changelist_filters_and_search(
    admin_client: Client, messages: list[SMSMessage], query: str, shown: list[str],
    hidden: list[str],
) -> None:  # fmt: skip
    response = admin_client.get(MESSAGES_URL + query)
    assert response.status_code == 200
    html = response.content.decode()
    for number in shown:
        assert number in html
    for number in hidden:
        assert number not in html


def test_message_changelist_shows_status_badges_in_words(
    admin_client: Client, messages: list[SMSMessage]
) -> None:
    html = admin_client.get(MESSAGES_URL).content.decode()
    assert '<span class="textlink-status textlink-status--failed">' in html
    assert re.search(r'textlink-status--failed"><span aria-hidden="true">✗</span> failed', html)
    assert re.search(r'textlink-status--unknown"><span aria-hidden="true">\?</span> unknown', html)
    assert "django_textlink/admin.css" in html
    assert "Your parcel &lt;b&gt;is&lt;/b&gt; here" in html  # escaped
    assert "Retry failed messages" in html


def test_message_changelist_queries_do_not_grow_with_rows(admin_client: Client) -> None:
    def count_queries(n: int) -> int:
        SMSMessage.objects.all().delete()
        broadcast = Broadcast.objects.create(text="x")
        SMSMessage.objects.bulk_create(
            SMSMessage(phone_number=phone(i), text="x", broadcast=broadcast) for i in range(n)
        )
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(MESSAGES_URL).status_code == 200
        return len(queries)

    assert count_queries(3) == count_queries(60)


def test_contact_changelist_filters_and_search(admin_client: Client) -> None:
    Contact.objects.create(phone_number=phone(1), name="Ada", tag="vip")
    Contact.objects.create(phone_number=phone(2), name="Grace", tag="staff", opted_out=True)
    html = admin_client.get(CONTACTS_URL).content.decode()
    assert "Ada" in html
    assert "Grace" in html
    assert 'value="send_sms"' in html
    assert "Send an SMS to the selected contacts" in html
    html = admin_client.get(CONTACTS_URL + "?tag=vip").content.decode()
    assert "Ada" in html
    assert "Grace" not in html
    html = admin_client.get(CONTACTS_URL + "?opted_out__exact=1").content.decode()
    assert "Grace" in html
    assert "Ada" not in html
    html = admin_client.get(CONTACTS_URL + "?q=grace").content.decode()
    assert "Grace" in html
    assert "Ada" not in html


def test_contact_form_normalizes_the_number_and_stamps_the_opt_out(admin_client: Client) -> None:
    response = admin_client.post(
        CONTACTS_URL + "add/",
        {"phone_number": "+1 (202) 555-0199", "name": "Linus", "tag": "", "opted_out": "on"},
    )
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert contact.phone_number == "+12025550199"
    assert contact.opted_out_at is not None
    response = admin_client.post(
        CONTACTS_URL + "add/", {"phone_number": "12345", "name": "", "tag": ""}
    )
    assert response.status_code == 200
    assert "Enter" in response.content.decode()  # the phone module's reason
    assert Contact.objects.count() == 1


def test_broadcast_changelist_shows_progress_and_is_read_only(
    admin_client: Client, messages: list[SMSMessage]
) -> None:
    broadcast = Broadcast.objects.get()
    html = admin_client.get(BROADCASTS_URL).content.decode()
    assert "Sale today" in html
    assert "1 sent, 1 failed, 0 unknown, 0 pending" in html
    assert f"{BROADCASTS_URL}{broadcast.pk}/progress/" in html
    assert admin_client.get(BROADCASTS_URL + "add/").status_code == 403
    page = admin_client.get(f"{BROADCASTS_URL}{broadcast.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert "Show the progress of this send" in page.content.decode()
    assert admin_client.post(f"{BROADCASTS_URL}{broadcast.pk}/change/", {}).status_code == 403
    assert 'value="delete_selected"' not in html
    # A send that is not over cannot be deleted (its queued messages would be stranded).
    assert admin_client.get(f"{BROADCASTS_URL}{broadcast.pk}/delete/").status_code == 403
    Broadcast.objects.filter(pk=broadcast.pk).update(finished_at=timezone.now())
    assert admin_client.get(f"{BROADCASTS_URL}{broadcast.pk}/delete/").status_code == 200


def test_broadcast_changelist_queries_do_not_grow_with_rows(admin_client: Client) -> None:
    def count_queries(n: int) -> int:
        Broadcast.objects.all().delete()
        for i in range(n):
            create_broadcast([phone(i), phone(i + 1)], f"Hello {i}", enqueue=False)
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(BROADCASTS_URL).status_code == 200
        return len(queries)

    assert count_queries(2) == count_queries(20)


# -- read-only messages ------------------------------------------------------------------------


def test_inbound_messages_are_read_only(admin_client: Client, messages: list[SMSMessage]) -> None:
    inbound = SMSMessage.objects.get(direction=Direction.INBOUND)
    url = f"{MESSAGES_URL}{inbound.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html
    assert "<textarea" not in html
    assert 'name="text"' not in html
    assert "STOP" in html
    response = admin_client.post(url, {"text": "changed", "status": "sent"})
    assert response.status_code == 403
    inbound.refresh_from_db()
    assert (inbound.text, inbound.status) == ("STOP", Status.RECEIVED)


def test_messages_cannot_be_added_or_edited_in_the_admin(
    admin_client: Client, messages: list[SMSMessage]
) -> None:
    assert admin_client.get(MESSAGES_URL + "add/").status_code == 403
    outbound = SMSMessage.objects.get(status=Status.QUEUED)
    html = admin_client.get(f"{MESSAGES_URL}{outbound.pk}/change/").content.decode()
    assert 'name="_save"' not in html  # a save could overwrite what a worker just wrote
    assert "Later" in html


# -- the Contact send_sms action ----------------------------------------------------------------


@pytest.fixture
def contacts() -> dict[str, Contact]:
    return {
        "ada": Contact.objects.create(phone_number=phone(1), name="Ada", tag="vip"),
        "grace": Contact.objects.create(phone_number=phone(2), name="Grace", tag="vip"),
        "opted": Contact.objects.create(
            phone_number=phone(3), name="Opted", tag="vip", opted_out=True
        ),
        "broken": Contact.objects.create(phone_number="12345", name="Broken"),
        "dup": Contact.objects.create(phone_number="+1 202 555 0001", name="Ada again"),
        "other": Contact.objects.create(phone_number=phone(9), name="Other"),
    }


def test_send_sms_to_contacts_end_to_end(
    admin_client: Client,
    contacts: dict[str, Contact],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    selected = [contacts[key].pk for key in ("ada", "grace", "opted", "broken", "dup")]
    page = admin_client.post(CONTACTS_URL, action_data("send_sms", selected))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Send an SMS</h1>" in html
    assert "This SMS will be sent to <strong>2</strong> phone numbers." in html
    assert "(5 contacts selected.)" in html
    assert "3 numbers will be skipped" in html
    assert "1 invalid number" in html
    assert "1 duplicate (the same number twice)" in html
    assert "1 contact who opted out" in html
    assert "<code>12345</code></td><td>Enter the number in international format" in html
    assert f"<code>{phone(3)}</code>" in html
    # The counter, rendered by the server for the (empty) text, and the script.
    assert '<span data-sms="encoding">GSM-7</span>' in html
    assert '<strong data-sms="segments">0</strong>' in html
    assert "django_textlink/sms_counter.js" in html
    assert 'value="Send to 2 numbers"' in html
    assert not django_textlink.outbox
    # It re-posts the selection to the changelist.
    fields = hidden_fields(html)
    assert fields["action"] == ["send_sms"]
    assert fields["select_across"] == ["0"]
    assert fields["index"] == ["0"]
    assert sorted(fields["_selected_action"]) == sorted(str(pk) for pk in selected)
    assert form_action(html) == CONTACTS_URL

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            form_action(html), {**fields, "text": "Hello from the admin", "_send": "Send"}
        )
    broadcast = Broadcast.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{BROADCASTS_URL}{broadcast.pk}/progress/"
    assert sent_numbers() == [phone(1), phone(2)]
    assert {entry.text for entry in django_textlink.outbox} == {"Hello from the admin"}
    assert broadcast.created_by == User.objects.get(username="admin")
    assert (broadcast.recipients, broadcast.skipped_invalid) == (2, 1)
    assert (broadcast.skipped_duplicates, broadcast.skipped_opted_out) == (1, 1)
    messages = SMSMessage.objects.filter(broadcast=broadcast)
    # Of the two rows with Ada's number, the older one ("ada", not "dup") is the recipient.
    assert {m.contact_id for m in messages} == {contacts["ada"].pk, contacts["grace"].pk}

    progress = admin_client.get(response["Location"])
    assert progress.status_code == 200
    html = progress.content.decode()
    assert "Progress of bulk send" in html
    assert "Finished: 2 of 2 done." in html
    assert re.search(r'id="textlink-count-sent">.*?<td>2</td>', html, re.S)
    assert re.search(r'id="textlink-count-failed">.*?<td>0</td>', html, re.S)
    assert '<progress id="textlink-progress-bar" max="2" value="2">100%</progress>' in html
    assert 'http-equiv="refresh"' not in html
    assert f"Bulk send #{broadcast.pk} stored: 2 messages to send." in html  # the message
    assert "<code>12345</code>" in html
    link = f"{MESSAGES_URL}?broadcast__id__exact={broadcast.pk}"
    assert f'href="{link}"' in html
    listed = admin_client.get(link)
    assert listed.status_code == 200
    assert phone(1) in listed.content.decode()
    assert phone(9) not in listed.content.decode()
    assert "By bulk send" in listed.content.decode()  # the filter shows, and can be cleared
    assert f"#{broadcast.pk}: Hello from the admin" in listed.content.decode()
    assert "By bulk send" not in admin_client.get(MESSAGES_URL).content.decode()
    for bad in ("x", "999999"):
        html = admin_client.get(f"{MESSAGES_URL}?broadcast__id__exact={bad}").content.decode()
        assert phone(1) not in html
        assert "(no such bulk send)" in html


def test_a_confirmation_page_sends_once(
    admin_client: Client,
    contacts: dict[str, Contact],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    """A double click on "Send", or the page posted again (back, then send), sends nothing
    the second time; a forged or missing token sends nothing at all."""
    page = admin_client.post(CONTACTS_URL, action_data("send_sms", [contacts["ada"].pk]))
    fields = {**hidden_fields(page.content.decode()), "text": "Once", "_send": "Send"}
    preview = admin_client.post(CONTACTS_URL, {**fields, "_send": [], "_preview": "1"})
    assert hidden_fields(preview.content.decode())["_send_token"] == fields["_send_token"]
    with django_capture_on_commit_callbacks(execute=True):
        first = admin_client.post(CONTACTS_URL, fields)
        second = admin_client.post(CONTACTS_URL, fields)
    assert first.status_code == second.status_code == 302
    assert second["Location"] == CONTACTS_URL
    assert Broadcast.objects.count() == 1
    assert sent_numbers() == [phone(1)]
    html = admin_client.get(CONTACTS_URL).content.decode()
    assert "This form was already sent (or has expired): nothing was sent again." in html
    for token in ["forged", ""]:
        admin_client.post(CONTACTS_URL, {**fields, "_send_token": token})
    assert Broadcast.objects.count() == 1


def test_send_sms_with_newlines_is_sent_with_lf_only(
    admin_client: Client,
    contacts: dict[str, Contact],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    data = send_data([contacts["ada"].pk], text="Line one\r\nLine two")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CONTACTS_URL, data)
    assert [entry.text for entry in django_textlink.outbox] == ["Line one\nLine two"]


def test_send_sms_without_text_shows_the_error_and_sends_nothing(
    admin_client: Client, contacts: dict[str, Contact]
) -> None:
    data = action_data("send_sms", [contacts["ada"].pk], _textlink_send_sms="1", _send="Send")
    page = admin_client.post(CONTACTS_URL, {**data, "text": "   "})
    assert page.status_code == 200
    assert "This field is required." in page.content.decode()
    assert not Broadcast.objects.exists()
    assert not django_textlink.outbox


def test_check_the_length_without_javascript(
    admin_client: Client, contacts: dict[str, Contact]
) -> None:
    text = "a" * 160 + " 😀"
    data = action_data("send_sms", [contacts["ada"].pk], _textlink_send_sms="1", _preview="1")
    page = admin_client.post(CONTACTS_URL, {**data, "text": text})
    html = page.content.decode()
    assert '<span data-sms="encoding">UCS-2</span>' in html
    assert '<dd data-sms="characters">162</dd>' in html
    assert '<span data-sms="units">163</span>' in html
    assert '<strong data-sms="segments">3</strong>' in html
    assert '<dd data-sms="per_segment">67</dd>' in html
    assert 'data-sms="non_gsm_chars" class="textlink-non-gsm">😀</span>' in html
    assert text in html  # the textarea keeps the text
    assert not Broadcast.objects.exists()
    assert not django_textlink.outbox


def test_non_gsm_invisible_characters_are_shown_by_code_point(
    admin_client: Client, contacts: dict[str, Contact]
) -> None:
    data = action_data("send_sms", [contacts["ada"].pk], _textlink_send_sms="1", _preview="1")
    html = admin_client.post(CONTACTS_URL, {**data, "text": "50\u00a0€"}).content.decode()
    assert ">U+00A0</span>" in html


def test_send_sms_select_across_with_a_filter(
    admin_client: Client,
    contacts: dict[str, Contact],
    django_capture_on_commit_callbacks: Callable[..., Any],
    settings: Any,
) -> None:
    for i in range(10, 14):
        Contact.objects.create(phone_number=phone(i), name=f"VIP {i}", tag="vip")
    # One page of the filtered changelist is checked, then "Select all 7".
    url = CONTACTS_URL + "?tag=vip"
    data = action_data("send_sms", [contacts["ada"].pk], select_across="1")
    page = admin_client.post(url, data)
    html = page.content.decode()
    assert "This SMS will be sent to <strong>6</strong> phone numbers." in html  # 7 minus opted
    assert "(7 contacts selected.)" in html
    fields = hidden_fields(html)
    assert fields["select_across"] == ["1"]
    assert fields["_selected_action"] == [str(contacts["ada"].pk)]
    assert form_action(html) == url

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            form_action(html), {**fields, "text": "VIP sale", "_send": "Send"}
        )
    assert response.status_code == 302
    assert sent_numbers() == sorted([phone(1), phone(2), *(phone(i) for i in range(10, 14))])


def test_send_sms_with_a_sim_card(
    admin_client: Client,
    contacts: dict[str, Contact],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            CONTACTS_URL, send_data([contacts["ada"].pk], text="Hi", sim_card_id="42")
        )
    assert Broadcast.objects.get().sim_card_id == 42
    assert SMSMessage.objects.get().sim_card_id == 42
    page = admin_client.post(
        CONTACTS_URL, send_data([contacts["ada"].pk], text="Hi", sim_card_id="-1")
    )
    assert page.status_code == 200
    assert "Ensure this value is greater than or equal to 0." in page.content.decode()


def test_nothing_to_send_when_every_number_is_skipped(
    admin_client: Client, contacts: dict[str, Contact]
) -> None:
    page = admin_client.post(
        CONTACTS_URL, action_data("send_sms", [contacts["opted"].pk, contacts["broken"].pk])
    )
    html = page.content.decode()
    assert "nothing to send" in html
    assert 'name="_send"' not in html


def _post_confirm(client: Client, ids: list[int]) -> int:
    data = send_data(ids, text="Hi")
    with CaptureQueriesContext(connection) as queries:
        response = client.post(CONTACTS_URL, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return len(queries)


def _post_preview(client: Client, ids: list[int]) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.post(CONTACTS_URL, action_data("send_sms", ids))
    assert response.status_code == 200
    return len(queries)


def test_send_sms_queries_do_not_grow_with_the_selection(admin_client: Client) -> None:
    """Reading the selection is one streaming query; messages are inserted in bulk. (The
    sends themselves run after the commit, which this test's transaction never reaches.)"""

    def selection(n: int) -> list[int]:
        Contact.objects.all().delete()
        created = Contact.objects.bulk_create(
            Contact(phone_number=phone(i), name=f"C{i}", opted_out=i % 10 == 0) for i in range(n)
        )
        return [c.pk for c in created]

    small, large = selection(10), None
    preview_small = _post_preview(admin_client, small)
    confirm_small = _post_confirm(admin_client, small)
    large = selection(200)
    preview_large = _post_preview(admin_client, large)
    with CaptureQueriesContext(connection) as queries:
        confirm_large = _post_confirm(admin_client, large)
    assert SMSMessage.objects.filter(broadcast=Broadcast.objects.latest("pk")).count() == 180

    assert preview_large == preview_small
    # Only the bulk INSERT may take one statement more per batch of rows the database
    # accepts at once (SQLite: 999 parameters); nothing is one query per object.
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert confirm_large - confirm_small <= len(inserts)
    assert confirm_large <= confirm_small + 4
    assert confirm_large < 40


def test_send_sms_needs_permission(
    client: Client, contacts: dict[str, Contact], django_user_model: type[User]
) -> None:
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_contact", "change_contact"])
    )
    client.force_login(clerk)
    response = client.post(CONTACTS_URL, action_data("send_sms", [contacts["ada"].pk]))
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    assert "You do not have permission to send SMS messages." in html
    client.post(CONTACTS_URL, send_data([contacts["ada"].pk], text="Hi"))
    assert not Broadcast.objects.exists()

    clerk.user_permissions.add(Permission.objects.get(codename="add_broadcast"))
    client.force_login(django_user_model.objects.get(pk=clerk.pk))
    response = client.post(CONTACTS_URL, send_data([contacts["ada"].pk], text="Hi"))
    # Sent, but without the view permission on bulk sends it goes back to the changelist.
    assert response.status_code == 302
    assert response["Location"] == CONTACTS_URL
    assert Broadcast.objects.count() == 1


# -- the factory on another model (users, phones across a relation, another admin site) ----------


@pytest.fixture
def user_site(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.support.admin_site"


@pytest.fixture
def users(django_user_model: type[User]) -> dict[str, User]:
    made = {
        name: django_user_model.objects.create_user(name, password="pw")
        for name in ("ada", "grace", "nophone", "broken", "twophones")
    }
    VerifiedPhoneNumber.objects.create(phone_number=phone(1), user=made["ada"])
    VerifiedPhoneNumber.objects.create(phone_number=phone(2), user=made["grace"])
    VerifiedPhoneNumber.objects.create(phone_number="555-CALL-NOW", user=made["broken"])
    VerifiedPhoneNumber.objects.create(phone_number=phone(4), user=made["twophones"])
    VerifiedPhoneNumber.objects.create(phone_number=phone(5), user=made["twophones"])
    Contact.objects.create(phone_number=phone(2), name="Grace", opted_out=True)
    return made


def test_factory_action_on_users_with_phones_across_a_relation(
    admin_client: Client,
    user_site: None,
    users: dict[str, User],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    ids = [user.pk for user in users.values()]
    page = admin_client.post(USERS_URL, action_data("send_sms", ids))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Send an SMS to the selected users" in admin_client.get(USERS_URL).content.decode()
    assert "This SMS will be sent to <strong>3</strong> phone numbers." in html
    assert "(5 users selected.)" in html
    assert "2 invalid numbers" in html
    assert "<code>555-CALL-NOW</code></td><td>Enter the number in international format" in html
    assert "<em>(no number)</em></td><td>Enter a phone number.</td>" in html
    assert "1 contact who opted out" in html
    assert form_action(html) == USERS_URL
    assert 'href="/useradmin/auth/user/">Users</a>' in html  # breadcrumbs of that site

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            form_action(html), {**hidden_fields(html), "text": "Hi users", "_send": "Send"}
        )
    broadcast = Broadcast.objects.get()
    # Broadcast is not registered on that site: the default admin shows its progress.
    assert response["Location"] == f"{BROADCASTS_URL}{broadcast.pk}/progress/"
    assert sent_numbers() == [phone(1), phone(4), phone(5)]
    assert (broadcast.skipped_invalid, broadcast.skipped_opted_out) == (2, 1)


def test_factory_action_query_count_does_not_grow(
    admin_client: Client, user_site: None, django_user_model: type[User]
) -> None:
    def count(n: int) -> int:
        django_user_model.objects.exclude(username="admin").delete()
        made = django_user_model.objects.bulk_create(
            django_user_model(username=f"u{i}") for i in range(n)
        )
        VerifiedPhoneNumber.objects.bulk_create(
            VerifiedPhoneNumber(phone_number=phone(i), user=user) for i, user in enumerate(made)
        )
        with CaptureQueriesContext(connection) as queries:
            page = admin_client.post(USERS_URL, action_data("send_sms", [u.pk for u in made]))
        assert f"<strong>{n}</strong>" in page.content.decode()
        return len(queries)

    assert count(10) == count(200)


# -- the progress page --------------------------------------------------------------------------


def test_progress_page_of_an_unfinished_send_reloads_itself(
    admin_client: Client, django_user_model: type[User]
) -> None:
    broadcast = create_broadcast([phone(1), phone(2), phone(3), "nope"], "Later", enqueue=False)
    SMSMessage.objects.filter(phone_number=phone(1)).update(status=Status.SENT)
    SMSMessage.objects.filter(phone_number=phone(2)).update(status=Status.UNKNOWN)
    url = f"{BROADCASTS_URL}{broadcast.pk}/progress/"
    with CaptureQueriesContext(connection) as queries:
        html = admin_client.get(url).content.decode()
    assert len(queries) < 12
    assert '<meta http-equiv="refresh" content="2">' in html
    assert "Sending: 2 of 3 done." in html
    assert "This page reloads every 2 seconds" in html
    assert re.search(r'id="textlink-count-queued">.*?<td>1</td>', html, re.S)
    assert re.search(r'id="textlink-count-unknown">.*?<td>1</td>', html, re.S)
    assert re.search(r'id="textlink-skipped-invalid">.*?<td>1</td>', html, re.S)
    assert "<code>nope</code>" in html
    assert '<progress id="textlink-progress-bar" max="3" value="2">67%</progress>' in html

    paused = admin_client.get(url + "?refresh=off").content.decode()
    assert 'http-equiv="refresh"' not in paused
    assert "Reload automatically" in paused


def test_progress_page_permissions_and_missing(
    admin_client: Client, client: Client, django_user_model: type[User]
) -> None:
    broadcast = create_broadcast([phone(1)], "Hi", enqueue=False)
    url = f"{BROADCASTS_URL}{broadcast.pk}/progress/"
    assert admin_client.get(f"{BROADCASTS_URL}999999/progress/").status_code == 404
    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert "/admin/login/" in anonymous["Location"]

    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get(url).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_broadcast"))
    client.force_login(django_user_model.objects.get(pk=staff.pk))
    html = client.get(url).content.decode()
    assert "Sending: 0 of 1 done." in html
    assert "textlink-messages-link" not in html  # no view permission on messages


def test_progress_page_of_an_empty_send(admin_client: Client) -> None:
    broadcast = create_broadcast(["nope"], "Hi", enqueue=False)
    html = admin_client.get(f"{BROADCASTS_URL}{broadcast.pk}/progress/").content.decode()
    assert "Nothing to send" in html
    assert 'http-equiv="refresh"' not in html


# -- retrying -----------------------------------------------------------------------------------


@pytest.fixture
def outcomes() -> dict[str, SMSMessage]:
    broadcast = Broadcast.objects.create(text="Hi", recipients=4, finished_at=timezone.now())
    make = SMSMessage.objects.create
    return {
        "failed": make(phone_number=phone(1), text="Hi", status=Status.FAILED, error="No SIM",
                       broadcast=broadcast),
        "unknown": make(phone_number=phone(2), text="Hi", status=Status.UNKNOWN,
                        error="Read timeout", broadcast=broadcast),
        "sent": make(phone_number=phone(3), text="Hi", status=Status.SENT, broadcast=broadcast),
        "inbound": make(phone_number=phone(4), text="Yo", status=Status.RECEIVED,
                        direction=Direction.INBOUND),
    }  # fmt: skip


def test_retry_failed_messages(
    admin_client: Client,
    outcomes: dict[str, SMSMessage],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    ids = [outcomes[key].pk for key in ("failed", "sent", "inbound")]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(MESSAGES_URL, action_data("retry_failed", ids))
    assert response.status_code == 302
    assert sent_numbers() == [phone(1)]
    outcomes["failed"].refresh_from_db()
    assert outcomes["failed"].status == Status.SENT
    html = admin_client.get(response["Location"]).content.decode()
    assert "1 message queued again." in html
    assert "2 selected messages were left alone: only failed outbound messages" in html


def test_retry_with_nothing_to_retry(admin_client: Client, outcomes: dict[str, SMSMessage]) -> None:
    response = admin_client.post(
        MESSAGES_URL, action_data("retry_failed", [outcomes["sent"].pk]), follow=True
    )
    assert "there is nothing to retry" in response.content.decode()
    assert not django_textlink.outbox


def test_retry_unknown_messages_asks_first(
    admin_client: Client,
    outcomes: dict[str, SMSMessage],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    ids = [outcomes["failed"].pk, outcomes["unknown"].pk]
    url = MESSAGES_URL + "?status__in=failed,unknown"
    page = admin_client.post(url, action_data("retry_failed", ids))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Retry messages whose delivery is unknown?" in html
    assert "may already have reached the phone" in html
    assert "Read timeout" in html
    assert form_action(html) == url
    assert 'name="_retry_unknown"' in html
    assert 'value="Retry only the 1 failed message"' in html
    assert not django_textlink.outbox  # nothing happened yet
    assert SMSMessage.objects.get(pk=outcomes["unknown"].pk).status == Status.UNKNOWN

    fields = hidden_fields(html)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(form_action(html), {**fields, "_retry_unknown": "1"})
    assert response.status_code == 302
    assert sent_numbers() == [phone(1), phone(2)]
    assert "2 messages queued again." in admin_client.get(response["Location"]).content.decode()


def test_retry_only_the_failed_ones(
    admin_client: Client,
    outcomes: dict[str, SMSMessage],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    ids = [outcomes["failed"].pk, outcomes["unknown"].pk]
    data = action_data("retry_failed", ids, _retry_failed_only="1")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(MESSAGES_URL, data)
    assert response.status_code == 302
    assert sent_numbers() == [phone(1)]
    assert SMSMessage.objects.get(pk=outcomes["unknown"].pk).status == Status.UNKNOWN
    html = admin_client.get(response["Location"]).content.decode()
    assert "1 selected message was left alone: only failed outbound messages are retried." in html


def test_retry_only_unknown_needs_confirmation_too(
    admin_client: Client, outcomes: dict[str, SMSMessage]
) -> None:
    page = admin_client.post(MESSAGES_URL, action_data("retry_failed", [outcomes["unknown"].pk]))
    html = page.content.decode()
    assert "Retry messages whose delivery is unknown?" in html
    assert "Retry only the" not in html  # no failed one to retry alone


def test_retry_is_hidden_without_change_permission(
    client: Client, outcomes: dict[str, SMSMessage], django_user_model: type[User]
) -> None:
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_smsmessage"))
    client.force_login(viewer)
    html = client.get(MESSAGES_URL).content.decode()
    assert "Retry failed messages" not in html


# -- the example project ------------------------------------------------------------------------


def test_example_project_user_admin_sends_to_verified_phones(tmp_path: Path) -> None:
    """The example's UserAdmin has the action, reading ``verified_phone_numbers``."""
    setup = (
        "from django.contrib.auth.models import User; "
        "from django_textlink.models import VerifiedPhoneNumber as V; "
        "a = User.objects.create_superuser('root', 'root@example.com', 'pw-example-1'); "
        "u = User.objects.create_user('ada'); "
        "V.objects.create(user=u, phone_number='+12025550143'); "
        "V.objects.create(user=a, phone_number='not a phone')"
    )
    with run_example(tmp_path, TEXTLINK_API_KEY="") as (url, log_path):
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", setup],
            cwd=EXAMPLE_DIR,
            env=example_env(tmp_path, TEXTLINK_API_KEY=""),
            check=True,
            timeout=60,
        )
        session = requests.Session()

        def csrf(page: requests.Response) -> str:
            match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
            assert match, page.text[:2000]
            return match.group(1)

        login = session.get(f"{url}admin/login/", timeout=5)
        session.post(
            f"{url}admin/login/",
            data={
                "csrfmiddlewaretoken": csrf(login),
                "username": "root",
                "password": "pw-example-1",
                "next": "/admin/auth/user/",
            },
            timeout=5,
        )
        users = session.get(f"{url}admin/auth/user/", timeout=5)
        assert "Send an SMS to the selected users&#x27; verified phones" in users.text
        ids = re.findall(r'name="_selected_action" value="(\d+)"', users.text)
        assert len(ids) == 2
        confirm = session.post(
            f"{url}admin/auth/user/",
            data={
                **action_data("send_sms", [int(pk) for pk in ids]),
                "csrfmiddlewaretoken": csrf(users),
            },
            timeout=5,
        )
        assert "This SMS will be sent to <strong>1</strong> phone number." in confirm.text
        assert "<code>not a phone</code>" in confirm.text
        sent = session.post(
            f"{url}admin/auth/user/",
            data={
                **hidden_fields(confirm.text),
                "csrfmiddlewaretoken": csrf(confirm),
                "text": "Hello from the example admin",
                "_send": "Send",
            },
            timeout=30,
        )
        assert re.search(r"/admin/django_textlink/broadcast/\d+/progress/$", sent.url)
        assert "Finished: 1 of 1 done." in sent.text
        log = log_path.read_text()
    assert "To: +12025550143" in log
    assert "Hello from the example admin" in log
    assert "Traceback" not in log
