"""What the verification flow keeps in the limit store (:mod:`.store`), besides the
limits' counters: which number has a live code (and its id, which the wrong-code
counter is kept under) and that a code SMS was just sent to a number. Every key carries a
keyed hash of the number, never the number itself.
"""

from __future__ import annotations

import secrets

from django.utils.crypto import salted_hmac

from django_textlink.conf import conf
from django_textlink.verification.clock import now
from django_textlink.verification.store import Store, get_store

HOUR = 3600
DAY = 24 * HOUR
KEY_PREFIX = "textlink:v1"


def store() -> Store:
    return get_store()


def hashed(value: str) -> str:
    """Store keys carry a keyed hash, never the phone number, IP or token itself."""
    # The salt keeps its first module's name: a new one would orphan every stored key.
    return salted_hmac("django_textlink.ratelimit", value, algorithm="sha256").hexdigest()[:32]


def key(kind: str, value: str) -> str:
    return f"{KEY_PREFIX}:{kind}:{hashed(value)}"


# -- verification SMS seen again in TextLink's sent/failed webhooks ----------------------------


def new_issue(phone_number: str, lifetime: int) -> None:
    """Mark the number as having a live code, under a fresh id (its wrong-code counter)."""
    store().set(key("issue", phone_number), secrets.token_hex(8), now() + lifetime)


def mark_code_sent(phone_number: str) -> None:
    """Remember (not the code: only the fact) that a code SMS is going to this number, so
    the sent/failed webhooks TextLink fires for it can be told apart from our messages.
    Written in the limit store before the call to TextLink."""
    store().set(key("code-sent", phone_number), "1", now() + conf.CODE_LIFETIME + HOUR)


def code_recently_sent(phone_number: str) -> bool:
    return store().get(key("code-sent", phone_number)) is not None
