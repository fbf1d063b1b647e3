"""The messaging API under its first documented path: ``django_textlink.sending`` names
what :mod:`django_textlink.messaging` does (``from django_textlink.sending import
create_broadcast`` keeps working). New code can import from either."""

from __future__ import annotations

from django_textlink import messaging as _messaging
from django_textlink.messaging import *  # noqa: F403 - the same public names

__all__ = _messaging.__all__
