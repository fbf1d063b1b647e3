"""The fraud guard: SMS pumping (toll fraud) costs a site a handful of codes at most.

* :mod:`.guard`: :class:`FraudGuard`, what :meth:`PhoneVerification.start` asks.
* :mod:`.numbers`: number types and ranges.
* :mod:`.activity`: codes sent and numbers verified per range and period.
* :mod:`.blocks`: escalating blocks of a range or a country, and lifting them.
* :mod:`.backoff`: the per-phone back-off.

Its options are ``TEXTLINK["FRAUD_GUARD"]`` (:mod:`django_textlink._guard_options`) and
``TEXTLINK["CHALLENGE"]`` (:mod:`django_textlink.verification.challenge`); see
``docs/fraud-guard.md``.
"""

from __future__ import annotations

from django_textlink.verification.guard.guard import FraudGuard, Screen

__all__ = ["FraudGuard", "Screen"]
