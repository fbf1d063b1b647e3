"""TextLinkBackend: sends through TextLink's HTTP API (the default backend).

Backends are cheap to create; the HTTP client behind them is not (it owns a pool of
keep-alive connections). One client is therefore shared per process and per
configuration (API key, base URL, timeout, retry and pool settings), and replaced when
``settings.TEXTLINK`` changes.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any

from django_textlink.backends.base import BaseBackend
from django_textlink.client import TextLinkClient
from django_textlink.conf import conf
from django_textlink.results import SendCodeResult, SendResult, TagResult, VerifyResult

_clients: dict[tuple[object, ...], TextLinkClient] = {}
_clients_lock = threading.Lock()


def shared_client() -> TextLinkClient:
    """The process-wide client for the current settings."""
    api_key = conf.require("API_KEY", "TextLinkBackend needs your TextLink API key.")
    settings_key = (
        os.getpid(),  # never share pooled sockets across a fork
        hashlib.sha256(str(api_key).encode()).hexdigest(),
        conf.BASE_URL,
        conf.TIMEOUT,
        conf.MAX_RETRIES,
        conf.RETRY_BACKOFF,
        conf.POOL_SIZE,
    )
    with _clients_lock:
        client = _clients.get(settings_key)
        if client is None:
            client = TextLinkClient(
                api_key=conf.API_KEY or "",
                base_url=conf.BASE_URL,
                timeout=conf.TIMEOUT,
                max_retries=conf.MAX_RETRIES,
                retry_backoff=conf.RETRY_BACKOFF,
                pool_size=conf.POOL_SIZE,
            )
            _clients[settings_key] = client
        return client


def close_shared_clients() -> None:
    """Close and forget every shared client (called when ``settings.TEXTLINK`` changes)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


class TextLinkBackend(BaseBackend):
    """Sends through TextLink. Pass ``client=`` to use a client of your own (for example
    one per TextLink sub-account, each with its own API key)."""

    def __init__(self, *, client: TextLinkClient | None = None, **options: Any) -> None:
        super().__init__(**options)
        self._client = client

    @property
    def client(self) -> TextLinkClient:
        if self._client is None:
            self._client = shared_client()
        return self._client

    def send_sms(
        self,
        phone_number: str,
        text: str,
        *,
        sim_card_id: int | None = None,
        custom_id: str | None = None,
    ) -> SendResult:
        return self.client.send_sms(
            phone_number, text, sim_card_id=sim_card_id, custom_id=custom_id
        )

    def send_code(
        self,
        phone_number: str,
        *,
        service_name: str | None = None,
        sim_card_id: int | None = None,
        custom_id: str | None = None,
        expiration_time: int | None = None,
        source_country: str | None = None,
    ) -> SendCodeResult:
        return self.client.send_code(
            phone_number,
            service_name=service_name,
            sim_card_id=sim_card_id,
            custom_id=custom_id,
            expiration_time=expiration_time,
            source_country=source_country,
        )

    def verify_code(self, phone_number: str, code: str) -> VerifyResult:
        return self.client.verify_code(phone_number, code)

    def update_contact_tag(self, phone_number: str, tag: str) -> TagResult:
        return self.client.update_contact_tag(phone_number, tag)
