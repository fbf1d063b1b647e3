"""``manage.py textlink_send``: send one SMS, or one text to every number of a CSV file.

::

    manage.py textlink_send --to +12025550143 --text "Hi"
    manage.py textlink_send --csv numbers.csv [--column phone_number] --text "Hi" [--enqueue]

One message is sent at once and its outcome printed; the exit status is 1 when it failed.

A CSV file becomes a bulk send (a :class:`~django_textlink.models.Broadcast`). The file is
read as a stream, one row at a time: the column named ``--column`` (default
``phone_number``) when the first row is a header naming it, else the first column of
every row. Invalid numbers, duplicates and contacts who opted out are skipped and
counted. Then either

* the messages are sent here, chunk by chunk, with a progress line (the default), or
* ``--enqueue``: the chunks go to the task backend (``settings.TASKS``) and a worker sends
  them (e.g. ``manage.py db_worker`` with django-tasks-db).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import NoReverseMatch, reverse

from django_textlink import messaging
from django_textlink.conf import conf
from django_textlink.exceptions import TextLinkError
from django_textlink.models import Broadcast, SMSMessage

DEFAULT_COLUMN = "phone_number"
BAR_WIDTH = 30

Status = SMSMessage.Status


class CSVNumbers:
    """The phone numbers of one column of a CSV file, read lazily, one row at a time.

    The first row is a header when one of its cells is ``column`` (ignoring case and
    spaces); otherwise the numbers are the first column, the first row included, unless
    ``required`` (an explicit ``--column``), which makes a missing column an error.
    """

    def __init__(self, stream: TextIO, column: str, *, required: bool) -> None:
        self.reader = csv.reader(stream)
        self.rows = 0
        try:
            first = next(self.reader)
        except StopIteration:
            raise CommandError("The CSV file is empty.") from None
        names = [cell.strip().lower() for cell in first]
        wanted = column.strip().lower()
        self.first_row: list[str] | None
        if wanted in names:
            self.index, self.first_row = names.index(wanted), None
        elif required:
            shown = ", ".join(repr(cell) for cell in first) or "(empty)"
            raise CommandError(
                f"The CSV file has no column {column!r}: its first row is {shown}. "
                "Name the column with --column, or leave --column out to use the first column."
            )
        else:
            self.index, self.first_row = 0, first

    def __iter__(self) -> Iterator[str]:
        if self.first_row is not None:
            self.rows += 1
            yield self._cell(self.first_row)
        for row in self.reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines
            self.rows += 1
            yield self._cell(row)

    def _cell(self, row: list[str]) -> str:
        return row[self.index] if self.index < len(row) else ""


class Command(BaseCommand):
    help = "Send one SMS (--to), or one text to every number of a CSV file (--csv)."

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--to", metavar="PHONE", help="Send one SMS to this number.")
        target.add_argument("--csv", metavar="FILE", help="Send to every number in this file.")
        parser.add_argument("--text", required=True, help="The text to send.")
        parser.add_argument(
            "--column",
            help=f"The CSV column that holds the numbers (default: {DEFAULT_COLUMN!r} when the "
            "header has it, else the first column).",
        )
        parser.add_argument("--sim-card-id", type=int, help="Send from this SIM card.")
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="With --csv: hand the bulk send to the task backend (a worker sends it) "
            "instead of sending it from this process.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        text: str = options["text"]
        if not text.strip():
            raise CommandError("--text must not be empty.")
        if len(text) > messaging.MAX_TEXT_LENGTH:
            raise CommandError(f"--text is longer than {messaging.MAX_TEXT_LENGTH} characters.")
        sim_card_id: int | None = options["sim_card_id"]
        if sim_card_id is not None and sim_card_id < 0:
            raise CommandError("--sim-card-id must be 0 or more.")
        if options["to"] is not None:
            if options["column"] is not None or options["enqueue"]:
                raise CommandError("--column and --enqueue only apply to --csv.")
            self.send_one(options["to"], text, sim_card_id)
        else:
            self.send_csv(
                Path(options["csv"]),
                text,
                column=options["column"],
                sim_card_id=sim_card_id,
                enqueue=options["enqueue"],
            )

    # -- one message ----------------------------------------------------------------------

    def send_one(self, phone_number: str, text: str, sim_card_id: int | None) -> None:
        try:
            message = messaging.send_sms(phone_number, text, sim_card_id=sim_card_id)
        except TextLinkError as err:
            row: SMSMessage | None = getattr(err, "sms_message", None)
            if row is None:  # e.g. a configuration error: nothing was stored
                raise CommandError(f"Not sent: {err}") from err
            raise CommandError(
                f"SMS #{row.pk} to {row.phone_number} {row.status}: {err}"
                + (
                    " (TextLink may have accepted it: check before sending it again)"
                    if row.status == Status.UNKNOWN
                    else ""
                )
            ) from err
        except ValueError as err:  # an invalid number, refused input
            raise CommandError(f"Not sent: {err}") from err
        note = " (queued by TextLink until a SIM is free)" if message.queued_by_textlink else ""
        self.stdout.write(
            self.style.SUCCESS(f"SMS #{message.pk} to {message.phone_number} sent{note}.")
        )

    # -- a CSV file -----------------------------------------------------------------------

    def send_csv(
        self,
        path: Path,
        text: str,
        *,
        column: str | None,
        sim_card_id: int | None,
        enqueue: bool,
    ) -> None:
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            with path.open(newline="", encoding="utf-8-sig") as stream:
                numbers = CSVNumbers(stream, column or DEFAULT_COLUMN, required=column is not None)
                broadcast = messaging.create_broadcast(
                    numbers, text, sim_card_id=sim_card_id, enqueue=False
                )
        except UnicodeDecodeError as err:
            raise CommandError(f"{path} is not UTF-8 text: {err}") from err
        except csv.Error as err:
            raise CommandError(f"{path} is not a readable CSV file: {err}") from err
        except OSError as err:
            raise CommandError(f"Cannot read {path}: {err}") from err

        self.report_stored(broadcast, numbers.rows)
        if not broadcast.recipients:
            raise CommandError(f"Nothing to send: no row of {path} is a number to send to.")
        if enqueue:
            # What create_broadcast(enqueue=True) does after its commit, here so that a task
            # backend that fails (a broker that is down) gets a clear message.
            try:
                chunks = messaging.enqueue_broadcast(broadcast.pk)
            except Exception as err:
                raise CommandError(
                    f"Bulk send #{broadcast.pk} is stored, but the task backend "
                    f"{conf.TASK_BACKEND!r} refused it: {err!r}. When it works again: "
                    f"manage.py textlink_resume {broadcast.pk}"
                ) from err
            self.report_enqueued(broadcast, chunks)
        else:
            self.send_here(broadcast)

    def report_stored(self, broadcast: Broadcast, rows: int) -> None:
        self.stdout.write(
            f"Bulk send #{broadcast.pk}: {broadcast.recipients} recipients from {rows} rows; "
            f"skipped {broadcast.skipped_invalid} invalid, {broadcast.skipped_duplicates} "
            f"duplicates, {broadcast.skipped_opted_out} opted out."
        )
        for item in broadcast.invalid_numbers[:10]:
            self.stdout.write(f"  invalid: {item['value']!r}: {item['reason']}")
        if broadcast.skipped_invalid > 10:
            self.stdout.write(f"  ... and {broadcast.skipped_invalid - 10} more invalid.")

    def send_here(self, broadcast: Broadcast) -> None:
        total = broadcast.recipients
        done: dict[str, int] = {Status.SENT: 0, Status.FAILED: 0, Status.UNKNOWN: 0}
        # Smaller ranges than a background task's, so that the progress line moves.
        step = min(conf.BULK_CHUNK_SIZE, max(conf.BULK_CONCURRENCY * 2, 100))
        self.progress(done, total)
        try:
            for first_pk, last_pk in messaging.chunk_ranges(broadcast.pk, chunk_size=step):
                totals = messaging.run_chunk(broadcast.pk, first_pk, last_pk)
                for status in done:
                    done[status] += totals.get(status, 0)
                self.progress(done, total)
        except KeyboardInterrupt:
            self.stdout.write("")
            raise CommandError(
                f"Interrupted. Finish bulk send #{broadcast.pk} with: "
                f"manage.py textlink_resume {broadcast.pk}"
            ) from None
        self.stdout.write("")
        self.report_finished(broadcast)

    def progress(self, done: dict[str, int], total: int) -> None:
        finished = sum(done.values())
        filled = math.floor(BAR_WIDTH * finished / total) if total else BAR_WIDTH
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        line = f"\r[{bar}] {finished}/{total} sent, {done[Status.FAILED]} failed"
        if done[Status.UNKNOWN]:
            line += f", {done[Status.UNKNOWN]} unknown"
        self.stdout.write(line, ending="")
        self.stdout.flush()

    def report_finished(self, broadcast: Broadcast) -> None:
        counts = broadcast.progress()
        sent, failed, unknown = counts[Status.SENT], counts[Status.FAILED], counts[Status.UNKNOWN]
        pending = counts[Status.QUEUED] + counts[Status.SENDING]
        summary = f"Bulk send #{broadcast.pk}: {sent} sent, {failed} failed, {unknown} unknown"
        if pending:
            summary += f", {pending} still pending"
        if failed or unknown or pending:
            raise CommandError(
                f"{summary}. {self.where(broadcast)}"
                + (" Unknown ones may have reached the phone." if unknown else "")
            )
        self.stdout.write(self.style.SUCCESS(f"{summary}."))

    def report_enqueued(self, broadcast: Broadcast, chunks: int) -> None:
        broadcast.refresh_from_db()
        if broadcast.finished_at is not None:  # an immediate backend ran the chunks inline
            self.stdout.write(f"The task backend {conf.TASK_BACKEND!r} ran the chunks at once.")
            self.report_finished(broadcast)
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Bulk send #{broadcast.pk} enqueued on task backend {conf.TASK_BACKEND!r} "
                f"({chunks} tasks): a worker sends it, e.g. `manage.py db_worker` with "
                "django-tasks-db."
            )
        )
        self.stdout.write(self.where(broadcast))
        self.stdout.write(
            f"If a worker dies mid-send: manage.py textlink_resume {broadcast.pk} "
            "(messages it had claimed become 'unknown', the rest is enqueued again)."
        )

    def where(self, broadcast: Broadcast) -> str:
        try:
            url = reverse("admin:django_textlink_broadcast_change", args=[broadcast.pk])
        except NoReverseMatch:
            return (
                'Watch it: manage.py shell -c "from django_textlink.models import Broadcast; '
                f'print(Broadcast.objects.get(pk={broadcast.pk}).progress())"'
            )
        return f"Watch it in the admin: {url}"
