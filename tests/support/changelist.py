"""Posting to a Django admin changelist as its action form does."""

from __future__ import annotations

from typing import Any


def action_data(action: str, ids: list[int], **extra: Any) -> dict[str, Any]:
    """What the changelist posts when an action's button ("Go", "Run" in 6.1) is pressed."""
    return {
        "action": action,
        "index": "0",
        "select_across": "0",
        "_selected_action": [str(pk) for pk in ids],
        **extra,
    }
