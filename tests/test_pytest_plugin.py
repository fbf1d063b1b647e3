"""The pytest plugin, as another project that installs django-textlink meets it.

Each test runs pytest in a fresh subprocess, in an empty directory, with no Django
settings: what the plugin does there is all a project gets from merely installing the
package.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    return pytester


def test_a_project_that_never_uses_the_package_imports_nothing_of_it(project):
    project.makepyfile(
        test_other="""
        import sys

        def test_one():
            loaded = {m for m in sys.modules if m.startswith("django_textlink")}
            assert loaded == {"django_textlink", "django_textlink.pytest_plugin"}, loaded

        def test_two():
            assert "django_textlink.backends.simulated" not in sys.modules
        """
    )

    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")

    result.assert_outcomes(passed=2)


def test_the_outbox_is_emptied_between_tests_once_the_backends_are_loaded(project):
    project.makepyfile(
        test_outbox="""
        import django
        from django.conf import settings

        settings.configure(TEXTLINK={"BACKEND": "django_textlink.backends.locmem.LocMemBackend"})
        django.setup()

        import django_textlink
        from django_textlink.backends import get_backend

        def test_first(textlink_outbox):
            get_backend().send_sms("+12025550143", "one")
            assert len(textlink_outbox) == 1

        def test_second(textlink_outbox):
            assert textlink_outbox == []
            assert textlink_outbox is django_textlink.outbox
        """
    )

    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")

    result.assert_outcomes(passed=2)
