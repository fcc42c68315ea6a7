"""The gateway's clients of the four services: channels, stubs, deadlines, unavailability."""

from __future__ import annotations

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
from services.common import contract
from services.common import status as codes
from services.common.config import SERVICES, Config
from services.common.deadline import Deadline
from services.common.local import LocalTarget
from services.common.server import CHANNEL_OPTIONS

DEFAULT_TIMEOUT_S: Final = 10.0
MAX_TIMEOUT_S: Final = 3600.0
"""However long a caller allows, no internal call waits longer than this."""
"""Deadline of a call to a service when the incoming call has none shorter."""

SERVICE_NAMES: Final = {
    "placement": "cmr.placement.v1.PlacementService",
    "access": "cmr.access.v1.AccessService",
    "offers": "cmr.offers.v1.OfferService",
    "relations": "cmr.relations.v1.RelationService",
}
"""Each service's full name in the contracts."""

T = TypeVar("T")


class Peers:
    """Channels to the four services, opened once and shared by every handler thread."""

    def __init__(self, config: Config) -> None:
        self.addresses = {name: config.address_of(name) for name in SERVICES}
        # Reads are free of side effects by contract: the channel retries them when a service
        # is briefly unreachable.
        retry = contract.retry_config(SERVICE_NAMES.values())
        options = [*CHANNEL_OPTIONS, ("grpc.service_config", retry)]
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
            if (
                isinstance(err, grpc.Call)
                and err.code() == grpc.StatusCode.UNAVAILABLE
                and not codes.reason_of(err)  # the service's own refusal passes on as it is
            ):
                raise errors.Unavailable(
                    f"{service} service at {self.addresses[service]} is unavailable",
                    reason=errors.Reason.SERVICE_UNAVAILABLE,
                ) from None
            raise
        finally:
            if called is not None and self.cache is not None:
                self.cache.invalidate((service,))

    def call_with(
        self, service: str, method: Callable[..., T], request: object, deadline: Deadline
    ) -> T:
        """Call `method` of `service` with `request` within `deadline`; a port's one call.

        Whether it changes anything is its contract's; a refusal becomes its `kernel.errors`
        kind, message and reason kept.
        """
        name = type(request).__name__.removesuffix("Request")
        try:
            return self.call(
                service,
                lambda: method(request, timeout=deadline.timeout()),
                changes=name not in contract.reads(SERVICE_NAMES[service]),
            )
        except grpc.RpcError as err:
            kind = codes.error_from(err)
            if kind is None:
                raise
            raise kind from None

    def ask(
        self,
        service: str,
        method: Callable[..., T],
        request: object,
        context: grpc.ServicerContext,
    ) -> T:
        """Call `method` of `service` with `request`, under the incoming call's deadline.

        A method whose contract says it has no side effects changes nothing; the method is
        known by its request's type (`<Method>Request`, the contracts' rule).
        """
        name = type(request).__name__.removesuffix("Request")
        return self.call(
            service,
            lambda: method(request, timeout=timeout(context)),
            changes=name not in contract.reads(SERVICE_NAMES[service]),
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
