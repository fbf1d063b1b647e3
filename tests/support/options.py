"""Bad values of every ``TEXTLINK`` option, shared by the settings and system-check tests."""

from __future__ import annotations

from typing import Any

#: A value that each option refuses. Every key of DEFAULTS must be here (tests/test_conf.py
#: checks it): tests/test_checks.py proves with it that ``manage.py check`` reports each
#: option, so no option can be added unchecked.
BAD_VALUES: dict[str, Any] = {
    "API_KEY": 12345,
    "BASE_URL": "ftp://textlinksms.com/api",
    "BACKEND": "",
    "WEBHOOK_SECRET": ["ok", ""],
    "TIMEOUT": 0,
    "MAX_RETRIES": 3,
    "RETRY_BACKOFF": -1,
    "POOL_SIZE": 0,
    "DEFAULT_REGION": "USA",
    "SERVICE_NAME": 5,
    "CODE_LIFETIME": 0,
    "SIM_CARD_ID": -3,
    "SOURCE_COUNTRY": "1",
    "ALLOWED_COUNTRIES": "US",
    "RESEND_COOLDOWN": -1,
    "SENDS_PER_PHONE_PER_HOUR": "5",
    "SENDS_PER_IP_PER_HOUR": 0,
    "WRONG_CODES_PER_CODE": 0,
    "CHECKS_PER_PHONE_PER_HOUR": 1.5,
    "CHECKS_PER_IP_PER_HOUR": 0,
    "DAILY_SEND_BUDGET": True,
    "TRUSTED_PROXIES": ["not-an-ip"],
    "LIMIT_STORE": "redis",
    "CACHE": "nope",
    "ALLOWED_ORIGINS": ["app.example.com"],
    "TOKEN_MAX_AGE": 0,
    "FRAUD_GUARD": {"RANGE_DIGITS": 0},
    "CHALLENGE": "not-a-dotted-path",
    "BULK_CHUNK_SIZE": 0,
    "BULK_CONCURRENCY": "50",
    "BULK_RATE_LIMIT": 0,
    "BULK_MAX_ATTEMPTS": 0,
    "CLAIM_TIMEOUT": -1,
    "TASK_BACKEND": "",
    "WEBHOOK_MAX_BODY": 0,
    "WEBHOOK_PROCESSING": "tasks",
    "OPT_OUT_KEYWORDS": "STOP",
    "OPT_IN_KEYWORDS": ["START", ""],
}
