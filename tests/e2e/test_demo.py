"""``make demo`` end to end: example_project/demo.py, then the whole loop in a real browser.

The orchestrator runs as ``make demo`` runs it (``python example_project/demo.py``), in a
subprocess, on free ports and a throwaway SQLite database: it migrates, creates the demo
admin and contacts, and starts the offline TextLink sandbox, a ``db_worker`` and the site.
The test reads the URLs and the admin login from the banner it prints, then drives headless
Chromium (Debian's ``chromium``, through Playwright) through the three flows of the demo:

1. sign up with phone verification, the code read from the sandbox's HTML inbox;
2. in the admin, send an SMS to the three demo contacts and watch the progress page (which
   reloads itself) reach 3 sent, the worker sending in the background;
3. reply from the sandbox inbox's "Reply from this phone" form, and see the reply in the
   contact's conversation view (and the webhook in the webhook events list).

Then Ctrl-C (SIGINT) must stop every child: demo.py exits 0 and leaves no process behind.
Quicker tests, without a browser: a child that dies takes the demo down (exit 1, the others
stopped), a port in use is refused before anything starts, and ``demo_setup`` run again
resets the admin and the contacts.

Screenshots go to ``tmp_path``, and are copied to ``TEXTLINK_SCREENSHOTS_DIR`` when it is set
(the README's images: ``TEXTLINK_SCREENSHOTS_DIR=docs/images``; the demo then runs on ports
8000 and 8025 when they are free, as ``make demo`` does, so the images show those). Without
a browser the browser test is skipped, or fails when ``TEXTLINK_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from django_textlink.sandbox import SandboxClient
from tests.support.browser import chromium_page, collect_js_errors, require_browser
from tests.support.example_server import example_env, free_port
from tests.support.paths import EXAMPLE_DIR

pytestmark = pytest.mark.own_database  # the demo runs on its own SQLite database

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

DEMO = EXAMPLE_DIR / "demo.py"
START_TIMEOUT = 45  # seconds for migrate, demo_setup and the three children
STOP_TIMEOUT = 20
PASSWORD = "demo-password-from-the-environment"
SIGNUP_PHONE = "+12025550143"
DEMO_PHONES = ["+12025550101", "+12025550102", "+12025550103"]
BULK_TEXT = "The demo opens today: reply to this SMS!"
REPLY_TEXT = "Count me in, see you there"


@dataclass
class RunningDemo:
    process: subprocess.Popen[bytes]
    log_path: Path
    lines: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    reader: threading.Thread | None = None

    @property
    def output(self) -> str:
        with self.lock:
            return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.output)
            if match:
                return match
            if self.process.poll() is not None:
                time.sleep(0.2)  # the reader's last lines
                pytest.fail(
                    f"demo.py exited ({self.process.returncode}) before {pattern!r}:\n"
                    + self.output
                )
            if time.monotonic() > deadline:
                pytest.fail(f"no {pattern!r} from demo.py within {timeout} s:\n{self.output}")
            time.sleep(0.05)

    @property
    def child_pids(self) -> list[int]:
        started = self.wait_for_line(r"Started (.*)\.", 0)
        return [int(pid) for pid in re.findall(r"pid (\d+)", started.group(1))]

    def stop(self) -> int:
        """Ctrl-C, as in a terminal (SIGINT to demo.py only); its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=STOP_TIMEOUT)


def _pump(demo: RunningDemo) -> None:
    assert demo.process.stdout is not None
    with demo.process.stdout, demo.log_path.open("w", encoding="utf-8") as log:
        for raw in iter(demo.process.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            log.write(line + "\n")
            log.flush()
            with demo.lock:
                demo.lines.append(line)


def demo_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = example_env(
        tmp_path,
        DEMO_DATABASE_URL=(
            f"sqlite:///{tmp_path / 'demo.sqlite3'}?timeout=20&transaction_mode=IMMEDIATE"
        ),
        **extra,
    )
    del env["DATABASE_URL"]
    return env


@contextmanager
def run_demo(tmp_path: Path, **extra: str) -> Iterator[RunningDemo]:
    """``python example_project/demo.py`` until the with block ends; whatever happens, no
    process is left behind."""
    process = subprocess.Popen(
        [sys.executable, str(DEMO)],
        cwd=EXAMPLE_DIR.parent,
        env=demo_env(tmp_path, **extra),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    demo = RunningDemo(process, tmp_path / "demo.log")
    demo.reader = threading.Thread(target=_pump, args=(demo,), daemon=True)
    demo.reader.start()
    try:
        yield demo
    finally:
        pids = re.findall(r"pid (\d+)", next(iter(re.findall(r"Started .*", demo.output)), ""))
        try:
            demo.stop()
        except subprocess.TimeoutExpired:  # demo.py could not stop its children: we do
            process.kill()
            process.wait(timeout=10)
            for pid in pids:
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(int(pid), signal.SIGKILL)
        demo.reader.join(timeout=5)


def two_free_ports() -> tuple[int, int]:
    port = free_port()
    other = free_port()
    while other == port:
        other = free_port()
    return port, other


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def demo_ports() -> tuple[int, int]:
    """Free ports; for the README's screenshots the ones ``make demo`` uses, when free."""
    if os.environ.get("TEXTLINK_SCREENSHOTS_DIR") and port_is_free(8000) and port_is_free(8025):
        return 8000, 8025
    return two_free_ports()


def gone(pid: int) -> bool:
    """No process is left in the process group ``pid`` led (demo.py starts each child in
    its own group, so grandchildren count too)."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def screenshot(page: Page, tmp_path: Path, name: str, *, down_to: Locator | None = None) -> None:
    """The whole page, or its top down to the element ``down_to``, into tmp_path; copied
    to ``TEXTLINK_SCREENSHOTS_DIR`` when it is set."""
    path = tmp_path / name
    if down_to is None:
        page.screenshot(path=path, full_page=True)
    else:
        box = down_to.bounding_box()
        assert box is not None
        width = page.viewport_size["width"] if page.viewport_size else 1000
        clip = {"x": 0, "y": 0, "width": width, "height": box["y"] + box["height"] + 16}
        page.screenshot(path=path, full_page=True, clip=clip)
    if os.environ.get("TEXTLINK_SCREENSHOTS_DIR"):
        target = Path(os.environ["TEXTLINK_SCREENSHOTS_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / name)


@pytest.mark.browser
def test_make_demo_whole_loop_in_a_browser(tmp_path: Path) -> None:
    require_browser()  # before starting anything
    port, sandbox_port = demo_ports()
    with run_demo(
        tmp_path, PORT=str(port), SANDBOX_PORT=str(sandbox_port), DEMO_ADMIN_PASSWORD=PASSWORD
    ) as demo:
        demo.wait_for_line(r"Ctrl-C stops the site", START_TIMEOUT)
        site = demo.wait_for_line(r"Site\s+(http://\S+)/\n", 0).group(1)
        admin = demo.wait_for_line(r"Admin\s+(\S+)\s+user: (\S+)\s+password: (\S+)", 0)
        inbox = demo.wait_for_line(r"Sandbox inbox\s+(http://\S+)/\n", 0).group(1)
        assert site == f"http://127.0.0.1:{port}"
        assert inbox == f"http://127.0.0.1:{sandbox_port}"
        assert admin.group(1) == f"{site}/admin/"
        username, password = admin.group(2), admin.group(3)
        assert (username, password) == ("admin", PASSWORD)
        pids = demo.child_pids
        assert len(pids) == 3

        with chromium_page(width=1000, height=760) as page:
            js_errors = _drive_the_demo(page, site, inbox, username, password, tmp_path)

        # What the sandbox received, through its control API (the browser used the HTML).
        sandbox = SandboxClient(inbox)
        for phone in DEMO_PHONES:
            sent = sandbox.messages(phone, kind="sms")
            assert [m["text"] for m in sent] == [BULK_TEXT], f"{phone} got one SMS"
        assert [m["text"] for m in sandbox.messages(DEMO_PHONES[0], kind="reply")] == [REPLY_TEXT]
        assert [w["status"] for w in sandbox.webhooks() if w["kind"] == "received"] == [200]

        status = demo.stop()
        if demo.reader:
            demo.reader.join(timeout=5)

    output = demo.output
    assert status == 0, output
    assert output.rstrip().endswith("Stopped.")
    for pid in pids:
        assert gone(pid), f"process group {pid} outlived the demo:\n{output}"
    assert "Traceback" not in output, output
    assert "database is locked" not in output, output
    assert not js_errors
    assert "Stopping the TextLink sandbox." in output  # the children stopped, not killed
    assert "Killing" not in output


def _drive_the_demo(
    page: Page, site: str, inbox_url: str, username: str, password: str, tmp_path: Path
) -> list[str]:
    from playwright.sync_api import expect

    js_errors = collect_js_errors(page)
    inbox = page.context.new_page()
    inbox.set_default_timeout(10_000)
    inbox.on("pageerror", lambda error: js_errors.append(str(error)))

    # -- the home page explains the demo -------------------------------------------------
    page.goto(f"{site}/")
    notice = page.locator("#backend-notice")
    expect(notice).to_contain_text("TextLink sandbox")
    expect(notice).to_contain_text("no SMS leaves this machine")
    expect(page.locator("#what-to-try > li")).to_have_count(4)
    expect(page.locator("#try-signup a", has_text="sandbox inbox")).to_have_attribute(
        "href", f"{inbox_url}/"
    )
    screenshot(page, tmp_path, "demo-home.png")

    # -- 1. sign up, the code read from the sandbox inbox ------------------------------------
    page.get_by_role("link", name="Sign up with phone verification").click()
    page.get_by_label(re.compile(r"^Username:?$")).fill("grace")
    page.get_by_label(re.compile(r"^Password:?$")).fill("correct-horse-battery-staple")
    page.get_by_label(re.compile(r"^Password confirmation:?$")).fill("correct-horse-battery-staple")
    page.get_by_label(re.compile(r"^Phone number:?$")).fill("+1 202 555 0143")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Enter the code")).to_be_visible()

    inbox.goto(f"{inbox_url}/")
    inbox.get_by_role("link", name=re.compile(rf"^\{SIGNUP_PHONE} \(\d+\)$")).click()
    expect(inbox.get_by_role("heading", name=f"Messages for {SIGNUP_PHONE}")).to_be_visible()
    code_cell = inbox.locator("#messages tbody tr").filter(has=inbox.locator(".code")).first
    code = code_cell.locator(".code").inner_text().strip()
    assert re.fullmatch(r"\d{6}", code), code
    expect(code_cell).to_contain_text("pending")
    screenshot(inbox, tmp_path, "demo-sandbox-code.png", down_to=code_cell)

    page.get_by_label(re.compile(r"^Code:?$")).fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{site}/")
    expect(page.locator("#signed-in")).to_have_text(
        f"Signed in as grace, phone {SIGNUP_PHONE} verified."
    )

    # -- 2. bulk send to the three demo contacts, from the admin -----------------------------
    # Signed up, the visitor is grace, who is not staff. The site has a "Log out" (a POST,
    # as Django 5 wants), and step 2 says to log in as the demo admin and offers the way.
    expect(page.locator("#account").get_by_role("button", name="Log out")).to_be_visible()
    step_2 = page.locator("#try-bulk-send")
    expect(step_2).to_contain_text(f"log in as the demo admin, {username}")
    expect(step_2).to_contain_text("You are signed in as grace, who may not use the admin")
    step_2.get_by_role("button", name=f"Log out and log in as {username}").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(page.locator("#content")).not_to_contain_text("not authorized")
    page.get_by_label(re.compile(r"^Username:?$")).fill(username)
    page.get_by_label(re.compile(r"^Password:?$")).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/admin/django_textlink/contact/\?tag=demo$"))
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)
    # The link's parameter is the one the "By tag" filter reads: "demo" is selected.
    tag_filter = page.locator('#changelist-filter details[data-filter-title="tag"]')
    expect(tag_filter.locator("li.selected")).to_have_text("demo")
    page.locator("#toggle-nav-sidebar").click()  # narrower screenshots (kept in localStorage)
    page.locator("#action-toggle").check()  # select all three
    page.locator('select[name="action"]').select_option("send_sms")
    page.locator('div.actions button[name="index"]').first.click()  # "Go", or "Run" on 6.1

    expect(page.get_by_role("heading", name="Send an SMS")).to_be_visible()
    expect(page.locator("#textlink-recipient-count")).to_contain_text(
        "This SMS will be sent to 3 phone numbers."
    )
    page.get_by_label(re.compile(r"^Text:?$")).fill(BULK_TEXT)
    page.get_by_role("button", name="Send to 3 numbers").click()

    expect(page).to_have_url(re.compile(r"/admin/django_textlink/broadcast/\d+/progress/"))
    # The worker sends in the background; the page reloads itself until it is over.
    state = page.locator("#textlink-progress-state")
    expect(state).to_contain_text("Finished: 3 of 3 done.", timeout=20_000)
    expect(page.locator("#textlink-count-sent td")).to_have_text("3")
    expect(page.locator("#textlink-count-total")).to_have_text("3")
    screenshot(page, tmp_path, "demo-bulk-progress.png")

    # -- 3. a reply from the sandbox inbox, in the conversation view -------------------------
    inbox.goto(f"{inbox_url}/")
    inbox.get_by_role("link", name=re.compile(rf"^\{DEMO_PHONES[0]} \(\d+\)$")).click()
    expect(inbox.locator("#messages")).to_contain_text(BULK_TEXT)
    inbox.get_by_label("Reply from this phone").fill(REPLY_TEXT)
    inbox.get_by_role("button", name="Reply from this phone").click()
    expect(inbox.get_by_role("status")).to_contain_text(
        f"received webhook to {site}/textlink/webhooks/received/: HTTP 200"
    )

    page.goto(f"{site}/admin/django_textlink/contact/")
    page.get_by_role("link", name=f"Conversation with Ada Lovelace ({DEMO_PHONES[0]})").click()
    expect(
        page.get_by_role("heading", name=f"Conversation with Ada Lovelace ({DEMO_PHONES[0]})")
    ).to_be_visible()
    expect(page.locator(".textlink-bubble--outbound")).to_contain_text(BULK_TEXT)
    expect(page.locator(".textlink-bubble--inbound")).to_contain_text(REPLY_TEXT)
    screenshot(page, tmp_path, "demo-conversation.png")

    # -- one signup, one verified number: grace's (not a user-less row beside it) ------------
    page.goto(f"{site}/admin/django_textlink/verifiedphonenumber/")
    verified = page.locator("#result_list tbody tr")
    expect(verified).to_have_count(1)
    expect(verified).to_contain_text(SIGNUP_PHONE)
    expect(verified).to_contain_text("grace")

    # -- 4. the webhook events list ------------------------------------------------------------
    page.goto(f"{site}/admin/django_textlink/webhookevent/")
    events = page.locator("#result_list tbody")
    expect(events).to_contain_text("received")
    expect(events).to_contain_text("sent")  # --auto-webhooks: after every SMS, as TextLink
    screenshot(page, tmp_path, "demo-webhook-events.png")
    inbox.close()
    return js_errors


def test_make_demo_stops_everything_when_a_child_dies(tmp_path: Path) -> None:
    port, sandbox_port = two_free_ports()
    with run_demo(tmp_path, PORT=str(port), SANDBOX_PORT=str(sandbox_port)) as demo:
        demo.wait_for_line(r"Ctrl-C stops the site", START_TIMEOUT)
        assert "user: admin   password: textlink-demo" in demo.output  # the default
        sandbox_pid, site_pid, worker_pid = demo.child_pids
        os.kill(worker_pid, signal.SIGKILL)
        status = demo.process.wait(timeout=STOP_TIMEOUT)
        if demo.reader:
            demo.reader.join(timeout=5)
    output = demo.output
    assert status == 1, output
    assert "The task worker exited (status -9): stopping the others." in output
    for pid in (sandbox_pid, site_pid, worker_pid):
        assert gone(pid), f"process group {pid} outlived the demo:\n{output}"
    with socket.socket() as sock:  # nothing listens on the site's port any more
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_make_demo_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(DEMO)],
            cwd=EXAMPLE_DIR.parent,
            env=demo_env(tmp_path, PORT=str(port), SANDBOX_PORT=str(free_port())),
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"Port {port} (the site) is taken" in result.stdout
    assert f"PORT={port + 1} make demo" in result.stdout
    assert not (tmp_path / "demo.sqlite3").exists(), "nothing started"


def test_demo_setup_creates_then_resets_the_admin_and_the_contacts(tmp_path: Path) -> None:
    env = example_env(tmp_path, TEXTLINK_TASKS="db")

    def manage(*args: str, **extra: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=EXAMPLE_DIR,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    manage("migrate", "--noinput", "-v0")
    assert "Created the demo superuser 'admin'" in manage("demo_setup")
    manage(
        "shell",
        "-c",
        "from django_textlink.models import Contact; "
        "Contact.objects.filter(phone_number='+12025550101').update(opted_out=True, name='X'); "
        "from django.contrib.auth.models import User; "
        "User.objects.filter(username='admin').update(is_active=False, is_superuser=False)",
    )
    output = manage("demo_setup", DEMO_ADMIN_PASSWORD="another-one")
    assert "Reset the demo superuser 'admin' (password 'another-one')." in output
    state = manage(
        "shell",
        "-c",
        "from django_textlink.models import Contact; "
        "from django.contrib.auth.models import User; "
        "print(sorted(Contact.objects.values_list('phone_number', 'name', 'tag', 'opted_out'))); "
        "u = User.objects.get(); print(u.is_active, u.is_staff, u.is_superuser, "
        "u.check_password('another-one'))",
    )
    assert state.splitlines()[-2:] == [  # after the shell's "N objects imported" line
        "[('+12025550101', 'Ada Lovelace', 'demo', False), "
        "('+12025550102', 'Grace Hopper', 'demo', False), "
        "('+12025550103', 'Alan Turing', 'demo', False)]",
        "True True True True",
    ]
