"""An offline TextLink sandbox: a local stand-in for TextLink, like Mailpit for e-mail.

Run it beside your site (``python -m django_textlink.sandbox`` or ``manage.py
textlink_sandbox``), or start one per test::

    from django_textlink.sandbox import run_sandbox

    with run_sandbox() as sandbox:
        client = TextLinkClient(api_key=sandbox.api_key, base_url=sandbox.base_url)
        code = client.send_code("+12025550143").code
        assert sandbox.last_code("+12025550143") == code

It needs only the standard library and ``requests``: importing it never touches Django
settings. See ``docs/sandbox.md``.

The names below are imported on first use: the console and locmem backends import
:mod:`django_textlink.sandbox.codes` (the code model they share with the sandbox)
without loading the HTTP server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Each public name, and the submodule it lives in.
_EXPORTS = {
    "DEFAULT_API_KEY": "config",
    "DEFAULT_PORT": "config",
    "Answer": "config",
    "Faults": "config",
    "SandboxConfig": "config",
    "parse_answer": "config",
    "parse_fault": "config",
    "RunningSandbox": "control",
    "SandboxClient": "control",
    "run_sandbox": "control",
    "SandboxServer": "server",
    "make_config": "server",
    "serve": "server",
    "serving": "server",
    "Call": "state",
    "Message": "state",
    "SandboxError": "state",
    "SandboxState": "state",
    "WebhookOutcome": "webhooks",
}

if TYPE_CHECKING:
    from django_textlink.sandbox.config import (
        DEFAULT_API_KEY,
        DEFAULT_PORT,
        Answer,
        Faults,
        SandboxConfig,
        parse_answer,
        parse_fault,
    )
    from django_textlink.sandbox.control import RunningSandbox, SandboxClient, run_sandbox
    from django_textlink.sandbox.server import SandboxServer, make_config, serve, serving
    from django_textlink.sandbox.state import Call, Message, SandboxError, SandboxState
    from django_textlink.sandbox.webhooks import WebhookOutcome
else:

    def __getattr__(name: str) -> Any:
        """Import a public name (or a submodule) the first time it is asked for."""
        module = _EXPORTS.get(name)
        if module is None:
            try:
                return importlib.import_module(f"{__name__}.{name}")
            except ModuleNotFoundError as err:
                if err.name != f"{__name__}.{name}":
                    raise
                raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_PORT",
    "Answer",
    "Call",
    "Faults",
    "Message",
    "RunningSandbox",
    "SandboxClient",
    "SandboxConfig",
    "SandboxError",
    "SandboxServer",
    "SandboxState",
    "WebhookOutcome",
    "make_config",
    "parse_answer",
    "parse_fault",
    "run_sandbox",
    "serve",
    "serving",
]
