"""The admin's fraud guard page: real attacks through the verification flow place the
blocks and the figures it shows; lifting a block lets codes through again at once.

The flow runs for real (LocMemBackend records the codes, the fake clock moves time); the
page is read as a superuser through the Django test client.
"""

from __future__ import annotations

import contextlib
import re
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.test.client import RequestFactory

import django_textlink
from django_textlink.models import VerificationActivity, VerificationBlock
from django_textlink.verification import PhoneVerification, VerificationBlocked
from tests.support.changelist import action_data
from tests.support.clock import FakeClock

pytestmark = pytest.mark.django_db

URL = "/admin/django_textlink/verificationblock/"
RANGE = "+44740012"  # a UK mobile range: +447400120000 to +447400129999


@pytest.fixture(autouse=True)
def _no_challenge(settings: Any) -> None:
    """The budgets alone decide here (the challenge has tests of its own)."""
    settings.TEXTLINK = {**settings.TEXTLINK, "CHALLENGE": None}


def start(number: str, ip: str) -> None:
    request = RequestFactory().post("/", REMOTE_ADDR=ip)
    PhoneVerification(request=request).start(number)


def pump_range(count: int, first: int = 0) -> int:
    """``count`` attempts on numbers of RANGE (from ``first`` on), each from its own
    network; returns how many codes were sent."""
    before = len(django_textlink.outbox)
    for n in range(first, first + count):
        with contextlib.suppress(VerificationBlocked):
            start(f"{RANGE}{n:04d}", f"198.{n // 256}.{n % 256}.9")
    return len(django_textlink.outbox) - before


@pytest.fixture
def admin(client: Client) -> Client:
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def cells(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    cell = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.S)
    return [[re.sub(r"<[^>]+>", "", text).strip() for text in cell.findall(row)] for row in rows]


def test_the_page_lists_an_attack_s_block_and_its_figures(admin: Client, clock: FakeClock) -> None:
    assert pump_range(20) == 5  # the range's budget
    start("+12025550143", "203.0.113.5")  # a real user elsewhere

    page = admin.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Fraud guard" in html
    assert "1 active block." in html
    block = VerificationBlock.objects.get()
    assert (block.scope, block.value, block.reason, block.level) == (
        "range",
        RANGE,
        "range_velocity",
        1,
    )
    assert RANGE in html
    assert "Active" in html
    countries = cells(html, "textlink-guard-countries")
    assert ["GB", "5", "0", "0%"] in countries
    assert ["US", "1", "0", "0%"] in countries
    ranges = cells(html, "textlink-guard-ranges")
    assert ranges[1] == [f"{RANGE}…", "GB", "5", "0", "0%"]  # after the header row
    # No full number on the page: only ranges.
    assert "+447400120001" not in html


def test_verified_numbers_show_as_conversion(admin: Client, clock: FakeClock) -> None:
    number = "+447400120123"
    start(number, "198.51.100.1")
    code = str(django_textlink.outbox[-1].code)  # the code the phone "received"
    assert PhoneVerification().check(number, code)
    html = admin.get(URL).content.decode()
    assert ["GB", "1", "1", "100%"] in cells(html, "textlink-guard-countries")


def test_lifting_a_block_lets_codes_through_again_at_once(admin: Client, clock: FakeClock) -> None:
    assert pump_range(10) == 5
    block = VerificationBlock.objects.get()
    with pytest.raises(VerificationBlocked):
        start(f"{RANGE}5000", "192.0.2.1")

    answer = admin.post(URL, action_data("lift_blocks", [block.pk]), follow=True)
    assert "1 block lifted: codes can be sent there again." in answer.content.decode()
    block.refresh_from_db()
    assert block.lifted_at is not None
    assert block.lifted_by is not None
    assert block.lifted_by.username == "root"

    # The range's budget starts again: 5 more codes, then a new block, back at level 1
    # (a lifted block is not held against the range).
    assert pump_range(10, first=100) == 5
    newest = VerificationBlock.objects.order_by("-starts_at", "-pk").first()
    assert newest is not None
    assert newest.pk != block.pk
    assert newest.level == 1
    page = admin.get(f"{URL}?state=active").content.decode()
    assert "1 active block." in page


def test_lifting_needs_the_change_permission(client: Client, clock: FakeClock) -> None:
    pump_range(10)
    block = VerificationBlock.objects.get()
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_verificationblock"))
    client.force_login(viewer)
    assert client.get(URL).status_code == 200
    answer = client.post(URL, action_data("lift_blocks", [block.pk]))
    assert answer.status_code in (200, 302, 403)
    block.refresh_from_db()
    assert block.lifted_at is None
    assert client.get(f"{URL}add/").status_code == 403  # only the guard places blocks


def test_purge_deletes_old_figures_and_ended_blocks(clock: FakeClock) -> None:
    from django.core.management import call_command

    pump_range(10)
    assert VerificationActivity.objects.count() == 1
    clock.advance(3 * 24 * 3600)
    call_command("textlink_purge", "--days", "1", stdout=StringIO())
    assert VerificationActivity.objects.count() == 0
    assert VerificationBlock.objects.count() == 0
