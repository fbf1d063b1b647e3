"""Request bodies for TextLink's four endpoints, validated in one place.

The HTTP client posts these; the console and locmem backends read the same dicts, so
every backend refuses the same bad input with the same error. Options left unset are
omitted from the body (never sent as ``null``).
"""

from __future__ import annotations

import re
from typing import Any

from django_textlink._masking import mask_phone

E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


def send_sms_payload(
    phone_number: str, text: str, *, sim_card_id: int | None = None, custom_id: str | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"phone_number": _phone(phone_number), "text": _text(text, "text")}
    _add_sim_and_custom_id(payload, sim_card_id, custom_id)
    return payload


def send_code_payload(
    phone_number: str,
    *,
    service_name: str | None = None,
    sim_card_id: int | None = None,
    custom_id: str | None = None,
    expiration_time: int | None = None,
    source_country: str | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"phone_number": _phone(phone_number)}
    if service_name is not None:
        payload["service_name"] = _text(service_name, "service_name")
    _add_sim_and_custom_id(payload, sim_card_id, custom_id)
    if expiration_time is not None:
        if not _whole(expiration_time) or expiration_time <= 0:
            raise ValueError("expiration_time must be a positive whole number of milliseconds.")
        payload["expiration_time"] = expiration_time
    if source_country is not None:
        country = source_country.upper() if isinstance(source_country, str) else ""
        if not COUNTRY_RE.match(country):
            raise ValueError("source_country must be an ISO 3166-1 alpha-2 code such as 'US'.")
        payload["source_country"] = country
    return payload


def verify_code_payload(phone_number: str, code: str) -> dict[str, Any]:
    if isinstance(code, int) and not isinstance(code, bool):
        code = str(code)
    return {"phone_number": _phone(phone_number), "code": _text(code, "code").strip()}


def update_contact_tag_payload(phone_number: str, tag: str) -> dict[str, Any]:
    if not isinstance(tag, str):
        raise ValueError("tag must be a string.")
    return {"phone_number": _phone(phone_number), "tag": tag}


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _phone(phone_number: object) -> str:
    if not isinstance(phone_number, str) or not E164_RE.match(phone_number):
        raise ValueError(
            "phone_number must be in E.164 form such as '+11234567890', got "
            f"{mask_phone(phone_number)!r}. Normalize it first with "
            "django_textlink.phone.normalize_phone()."
        )
    return phone_number


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string.")
    return value


def check_sim_card_id(value: object) -> int | None:
    """``value`` as a SIM card id (None: TextLink picks the SIM), or ``ValueError``."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(
            f"sim_card_id must be a whole number >= 0 (TextLink's SIM card id), got {value!r}."
        )
    return value


def _add_sim_and_custom_id(payload: dict[str, Any], sim_card_id: object, custom_id: object) -> None:
    if sim_card_id is not None:
        payload["sim_card_id"] = check_sim_card_id(sim_card_id)
    if custom_id is not None:
        if not isinstance(custom_id, str) or not custom_id:
            raise ValueError("custom_id must be a non-empty string.")
        payload["custom_id"] = custom_id
