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
"""

from __future__ import annotations

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
from django_textlink.sandbox.state import Message, SandboxError, SandboxState
from django_textlink.sandbox.webhooks import WebhookOutcome

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_PORT",
    "Answer",
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
