"""One attacking process for tests/security/test_processes.py.

``python -m tests.support.limit_worker JOB.json`` reads a JSON job from that file::

    {"database": {...settings.DATABASES["default"] of the test...},
     "textlink": {...extra TEXTLINK options...},
     "ready_dir": <a folder where each worker says it is ready>, "workers": <how many>,
     "calls": [["start", phone, ip], ["check", phone, code, ip], ["webhook", kind, payload]]}

and prints one JSON line: what happened to each call (``"sent"``, ``"checked"``, the name
of the limit that refused it, or ``"stored"`` with the stored text for a webhook) and how
many times the backend was asked to verify a code. It runs the real package on the
test's own database (a file SQLite database or PostgreSQL), with the locmem backend.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as job_file:
        job = json.load(job_file)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django
    from django.conf import settings

    from tests import settings as test_settings

    options = {name: getattr(test_settings, name) for name in dir(test_settings) if name.isupper()}
    options["DATABASES"] = {"default": job["database"]}
    options["TEXTLINK"] = {
        **test_settings.TEXTLINK,
        "BACKEND": "tests.support.limit_worker.CountingBackend",
        **job.get("textlink", {}),
    }
    settings.configure(**options)
    django.setup()

    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    from django_textlink.models import WebhookEvent
    from django_textlink.verification import LimitExceeded, PhoneVerification
    from django_textlink.webhooks import store

    def request(ip: str) -> Any:
        req = RequestFactory().post("/api/textlink/verify/send/", REMOTE_ADDR=ip)
        req.user = AnonymousUser()
        return req

    # Ready, then wait for every other worker: all start at the same moment.
    ready = Path(job["ready_dir"])
    (ready / f"{os.getpid()}").touch()
    deadline = time.monotonic() + 60
    while len(list(ready.iterdir())) < job["workers"] and time.monotonic() < deadline:
        time.sleep(0.005)
    outcomes: list[Any] = []
    for call in job["calls"]:
        try:
            if call[0] == "start":
                PhoneVerification(request(call[2])).start(call[1])
                outcomes.append("sent")
            elif call[0] == "check":
                PhoneVerification(request(call[3])).check(call[1], call[2])
                outcomes.append("checked")
            else:
                event, _created = store.accept(call[1], call[2])
                stored = WebhookEvent.objects.get(pk=event.pk)
                outcomes.append(["stored", stored.payload.get("text")])
        except LimitExceeded as err:
            outcomes.append(err.limit)
    # The backend was loaded by its dotted path: that module, not this __main__.
    from tests.support.limit_worker import CountingBackend as Loaded

    print(json.dumps({"outcomes": outcomes, "verify_calls": Loaded.verify_calls}))


from django_textlink.backends.locmem import LocMemBackend  # noqa: E402


class CountingBackend(LocMemBackend):
    """The locmem backend, counting the codes it was asked to verify in this process."""

    verify_calls = 0

    def verify_code(self, phone_number: str, code: str) -> Any:
        type(self).verify_calls += 1
        return super().verify_code(phone_number, code)


if __name__ == "__main__":
    main()
