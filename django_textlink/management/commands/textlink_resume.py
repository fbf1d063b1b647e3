"""``manage.py textlink_resume [BROADCAST_ID ...] [--stale-after SECONDS]``.

Recovers bulk sends after a worker died (or ``textlink_send`` was interrupted): for each
given bulk send (default: every unfinished one), messages left ``sending`` for longer
than ``--stale-after`` seconds (default ``TEXTLINK["CLAIM_TIMEOUT"]``) become ``unknown``
(they may have been sent, so they are never re-sent automatically), and the messages
still queued are handed to the task backend again (see
:func:`django_textlink.messaging.resume_broadcast`).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_textlink import messaging
from django_textlink.conf import conf
from django_textlink.models import Broadcast, SMSMessage

Status = SMSMessage.Status


class Command(BaseCommand):
    help = "Resume unfinished bulk sends after a worker stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "broadcast_ids",
            nargs="*",
            type=int,
            metavar="BROADCAST_ID",
            help="The bulk sends to resume (default: every unfinished one).",
        )
        parser.add_argument(
            "--stale-after",
            type=int,
            metavar="SECONDS",
            help="Messages claimed by a worker longer ago than this are taken for abandoned "
            "and marked unknown (default: TEXTLINK['CLAIM_TIMEOUT']). Use 0 only when you "
            "know no worker is running.",
        )

    def handle(self, *args: Any, broadcast_ids: list[int], **options: Any) -> None:
        stale_after: int | None = options["stale_after"]
        if stale_after is not None and stale_after < 0:
            raise CommandError("--stale-after must be 0 or more seconds.")
        if broadcast_ids:
            found = Broadcast.objects.in_bulk(broadcast_ids)
            missing = sorted(set(broadcast_ids) - set(found))
            if missing:
                raise CommandError(
                    "No bulk send with id " + ", ".join(str(pk) for pk in missing) + "."
                )
            broadcasts = [found[pk] for pk in dict.fromkeys(broadcast_ids)]
        else:
            broadcasts = list(Broadcast.objects.filter(finished_at__isnull=True).order_by("pk"))
            if not broadcasts:
                self.stdout.write("No unfinished bulk sends.")
                return
        wait = conf.CLAIM_TIMEOUT if stale_after is None else stale_after
        for broadcast in broadcasts:
            result = messaging.resume_broadcast(broadcast, stale_after=stale_after)
            counts = broadcast.progress()
            line = (
                f"Bulk send #{broadcast.pk}: marked {result['marked_unknown']} unknown, "
                f"enqueued {result['chunks']} chunks. Now {counts[Status.SENT]} sent, "
                f"{counts[Status.FAILED]} failed, {counts[Status.UNKNOWN]} unknown, "
                f"{counts[Status.QUEUED]} queued, {counts[Status.SENDING]} sending."
            )
            self.stdout.write(line)
            if counts[Status.SENDING]:
                self.stdout.write(
                    f"  {counts[Status.SENDING]} were claimed less than {wait} s ago: a worker "
                    "may still be sending them (see --stale-after)."
                )
