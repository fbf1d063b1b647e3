"""Contacts and tag sync (django_textlink.contacts): a tag set here is pushed to TextLink
after the commit, through the task framework (the default, immediate task backend); a tag
that arrives by webhook is saved and never pushed back.

Only TextLink's HTTP is faked (``responses``); the locmem backend records pushes in
``django_textlink.backends.locmem.tag_updates``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from django_textlink import contacts
from django_textlink.backends.locmem import tag_updates
from django_textlink.models import Contact
from tests.support.inline_tasks import run_tasks_inline

pytestmark = pytest.mark.django_db

PHONE = "+381601234567"
SECRET = "whsec-test-0123456789"  # TEXTLINK["WEBHOOK_SECRET"] in tests/settings.py
BASE_URL = "https://textlinksms.test/api"  # TEXTLINK["BASE_URL"] in tests/settings.py
TAG_URL = f"{BASE_URL}/update-contect-tag"  # sic: TextLink's spelling
Sync = Contact.TagSync


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    """No connect retries (so no sleeps); tasks run at once, whatever an earlier test left
    in settings.TASKS."""
    settings.TEXTLINK = {**settings.TEXTLINK, "MAX_RETRIES": 0, "RETRY_BACKOFF": 0}
    run_tasks_inline(settings)


@pytest.fixture
def pushed_tags(textlink_locmem: list[Any]) -> list[tuple[str, str]]:
    """The locmem backend (the plugin's ``textlink_locmem``): the tags it pushed."""
    return tag_updates


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """TextLink faked by ``responses``: an unregistered request raises ConnectionError."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def answer(mock: responses.RequestsMock, body: Any, status: int = 200) -> None:
    mock.upsert(responses.POST, TAG_URL, json=body, status=status)


def pushed(mock: responses.RequestsMock) -> list[dict[str, Any]]:
    return [json.loads(call.request.body or b"{}") for call in mock.calls]


@pytest.fixture
def contact() -> Contact:
    return Contact.objects.create(phone_number=PHONE, name="John", tag="Cold")


def fresh(contact: Contact) -> Contact:
    return Contact.objects.get(pk=contact.pk)


# -- set_tag with the locmem backend --------------------------------------------------------------


def test_set_tag_marks_pending_and_pushes_after_the_commit(
    contact, pushed_tags, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        returned = contacts.set_tag(contact, "Warm")
        # Saved at once, pushed only once the transaction commits.
        assert returned is contact
        saved = fresh(contact)
        assert (saved.tag, saved.tag_sync_state, saved.tag_synced_at) == ("Warm", "pending", None)
        assert pushed_tags == []

    assert len(callbacks) == 1
    assert pushed_tags == [(PHONE, "Warm")]
    saved = fresh(contact)
    assert saved.tag_sync_state == Sync.SYNCED
    assert saved.tag_sync_error == ""
    assert saved.tag_synced_at is not None


def test_set_tag_strips_the_tag(contact, pushed_tags, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        contacts.set_tag(contact, "  Warm \n")
    assert fresh(contact).tag == "Warm"
    assert pushed_tags == [(PHONE, "Warm")]


def test_set_tag_refuses_a_non_string(contact, pushed_tags, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(TypeError):
        contacts.set_tag(contact, 5)  # type: ignore[arg-type]
    assert callbacks == []
    assert fresh(contact).tag == "Cold"


def test_set_tag_without_push_saves_only(contact, pushed_tags, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        contacts.set_tag(contact, "Warm", push=False)
    assert callbacks == []
    assert pushed_tags == []
    saved = fresh(contact)
    assert (saved.tag, saved.tag_sync_state) == ("Warm", Sync.SYNCED)


def test_a_rolled_back_set_tag_pushes_nothing(
    contact, pushed_tags, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        contacts.set_tag(contact, "Warm")
        transaction.set_rollback(True)
    assert callbacks == []
    assert pushed_tags == []
    assert fresh(contact).tag == "Cold"


def test_the_push_sends_the_tag_current_at_push_time(
    contact, pushed_tags, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        contacts.set_tag(contact, "Warm")
        contacts.set_tag(contact, "Hot")
    # Two pushes were queued; both push what the contact holds now.
    assert pushed_tags == [(PHONE, "Hot"), (PHONE, "Hot")]
    assert fresh(contact).tag_sync_state == Sync.SYNCED


def test_push_tag_for_a_deleted_contact_does_nothing(pushed_tags):
    assert contacts.push_tag(999_999) is False
    assert pushed_tags == []


# -- upsert_contact -------------------------------------------------------------------------------


def test_upsert_contact_creates_then_updates_only_given_fields(
    pushed_tags, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        created = contacts.upsert_contact(PHONE, name="John", tag="Cold", subuser_id=None)
        same = contacts.upsert_contact(PHONE, name=None, subuser_id=6)

    assert same.pk == created.pk
    saved = fresh(created)
    assert (saved.name, saved.tag, saved.subuser_id) == ("John", "Cold", 6)
    assert Contact.objects.count() == 1
    assert callbacks == []  # never pushes
    assert pushed_tags == []


# -- the HTTP backend, TextLink faked -------------------------------------------------------------


def test_a_refused_push_is_failed_with_the_reason_and_a_retry_syncs_it(
    contact, rsps, django_capture_on_commit_callbacks
):
    answer(rsps, {"ok": False, "message": "Contact not found"})

    with django_capture_on_commit_callbacks(execute=True):
        contacts.set_tag(contact, "Warm")

    assert pushed(rsps) == [{"phone_number": PHONE, "tag": "Warm"}]
    assert rsps.calls[0].request.headers["Authorization"].startswith("Bearer ")
    saved = fresh(contact)
    assert saved.tag == "Warm"  # the local tag stays; only the sync failed
    assert saved.tag_sync_state == Sync.FAILED
    assert "Contact not found" in saved.tag_sync_error
    assert saved.tag_synced_at is None

    # TextLink is fixed; a retry (the admin action calls push_tag) syncs it.
    answer(rsps, {"ok": True})
    assert contacts.push_tag(contact.pk) is True

    assert pushed(rsps)[-1] == {"phone_number": PHONE, "tag": "Warm"}
    saved = fresh(contact)
    assert saved.tag_sync_state == Sync.SYNCED
    assert saved.tag_sync_error == ""
    assert saved.tag_synced_at is not None


def test_a_failed_push_is_visible_in_the_admin(contact, rsps, admin_client):
    answer(rsps, {"ok": False, "message": "Contact not found"})
    contacts.set_tag(contact, "Warm", push=False)
    assert contacts.push_tag(contact.pk) is False

    page = admin_client.get(reverse("admin:django_textlink_contact_change", args=[contact.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Contact not found" in html
    assert "push failed" in html  # the tag sync state's label


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, {"ok": False}), (200, "not json"), (401, {"ok": False, "message": "API key not found"})],
)
def test_other_textlink_faults_mark_the_push_failed(contact, rsps, status, body):
    if isinstance(body, str):
        rsps.upsert(responses.POST, TAG_URL, body=body, status=status)
    else:
        answer(rsps, body, status)
    contacts.set_tag(contact, "Warm", push=False)

    assert contacts.push_tag(contact.pk) is False

    saved = fresh(contact)
    assert saved.tag_sync_state == Sync.FAILED
    assert saved.tag_sync_error
    assert "tl-test-key" not in saved.tag_sync_error  # the API key never shows


def test_an_unreachable_textlink_marks_the_push_failed(contact, rsps):
    contacts.set_tag(contact, "Warm", push=False)  # nothing registered: connection refused
    assert contacts.push_tag(contact.pk) is False
    assert fresh(contact).tag_sync_state == Sync.FAILED


def test_a_tag_changed_during_the_push_stays_pending(contact, rsps):
    """The outcome of a push for an older tag must not mark a newer tag synced."""

    def meanwhile(request: Any) -> tuple[int, dict[str, str], str]:
        Contact.objects.filter(pk=contact.pk).update(tag="Hot", tag_sync_state=Sync.PENDING)
        return 200, {}, json.dumps({"ok": True})

    rsps.add_callback(responses.POST, TAG_URL, callback=meanwhile)
    contacts.set_tag(contact, "Warm", push=False)

    assert contacts.push_tag(contact.pk) is True

    saved = fresh(contact)
    assert (saved.tag, saved.tag_sync_state) == ("Hot", Sync.PENDING)


# -- a remote tag is not pushed back --------------------------------------------------------------


def test_a_tag_from_the_webhook_is_not_pushed_back(
    contact, rsps, client, django_capture_on_commit_callbacks
):
    body = {"secret": SECRET, "name": "John", "phone_number": PHONE, "tag": "Warm"}

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            reverse("textlink:webhook-tag"), data=body, content_type="application/json"
        )

    assert response.status_code == 200
    assert len(rsps.calls) == 0
    assert callbacks == []
    saved = fresh(contact)
    assert (saved.tag, saved.tag_sync_state) == ("Warm", Sync.SYNCED)


def test_a_remote_tag_replaces_a_failed_local_push(contact, rsps, client):
    answer(rsps, {"ok": False, "message": "Contact not found"})
    contacts.set_tag(contact, "Warm", push=False)
    contacts.push_tag(contact.pk)
    assert fresh(contact).tag_sync_state == Sync.FAILED
    calls = len(rsps.calls)

    body = {"secret": SECRET, "phone_number": PHONE, "tag": "Hot"}
    client.post(reverse("textlink:webhook-tag"), data=body, content_type="application/json")

    saved = fresh(contact)
    assert (saved.tag, saved.tag_sync_state, saved.tag_sync_error) == ("Hot", Sync.SYNCED, "")
    assert len(rsps.calls) == calls


def test_apply_remote_tag_returns_the_old_tag_and_never_pushes(contact, pushed_tags):
    assert contacts.apply_remote_tag(contact, "Warm") == "Cold"
    assert pushed_tags == []
    assert fresh(contact).tag_sync_state == Sync.SYNCED


def test_a_push_that_fails_after_a_retry_succeeded_does_not_mark_the_tag_failed(contact, rsps):
    """A stuck push retried from the admin: when the original finally runs and fails, the
    retry's success (after the original started) stands."""

    def retry_overtakes(request: Any) -> tuple[int, dict[str, str], str]:
        Contact.objects.filter(pk=contact.pk).update(
            tag_sync_state=Sync.SYNCED, tag_synced_at=timezone.now()
        )
        return 200, {}, json.dumps({"ok": False, "message": "Temporarily unavailable"})

    rsps.add_callback(responses.POST, TAG_URL, callback=retry_overtakes)
    contacts.set_tag(contact, "Warm", push=False)

    assert contacts.push_tag(contact.pk) is False

    saved = fresh(contact)
    assert (saved.tag, saved.tag_sync_state, saved.tag_sync_error) == ("Warm", Sync.SYNCED, "")
