"""``manage.py demo_setup``: the demo's admin user and contacts (``make demo`` runs it).

Idempotent: run it again and the ``admin`` user gets the demo password back (and is an
active superuser again), and the three demo contacts get their names, the ``demo`` tag
and their opt-in back, whatever happened to them meanwhile. Nothing is pushed to TextLink.

This sets a known password: it is for the demo's own database only (``example_project/
demo.py`` points it at ``demo.sqlite3``), never for a database that matters.
"""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from django_textlink.models import Contact

DEFAULT_USERNAME = "admin"
DEFAULT_PASSWORD = "textlink-demo"
DEMO_TAG = "demo"
#: Reserved-for-fiction numbers (555-01xx), never a real subscriber.
DEMO_CONTACTS = [
    ("+12025550101", "Ada Lovelace"),
    ("+12025550102", "Grace Hopper"),
    ("+12025550103", "Alan Turing"),
]


class Command(BaseCommand):
    help = "Create or reset the demo superuser and the three demo contacts (demo databases only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default=DEFAULT_USERNAME)
        parser.add_argument(
            "--password",
            default=os.environ.get("DEMO_ADMIN_PASSWORD") or DEFAULT_PASSWORD,
            help="default: $DEMO_ADMIN_PASSWORD, else %(default)r",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username, password = options["username"], options["password"]
        User = get_user_model()
        with transaction.atomic():
            user, created = User.objects.get_or_create(username=username)
            user.is_active = user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
            for phone_number, name in DEMO_CONTACTS:
                Contact.objects.update_or_create(
                    phone_number=phone_number,
                    defaults={
                        "name": name,
                        "tag": DEMO_TAG,
                        "tag_sync_state": Contact.TagSync.SYNCED,
                        "tag_sync_error": "",
                        "opted_out": False,
                        "opted_out_at": None,
                    },
                )
        verb = "Created" if created else "Reset"
        self.stdout.write(f"{verb} the demo superuser {username!r} (password {password!r}).")
        numbers = ", ".join(f"{name} {phone}" for phone, name in DEMO_CONTACTS)
        self.stdout.write(f"Demo contacts (tag {DEMO_TAG!r}): {numbers}.")
