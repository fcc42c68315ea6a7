"""The gateway's clients of the four services: channels, stubs, deadlines, unavailability."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
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

    def __init__(self, config: Config, local: Mapping[str, LocalTarget] | None = None) -> None:
        """Open a channel to each service.

        A service in `local` (built in this process) is called through its target's
        `LocalChannel`, without the wire; any other over gRPC at its configured address.
        """
        local = local or {}
        self.addresses = {name: config.address_of(name) for name in SERVICES}
        # Reads are free of side effects by contract: the channel retries them when a service
        # is briefly unreachable.
        retry = contract.retry_config(SERVICE_NAMES.values())
        options = [*CHANNEL_OPTIONS, ("grpc.service_config", retry)]
        self._channels = {
            name: grpc.insecure_channel(addr, options=options)
            for name, addr in self.addresses.items()
            if name not in local
        }
        channels: dict[str, grpc.Channel] = {
            name: local[name].channel() if name in local else self._channels[name]
            for name in SERVICES
        }
        self.placement = placement_pb2_grpc.PlacementServiceStub(channels["placement"])
        self.access = access_pb2_grpc.AccessServiceStub(channels["access"])
        self.offers = offers_pb2_grpc.OfferServiceStub(channels["offers"])
        self.relations = relations_pb2_grpc.RelationServiceStub(channels["relations"])
        self.cache: ReadCache | None = None
        """Where `read` keeps replies; None reads the service every time."""
        self._local = threading.local()

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

    def close(self) -> None:
        """Close every channel."""
        for channel in self._channels.values():
            channel.close()
