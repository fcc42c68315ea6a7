"""Who is calling: bearer tokens checked with the access service, with a short cache."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import grpc

from cmr.access.v1 import access_pb2
from gateway.ports import Ports
from kernel import errors
from services.common.deadline import Deadline

CACHE_TTL_S: Final = 2.0
"""How long a checked token is trusted without asking access again. A logout through this
gateway drops it at once; one through another gateway takes effect within this time."""

NO_CREDENTIALS: Final = "no credentials: log in first (cmr login)"


@dataclass(frozen=True, kw_only=True, slots=True)
class Caller:
    """The authenticated user of one request."""

    user: str
    """User name."""
    superuser: bool
    """Controller superuser: may act on every model."""
    token: str
    """The session token the request carried."""


def bearer_token(context: grpc.ServicerContext) -> str:
    """Return the token of the `authorization: Bearer <token>` metadata, or raise."""
    for key, value in context.invocation_metadata():
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            raise errors.Unauthenticated("malformed authorization metadata: use 'Bearer <token>'")
    raise errors.Unauthenticated(NO_CREDENTIALS)


class Authenticator:
    """Resolves the caller of each request, caching answers for `CACHE_TTL_S`."""

    def __init__(self, ports: Ports, clock: Callable[[], float] = time.monotonic) -> None:
        self._ports = ports
        self._clock = clock
        self._cache: dict[str, tuple[Caller, float]] = {}
        self._lock = threading.Lock()

    def caller(self, context: grpc.ServicerContext) -> Caller:
        """Return the request's caller.

        Raises:
            Unauthenticated: no token, or access refuses it.
        """
        token = bearer_token(context)
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        reply = self._ports.access.authenticate(
            access_pb2.AuthenticateRequest(token=token), Deadline.of(context)
        )
        caller = Caller(user=reply.user.name, superuser=reply.user.superuser, token=token)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (caller, now + CACHE_TTL_S)
        return caller

    def forget_all(self) -> None:
        """Drop every cached token (after a user is disabled)."""
        with self._lock:
            self._cache.clear()

    def forget(self, token: str) -> None:
        """Drop a token from the cache (after logout)."""
        with self._lock:
            self._cache.pop(hashlib.sha256(token.encode()).hexdigest(), None)
