"""Every import path a user relies on keeps working, whatever the package's layout.

Two sources: the paths the package promises (``PROMISED``: the public surface that
``../shared/contract.md`` and the README name), and every ``django_textlink.<dotted>`` name
and ``from django_textlink... import ...`` statement written in README.md and docs/*.md,
found by reading them, so a name documented tomorrow is checked too.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest

from tests.support.paths import ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: The public surface (module, or module + attribute), as users import it.
PROMISED = [
    "django_textlink.send_sms",
    "django_textlink.outbox",
    "django_textlink.__version__",
    "django_textlink.client.TextLinkClient",
    "django_textlink.results.SendResult",
    "django_textlink.results.VerifyResult",
    "django_textlink.verification.PhoneVerification",
    "django_textlink.verification.LimitExceeded",
    "django_textlink.verification.VerificationError",
    "django_textlink.verification.InvalidToken",
    "django_textlink.verification.redeem_token",
    "django_textlink.models.SMSMessage",
    "django_textlink.models.Contact",
    "django_textlink.models.Broadcast",
    "django_textlink.models.WebhookEvent",
    "django_textlink.models.VerifiedPhoneNumber",
    "django_textlink.models.is_phone_verified",
    "django_textlink.signals.phone_verified",
    "django_textlink.signals.sms_received",
    "django_textlink.signals.sms_sent",
    "django_textlink.signals.sms_failed",
    "django_textlink.signals.contact_tag_changed",
    "django_textlink.exceptions.TextLinkError",
    "django_textlink.exceptions.TextLinkAPIError",
    "django_textlink.exceptions.TextLinkConfigurationError",
    "django_textlink.backends.get_backend",
    "django_textlink.backends.BaseBackend",
    "django_textlink.backends.textlink.TextLinkBackend",
    "django_textlink.backends.console.ConsoleBackend",
    "django_textlink.backends.locmem.LocMemBackend",
    "django_textlink.backends.locmem.tag_updates",
    "django_textlink.urls.urlpatterns",
    "django_textlink.api.urls.urlpatterns",
    "django_textlink.forms.VerifiedPhoneFormMixin",
    "django_textlink.forms.PhoneNumberField",
    "django_textlink.testing.TextLinkTestMixin",
    "django_textlink.pytest_plugin.textlink_locmem",
    "django_textlink.pytest_plugin.textlink_outbox",
    "django_textlink.admin.send_sms_action",
    "django_textlink.sending.create_broadcast",
    "django_textlink.sending.requeue",
    "django_textlink.contacts.set_tag",
    "django_textlink.webhooks.WebhookView",
    "django_textlink.phone.normalize_phone",
    "django_textlink.phone.InvalidPhoneNumber",
    "django_textlink.encoding.analyze",
    "django_textlink.sandbox.run_sandbox",
    "django_textlink.sandbox.SandboxError",
    # Queued tasks name these dotted paths: a worker must find the Task objects there.
    "django_textlink.tasks.send_broadcast_chunk",
    "django_textlink.tasks.send_messages",
    "django_textlink.tasks.push_contact_tag",
    "django_textlink.tasks.process_webhook_event",
]

#: Dotted names the documents write that are not import paths.
NOT_IMPORTS = {
    "django_textlink.add_broadcast",  # a permission ("app_label.codename")
}

DOTTED = re.compile(r"\bdjango_textlink(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
FROM_IMPORT = re.compile(r"from (django_textlink(?:\.[a-z_]+)*) import \(?([A-Za-z_, ]+)\)?")


def resolve(dotted: str) -> Any:
    """Import the longest module prefix of ``dotted``, then get the rest as attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as err:
            if err.name is None or not ".".join(parts[:cut]).startswith(err.name):
                raise  # a module that exists but fails to import: a real failure
            continue
        for attribute in parts[cut:]:
            target = getattr(target, attribute)
        return target
    raise ModuleNotFoundError(dotted)


def documented_names() -> list[str]:
    names: set[str] = set()
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        names.update(match.rstrip(".") for match in DOTTED.findall(text))
        for module, imported in FROM_IMPORT.findall(text):
            names.update(f"{module}.{name.strip()}" for name in imported.split(",") if name.strip())
    return sorted(names - NOT_IMPORTS)


@pytest.mark.parametrize("dotted", PROMISED)
def test_a_promised_path_imports(dotted):
    assert resolve(dotted) is not None


@pytest.mark.parametrize("dotted", documented_names())
def test_every_name_the_documents_write_imports(dotted):
    assert resolve(dotted) is not None


def test_the_documents_are_read():
    """The scan above finds the documented names (so it cannot pass by finding none)."""
    names = documented_names()
    assert "django_textlink.client.TextLinkClient" in names
    assert "django_textlink.sending.create_broadcast" in names
    assert len(names) > 20


def test_the_queued_task_paths_point_at_the_task_objects():
    """A worker imports ``Task.module_path``: it must lead back to the same Task."""
    from django_textlink import tasks

    assert tasks.tasks_available(), "the test extras install a tasks framework"
    for name in (
        "send_broadcast_chunk",
        "send_messages",
        "push_contact_tag",
        "process_webhook_event",
    ):
        task = getattr(tasks, name)
        assert task.module_path == f"django_textlink.tasks.{name}"
        assert resolve(task.module_path) is task


def test_the_plugin_is_registered_for_pytest():
    from importlib.metadata import entry_points

    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("django_textlink") == "django_textlink.pytest_plugin"
