"""The sandbox's web inbox: one HTML page, rendered from strings.

Everything dynamic goes through :func:`e` (``html.escape`` with quotes). No scripts and
no external assets: the forms POST and the server redirects back (POST/redirect/GET);
auto-refresh is an optional ``<meta http-equiv="refresh">``.
"""

from __future__ import annotations

import html
import json
import time
from typing import Any
from urllib.parse import urlencode

from django_textlink.sandbox.config import SandboxConfig, mask_key
from django_textlink.sandbox.state import Message, Notice, SandboxState
from django_textlink.sandbox.webhooks import WebhookOutcome

DEFAULT_REFRESH_ON = 5
SHOWN_WEBHOOKS = 20
SHOWN_CALLS = 50
JSON_EXCERPT = 300

STYLE = """
:root { color-scheme: light; --fg: #1b1b1f; --muted: #545463; --line: #d0d0da;
  --accent: #0b57d0; --ok: #0a6b2d; --bad: #a4161a; --bg-soft: #f4f5f8; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: #fff; }
a { color: var(--accent); }
a:focus, button:focus, input:focus, textarea:focus, summary:focus {
  outline: 3px solid #f6b400; outline-offset: 2px; }
.skip { position: absolute; left: -9999px; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; z-index: 1; }
header { padding: 1rem 1.5rem; border-bottom: 1px solid var(--line); background: var(--bg-soft); }
h1 { margin: 0 0 .5rem; font-size: 1.5rem; }
h2 { font-size: 1.25rem; margin: 1.5rem 0 .75rem; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .5rem; }
dl.setup { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: 0; }
dl.setup dt { color: var(--muted); }
dl.setup dd { margin: 0; overflow-wrap: anywhere; }
.layout { display: grid; grid-template-columns: minmax(12rem, 16rem) 1fr; gap: 1.5rem;
  padding: 0 1.5rem 2rem; }
@media (max-width: 48rem) { .layout { grid-template-columns: 1fr; } }
nav ul { list-style: none; padding: 0; margin: 0; }
nav li { margin: .25rem 0; }
nav a[aria-current] { font-weight: 700; }
.tag { color: var(--muted); font-size: .875rem; }
table { border-collapse: collapse; width: 100%; font-size: .95rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: .4rem .5rem; text-align: left;
  vertical-align: top; }
th { background: var(--bg-soft); }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
.code { font: 700 1.2rem/1 ui-monospace, monospace; letter-spacing: .1em; }
.muted, .details { color: var(--muted); font-size: .875rem; }
.status-failed, .bad { color: var(--bad); font-weight: 600; }
.status-sent, .status-received, .good { color: var(--ok); font-weight: 600; }
.notice { margin: 1rem 1.5rem; padding: .75rem 1rem; border-left: 4px solid var(--ok);
  background: #eef7f0; }
.notice.error { border-color: var(--bad); background: #fbeeee; }
.notice ul { margin: .25rem 0 0; padding-left: 1.25rem; }
form.inline { display: inline; margin: 0; }
.forms { display: flex; flex-wrap: wrap; gap: 1rem; }
.forms form, form.panel, fieldset { border: 1px solid var(--line); border-radius: 6px;
  padding: .75rem 1rem; margin: 0; }
.forms form { flex: 1 1 18rem; }
label { display: block; font-weight: 600; margin: .4rem 0 .15rem; }
input, textarea { font: inherit; width: 100%; padding: .35rem .5rem;
  border: 1px solid #8a8a99; border-radius: 4px; }
button { font: inherit; margin-top: .5rem; padding: .35rem .8rem; border-radius: 4px;
  border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
button.danger { border-color: var(--bad); background: #fff; color: var(--bad); }
code { font-family: ui-monospace, monospace; font-size: .9em; overflow-wrap: anywhere; }
"""


def e(value: object) -> str:
    """HTML-escape anything (quotes too: safe inside attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def inbox_href(
    phone: str | None = None, *, refresh: int | None = None, notice: int | None = None
) -> str:
    params: dict[str, Any] = {}
    if phone:
        params["phone"] = phone
    if refresh is not None:
        params["refresh"] = refresh
    if notice is not None:
        params["notice"] = notice
    return "/?" + urlencode(params) if params else "/"


def _when(timestamp: float) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(timestamp))
    shown = time.strftime("%H:%M:%S", time.localtime(timestamp))
    return f'<time datetime="{e(stamp)}">{e(shown)}</time>'


def _hidden(name: str, value: object) -> str:
    return f'<input type="hidden" name="{e(name)}" value="{e(value)}">'


def _keep(phone: str | None, refresh: int) -> str:
    """Hidden fields that bring the user back to the same view after a POST."""
    return _hidden("filter", phone or "") + _hidden("refresh", refresh)


def render_inbox(
    state: SandboxState,
    *,
    url: str,
    phone: str | None = None,
    refresh: int = 0,
    notice: Notice | None = None,
) -> str:
    """The whole page. ``phone`` filters it to one number; ``refresh`` > 0 reloads it
    every that many seconds."""
    config = state.config
    messages = state.list_messages(phone)
    with state.lock:
        webhooks, calls = list(state.webhooks), list(state.calls)
    title = f"Messages for {phone}" if phone else "All messages"
    meta = ""
    if refresh > 0:
        target = inbox_href(phone, refresh=refresh)
        meta = f'<meta http-equiv="refresh" content="{e(f"{refresh}; url={target}")}">'
    parts = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        meta,
        f"<title>{e(title)} · TextLink sandbox</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        '<a class="skip" href="#messages">Skip to the messages</a>',
        _header(config, state, url, phone, refresh),
        _notice(notice),
        '<div class="layout">',
        _phones_nav(state, phone, refresh),
        '<main id="main">',
        f"<h2>{e(title)}</h2>",
        _phone_panel(state, phone, refresh) if phone else _incoming_form(refresh),
        _messages(messages, phone, refresh, state.clock()),
        _webhooks(webhooks),
        _calls(calls),
        _faults_form(state, phone, refresh),
        _reset_form(phone, refresh),
        "</main>",
        "</div>",
        "</body>",
        "</html>",
    ]
    return "\n".join(part for part in parts if part)


def _header(
    config: SandboxConfig, state: SandboxState, url: str, phone: str | None, refresh: int
) -> str:
    received = config.webhook_url("received")
    hooks = (
        f"<code>{e(received.rsplit('/received/', 1)[0])}/&lt;received|sent|failed|tag&gt;/</code>"
        if received
        else "not configured (start the sandbox with <code>--site-url</code>)"
    )
    secret = "set" if config.webhook_secret else "not set (the site may refuse the webhooks)"
    if refresh > 0:
        toggle = (
            f"Auto-refresh is on (every {e(refresh)} s). "
            f'<a href="{e(inbox_href(phone, refresh=0))}">Turn auto-refresh off</a>'
        )
    else:
        toggle = (
            "Auto-refresh is off. "
            f'<a href="{e(inbox_href(phone, refresh=DEFAULT_REFRESH_ON))}">'
            f"Turn auto-refresh on (every {DEFAULT_REFRESH_ON} s)</a>"
        )
    return (
        "<header>"
        "<h1>TextLink sandbox</h1>"
        '<dl class="setup">'
        f"<dt>API base URL</dt><dd><code>{e(url)}/api</code></dd>"
        f"<dt>API key</dt><dd><code>{e(mask_key(config.api_key))}</code></dd>"
        f"<dt>Webhooks to</dt><dd>{hooks}</dd>"
        f"<dt>Webhook secret</dt><dd>{e(secret)}</dd>"
        f"<dt>Faults</dt><dd>{e(state.faults.describe())}</dd>"
        "</dl>"
        f'<p class="muted">{toggle}</p>'
        "</header>"
    )


def _notice(notice: Notice | None) -> str:
    if notice is None:
        return ""
    failed = notice.level == "error" or any(not o.ok for o in notice.outcomes)
    role = "alert" if failed else "status"
    items = "".join(
        f'<li class="{"good" if o.ok else "bad"}">{e(o.summary())}</li>' for o in notice.outcomes
    )
    return (
        f'<div class="notice{" error" if failed else ""}" role="{role}">'
        f"<p>{e(notice.text)}</p>" + (f"<ul>{items}</ul>" if items else "") + "</div>"
    )


def _phones_nav(state: SandboxState, current: str | None, refresh: int) -> str:
    phones = state.phones()
    total = sum(count for _, count, _ in phones)
    current_attr = ' aria-current="page"' if current is None else ""
    all_href = e(inbox_href(refresh=refresh or None))
    items = [f'<li><a href="{all_href}"{current_attr}>All ({total})</a></li>']
    for phone, count, tag in phones:
        attr = ' aria-current="page"' if phone == current else ""
        tag_html = f' <span class="tag">tag: {e(tag)}</span>' if tag else ""
        items.append(
            f'<li><a href="{e(inbox_href(phone, refresh=refresh or None))}"{attr}>'
            f"{e(phone)} ({count})</a>{tag_html}</li>"
        )
    return (
        '<nav aria-labelledby="phones-heading">'
        '<h2 id="phones-heading">Phone numbers</h2>'
        f"<ul>{''.join(items)}</ul>"
        "</nav>"
    )


def _incoming_form(refresh: int) -> str:
    return (
        '<section aria-labelledby="incoming-heading">'
        '<h3 id="incoming-heading">Simulate an incoming SMS</h3>'
        '<form class="panel" method="post" action="/inbox/reply">'
        + _keep(None, refresh)
        + '<label for="incoming-phone">From phone number</label>'
        '<input id="incoming-phone" name="phone_number" required inputmode="tel" '
        'autocomplete="off" placeholder="+12025550143">'
        '<label for="incoming-text">Text</label>'
        '<textarea id="incoming-text" name="text" rows="2" required></textarea>'
        '<button type="submit">Send to the site (received webhook)</button>'
        "</form>"
        "</section>"
    )


def _phone_panel(state: SandboxState, phone: str, refresh: int) -> str:
    tag = state.tags.get(phone, "")
    name = state.names.get(phone, "")
    return (
        '<section aria-labelledby="play-heading">'
        f'<h3 id="play-heading">Play the phone {e(phone)}</h3>'
        '<div class="forms">'
        '<form method="post" action="/inbox/reply" id="reply">'
        + _keep(phone, refresh)
        + _hidden("phone_number", phone)
        + '<label for="reply-text">Reply from this phone</label>'
        '<textarea id="reply-text" name="text" rows="2" required></textarea>'
        '<label for="reply-name">Sender name (optional)</label>'
        f'<input id="reply-name" name="name" value="{e(name)}" autocomplete="off">'
        '<button type="submit">Reply from this phone</button>'
        "</form>"
        '<form method="post" action="/inbox/tag" id="tag">'
        + _keep(phone, refresh)
        + _hidden("phone_number", phone)
        + '<label for="tag-value">Contact tag</label>'
        f'<input id="tag-value" name="tag" value="{e(tag)}" autocomplete="off">'
        '<button type="submit">Change tag</button>'
        "</form>"
        "</div>"
        "</section>"
    )


def _message_cell(message: Message) -> str:
    if message.kind == "code":
        return (
            f'Code <strong class="code">{e(message.code)}</strong>'
            f'<div class="text muted">{e(message.text)}</div>'
        )
    return f'<div class="text">{e(message.text)}</div>'


def _details(message: Message) -> str:
    rows: list[str] = [f"TextLink id {e(message.id)}"]
    if message.custom_id is not None:
        rows.append(f"custom_id <code>{e(message.custom_id)}</code>")
    if message.sim_card_id is not None:
        rows.append(f"SIM {e(message.sim_card_id)}")
    if message.name:
        rows.append(f"name {e(message.name)}")
    if message.service_name:
        rows.append(f"service {e(message.service_name)}")
    if message.source_country:
        rows.append(f"from {e(message.source_country)}")
    if message.expires_at is not None:
        rows.append(f"expires {_when(message.expires_at)}")
    return "<br>".join(rows)


def _status(message: Message, now: float) -> str:
    label = message.status
    if message.kind == "code":
        label = f"{message.status}, code {message.code_status(now)}"
    elif message.queued and message.status == "queued":
        label = "queued (answered queued: true)"
    return f'<span class="status-{e(message.status)}">{e(label)}</span>'


def _actions(message: Message, phone: str | None, refresh: int) -> str:
    actions = []
    if message.direction == "outbound" and message.status != "failed":
        actions.append(
            '<form class="inline" method="post" action="/inbox/fail">'
            + _keep(phone, refresh)
            + _hidden("message_id", message.id)
            + f'<button type="submit" class="danger" aria-label="Fail message {e(message.id)} '
            f'to {e(message.phone_number)}">Fail this message</button>'
            "</form>"
        )
    if phone is None:
        actions.append(
            f'<a href="{e(inbox_href(message.phone_number, refresh=refresh or None))}#reply">'
            f'Reply<span class="sr-only"> from {e(message.phone_number)}</span></a>'
        )
    return " ".join(actions)


def _messages(messages: list[Message], phone: str | None, refresh: int, now: float) -> str:
    heading = (
        '<section aria-labelledby="messages-heading" id="messages">'
        f'<h3 id="messages-heading">Messages and codes ({len(messages)}), newest first</h3>'
    )
    if not messages:
        return (
            heading + '<p class="muted">Nothing yet. Point your site\'s TEXTLINK["BASE_URL"] '
            "at this sandbox and send something.</p></section>"
        )
    rows = []
    for message in messages:
        arrow = "to" if message.direction == "outbound" else "from"
        kind = {"sms": "SMS", "code": "Code", "reply": "Reply"}.get(message.kind, message.kind)
        phone_cell = (
            e(message.phone_number)
            if phone
            else f'<a href="{e(inbox_href(message.phone_number, refresh=refresh or None))}">'
            f"{e(message.phone_number)}</a>"
        )
        rows.append(
            f'<tr id="message-{e(message.id)}">'
            f"<td>{_when(message.created_at)}</td>"
            f'<td>{e(kind)} <span class="muted">{arrow}</span> {phone_cell}</td>'
            f"<td>{_message_cell(message)}</td>"
            f'<td class="details">{_details(message)}</td>'
            f"<td>{_status(message, now)}</td>"
            f"<td>{_actions(message, phone, refresh)}</td>"
            "</tr>"
        )
    return (
        heading + '<table><caption class="sr-only">Messages and codes, newest first</caption>'
        '<thead><tr><th scope="col">Time</th><th scope="col">Kind and phone</th>'
        '<th scope="col">Message</th><th scope="col">Details</th>'
        '<th scope="col">Status</th><th scope="col">Actions</th>'
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>"
    )


def _webhooks(outcomes: list[WebhookOutcome]) -> str:
    heading = (
        '<section aria-labelledby="webhooks-heading">'
        '<h3 id="webhooks-heading">Webhooks sent to the site</h3>'
    )
    if not outcomes:
        return heading + '<p class="muted">None yet.</p></section>'
    rows = "".join(
        "<tr>"
        f"<td>{_when(o.at)}</td><td>{e(o.kind)}</td><td>{e(o.phone_number)}</td>"
        f"<td><code>{e(o.url or '-')}</code></td>"
        f'<td class="{"good" if o.ok else "bad"}">'
        + (f"HTTP {e(o.status)}" if o.status is not None else e(o.error))
        + (f' <span class="muted">{e(o.body[:120])}</span>' if o.body and not o.ok else "")
        + "</td></tr>"
        for o in reversed(outcomes[-SHOWN_WEBHOOKS:])
    )
    return (
        heading + "<table><caption>Newest first; only HTTP 200 counts as delivered</caption>"
        '<thead><tr><th scope="col">Time</th><th scope="col">Webhook</th>'
        '<th scope="col">Phone</th><th scope="col">URL</th><th scope="col">Site answered</th>'
        f"</tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _json_excerpt(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= JSON_EXCERPT else text[:JSON_EXCERPT] + "…"


def _calls(calls: list[Any]) -> str:
    if not calls:
        return ""
    rows = "".join(
        "<tr>"
        f"<td>{_when(c.at)}</td><td><code>{e(c.endpoint)}</code></td><td>{e(c.phone_number)}</td>"
        f"<td>{e(c.status or 'none')}</td><td><code>{e(_json_excerpt(c.answer))}</code></td>"
        f"<td>{e(c.fault or '')}</td></tr>"
        for c in reversed(calls[-SHOWN_CALLS:])
    )
    return (
        f"<details><summary>Recent API calls ({len(calls)})</summary>"
        "<table><caption>Newest first</caption><thead><tr>"
        '<th scope="col">Time</th><th scope="col">Endpoint</th><th scope="col">Phone</th>'
        '<th scope="col">HTTP</th><th scope="col">Answer</th><th scope="col">Injected fault</th>'
        f"</tr></thead><tbody>{rows}</tbody></table></details>"
    )


def _faults_form(state: SandboxState, phone: str | None, refresh: int) -> str:
    faults = state.faults
    numbers = "\n".join(f"{key}={answer.spec()}" for key, answer in faults.numbers.items())
    return (
        '<section aria-labelledby="faults-heading">'
        '<h3 id="faults-heading">Fault injection</h3>'
        '<form class="panel" method="post" action="/inbox/faults">'
        + _keep(phone, refresh)
        + '<label for="latency">Latency, seconds before every API answer</label>'
        f'<input id="latency" name="latency" type="number" min="0" step="any" '
        f'value="{e(f"{faults.latency:g}")}">'
        '<label for="error-rate">Error rate: fraction of API calls answered HTTP 500 '
        "(0 to 1)</label>"
        f'<input id="error-rate" name="error_rate" type="number" min="0" max="1" step="any" '
        f'value="{e(f"{faults.error_rate:g}")}">'
        '<label for="queued-rate">Queued rate: fraction of send-sms answered '
        "queued: true (0 to 1)</label>"
        f'<input id="queued-rate" name="queued_rate" type="number" min="0" max="1" step="any" '
        f'value="{e(f"{faults.queued_rate:g}")}">'
        '<label for="numbers">Fixed answers for some numbers, one per line</label>'
        '<textarea id="numbers" name="numbers" rows="3" aria-describedby="numbers-help">'
        f"{e(numbers)}</textarea>"
        '<p id="numbers-help" class="muted">For example <code>+12025550143=500</code>, '
        '<code>+12025550143=json:{"ok": false, "message": "Invalid phone number"}</code>, '
        "<code>send-code:+12025550143=429:json:{...}</code>, "
        "<code>+12025550143=text:Bad gateway</code>, <code>+12025550143=drop</code> or, with "
        'response headers, <code>+12025550143={"status": 429, "headers": '
        '{"Retry-After": "30"}}</code>.</p>'
        '<button type="submit">Save faults</button>'
        "</form>"
        "</section>"
    )


def _reset_form(phone: str | None, refresh: int) -> str:
    return (
        '<form method="post" action="/inbox/reset">'
        + _keep(None, refresh)
        + '<button type="submit" class="secondary">Clear the sandbox</button> '
        '<span class="muted">Forgets every message, code, tag and log; faults go back to '
        "the ones the sandbox was started with.</span>"
        "</form>"
    )
