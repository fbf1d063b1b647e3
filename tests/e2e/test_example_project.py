"""The example project (what `make demo` runs) really starts and works.

Runs the example's own manage.py in a subprocess, as a user would, on a throwaway SQLite
database (see tests/support/example_server.py). tests/e2e/test_browser.py drives it with a
real browser.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.example_server import example_env, free_port, run_example
from tests.support.paths import EXAMPLE_DIR

pytestmark = pytest.mark.own_database  # the example project on its own SQLite database


def test_example_without_api_key_runs_on_console_backend_and_sends(tmp_path: Path) -> None:
    with run_example(tmp_path, TEXTLINK_API_KEY="") as (url, log_path):
        session = requests.Session()
        page = session.get(url, timeout=5)
        assert page.status_code == 200
        assert "ConsoleBackend" in page.text
        assert "no SMS leaves this machine" in page.text

        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "the test-SMS form is offered on the console backend"
        answer = session.post(
            url,
            data={
                "csrfmiddlewaretoken": token.group(1),
                "phone_number": "+1 202 555 0143",
                "text": "Hello from the example",
            },
            headers={"Referer": url},
            timeout=5,
        )
        assert answer.status_code == 200
        assert "Message accepted." in answer.text
        deadline = time.monotonic() + 5
        while "Hello from the example" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = log_path.read_text()
        assert "Hello from the example" in log
        assert "To: +12025550143" in log

    # Sent as a site sends, with django_textlink.send_sms(): the message is stored.
    stored = manage_shell(
        tmp_path,
        "from django_textlink.models import SMSMessage; "
        "print(list(SMSMessage.objects.values_list('phone_number', 'text', 'status')))",
        TEXTLINK_API_KEY="",
    )
    assert stored == "[('+12025550143', 'Hello from the example', 'sent')]"


def manage_shell(tmp_path: Path, code: str, **extra: str) -> str:
    """The last line ``manage.py shell -c code`` printed, on the example's database in
    ``tmp_path`` (after the shell's own "N objects imported" line)."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=EXAMPLE_DIR,
        env=example_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_example_with_api_key_uses_http_backend_and_hides_the_form(tmp_path: Path) -> None:
    with run_example(tmp_path, TEXTLINK_API_KEY="tl-example-key") as (url, _log):
        page = requests.get(url, timeout=5)
        assert "TextLinkBackend" in page.text
        assert "https://textlinksms.com/api" in page.text
        assert "tl-example-key" not in page.text
        assert 'name="text"' not in page.text, "anonymous visitors cannot spend SMS credit"


def test_example_settings_pass_system_checks(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=EXAMPLE_DIR,
        env=example_env(tmp_path, TEXTLINK_API_KEY=""),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_on_the_sandbox_says_so_and_links_to_its_inbox(tmp_path: Path) -> None:
    """What `make demo` sets (example_project/demo.py): the HTTP backend pointed at the
    offline sandbox. Nothing needs to listen there to render the home page."""
    sandbox = "http://127.0.0.1:9"
    with run_example(
        tmp_path,
        TEXTLINK_API_KEY="sandbox-key",
        TEXTLINK_BASE_URL=f"{sandbox}/api",
        TEXTLINK_SANDBOX_URL=f"{sandbox}/",
    ) as (url, _log):
        page = requests.get(url, timeout=5)
        assert "TextLinkBackend" in page.text
        assert re.search(r"offline\s+<strong>TextLink sandbox</strong>", page.text)
        assert "no SMS leaves this machine" in page.text
        assert f'<a href="{sandbox}/">sandbox inbox</a>' in page.text
        assert 'name="text"' in page.text, "the sandbox costs nothing: anyone may try it"
        assert "sandbox-key" not in page.text


def test_example_serves_a_favicon_and_links_the_demo_contacts_as_the_filter_does(
    tmp_path: Path,
) -> None:
    with run_example(tmp_path, TEXTLINK_API_KEY="") as (url, _log):
        icon = requests.get(f"{url}favicon.ico", timeout=5)
        home = requests.get(url, timeout=5).text

    assert icon.status_code == 200
    assert icon.headers["Content-Type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg")
    assert '<link rel="icon" href="/favicon.ico"' in home
    # ContactAdmin's "By tag" filter (list_filter "tag") reads ?tag=, not ?tag__exact=.
    assert 'href="/admin/django_textlink/contact/?tag=demo"' in home
    assert "tag__exact" not in home


def test_example_schema_downloads_under_a_name_without_spaces(tmp_path: Path) -> None:
    with run_example(tmp_path, TEXTLINK_API_KEY="") as (url, _log):
        yaml = requests.get(f"{url}api/schema/", timeout=10)
        json = requests.get(f"{url}api/schema/?format=json", timeout=10)
        docs = requests.get(f"{url}api/textlink/docs/", timeout=10)

    assert yaml.status_code == 200
    assert yaml.headers["Content-Disposition"] == 'inline; filename="django-textlink-example.yaml"'
    assert "/api/textlink/verify/send/" in yaml.text
    assert "/api/schema/" not in yaml.text  # the schema leaves itself out
    assert json.headers["Content-Disposition"] == 'inline; filename="django-textlink-example.json"'
    assert json.json()["info"]["title"] == "django-textlink example"
    assert docs.status_code == 200
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in docs.text


def _readme_commands(section: str) -> list[list[str]]:
    """The ``manage.py`` commands of the README's sh block under ``### <section>``."""
    readme = (EXAMPLE_DIR.parent / "README.md").read_text(encoding="utf-8")
    body = readme.split(f"\n### {section}\n", 1)[1].split("\n#", 1)[0]
    block = re.search(r"```sh\n(.*?)```", body, re.S)
    assert block, f"no sh block under ### {section}"
    commands = []
    for line in block.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("../.venv/bin/python manage.py "):
            commands.append(line.removeprefix("../.venv/bin/python manage.py ").split())
    return commands


def test_the_readmes_commands_without_the_demo_make_a_site_one_can_sign_up_on(
    tmp_path: Path,
) -> None:
    """The README's "Without the demo" steps, followed on a fresh database: signing up
    works (without `migrate` first it failed with "no such table")."""
    commands = _readme_commands("Without the demo")
    names = [command[0] for command in commands]
    assert names.index("migrate") < names.index("runserver"), names
    env = example_env(tmp_path, TEXTLINK_API_KEY="")
    for command in commands:
        if command[0] in ("runserver", "createsuperuser"):  # the server below; interactive
            continue
        subprocess.run(
            [sys.executable, "manage.py", *command, "--noinput"],
            cwd=EXAMPLE_DIR, env=env, check=True, timeout=120, capture_output=True,
        )  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=EXAMPLE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/signup/"
        session = requests.Session()
        deadline = time.monotonic() + 30
        while True:
            try:
                form = session.get(url, timeout=2)
                break
            except requests.ConnectionError:
                assert server.poll() is None, "runserver exited"
                assert time.monotonic() < deadline, "runserver did not answer"
                time.sleep(0.2)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token
        answer = session.post(
            url,
            data={
                "csrfmiddlewaretoken": token.group(1),
                "username": "ada",
                "password1": "correct-horse-battery-staple",
                "password2": "correct-horse-battery-staple",
                "phone_number": "+1 202 555 0143",
            },
            headers={"Referer": url},
            allow_redirects=False,
            timeout=10,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert answer.status_code == 302, answer.text[:2000]
    assert answer.headers["Location"].startswith("/textlink/verify/confirm/")


def test_the_readme_says_migrate_before_every_runserver_without_the_demo() -> None:
    readme = (EXAMPLE_DIR.parent / "README.md").read_text(encoding="utf-8")
    for section in ("Without the demo", "Running the example project on your own settings"):
        body = readme.split(f"\n### {section}\n", 1)[1].split("\n#", 1)[0]
        assert "manage.py runserver" in body, section
        assert body.index("manage.py migrate") < body.index("manage.py runserver"), section
