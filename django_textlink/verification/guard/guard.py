"""The fraud guard: what :meth:`PhoneVerification.start` asks before any call to TextLink.

Two steps. :meth:`FraudGuard.screen` refuses what no challenge can make acceptable: a
number of a refused type, a country set to ``"block"``, a range or a country under an
active block, a number waiting out its back-off. :meth:`FraudGuard.admit` then decides the
budgets: a range's sends per hour (which grow with its verified numbers) and, in a country
whose conversion fell too low, the country's throttled sends; near a budget, or from a
network that sends to many numbers, it first asks for a challenge. A budget that refuses
places an escalating block. The budgets are
:class:`~django_textlink.verification.limits.WindowLimit` counters on the limit store,
decided atomically: concurrent requests from any number of processes are admitted exactly
up to the budget.

In ``"monitor"`` mode (or for a country set to ``"monitor"``) every decision is made and
reported (the ``verification_blocked`` signal and a log line) but nothing is refused.
Numbers on the safe list, countries set to ``"allow"`` and mode ``"off"`` skip the guard.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from django_textlink._guard_options import GuardOptions
from django_textlink._masking import mask_phone
from django_textlink.conf import conf
from django_textlink.phone import region_of
from django_textlink.signals import verification_blocked
from django_textlink.verification import state
from django_textlink.verification.challenge import get_challenge
from django_textlink.verification.clientip import client_network_key
from django_textlink.verification.clock import as_seconds, now
from django_textlink.verification.errors import (
    ChallengeRequired,
    CountryNotAllowed,
    NumberNotAllowed,
    VerificationBlocked,
)
from django_textlink.verification.guard import activity, backoff, blocks
from django_textlink.verification.guard.numbers import number_range, refused_type, type_message
from django_textlink.verification.limits import Hit, WindowLimit, acquire_all, count_all
from django_textlink.verification.state import DAY, HOUR

logger = logging.getLogger("django_textlink.verification.guard")

#: The reasons for a challenge, the first one found is reported.
ZONE_ORDER = ["low_conversion", "range_near_budget", "network_many_numbers"]

#: A counter that only counts (sends from one network): it never refuses.
UNLIMITED = 2**31 - 1

CHALLENGE_MESSAGE = _("Please complete the check to receive your code.")
CHALLENGE_FAILED_MESSAGE = _("The check did not succeed. Please try again.")
COUNTRY_MODE_MESSAGE = _("We cannot send codes to phone numbers in this country.")

#: Effective modes of one screened number.
GUARD, MONITOR, SKIP = "guard", "monitor", "skip"


@dataclass(frozen=True)
class Screen:
    """One number as the guard sees it, passed from :meth:`FraudGuard.screen` to
    :meth:`FraudGuard.admit` and :meth:`FraudGuard.sent`."""

    phone_number: str
    country: str
    number_range: str
    mode: str
    standing: blocks.Standing | None = None
    #: Codes sent to the number since its back-off was last reset.
    sent_before: int = 0


def _range_limit(number_range: str, budget: int) -> WindowLimit:
    return WindowLimit(
        state.store(), "range_velocity", state.key("range", number_range), limit=budget, window=HOUR
    )


def _country_limit(country: str, budget: int, window: int) -> WindowLimit:
    return WindowLimit(
        state.store(),
        "low_conversion",
        state.key("country-throttled", country),
        limit=budget,
        window=window,
    )


def reset_counters(scope: str, value: str) -> None:
    """Forget the budget counters of a range or a country (its block was lifted)."""
    options = conf.FRAUD_GUARD
    if scope == blocks.RANGE:
        _range_limit(value, 1).reset()
    else:
        _country_limit(value, 1, options.conversion_window).reset()


class FraudGuard:
    """The fraud guard of one request (or of none: a shell, a task)."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        self.request = request

    @property
    def options(self) -> GuardOptions:
        return conf.FRAUD_GUARD

    # -- reporting --------------------------------------------------------------------------

    def report(self, screen: Screen, reason: str, action: str) -> None:
        """Signal and log a decision (the log has the masked number and the range only)."""
        if screen.mode == MONITOR:
            action = "monitored"
        logger.info(
            "Fraud guard %s a code to %s (range %s, country %s): %s",
            action,
            mask_phone(screen.phone_number),
            screen.number_range,
            screen.country or "?",
            reason,
        )
        verification_blocked.send(
            sender=type(self),
            reason=reason,
            action=action,
            phone_number=screen.phone_number,
            country=screen.country,
            number_range=screen.number_range,
            request=self.request,
        )

    def _refuse(self, screen: Screen, reason: str, error: Exception) -> None:
        """Report ``reason``; raise ``error`` unless the guard only monitors this number."""
        self.report(screen, reason, "blocked")
        if screen.mode == GUARD:
            raise error

    # -- step 1: what no challenge changes ----------------------------------------------------

    def screen(self, phone_number: str) -> Screen:
        """Refuse (raise) what the guard never sends to; return the :class:`Screen` that
        :meth:`admit` and :meth:`sent` take."""
        options = self.options
        country = region_of(phone_number) or ""
        prefix = number_range(phone_number, options.range_digits)
        mode = options.country_mode(country) if options.enabled else SKIP
        if options.is_safe(phone_number) or mode == "allow":
            mode = SKIP
        if mode == "block":
            screen = Screen(phone_number, country, prefix, GUARD)
            self._refuse(screen, "country_mode", CountryNotAllowed(COUNTRY_MODE_MESSAGE))
        if mode == SKIP:
            return Screen(phone_number, country, prefix, SKIP)
        screen = Screen(phone_number, country, prefix, mode)

        kind = refused_type(phone_number, options.refused_number_types)
        if kind is not None:
            error = NumberNotAllowed(type_message(kind), number_type=kind)
            self._refuse(screen, "number_type", error)

        standing = blocks.standing(prefix, country)
        screen = Screen(phone_number, country, prefix, mode, standing)
        block = standing.active
        if block is not None:
            limit = "range_blocked" if block.scope == blocks.RANGE else "country_blocked"
            self._refuse(screen, limit, VerificationBlocked(limit, standing.retry_after))

        count, last = backoff.read(phone_number)
        screen = Screen(phone_number, country, prefix, mode, standing, count)
        wait = backoff.wait(phone_number, options, count, last)
        if wait > 0:
            self._refuse(screen, "phone_backoff", VerificationBlocked("phone_backoff", wait))
        return screen

    def backoff_wait(self, phone_number: str) -> float:
        """Seconds the number's back-off still asks to wait (0 where the guard does not
        apply), for the pages' resend countdown."""
        options = self.options
        country = region_of(phone_number) or ""
        if not options.enabled or options.is_safe(phone_number):
            return 0.0
        if options.country_mode(country) in ("allow", "monitor") or options.mode == MONITOR:
            return 0.0
        count, last = backoff.read(phone_number)
        return backoff.wait(phone_number, options, count, last)

    # -- step 2: budgets and the throttle zone --------------------------------------------------

    def admit(self, screen: Screen, answer: Mapping[str, Any] | None = None) -> list[Hit]:
        """Count the send against the guard's budgets, asking for a challenge first in the
        throttle zone (raise :class:`ChallengeRequired`, with nothing counted, unless
        ``answer`` solves one). A budget that refuses places a block and raises
        :class:`VerificationBlocked`. Returns the hits to take back if the send fails."""
        if screen.mode == SKIP:
            return []
        options = self.options
        at = now()
        since = at - options.conversion_window
        lifted = screen.standing.country_lifted_at if screen.standing is not None else None
        if lifted is not None:
            since = max(since, lifted)
        verified_in_range = activity.range_figures(screen.number_range, at - DAY).verified
        budget = min(
            options.range_max_sends_per_hour,
            options.range_sends_per_hour + options.range_sends_per_verified * verified_in_range,
        )
        range_limit = _range_limit(screen.number_range, budget)
        limits = [range_limit]
        # Where each budget stands, all read at once; the counting below is exact.
        thresholds = {range_limit: options.challenge_from * budget}
        reasons = {range_limit: "range_near_budget"}
        if screen.country:
            country_limit, free = self._country_budget(screen.country, since)
            limits.append(country_limit)
            thresholds[country_limit], reasons[country_limit] = free, "low_conversion"
        network = client_network_key(self.request)
        if network is not None:
            network_limit = WindowLimit(
                state.store(),
                "network_sends",
                state.key("network", network),
                limit=UNLIMITED,
                window=HOUR,
            )
            limits.append(network_limit)
            thresholds[network_limit] = options.network_free_sends
            reasons[network_limit] = "network_many_numbers"
        counts = count_all(limits)
        zone = [reasons[limit] for limit in limits if counts[limit] >= thresholds[limit]]
        zone.sort(key=ZONE_ORDER.index)

        if zone:
            self._challenge(screen, zone[0], answer)
        hits, refused, _retry = acquire_all(limits)
        if refused is not None:
            self._over_budget(screen, refused)
            return []
        return hits

    def _country_budget(self, country: str, since: float) -> tuple[WindowLimit, int]:
        """The country's codes in the conversion window, counted atomically with the
        send (so that parallel requests cannot overrun it while the figures lag behind),
        and how many of them go out unthrottled.

        "At least ``COUNTRY_MIN_SENDS`` codes and fewer than ``COUNTRY_MIN_CONVERSION`` of
        them verified" is "more than ``max(COUNTRY_MIN_SENDS - 1, verified /
        COUNTRY_MIN_CONVERSION)`` codes": that many go out freely; then the country is
        throttled, and gets ``COUNTRY_THROTTLED_SENDS`` more codes plus one per number
        verified, each after a challenge; the next is refused and blocks the country."""
        options = self.options
        verified = activity.country_figures(country, since).verified
        if options.country_min_conversion > 0:
            judged = int(verified / options.country_min_conversion) + 1
            free = max(options.country_min_sends, judged)
            budget = free + options.country_throttled_sends + verified
        else:  # a conversion of 0 is never too low
            free = budget = UNLIMITED
        return _country_limit(country, min(budget, UNLIMITED), options.conversion_window), free

    def _challenge(self, screen: Screen, reason: str, answer: Mapping[str, Any] | None) -> None:
        challenge = get_challenge(self.request)
        if challenge is None:  # step-up is off: the budgets alone decide
            return
        if answer is not None and challenge.verify(screen.phone_number, answer):
            return
        self.report(screen, reason, "challenged")
        if screen.mode != GUARD:
            return
        message = CHALLENGE_FAILED_MESSAGE if answer is not None else CHALLENGE_MESSAGE
        raise ChallengeRequired(
            message,
            challenge=challenge.issue(screen.phone_number),
            reason=reason,
            invalid=answer is not None,
            renderer=challenge,
        )

    def _over_budget(self, screen: Screen, refused: WindowLimit) -> None:
        if refused.name == "range_velocity":
            scope, value, reason, limit = (
                blocks.RANGE,
                screen.number_range,
                "range_velocity",
                "range_blocked",
            )
        else:
            scope, value, reason, limit = (
                blocks.COUNTRY,
                screen.country,
                "low_conversion",
                "country_blocked",
            )
        if screen.mode != GUARD:
            self.report(screen, reason, "blocked")
            return
        recent = screen.standing.recent if screen.standing is not None else ()
        block = blocks.place(scope, value, reason, self.options, recent)
        retry_after = max(1.0, as_seconds(block.ends_at) - now())
        self._refuse(screen, reason, VerificationBlocked(limit, retry_after))

    # -- after the send, after a check ----------------------------------------------------------

    def sent(self, screen: Screen) -> None:
        """A code went (or may have gone) to the number: count it."""
        if screen.mode == SKIP:
            return
        activity.record(screen.country, screen.number_range, sends=1)
        backoff.note_send(screen.phone_number, screen.sent_before)

    def next_wait(self, screen: Screen) -> float:
        """Seconds the back-off will ask the next code to this number to wait, once this
        one is sent (for ``resend_in``)."""
        if screen.mode != GUARD:
            return 0.0
        return backoff.delay(screen.phone_number, screen.sent_before + 1, self.options)

    def verified(self, phone_number: str) -> None:
        """The number's code was right: count the conversion, forget the back-off."""
        options = self.options
        if not options.enabled:
            return
        country = region_of(phone_number) or ""
        activity.record(country, number_range(phone_number, options.range_digits), verified=1)
        backoff.reset(phone_number)
