"""Signing and checking offer tokens: only the access context holds the secret.

Juju's macaroons, as cmr does them: a token is the offering controller's own HMAC-SHA256
signature over the claims of `kernel.tokens`, never trusted unless this controller signed it,
and short-lived.

- A **consume** token is scoped to (offer, consuming model, user): it lets its holder register
  relations to that offer.
- A **relation** token is scoped to one relation (its token) as well: it lets its holder send
  that relation's changes. Replaying it for another offer or relation is refused.
- A **callback** token is what a consuming controller gives the offering one for a relation, so
  that the offerer can ask it about that relation; it carries no user rights.
- All expire after `LIFETIME_S` (3 minutes, as Juju's). Renewal takes an expired token this
  controller signed (at most `RENEWABLE_S` old) and re-checks that the user still has consume,
  so a revoke bites within one lifetime.

Pure functions: the secret and the clock are arguments.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict

from kernel import errors
from kernel.tokens import (
    CALLBACK,
    KINDS,
    MAX_TOKEN_CHARS,
    RELATION,
    RENEWABLE_S,
    Claims,
    b64,
    unb64,
)


def _sign(secret: bytes, body: str) -> str:
    return b64(hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest())


def mint(secret: bytes, claims: Claims) -> str:
    """Sign `claims` with this controller's secret.

    Raises:
        Invalid: an unknown kind, or a relation token without its relation.
    """
    if claims.kind not in KINDS:
        raise errors.Invalid(f'token kind "{claims.kind}" not valid')
    if claims.kind in (RELATION, CALLBACK) and not claims.relation:
        raise errors.Invalid("a relation token needs its relation")
    body = b64(json.dumps(asdict(claims), sort_keys=True, separators=(",", ":")).encode())
    return f"{body}.{_sign(secret, body)}"


def read(secret: bytes, token: str, *, issuer: str, now: float, renewing: bool = False) -> Claims:
    """Check a token's signature, issuer and expiry, and return its claims.

    When `renewing`, an expired token is accepted up to `RENEWABLE_S` after its expiry.

    Raises:
        Unauthenticated: malformed, not signed by this controller, from another issuer, or
            expired. The message says which, never echoing the token.
    """
    if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise errors.Unauthenticated("offer token is malformed")
    body, signature = token.split(".")
    if not hmac.compare_digest(_sign(secret, body), signature):
        raise errors.Unauthenticated("offer token was not issued by this controller")
    try:
        fields = json.loads(unb64(body))
        claims = Claims(**fields)
    except (ValueError, TypeError):
        raise errors.Unauthenticated("offer token is malformed") from None
    if claims.issuer != issuer:
        raise errors.Unauthenticated("offer token was issued by another controller")
    if claims.expires + (RENEWABLE_S if renewing else 0) <= now:
        raise errors.Unauthenticated("offer token has expired", reason=errors.Reason.TOKEN_EXPIRED)
    return claims


def check(
    claims: Claims, *, kind: str, offer_uuid: str, relation: str = "", source_model_uuid: str = ""
) -> None:
    """Refuse a token used outside its scope.

    Raises:
        Forbidden: another kind, offer, relation or consuming model than it was issued for.
    """
    if claims.kind != kind:
        raise errors.Forbidden(f"a {claims.kind} token cannot be used as a {kind} token")
    if claims.offer_uuid != offer_uuid:
        raise errors.Forbidden("offer token is for another offer")
    if kind in (RELATION, CALLBACK) and claims.relation != relation:
        raise errors.Forbidden("offer token is for another relation")
    if source_model_uuid and claims.source_model_uuid != source_model_uuid:
        raise errors.Forbidden("offer token is for another consuming model")
