"""Offer tokens: issued, verified and renewed only for users who may consume the offer.

Signing itself is `services.access.signing`'s.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Final

from kernel import errors, tokens
from kernel.access import Level, TargetKind, rank
from services.access import signing
from services.access.domain.permissions import effective_level
from services.access.domain.store import Access
from services.access.domain.values import Target

TOKEN_KEY: Final = "offer-tokens"  # noqa: S105 - the name of a key, not a key
"""Name of the signing key of offer tokens."""


def _offer_level(access: Access, user: str, model_uuid: str, offer_uuid: str) -> str:
    return effective_level(
        access, user, Target(kind=TargetKind.OFFER, model_uuid=model_uuid, offer_uuid=offer_uuid)
    )


def issue_offer_token(
    access: Access,
    *,
    user: str,
    offer_model_uuid: str,
    claims: tokens.Claims,
    now: float,
) -> tuple[str, int]:
    """Sign a consume or relation token for `user`, who must have consume on the offer now.

    Issuing again is how a token is renewed, so a revoke stops renewals at once.

    Returns:
        The token and its expiry (Unix seconds).

    Raises:
        Invalid: missing offer, model or user, or a bad kind.
        NotFound: the user cannot see the offer.
        Forbidden: `permission denied`: the user can only read it.
    """
    if not user or not claims.offer_uuid or not claims.source_model_uuid:
        raise errors.Invalid("user, offer and consuming model are required")
    if claims.kind != tokens.CALLBACK and not offer_model_uuid:
        raise errors.Invalid("the offering model is required")
    with access.transaction():
        info = access.controller_info()
        if info is None:
            raise errors.Unavailable("the controller identity is not set up yet")
        if claims.kind != tokens.CALLBACK:
            level = _offer_level(access, user, offer_model_uuid, claims.offer_uuid)
            if not level:
                raise errors.NotFound(f'application offer "{claims.offer_uuid}" not found')
            if rank(TargetKind.OFFER, level) < rank(TargetKind.OFFER, Level.CONSUME):
                raise errors.Forbidden("permission denied")
        # whole seconds, rounded up: a token lasts at least LIFETIME_S (truncating took up
        # to a second off it, all of it with a short lifetime)
        expires = math.ceil(now) + tokens.LIFETIME_S
        signed = signing.mint(
            access.secret(TOKEN_KEY),
            replace(claims, issuer=info.uuid, user=user, expires=expires),
        )
    return signed, expires


def verify_offer_token(
    access: Access,
    token: str,
    *,
    kind: str,
    offer_model_uuid: str,
    offer_uuid: str,
    relation: str = "",
    source_model_uuid: str = "",
    now: float,
) -> tokens.Claims:
    """Accept a token only if this controller signed it for this use, and its user may consume.

    With no `kind`, only its authenticity is checked (signed here, unexpired).

    Raises:
        Unauthenticated: malformed, forged, from another controller, or expired.
        Forbidden: used for another offer, relation or model, or the user lost consume.
    """
    with access.transaction():
        info = access.controller_info()
        if info is None:
            raise errors.Unavailable("the controller identity is not set up yet")
        claims = signing.read(access.secret(TOKEN_KEY), token, issuer=info.uuid, now=now)
        if not kind:
            return claims  # authenticity only: signed here and unexpired
        signing.check(
            claims,
            kind=kind,
            offer_uuid=offer_uuid,
            relation=relation,
            source_model_uuid=source_model_uuid,
        )
        if kind != tokens.CALLBACK:
            level = _offer_level(access, claims.user, offer_model_uuid, offer_uuid)
            if rank(TargetKind.OFFER, level) < rank(TargetKind.OFFER, Level.CONSUME):
                raise errors.Forbidden("permission denied")
    return claims


def renew_offer_token(
    access: Access, token: str, *, offer_model_uuid: str, now: float
) -> tuple[str, int]:
    """A fresh token for one this controller signed, even expired.

    Consume and relation tokens are re-authorised: their user must still have consume on the
    offer, so a revoke stops renewals at once.

    Returns:
        The new token and its expiry.

    Raises:
        Unauthenticated: not a token signed here, or too long expired.
        Forbidden: the user no longer has consume.
        NotFound: the user can no longer see the offer.
    """
    with access.transaction():
        info = access.controller_info()
        if info is None:
            raise errors.Unavailable("the controller identity is not set up yet")
        claims = signing.read(
            access.secret(TOKEN_KEY), token, issuer=info.uuid, now=now, renewing=True
        )
    return issue_offer_token(
        access, user=claims.user, offer_model_uuid=offer_model_uuid, claims=claims, now=now
    )
