"""TextLink's four webhooks: each post authenticated and parsed (:mod:`.parsing`), stored
once (:mod:`.store`), processed exactly once by its kind's handler (:mod:`.handlers`) and
signalled; the views (:mod:`.views`) answer TextLink.

``WebhookView`` is the base of the four views: subclass it and override ``accept()`` to
change what happens to a valid payload (see docs/webhooks.md).
"""

from __future__ import annotations

from django_textlink.webhooks.views import (
    FailedWebhookView,
    ReceivedWebhookView,
    SentWebhookView,
    TagWebhookView,
    WebhookView,
)

__all__ = [
    "FailedWebhookView",
    "ReceivedWebhookView",
    "SentWebhookView",
    "TagWebhookView",
    "WebhookView",
]
