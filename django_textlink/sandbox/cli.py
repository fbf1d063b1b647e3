"""``python -m django_textlink.sandbox``: the command line (no Django needed).

``manage.py textlink_sandbox`` uses the same options through :func:`add_arguments`,
with its defaults read from the site's settings.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

from django_textlink.sandbox.config import (
    DEFAULT_API_KEY,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_SITE_URL,
    DEFAULT_WEBHOOK_TIMEOUT,
    Faults,
    SandboxConfig,
    check_rate,
    check_seconds,
    parse_fault,
)

DESCRIPTION = (
    "An offline stand-in for TextLink (textlinksms.com), like Mailpit for e-mail: TextLink's "
    "four API endpoints, a web inbox of every message and code, buttons that fire TextLink's "
    "webhooks at your site, and fault injection for integration tests."
)
EPILOG = """\
examples:
  %(prog)s --site-url http://127.0.0.1:8000 --webhook-secret whsec-dev
  %(prog)s --latency 0.3 --error-rate 0.1 --fault +12025550143=500
  %(prog)s --fault '+12025550143=json:{"ok": false, "message": "Invalid phone number"}'

then point the site at it: TEXTLINK["BASE_URL"] = "http://127.0.0.1:8025/api" and
TEXTLINK["API_KEY"] = the --api-key. The control API (GET /_sandbox/messages?phone=...,
POST /_sandbox/faults, POST /_sandbox/reset, ...) is described in docs/sandbox.md.
"""


def _fault(value: str) -> tuple[str, Any]:
    try:
        return parse_fault(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _rate(value: str) -> float:
    try:
        return check_rate(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _seconds(value: str) -> float:
    try:
        return check_seconds(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("a port is a number from 0 (any free port) to 65535")
    return port


def add_arguments(
    parser: argparse.ArgumentParser,
    *,
    defaults: Mapping[str, Any] | None = None,
    verbose_flag: bool = True,
) -> None:
    """The sandbox's options. ``defaults`` overrides the built-in defaults (the
    management command passes the site's API key and webhook secret)."""
    given = dict(defaults or {})

    def default(name: str, fallback: Any) -> Any:
        return given.get(name, fallback)

    where = parser.add_argument_group("where it listens")
    where.add_argument(
        "--host",
        default=default("host", DEFAULT_HOST),
        help="address to listen on (default %(default)s: this machine only)",
    )
    where.add_argument(
        "--port",
        type=_port,
        default=default("port", DEFAULT_PORT),
        help="port (default %(default)s; 0 picks a free one)",
    )
    where.add_argument(
        "--api-key",
        default=default("api_key", DEFAULT_API_KEY),
        help='the only API key accepted (Bearer); default "sandbox-key"',
    )
    hooks = parser.add_argument_group("webhooks to your site")
    hooks.add_argument(
        "--site-url",
        default=default("site_url", DEFAULT_SITE_URL),
        help="your site: webhooks go to <site-url>/textlink/webhooks/<kind>/ "
        "(default: %(default)s)",
    )
    hooks.add_argument(
        "--webhook-base",
        default=default("webhook_base", None),
        help="another prefix for the webhook URLs: <webhook-base>/<kind>/ "
        "(e.g. http://127.0.0.1:8000/sms/hooks)",
    )
    hooks.add_argument(
        "--webhook-secret",
        default=default("webhook_secret", None),
        help='the "secret" put in every webhook body (your TEXTLINK["WEBHOOK_SECRET"])',
    )
    hooks.add_argument(
        "--webhook-timeout",
        type=_seconds,
        default=default("webhook_timeout", DEFAULT_WEBHOOK_TIMEOUT),
        help="seconds to wait for the site's answer (default %(default)s)",
    )
    hooks.add_argument(
        "--auto-webhooks",
        action="store_true",
        default=default("auto_webhooks", False),
        help="also fire the webhooks TextLink fires by itself: sent after every accepted "
        "send-sms/send-code, tag after every update-contect-tag",
    )
    faults = parser.add_argument_group("fault injection (also at runtime: POST /_sandbox/faults)")
    faults.add_argument(
        "--latency",
        type=_seconds,
        default=default("latency", 0.0),
        help="seconds to wait before every API answer",
    )
    faults.add_argument(
        "--error-rate",
        type=_rate,
        default=default("error_rate", 0.0),
        help="fraction (0-1) of API calls answered HTTP 500",
    )
    faults.add_argument(
        "--queued-rate",
        type=_rate,
        default=default("queued_rate", 0.0),
        help='fraction (0-1) of send-sms answered {"ok": true, "queued": true}',
    )
    faults.add_argument(
        "--fault",
        type=_fault,
        action="append",
        metavar="[ENDPOINT:]PHONE=ANSWER",
        help="a fixed answer for one number (repeatable): +12025550143=500, "
        "+1...=json:{...}, +1...=400:json:{...}, +1...=text:..., +1...=drop, "
        '+1...={"status": 429, "body": {...}, "headers": {"Retry-After": "30"}}; '
        "send-code:+1...=... for one endpoint only",
    )
    faults.add_argument(
        "--seed",
        type=int,
        default=default("seed", None),
        help="seed the randomness (error/queued rates and codes) for reproducible runs; "
        "codes are then predictable",
    )
    other = parser.add_argument_group("inbox and logs")
    other.add_argument(
        "--refresh",
        type=int,
        default=default("refresh", 0),
        metavar="SECONDS",
        help="auto-refresh the inbox every SECONDS by default (0: off; it has a toggle)",
    )
    if verbose_flag:
        other.add_argument(
            "-v", "--verbose", action="store_true", help="log every request to stderr"
        )


def config_from_options(options: Mapping[str, Any]) -> SandboxConfig:
    """A :class:`SandboxConfig` from parsed options (``argparse`` or Django's)."""
    faults = Faults(
        latency=options["latency"],
        error_rate=options["error_rate"],
        queued_rate=options["queued_rate"],
        numbers=dict(options.get("fault") or []),
    )
    return SandboxConfig(
        host=options["host"],
        port=options["port"],
        api_key=options["api_key"],
        site_url=options["site_url"] or None,
        webhook_base=options["webhook_base"] or None,
        webhook_secret=options["webhook_secret"] or None,
        webhook_timeout=options["webhook_timeout"],
        faults=faults,
        seed=options["seed"],
        verbose=bool(options.get("verbose")),
        auto_webhooks=options["auto_webhooks"],
        refresh=max(0, options["refresh"]),
    )


def build_parser(prog: str = "python -m django_textlink.sandbox") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    options = vars(parser.parse_args(argv))
    try:
        config = config_from_options(options)
    except ValueError as err:
        parser.error(str(err))
    from django_textlink.sandbox.server import serve

    return serve(config)
