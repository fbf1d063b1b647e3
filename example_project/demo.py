#!/usr/bin/env python
"""``make demo``: the example project with everything it needs, offline, in one terminal.

Runs, from this Python (the virtualenv's):

1. ``manage.py migrate`` and ``manage.py demo_setup`` (the ``admin`` superuser with a demo
   password, three demo contacts) on the demo's own SQLite database;
2. three child processes, each in its own process group, their output prefixed:

   * ``sandbox``: the offline TextLink sandbox (``python -m django_textlink.sandbox``) on
     ``SANDBOX_PORT`` (8025), webhooks to the site, with ``--auto-webhooks``;
   * ``site``: ``manage.py runserver 127.0.0.1:PORT`` (8000), sending through the sandbox;
   * ``worker``: ``manage.py db_worker`` (``TEXTLINK_TASKS=db``), which runs the bulk sends;

3. waits until they answer, prints the URLs, the admin login and what to try, and runs
   until Ctrl-C (or SIGTERM), which it forwards to the children; it exits 0 once they
   stopped. When a child dies, it stops the others and exits 1.

The environment (variables set in the shell win over ``example_project/.env``):

* ``PORT`` (8000) and ``SANDBOX_PORT`` (8025): where the site and the sandbox listen;
* ``DEMO_ADMIN_PASSWORD``: the demo admin's password (default ``textlink-demo``);
* ``DEMO_DATABASE_URL``: the demo's database (default: ``example_project/demo.sqlite3``).
  Not ``DATABASE_URL``: ``demo_setup`` resets the ``admin`` user's password, so the demo
  never touches the database your ``.env`` names.

Everything else that decides where SMS go, how tasks run and whether the demo works is set
by this script, whatever ``.env`` or the shell say: ``TEXTLINK_API_KEY``, ``_BASE_URL``,
``_BACKEND``, ``_WEBHOOK_SECRET``, ``_TASKS``, ``_SANDBOX_URL``, ``_ALLOWED_COUNTRIES``,
``DATABASE_URL``, ``DJANGO_DEBUG`` and ``DJANGO_ALLOWED_HOSTS`` (their names are printed
when they are overridden, never their values). The rest of ``.env`` is respected:
``DJANGO_SECRET_KEY``, ``TEXTLINK_SERVICE_NAME``, ``_DEFAULT_REGION``,
``_RESEND_COOLDOWN``, ``_TIMEOUT``, ``_BULK_CHUNK_SIZE``, ``_BULK_CONCURRENCY``.

Only the standard library: it runs before anything is imported from the project.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.request import urlopen

EXAMPLE_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"
SANDBOX_API_KEY = "sandbox-key"
WEBHOOK_SECRET = "whsec-demo"  # the demo's own, shared with its sandbox
ADMIN_USERNAME = "admin"
DEFAULT_ADMIN_PASSWORD = "textlink-demo"  # printed on purpose: demo only
DEFAULT_DATABASE = EXAMPLE_DIR / "demo.sqlite3"
# Three processes write to one SQLite file: wait for a lock instead of failing at once,
# and take the write lock when a transaction starts (no deadlocked upgrades).
SQLITE_OPTIONS = "timeout=20&transaction_mode=IMMEDIATE"
START_TIMEOUT = 60.0  # seconds for every child to answer
WORKER_QUIET_TIMEOUT = 15.0  # seconds after which a silent, living worker counts as started
STOP_TIMEOUT = 10.0  # seconds for the children to stop before they are killed
POLL = 0.1

OVERRIDDEN = (
    "TEXTLINK_API_KEY",
    "TEXTLINK_BASE_URL",
    "TEXTLINK_BACKEND",
    "TEXTLINK_WEBHOOK_SECRET",
    "TEXTLINK_TASKS",
    "TEXTLINK_SANDBOX_URL",
    "TEXTLINK_ALLOWED_COUNTRIES",
    "DATABASE_URL",
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
)


class DemoError(Exception):
    """The demo cannot start: the message says why."""


# -- output ------------------------------------------------------------------------------------

_print_lock = threading.Lock()


def say(text: str = "", prefix: str = "demo") -> None:
    with _print_lock, contextlib.suppress(OSError):  # a closed stdout stops nothing
        for line in text.splitlines() or [""]:
            print(f"{prefix:<7} | {line}" if prefix else line, flush=True)


def _pump(name: str, stream: IO[bytes], seen: Callable[[str], None]) -> None:
    """Copy a child's output to ours, each line prefixed with the child's name."""
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        seen(line)
        say(line, prefix=name)
    stream.close()


# -- configuration -----------------------------------------------------------------------------


def _port(name: str, default: int) -> int:
    value = os.environ.get(name) or str(default)
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise DemoError(f"{name}={value!r} is not a port number (1 to 65535).")
    return port


def _check_free(port: int, what: str, variable: str) -> None:
    with socket.socket() as sock:
        # As the servers bind: a port that only has closed connections waiting is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as err:
            raise DemoError(
                f"Port {port} ({what}) is taken on {HOST}: {err.strerror or err}. Is a demo "
                f"already running? Choose another: {variable}={port + 1} make demo"
            ) from None


def _dotenv_names(path: Path) -> set[str]:
    """The variable names ``.env`` sets (its values are never read here)."""
    if not path.is_file():
        return set()
    names = set()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip().removeprefix("export ").strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            if value.strip():
                names.add(name.strip())
    return names


@dataclass
class Demo:
    port: int
    sandbox_port: int
    password: str
    database_url: str

    @property
    def site_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://{HOST}:{self.sandbox_port}"

    def environment(self) -> dict[str, str]:
        forced = {
            "DJANGO_DEBUG": "True",  # runserver serves the admin's static files
            "DJANGO_ALLOWED_HOSTS": f"{HOST},localhost",
            "DATABASE_URL": self.database_url,
            "TEXTLINK_API_KEY": SANDBOX_API_KEY,
            "TEXTLINK_BASE_URL": f"{self.sandbox_url}/api",
            "TEXTLINK_BACKEND": "django_textlink.backends.textlink.TextLinkBackend",
            "TEXTLINK_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "TEXTLINK_TASKS": "db",
            "TEXTLINK_SANDBOX_URL": self.sandbox_url,
            "TEXTLINK_ALLOWED_COUNTRIES": "",  # any test number may get a code
        }
        env = {**os.environ, **forced, "PYTHONUNBUFFERED": "1"}
        env.pop("DJANGO_SETTINGS_MODULE", None)  # manage.py's own: example.settings
        return env

    def overridden(self) -> list[str]:
        """The variables the user set (in the shell, or in .env) that the demo replaces."""
        in_dotenv = _dotenv_names(EXAMPLE_DIR / ".env")
        forced = self.environment()
        names = []
        for name in OVERRIDDEN:
            if name in os.environ:
                if os.environ[name] and os.environ[name] != forced[name]:
                    names.append(name)
            elif name in in_dotenv:
                names.append(name)
        return names


def demo_from_environment() -> Demo:
    port = _port("PORT", 8000)
    sandbox_port = _port("SANDBOX_PORT", 8025)
    if port == sandbox_port:
        raise DemoError(f"PORT and SANDBOX_PORT are both {port}: they must differ.")
    database_url = os.environ.get("DEMO_DATABASE_URL") or (
        f"sqlite:///{DEFAULT_DATABASE}?{SQLITE_OPTIONS}"
    )
    password = os.environ.get("DEMO_ADMIN_PASSWORD") or DEFAULT_ADMIN_PASSWORD
    return Demo(port, sandbox_port, password, database_url)


# -- child processes ---------------------------------------------------------------------------


def _die_with_us() -> Callable[[], None] | None:
    """On Linux, a child also gets SIGTERM when this process dies, even by SIGKILL, so
    that no child outlives a demo that could not stop it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def set_parent_death_signal() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))

    return set_parent_death_signal


@dataclass
class Child:
    name: str  # in the prefix of its output lines
    title: str  # in sentences: "the task worker"
    args: list[str]
    ready_line: str | None = None  # a line of its output that says it is ready
    process: subprocess.Popen[bytes] | None = None
    reader: threading.Thread | None = None
    saw_ready_line: threading.Event = field(default_factory=threading.Event)

    def start(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own commands
            self.args,
            cwd=EXAMPLE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own process group: Ctrl-C in the terminal reaches this script only, which
            # stops the children in order, and a signal to the group reaches grandchildren.
            start_new_session=True,
            preexec_fn=_die_with_us(),  # started before any thread of ours: see start()
        )

    def pump(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None

        def seen(line: str) -> None:
            if self.ready_line and self.ready_line in line:
                self.saw_ready_line.set()

        self.reader = threading.Thread(
            target=_pump, args=(self.name, self.process.stdout, seen), daemon=True
        )
        self.reader.start()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)


class Supervisor:
    """Starts the children, watches them, and stops them all (no orphans)."""

    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self.stop_signal: int | None = None  # set by SIGINT/SIGTERM
        self.signals_seen = 0

    def install_signal_handlers(self) -> None:
        def on_signal(signum: int, frame: Any) -> None:
            self.signals_seen += 1
            if self.stop_signal is None:
                self.stop_signal = signum
                say("Stopping (Ctrl-C again to kill everything at once)...")

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

    def start(self, env: dict[str, str]) -> None:
        # Every process first, then the threads that read their output: no fork() while
        # another thread runs.
        for child in self.children:
            child.start(env)
        for child in self.children:
            child.pump()
        started = ", ".join(f"{child.title} (pid {child.pid})" for child in self.children)
        say(f"Started {started}.")

    def dead_child(self) -> Child | None:
        for child in self.children:
            if not child.running():
                return child
        return None

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float) -> None:
        """Polls ``ready`` until it is true; raises DemoError when a child dies, the user
        stops the demo or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while not ready():
            dead = self.dead_child()
            if dead is not None:
                raise DemoError(
                    f"{dead.title.capitalize()} exited (status {dead.returncode}) before "
                    f"{what} answered: see its output above."
                )
            if self.stop_signal is not None:
                raise DemoError("Stopped before the demo was ready.")
            if time.monotonic() > deadline:
                raise DemoError(f"{what.capitalize()} did not answer within {timeout:.0f} s.")
            time.sleep(POLL)

    def run_until_stopped(self) -> int:
        """Until Ctrl-C/SIGTERM (0) or a child's death (1)."""
        while self.stop_signal is None:
            dead = self.dead_child()
            if dead is not None:
                say(
                    f"{dead.title.capitalize()} exited (status {dead.returncode}): "
                    "stopping the others."
                )
                return 1
            time.sleep(POLL)
        return 0

    def stop(self) -> None:
        """Forward the stop (SIGINT, as Ctrl-C) to every child's process group, wait, then
        kill what is left: after STOP_TIMEOUT, or at once on another Ctrl-C."""
        signals_before = self.signals_seen
        for child in self.children:
            if child.running():
                child.signal_group(signal.SIGINT)
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(child.running() for child in self.children):
            if time.monotonic() > deadline or self.signals_seen > signals_before:
                for child in self.children:
                    if child.running():
                        say(f"Killing {child.title} (pid {child.pid}).")
                        child.signal_group(signal.SIGKILL)
                break
            time.sleep(POLL)
        for child in self.children:
            if child.process is not None:
                child.process.wait()
            # Whatever the child started (a reloader's process, say) goes with it.
            child.signal_group(signal.SIGKILL)
        for child in self.children:
            if child.reader is not None:
                child.reader.join(timeout=2)


# -- the demo ----------------------------------------------------------------------------------


def manage(env: dict[str, str], *args: str, show: bool = True) -> None:
    """One manage.py command in the foreground; its output is shown (or, with ``show``
    false, only when it fails)."""
    result = subprocess.run(  # noqa: S603 - our own commands
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    output = result.stdout.decode("utf-8", "replace").strip()
    if output and (show or result.returncode):
        say(output, prefix="setup")
    if result.returncode:
        raise DemoError(f"manage.py {args[0]} failed (status {result.returncode}).")


def _answers(url: str) -> bool:
    """Whether ``url`` answers 200 (an HTTP error, or no answer at all: not yet)."""
    try:
        with urlopen(url, timeout=2) as answer:  # noqa: S310 - our own http:// URLs
            return bool(answer.status == 200)
    except OSError:  # URLError and HTTPError are OSErrors
        return False


def banner(demo: Demo) -> str:
    site, sandbox = demo.site_url, demo.sandbox_url
    rule = "=" * 78
    return f"""{rule}
django-textlink demo: TextLink is played by the offline sandbox, no SMS leaves this machine.

  Site            {site}/
  Admin           {site}/admin/   user: {ADMIN_USERNAME}   password: {demo.password}
  Sandbox inbox   {sandbox}/

What to try (the home page says it too):
  1. Sign up at {site}/signup/ with a number such as +1 202 555 0143;
     the verification code is in the sandbox inbox.
  2. Log in to the admin as {ADMIN_USERNAME} (signed up in step 1? "Log out" at the top of the
     site first), then Contacts ({site}/admin/django_textlink/contact/?tag=demo):
     tick the 3 demo contacts, action "Send an SMS to the selected contacts", Go
     (Run on Django 6.1). The progress page fills up as the task worker sends.
  3. Sandbox inbox: open +12025550101, "Reply from this phone". The reply is in the
     admin: Contacts > Conversation.
  4. Admin > Webhook events: every webhook the sandbox posted to the site.

Ctrl-C stops the site, the task worker and the sandbox.
{rule}"""


def run(demo: Demo) -> int:
    env = demo.environment()
    sandbox_args = [sys.executable, "-m", "django_textlink.sandbox", "--host", HOST,
                    "--port", str(demo.sandbox_port), "--api-key", SANDBOX_API_KEY,
                    "--site-url", demo.site_url, "--webhook-secret", WEBHOOK_SECRET,
                    "--auto-webhooks"]  # fmt: skip
    site_args = [sys.executable, "manage.py", "runserver", "--noreload", f"{HOST}:{demo.port}"]
    worker_args = [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.5",
                   "--no-startup-delay"]  # fmt: skip
    worker = Child("worker", "the task worker", worker_args, ready_line="Starting worker")
    children = [Child("sandbox", "the sandbox", sandbox_args), Child("site", "the site", site_args),
                worker]  # fmt: skip
    supervisor = Supervisor(children)
    supervisor.install_signal_handlers()

    overridden = demo.overridden()
    if overridden:
        say(
            "The demo runs on the sandbox and its own database, so it overrides "
            f"{', '.join(overridden)} (from your environment or example_project/.env)."
        )
    _check_free(demo.port, "the site", "PORT")
    _check_free(demo.sandbox_port, "the sandbox", "SANDBOX_PORT")
    say(f"Preparing the demo database ({_shown_database(demo.database_url)})...")
    try:
        manage(env, "migrate", "--noinput", show=False)
        manage(env, "demo_setup", "--username", ADMIN_USERNAME, "--password", demo.password)
    except DemoError:
        if supervisor.stop_signal is not None:  # Ctrl-C reached manage.py too
            say("Stopped.")
            return 0
        raise
    if supervisor.stop_signal is not None:
        say("Stopped.")
        return 0

    status = 1
    try:
        supervisor.start(env)
        supervisor.wait_until(
            lambda: _answers(f"{demo.sandbox_url}/_sandbox/health"), "the sandbox", START_TIMEOUT
        )
        supervisor.wait_until(lambda: _answers(f"{demo.site_url}/"), "the site", START_TIMEOUT)
        # The worker serves nothing to ask: its "Starting worker" line says it is up. Should
        # a django-tasks-db release word it otherwise, a worker still alive will do.
        worker_started = time.monotonic()
        supervisor.wait_until(
            lambda: (
                worker.saw_ready_line.is_set()
                or time.monotonic() - worker_started > WORKER_QUIET_TIMEOUT
            ),
            "the task worker",
            START_TIMEOUT,
        )
        say(banner(demo), prefix="")
        status = supervisor.run_until_stopped()
    except DemoError as err:
        say(str(err))
        status = 0 if supervisor.stop_signal is not None else 1
    finally:
        supervisor.stop()
        say("Stopped." if status == 0 else "Stopped, after an error.")
    return status


def _shown_database(url: str) -> str:
    """The database, for a message: a SQLite path relative to here, else the scheme."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
        try:
            return str(path.relative_to(EXAMPLE_DIR.parent))
        except ValueError:
            return str(path)
    return url.split(":", 1)[0] + " database from DEMO_DATABASE_URL"


def main() -> int:
    try:
        demo = demo_from_environment()
        return run(demo)
    except DemoError as err:
        say(str(err))
        return 1


if __name__ == "__main__":
    sys.exit(main())
