"""The gateway's clients of the four services: channels, stubs, deadlines, unavailability."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Final, TypeVar

import grpc

from cmr.access.v1 import access_pb2_grpc
from cmr.offers.v1 import offers_pb2_grpc
from cmr.placement.v1 import placement_pb2_grpc
from cmr.relations.v1 import relations_pb2_grpc
from gateway.cache import ReadCache
from kernel import errors
from services.common.config import SERVICES, Config
from services.common.local import LocalTarget
from services.common.server import CHANNEL_OPTIONS

DEFAULT_TIMEOUT_S: Final = 10.0
MAX_TIMEOUT_S: Final = 3600.0
"""However long a caller allows, no internal call waits longer than this."""
"""Deadline of a call to a service when the incoming call has none shorter."""

# Reads are idempotent: the channel retries them once when a service is briefly unreachable.
_RETRY_CONFIG: Final = json.dumps(
    {
        "methodConfig": [
            {
                "name": [
                    {"service": f"cmr.{ctx}.v1.{svc}", "method": m}
                    for ctx, svc in (
                        ("placement", "PlacementService"),
                        ("access", "AccessService"),
                    )
                    for m in ("GetModel", "ListModels", "GetModelStatus", "Authenticate")
                ],
                "retryPolicy": {
                    "maxAttempts": 3,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)

READ_PREFIXES: Final = ("Get", "List", "Check", "Find", "Verify", "Authenticate", "Ping")
"""Service methods whose names start so only read; every other method may change something
(`Sync` too: the reactor it waits for has written)."""

T = TypeVar("T")


class Peers:
    """Channels to the four services, opened once and shared by every handler thread."""

    def __init__(self, config: Config) -> None:
        self.addresses = {name: config.address_of(name) for name in SERVICES}
        options = [*CHANNEL_OPTIONS, ("grpc.service_config", _RETRY_CONFIG)]
        self._channels = {
            name: grpc.insecure_channel(addr, options=options)
            for name, addr in self.addresses.items()
        }
        self.placement = placement_pb2_grpc.PlacementServiceStub(self._channels["placement"])
        self.access = access_pb2_grpc.AccessServiceStub(self._channels["access"])
        self.offers = offers_pb2_grpc.OfferServiceStub(self._channels["offers"])
        self.relations = relations_pb2_grpc.RelationServiceStub(self._channels["relations"])
        self.cache: ReadCache | None = None
        """Where `read` keeps replies; None reads the service every time."""
        self._local = threading.local()

    def use_local(self, targets: Mapping[str, LocalTarget]) -> None:
        """Call the services built in this process without the wire (`services.common.local`)."""
        for name, target in targets.items():
            if name in SERVICES:
                setattr(self, name, type(getattr(self, name))(target.channel()))

    @contextmanager
    def tracking(self) -> Iterator[set[str]]:
        """Treat every call on this thread, other than through `read`, as a possible change.

        The gateway's write fence runs each command under it: as each such call returns, the
        read cache drops what that service owns, so the rest of the command, and the client
        after it, read what it changed. It yields the services called.
        """
        self._local.called = called = set[str]()
        try:
            yield called
        finally:
            self._local.called = None

    def call(self, service: str, fn: Callable[[], T], *, changes: bool = True) -> T:
        """Run one call to `service`, turning UNAVAILABLE into an error that names it.

        Other codes pass through unchanged, so the callee's message reaches the client.
        `changes=False` says the call only reads (see `tracking`).
        """
        called = getattr(self._local, "called", None)
        if called is not None and changes and not getattr(self._local, "reading", False):
            called.add(service)
        else:
            called = None
        try:
            return fn()
        except grpc.RpcError as err:
            if isinstance(err, grpc.Call) and err.code() == grpc.StatusCode.UNAVAILABLE:
                raise errors.Unavailable(
                    f"{service} service at {self.addresses[service]} is unavailable",
                    reason=errors.Reason.SERVICE_UNAVAILABLE,
                ) from None
            raise
        finally:
            if called is not None and self.cache is not None:
                self.cache.invalidate((service,))

    def ask(
        self,
        service: str,
        method: Callable[..., T],
        request: object,
        context: grpc.ServicerContext,
    ) -> T:
        """Call `method` of `service` with `request`, under the incoming call's deadline.

        A method named as a read (`Get…`, `List…`, `Check…`: see `READ_PREFIXES`), known by its
        request's type (`<Method>Request`, the contracts' rule), changes nothing.
        """
        return self.call(
            service,
            lambda: method(request, timeout=timeout(context)),
            changes=not type(request).__name__.startswith(READ_PREFIXES),
        )

    def ask_or_none(
        self,
        service: str,
        method: Callable[..., T],
        request: object,
        context: grpc.ServicerContext,
    ) -> T | None:
        """As `ask`, but None when the service answers NOT_FOUND."""
        try:
            return self.ask(service, method, request, context)
        except grpc.RpcError as err:
            if isinstance(err, grpc.Call) and err.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def read(
        self,
        service: str,
        method: Callable[..., T],
        request: object,
        context: grpc.ServicerContext,
        topics: Sequence[str],
        *,
        or_none: bool = False,
    ) -> T:
        """As `ask` (or `ask_or_none`), answered from the read cache while `topics` are quiet.

        Only for idempotent reads whose answer depends on nothing but those topics' owners.
        """
        ask = self.ask_or_none if or_none else self.ask

        def fetch() -> T:
            self._local.reading = True
            try:
                return ask(service, method, request, context)  # type: ignore[return-value]
            finally:
                self._local.reading = False

        if self.cache is None:
            return fetch()
        return self.cache.get(topics, request, fetch, kind=f"{service}/{or_none}")  # type: ignore[arg-type]

    def close(self) -> None:
        """Close every channel."""
        for channel in self._channels.values():
            channel.close()


def timeout(context: grpc.ServicerContext, default: float = DEFAULT_TIMEOUT_S) -> float:
    """Return the deadline for an outgoing call: what the caller has left, else the default.

    The client's deadline governs: a caller that allows a long call (deploying ten thousand
    units) gets it, one in a hurry is not kept waiting. Without one, `default` applies.
    """
    remaining = context.time_remaining()
    if remaining is None:
        return default
    return max(0.001, min(MAX_TIMEOUT_S, remaining))


R = TypeVar("R")


def pages(
    fetch: Callable[[str], R], items: Callable[[R], Iterable[T]], limit: int = 10_000
) -> Iterator[T]:
    """Every item of a paged list RPC: `fetch(token)` returns a reply with `next_page_token`."""
    token = ""
    for _ in range(limit):
        reply = fetch(token)
        yield from items(reply)
        token = str(getattr(reply, "next_page_token", ""))
        if not token:
            return
