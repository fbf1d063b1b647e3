"""Verification tokens: a signed proof that a number was verified (and for which user),
redeemable once. Used tokens are remembered in the limit store until they expire."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.utils.translation import gettext_lazy as _

from django_textlink.conf import conf
from django_textlink.phone import InvalidPhoneNumber, normalize_phone
from django_textlink.verification.clock import now
from django_textlink.verification.errors import InvalidToken
from django_textlink.verification.state import key, store

TOKEN_SALT = "django_textlink.verification.token"  # noqa: S105 - a salt name


@dataclass(frozen=True)
class TokenData:
    phone_number: str
    user_id: str | None
    nonce: str


def make_token(phone_number: str, user: Any = None) -> str:
    user_id = (
        str(user.pk) if user is not None and getattr(user, "is_authenticated", False) else None
    )
    payload = {"p": phone_number, "u": user_id, "n": secrets.token_urlsafe(12)}
    return signing.dumps(payload, salt=TOKEN_SALT)


def read_token(token: str, *, phone_number: str | None = None, user: Any = None) -> TokenData:
    """Check a token without using it up. Raises :class:`InvalidToken`."""
    token_data = _verified_token_data(token, phone_number=phone_number, user=user)
    if store().get(_used_key(token_data)) is not None:
        raise InvalidToken(_("The phone verification was already used."))
    return token_data


def _verified_token_data(
    token: str, *, phone_number: str | None = None, user: Any = None
) -> TokenData:
    """The token's data when its signature, age, number and user are right (whether it
    was used is not looked at)."""
    token_data = _signed_token_data(token)
    if phone_number is not None:
        try:
            same = normalize_phone(phone_number) == token_data.phone_number
        except InvalidPhoneNumber:
            same = False
        if not same:
            raise InvalidToken(_("The phone number does not match the verified number."))
    if token_data.user_id is not None and (
        user is None or str(getattr(user, "pk", "")) != token_data.user_id
    ):
        raise InvalidToken(_("The phone verification belongs to another account."))
    return token_data


def _signed_token_data(token: str) -> TokenData:
    """The token's data when its signature and age are right."""
    try:
        data = signing.loads(str(token), salt=TOKEN_SALT, max_age=conf.TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        raise InvalidToken(
            _("The phone verification has expired. Verify the number again.")
        ) from None
    except signing.BadSignature:
        raise InvalidToken(_("The phone verification is not valid.")) from None
    if not isinstance(data, dict) or not isinstance(data.get("p"), str):
        raise InvalidToken(_("The phone verification is not valid."))
    return TokenData(phone_number=data["p"], user_id=data.get("u"), nonce=str(data.get("n")))


def _used_key(token_data: TokenData) -> str:
    """The store key that marks the token as used."""
    return key("token-used", token_data.nonce)


def redeem_token(token: str, *, phone_number: str | None = None, user: Any = None) -> str:
    """Use a token up (once) and return its verified phone number. Raises
    :class:`InvalidToken`, also when the token was already redeemed.

    The token is remembered as used in the limit store until it expires. In the database
    store, inside a transaction, that is part of the transaction: redeem in the same
    ``transaction.atomic()`` block as the save the token allows (as
    :meth:`~django_textlink.forms.VerifiedPhoneFormMixin.save_with_verified_phone` does),
    and a concurrent redemption of the same token waits for it, then fails; a rollback
    gives the token back."""
    # Not read_token(): whether it was used is decided by the add alone, which is then the
    # first statement of the caller's transaction (on SQLite a read first would make the
    # write fail at once, "database is locked", when another writer holds the lock).
    data = _verified_token_data(token, phone_number=phone_number, user=user)
    # Remembered past the token's own expiry (TOKEN_MAX_AGE, checked by the signature).
    expires_at = now() + conf.TOKEN_MAX_AGE + 60
    if not store().add(_used_key(data), "1", expires_at):
        raise InvalidToken(_("The phone verification was already used."))
    return data.phone_number


def release_token(token: str) -> None:
    """Forget that ``token`` was used (its redemption was undone: the save it allowed
    failed). In the database store a rollback does this already."""
    try:
        token_data = _signed_token_data(token)
    except InvalidToken:
        return
    store().delete([_used_key(token_data)])
