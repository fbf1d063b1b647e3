from __future__ import annotations

from typing import ClassVar

from django.db import models


class Hit(models.Model):
    """One row per request to the baseline view."""

    # Declared: the type checker's settings (tests.settings) do not install this app.
    objects: ClassVar[models.Manager[Hit]] = models.Manager()

    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.text
