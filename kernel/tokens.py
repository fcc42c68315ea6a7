"""Offer tokens as they travel: what a token claims, and its text form.

An offer token is what an offering controller hands a consumer and checks on every use: a small
JSON claim set with the offering controller's signature, `<base64url(claims)>.<base64url(sig)>`,
no padding. Only the access context signs and verifies them (it holds the secret); anyone may
read what a token claims, to know what to check it against.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Final

LIFETIME_S: Final = 180
"""How long a token is good for, in seconds."""
RENEWABLE_S: Final = 30 * 24 * 3600
"""How long after its expiry a token may still be renewed."""
CONSUME: Final = "consume"
RELATION: Final = "relation"
CALLBACK: Final = "callback"
KINDS: Final = (CONSUME, RELATION, CALLBACK)
MAX_TOKEN_CHARS: Final = 4096
"""Longer text is refused before any decoding."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Claims:
    """What a token says; every field is covered by the signature."""

    issuer: str
    """UUID of the controller that signed it."""
    kind: str
    """`consume` or `relation`."""
    user: str
    """The consuming user, as the offering controller knows them."""
    offer_uuid: str
    """The offer it is good for."""
    source_model_uuid: str
    """The consuming model."""
    relation: str = ""
    """For a relation token, the relation's token (shared by both halves)."""
    expires: int = 0
    """Unix time in seconds after which it is refused."""


def b64(data: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    """The bytes of unpadded URL-safe base64."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def peek(token: str) -> Claims | None:
    """What a token claims, unchecked: only to find what to check it against."""
    if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        return None
    try:
        return Claims(**json.loads(unb64(token.split(".")[0])))
    except (ValueError, TypeError):
        return None
