"""Hostile webhook bodies, replayed over HTTP against the real views, models and signals.

Whatever TextLink (or anyone who has the secret) posts, a webhook answers 200 with the
event really stored, or 400 with nothing stored, never a 500:

* bodies nested hundreds or thousands of levels deep (arrays, objects, both), which
  used to recurse until ``RecursionError``;
* numbers no database can hold: ``1e400`` (infinity, which fails SQLite's
  ``JSON_VALID`` check and PostgreSQL's ``jsonb``), a 5,000-digit integer (beyond
  Python's int string limit), a ``textlink_id`` of 2**63 (beyond a ``BigIntegerField``);
* an event the database refuses that is no duplicate (it used to be taken for one, then
  end in ``WebhookEvent.DoesNotExist``).

And every case variant of the ``secret`` key (``Secret``, ``SECRET``, ``secret`` with a long s,
U+017F...) is gone before anything stores, logs or signals the payload.

Nothing here is specific to SQLite: with ``TEXTLINK_TEST_DB=postgres`` the same tests
run on PostgreSQL.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DataError, IntegrityError, models, transaction
from django.http import HttpResponse
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from django_textlink.models import Contact, SMSMessage, WebhookEvent
from django_textlink.webhooks import handlers, parsing, store
from django_textlink.webhooks.parsing import INT64_MAX, INT64_MIN, MAX_DEPTH
from tests.support.inline_tasks import run_tasks_inline
from tests.support.webhook_posts import Fired, recording_signals, texts_of, url

SECRET = "whsec-test-0123456789"  # TEXTLINK["WEBHOOK_SECRET"] in tests/settings.py
PHONE = "+12025550143"
KINDS = ("received", "sent", "failed", "tag")
BASE: dict[str, Any] = {"secret": SECRET, "phone_number": PHONE, "text": "hi"}

# -- helpers and fixtures -------------------------------------------------------------------------


def body_with(raw_fields: str, base: dict[str, Any] = BASE) -> bytes:
    """``base`` as JSON, with ``raw_fields`` (JSON text, so any literal) added at the end."""
    return (json.dumps(base)[:-1] + ", " + raw_fields + "}").encode()


def post(client: Client, kind: str, body: bytes) -> HttpResponse:
    """Post ``body``; an exception escaping the view (a 500) fails the test right here."""
    response = client.post(url(kind), data=body, content_type="application/json")
    assert response.status_code in (200, 400), (response.status_code, response.content[:300])
    return response


def answer(response: HttpResponse) -> dict[str, Any]:
    data = json.loads(response.content)
    assert isinstance(data, dict)
    return data


def nothing_stored() -> None:
    assert WebhookEvent.objects.count() == 0
    assert SMSMessage.objects.count() == 0
    assert Contact.objects.count() == 0


def assert_stored_or_nothing(response: HttpResponse) -> WebhookEvent | None:
    """A 200 names an event that is really stored (read back from the database); a 400
    stored nothing at all and says why."""
    data = answer(response)
    if response.status_code == 400:
        assert data["ok"] is False
        assert data["error"]
        nothing_stored()
        return None
    assert data["ok"] is True
    event = WebhookEvent.objects.get(pk=data["event"])  # a fresh read: the payload decodes
    assert event.state in (WebhookEvent.State.PROCESSED, WebhookEvent.State.FAILED)
    return event


def nested(shape: str, depth: int, leaf: str = "1") -> str:
    """JSON text of a value ``depth`` levels deep: arrays, objects, or both in turn."""
    opening = {"array": ["["], "object": ['{"a": '], "mixed": ["[", '{"a": ']}[shape]
    closing = {"[": "]", '{"a": ': "}"}
    levels = [opening[level % len(opening)] for level in range(depth)]
    return "".join(levels) + leaf + "".join(closing[level] for level in reversed(levels))


@pytest.fixture(autouse=True)
def _tasks_inline(settings: Any) -> None:
    run_tasks_inline(settings)


@pytest.fixture
def fired() -> Iterator[Fired]:
    with recording_signals("test-webhook-attacks") as recorder:
        yield recorder


def assert_no_secret(value: Any) -> None:
    texts = list(texts_of(value))
    assert not [text for text in texts if SECRET in text]
    keys = [text[4:] for text in texts if text.startswith("key:")]
    assert not [key for key in keys if key.casefold() == "secret"], keys


# -- nesting: any depth is 200 (stored) or 400 (nothing stored) -----------------------------------

DEPTHS = [1, 2, 10, MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, 50, 100, 200, 400, 500, 600,
          700, 800, 900, 950, 990, 999, 1000, 1001, 1100, 2000, 8000]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("shape", ["array", "object", "mixed"])
@pytest.mark.parametrize("depth", DEPTHS)
def test_a_deeply_nested_body_is_200_or_400_never_500(client, fired, shape, depth):
    body = body_with(f'"x": {nested(shape, depth)}')
    assert len(body) < 64 * 1024

    response = post(client, "received", body)

    event = assert_stored_or_nothing(response)
    if depth + 1 <= MAX_DEPTH:  # the body itself is one level more
        assert response.status_code == 200
        assert event is not None
        assert parsing.nesting_depth(event.payload) == depth + 1
        assert fired.kinds() == ["received"]
    else:
        assert response.status_code == 400
        assert fired.calls == []
        if depth <= 400:  # json itself copes: the depth limit refuses it, and says so
            assert "nested deeper" in answer(response)["error"]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("depth", [400, 600, 900])
@pytest.mark.parametrize("shape", ["array", "object"])
def test_every_webhook_refuses_a_deep_body_with_400(client, fired, kind, depth, shape):
    # Deep in an unknown field, and deep in a known one (then also of the wrong type).
    for field in ("x", "name"):
        response = post(client, kind, body_with(f'"{field}": {nested(shape, depth)}'))

        assert response.status_code == 400
        assert "nested deeper" in answer(response)["error"]
        nothing_stored()
    assert fired.calls == []


@pytest.mark.django_db
def test_a_deep_body_with_a_wrong_secret_is_still_no_500(client):
    body = body_with(f'"x": {nested("object", 900)}', {**BASE, "secret": "wrong"})
    response = client.post(url("received"), data=body, content_type="application/json")
    assert response.status_code in (400, 403)
    nothing_stored()


def test_the_depth_and_the_text_checks_do_not_recurse():
    deep: Any = "a"
    for _ in range(200_000):
        deep = [{"k": deep}]

    assert parsing.nesting_depth(deep) == 400_000
    assert parsing.nesting_depth(deep, limit=MAX_DEPTH) == MAX_DEPTH + 1
    assert parsing._clean_text(deep) is True
    assert parsing._clean_text([{"k": deep, "\ud800": 1}]) is False  # a lone surrogate key
    bad: Any = "a\x00b"
    for _ in range(200_000):
        bad = {"k": [bad]}
    assert parsing._clean_text(bad) is False


@pytest.mark.django_db
def test_a_payload_too_deep_to_encode_is_unstorable_not_a_recursion_error():
    deep: Any = 1
    for _ in range(100_000):
        deep = [deep]
    payload = {"phone_number": PHONE, "x": deep}

    with pytest.raises(store.UnstorableEvent):
        store.accept("received", payload)
    with pytest.raises(store.UnstorableEvent):
        store.store_event("received", payload)
    nothing_stored()


# -- numbers: any literal is 200 (stored) or 400 (nothing stored) ---------------------------------

HUGE = "9" * 5000
#: literal -> the number it is, None when no database can hold it (refused at parse time).
NUMBERS: dict[str, float | int | None] = {
    "1e400": None,
    "-1e400": None,
    "1E400": None,
    "1e999": None,
    "-1E+999": None,
    "123456789e-9999999999": 0.0,
    "1e308": 1e308,
    "-1.7976931348623157e308": -1.7976931348623157e308,
    "1e-400": 0.0,
    "-1e-400": -0.0,
    HUGE: None,
    "-" + HUGE: None,
    str(2**63): 2**63,
    str(2**64): 2**64,
    str(2**63 - 1): 2**63 - 1,
    str(-(2**63)): -(2**63),
    str(-(2**63) - 1): -(2**63) - 1,
}
#: Where the literal goes -> the kind that reads that field, None for every kind.
PLACES: dict[str, tuple[str, str | None]] = {
    "unknown": ('"x": {n}', None),
    "nested": ('"x": {{"y": [1, {{"z": [{n}]}}], "w": {n}}}', None),
    "textlink_id": ('"textlink_id": {n}', "failed"),
    "custom_id": ('"custom_id": {n}', "failed"),
    "sim_card_id": ('"sim_card_id": {n}', "received"),
    "subuser_id": ('"subuser_id": {n}', "tag"),
    "timestamp": ('"timestamp": {n}', "sent"),
}
INTEGER_FIELDS = ("textlink_id", "custom_id", "sim_card_id", "subuser_id")


def expected_status(place: str, number: float | int | None) -> int:
    if number is None:
        return 400
    if place in ("unknown", "nested"):
        return 200  # kept as it came: JSON can hold it
    if place in INTEGER_FIELDS and isinstance(number, float):
        return 400  # of the wrong type
    low = 0 if place == "sim_card_id" else INT64_MIN  # a PositiveBigIntegerField
    return 200 if low <= number <= INT64_MAX else 400


NUMBER_CASES = [
    pytest.param(literal, place, kind, id=f"{literal[:24]}-{place}-{kind}")
    for literal in NUMBERS
    for place, (_template, reader) in PLACES.items()
    for kind in ([reader] if reader else KINDS)
]


@pytest.mark.django_db
@pytest.mark.parametrize(("literal", "place", "kind"), NUMBER_CASES)
def test_any_number_anywhere_is_200_stored_or_400_never_500(client, literal, place, kind):
    number = NUMBERS[literal]
    template, _reader = PLACES[place]

    response = post(client, kind, body_with(template.format(n=literal)))

    event = assert_stored_or_nothing(response)
    assert response.status_code == expected_status(place, number), answer(response)
    if number is None:
        assert answer(response)["error"] == "The body contains a number out of range."
    elif event is not None:
        if place == "unknown":
            stored = event.payload["x"]
        elif place == "nested":
            stored = event.payload["x"]["w"]
            assert event.payload["x"]["y"][1]["z"] == [stored]
        else:
            stored = event.payload[place]
        # PostgreSQL's jsonb keeps a float as an exact decimal (1e308 comes back as an
        # integer of 309 digits): the same number, not the same type.
        assert (float(stored) if isinstance(number, float) else stored) == number
    elif place != "unknown":
        assert f"'{place}'" in answer(response)["error"]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_an_out_of_range_field_names_the_field(client, kind):
    for field in (*INTEGER_FIELDS, "timestamp"):
        response = post(client, kind, body_with(f'"{field}": {2**63}'))

        assert response.status_code == 400
        assert f"'{field}' is out of range" in answer(response)["error"]
        nothing_stored()


@pytest.mark.django_db
def test_a_64_bit_textlink_id_is_recorded_on_the_message(client):
    response = post(client, "failed", body_with(f'"textlink_id": {INT64_MAX}'))

    assert response.status_code == 200
    assert SMSMessage.objects.get().textlink_id == INT64_MAX
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED


# -- an event the database refuses is a 400, never a duplicate, never a 500 ----------------------


@pytest.fixture(params=["inline", "task"])
def processing(request: pytest.FixtureRequest, settings: Any) -> str:
    settings.TEXTLINK = {**settings.TEXTLINK, "WEBHOOK_PROCESSING": request.param}
    return str(request.param)


def _let_infinity_through(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo the parse-time refusal (as an overridden or older parser would): then only the
    database refuses the payload (SQLite's ``JSON_VALID`` check: an IntegrityError;
    PostgreSQL's ``json`` input: a DataError). Neither is a duplicate."""
    monkeypatch.setattr(parsing, "_parse_float", float)


def _assert_unstorable_answer(response: HttpResponse) -> None:
    assert response.status_code == 400
    data = answer(response)
    assert data["ok"] is False
    assert "event" not in data
    assert "duplicate" not in data
    nothing_stored()


@pytest.mark.django_db
@pytest.mark.parametrize("literal", ["1e400", "-1e400"])
def test_an_unstorable_event_that_gets_past_the_parser_is_a_400(
    client, monkeypatch, caplog, fired, processing, literal
):
    _let_infinity_through(monkeypatch)
    body = body_with(f'"x": [{literal}]')

    for _attempt in range(2):  # a second post is not taken for a duplicate of nothing
        response = post(client, "received", body)
        _assert_unstorable_answer(response)
    assert fired.calls == []
    assert "not stored" in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_an_unstorable_event_is_a_400_in_autocommit_mode_too(monkeypatch, processing):
    """Outside a transaction (no ATOMIC_REQUESTS, no test transaction) the failed INSERT
    runs on its own: it must not be taken for a duplicate either."""
    _let_infinity_through(monkeypatch)

    response = post(Client(), "failed", body_with('"x": 1e400'))

    _assert_unstorable_answer(response)
    # A storable event right after it is stored as usual.
    assert post(Client(), "failed", body_with('"x": 1e300')).status_code == 200
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
def test_store_event_and_accept_raise_unstorable_event_not_integrity_error(processing):
    payload = {"phone_number": PHONE, "x": math.inf}

    with pytest.raises(store.UnstorableEvent):
        store.store_event("received", payload)
    with pytest.raises(store.UnstorableEvent):
        store.accept("received", payload)
    nothing_stored()


@pytest.mark.django_db
@pytest.mark.parametrize("error", [IntegrityError, DataError])
def test_any_refusal_of_the_event_row_is_a_400_not_a_duplicate(
    client, monkeypatch, processing, error
):
    """Whatever constraint or value check refuses the event row (simulated here, so both
    errors are replayed on every database), it is no duplicate and no 500."""

    def refusing_save(obj: models.Model, *args: Any, **kwargs: Any) -> None:
        raise error("CHECK constraint failed: payload")

    monkeypatch.setattr(WebhookEvent, "save", refusing_save)

    for _attempt in range(2):
        _assert_unstorable_answer(post(client, "received", body_with('"x": 1')))


@pytest.mark.django_db
def test_a_handlers_integrity_error_is_a_failed_event_not_a_duplicate(client, monkeypatch):
    def handler(event: WebhookEvent) -> None:
        Contact.objects.create(phone_number=PHONE)
        raise IntegrityError("a constraint of the handler's own")

    monkeypatch.setitem(handlers.HANDLERS, "received", handler)
    body = body_with('"x": 1')

    first = post(client, "received", body)

    assert first.status_code == 200
    assert answer(first)["duplicate"] is False
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.FAILED
    assert "IntegrityError" in event.error
    assert Contact.objects.count() == 0  # rolled back with the handler
    # Posted again, it is a duplicate of the stored (failed) event.
    second = post(client, "received", body)
    assert (answer(second)["duplicate"], answer(second)["event"]) == (True, event.pk)
    assert WebhookEvent.objects.count() == 1


# -- duplicates: the same hostile-but-storable body twice is one event ----------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_the_same_edgy_body_twice_is_one_event(client, fired, kind):
    edgy = (
        f'"x": {nested("mixed", MAX_DEPTH - 1, leaf="1e308")}, "y": [1e-400, {2**63}, -0.0], '
        f'"textlink_id": {INT64_MAX}, "sim_card_id": 0, "Secret": "first"'
    )
    body = body_with(edgy)

    first = post(client, kind, body)
    second = post(client, kind, body)
    # The same payload, with other case variants of the secret: still the same event.
    third = post(client, kind, body_with(edgy.replace('"Secret": "first"', '"SECRET": "x"')))

    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert [answer(r)["duplicate"] for r in (first, second, third)] == [False, True, True]
    assert len({answer(r)["event"] for r in (first, second, third)}) == 1
    assert WebhookEvent.objects.count() == 1
    assert fired.kinds() == [kind]


# -- every case variant of the secret key is removed ----------------------------------------------

VARIANTS = ["Secret", "SECRET", "sEcReT", "secreT", "\u017fecret", "\u017fECRET", "SecreT"]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_a_case_variant_of_the_secret_is_never_stored_logged_or_signalled(
    client, fired, caplog, kind, variant
):
    assert variant.casefold() == "secret"
    caplog.set_level(logging.DEBUG)
    body = {**BASE, "tag": "Warm", variant: f"{SECRET}-as-{variant}"}

    response = post(client, kind, json.dumps(body).encode())

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.payload == {"phone_number": PHONE, "text": "hi", "tag": "Warm"}
    assert_no_secret(event)
    [(signalled, kwargs)] = fired.calls
    assert signalled == kind
    assert_no_secret(kwargs)
    assert_no_secret(kwargs["event"].payload)
    assert SECRET not in caplog.text
    assert SECRET not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_all_variants_at_once_are_removed(client, fired, kind):
    body = {**BASE, **dict.fromkeys(VARIANTS, SECRET)}

    assert post(client, kind, json.dumps(body).encode()).status_code == 200

    assert_no_secret(WebhookEvent.objects.get())
    assert_no_secret(fired.calls)


@pytest.mark.django_db
@pytest.mark.parametrize("variant", VARIANTS)
def test_only_the_exact_secret_key_authenticates(client, fired, variant):
    only_variant = {"phone_number": PHONE, "text": "hi", variant: SECRET}
    wrong_exact = {**only_variant, "secret": "wrong"}

    for body in (only_variant, wrong_exact):
        response = client.post(url("received"), data=body, content_type="application/json")
        assert response.status_code == 403
    nothing_stored()
    assert fired.calls == []


# -- any mix of the above -------------------------------------------------------------------------

names = st.sampled_from(["x", *INTEGER_FIELDS, "timestamp", "Secret", "\u017fecret", "SECRET"])
literals = st.sampled_from(sorted(NUMBERS)) | st.integers(-(2**70), 2**70).map(str)
leaves = literals | st.sampled_from(['"s"', "null", "true", "[]", "{}"])


@st.composite
def hostile_bodies(draw: st.DrawFn) -> bytes:
    fields = []
    for name in draw(st.lists(names, unique=True, max_size=4)):
        shape = draw(st.sampled_from(["array", "object", "mixed"]))
        depth = draw(st.integers(0, 1200) | st.integers(0, MAX_DEPTH + 1))
        fields.append(f'"{name}": {nested(shape, depth, draw(leaves))}')
    return body_with(", ".join(fields)) if fields else json.dumps(BASE).encode()


def replay_hostile_mixes(client: Client, *, max_examples: int) -> None:
    """Post ``hostile_bodies()`` to random webhooks, each in a savepoint rolled back after
    it (so examples are independent and shrink reliably)."""

    @hypothesis_settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(kind=st.sampled_from(KINDS), body=hostile_bodies())
    def check(kind: str, body: bytes) -> None:
        with transaction.atomic():
            response = post(client, kind, body)
            event = assert_stored_or_nothing(response)
            if event is not None:
                assert_no_secret(event)
                assert parsing.nesting_depth(event.payload) <= MAX_DEPTH
            transaction.set_rollback(True)

    check()


@pytest.mark.django_db
def test_hostile_mixes_are_200_stored_or_400_stored_nothing(client, locmem_backend):
    replay_hostile_mixes(client, max_examples=120)


@pytest.fixture
def locmem_backend(settings: Any) -> None:
    """No TextLink HTTP in the mixes (a tag webhook never pushes, but be sure)."""
    settings.TEXTLINK = {
        **settings.TEXTLINK,
        "BACKEND": "django_textlink.backends.locmem.LocMemBackend",
    }
