"""Backends: where django-textlink sends SMS and codes, chosen by ``TEXTLINK["BACKEND"]``.

Like Django's e-mail backends: ``TextLinkBackend`` talks to TextLink over HTTP,
``ConsoleBackend`` prints (development), ``LocMemBackend`` records into
``django_textlink.outbox`` (tests). Use :func:`get_backend` rather than instantiating one.
"""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string

from django_textlink.backends.base import BaseBackend
from django_textlink.conf import conf, setting_name
from django_textlink.exceptions import TextLinkConfigurationError


def load_backend_class(path: str | None = None) -> type[BaseBackend]:
    """The backend class at ``path`` (default: ``TEXTLINK["BACKEND"]``)."""
    source = "The backend path" if path else setting_name("BACKEND")
    path = path or conf.BACKEND
    try:
        backend_class = import_string(path)
    except ImportError as err:
        raise TextLinkConfigurationError(
            f"{source} names {path!r}, which cannot be imported: {err}"
        ) from err
    if not (isinstance(backend_class, type) and issubclass(backend_class, BaseBackend)):
        raise TextLinkConfigurationError(
            f"{source} names {path!r}, which is not a "
            "django_textlink.backends.base.BaseBackend subclass."
        )
    return backend_class


def get_backend(path: str | None = None, **options: Any) -> BaseBackend:
    """An instance of the configured backend (or of ``path``), built with ``options``."""
    return load_backend_class(path)(**options)


__all__ = ["BaseBackend", "get_backend", "load_backend_class"]
