"""gRPC server plumbing shared by every service: options, health, reflection, serving."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent import futures
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Final

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common.aio import AioServer, LoopHealth
from services.common.aio import handlers as aio_handlers
from services.common.local import LocalTarget

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES: Final = 64 * 1024 * 1024
"""Status of a large model can exceed gRPC's 4 MiB default; raised on purpose on both ends."""

SERVER_OPTIONS: Final[list[tuple[str, Any]]] = [
    # A second server on a busy port must fail at start, not silently share the traffic.
    ("grpc.so_reuseport", 0),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    # Clients may ping every 10 s (CHANNEL_OPTIONS); a stricter server would GOAWAY them.
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
]

CHANNEL_OPTIONS: Final[list[tuple[str, Any]]] = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_permit_without_calls", 1),
]


def channel_to(local: grpc.Channel | None, address: str) -> AbstractContextManager[grpc.Channel]:
    """The channel to reach a service through, for the length of a `with` block.

    `local` (a `LocalChannel`) when the service was built in this process, else a new gRPC
    channel to `address`, closed when the block ends.
    """
    if local is not None:
        return nullcontext(local)
    return grpc.insecure_channel(address, options=CHANNEL_OPTIONS)


@dataclass(frozen=True, kw_only=True, slots=True)
class Built:
    """A server built but not started, with what its owner must start and close."""

    server: grpc.Server | AioServer
    """The gRPC server; call `start()`."""
    port: int
    """The TCP port it bound (the chosen one when asked for port 0)."""
    health: health.HealthServicer | LoopHealth
    """Its health servicer: NOT_SERVING until `mark_serving`."""
    service_names: tuple[str, ...]
    """Full names of the services it serves, such as `cmr.placement.v1.PlacementService`."""
    closers: tuple[Callable[[], None], ...] = ()
    """Called in order by `stop()` after the server has stopped (stores, channels)."""
    on_peers: Callable[[Mapping[str, str]], None] | None = None
    """Told the `host:port` of every peer once an embedded controller has bound them all, for
    a server whose reactors follow a peer built after it."""
    local: LocalTarget | None = None
    """Its servicer, for unary calls from the same process (`services.common.local`)."""
    on_local: Callable[[Mapping[str, LocalTarget]], None] | None = None
    """Told the servicers built in the same process (by service: `placement`, ...), for a
    server that calls them: it may call them without the wire."""

    @property
    def context(self) -> str:
        """The context it serves: `placement` for `cmr.placement.v1.PlacementService`."""
        return self.service_names[0].split(".")[1]

    def mark_serving(self) -> None:
        """Report SERVING for the whole server and each of its services."""
        for name in ("", *self.service_names):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    def start(self) -> None:
        """Start serving and report healthy."""
        self.server.start()
        if self.local is not None:
            self.local.open()
        self.mark_serving()

    def stop(self, grace: float | None = None) -> None:
        """Report NOT_SERVING, stop the server, then close its resources."""
        if self.local is not None:
            self.local.close()
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        for close in self.closers:
            close()


def new_server(
    service_names: tuple[str, ...],
    add: Callable[[grpc.Server], None],
    address: str,
    *,
    max_workers: int = 16,
    interceptors: Iterable[grpc.ServerInterceptor[Any, Any]] = (),
    closers: Iterable[Callable[[], None]] = (),
    servicer: object | None = None,
    on_loop: bool = False,
) -> Built:
    """Create a server with health checking and reflection, bound to `address`.

    Args:
        service_names: the full proto names of the services `add` registers, for health and
            reflection; exactly one with `servicer`.
        add: registers the servicers, such as `lambda s: add_XServicer_to_server(x, s)`.
        address: `host:port`; port 0 picks a free port.
        max_workers: handler threads; each open `Watch` stream holds one.
        interceptors: server interceptors, outermost first.
        closers: called after the server stops.
        servicer: the servicer `add` registers, when a caller in this process may call its
            unary methods without the wire (`Built.local`); only without interceptors.
        on_loop: serve `servicer` on `grpc.aio` (`services.common.aio`) instead of a thread
            pool: a service in a process of its own (`cmr serve --service`).

    Raises:
        RuntimeError: the address could not be bound.
    """
    chain = list(interceptors)
    if servicer is not None and chain:
        raise ValueError("a local servicer would bypass the server's interceptors")
    if not service_names:
        raise ValueError("a server serves at least one service")
    if servicer is not None and len(service_names) != 1:
        raise ValueError("a local servicer serves exactly one service")
    local = LocalTarget(service_names[0], servicer) if servicer is not None else None
    listed = (*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME)
    server: grpc.Server | AioServer
    health_servicer: health.HealthServicer | LoopHealth
    if on_loop:
        if local is None or chain:
            raise ValueError("a server on an event loop needs its servicer and no interceptors")
        server = aio_server = AioServer(SERVER_OPTIONS, service_names[0])
        aio_server.server.add_generic_rpc_handlers((aio_handlers(local, aio_server.pool),))
        health_servicer = LoopHealth(aio_server)
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer.servicer, aio_server.server)
        reflection.enable_server_reflection(listed, aio_server.server)
    else:
        server = grpc.server(
            futures.ThreadPoolExecutor(
                max_workers=max_workers, thread_name_prefix=service_names[0]
            ),
            options=SERVER_OPTIONS,
            interceptors=chain,
        )
        add(server)
        health_servicer = health.HealthServicer(experimental_non_blocking=True)
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(listed, server)
    for name in ("", *service_names):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as err:
        port = 0
        why = f"cannot listen on {address}: {err}"
    else:
        why = f"cannot listen on {address}: the address is in use or not local"
    if port == 0:
        if isinstance(server, AioServer):
            server.stop(None)  # its loop thread and pool
        raise RuntimeError(why)
    return Built(
        server=server,
        port=port,
        health=health_servicer,
        service_names=service_names,
        closers=tuple(closers),
        local=local,
    )


def serve_until_signalled(
    built: Iterable[Built],
    *,
    grace: float = 5.0,
    on_started: Callable[[], None] | None = None,
) -> None:
    """Start every server, then block until SIGTERM or SIGINT and stop them gracefully.

    Args:
        built: servers in start-up order; they stop in the reverse order.
        grace: seconds in-flight calls get to finish when stopping.
        on_started: called once every server serves (to announce readiness).
    """
    servers = list(built)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for b in servers:
        b.start()
    if on_started is not None:
        on_started()
    stop.wait()
    for b in reversed(servers):
        b.stop(grace)


def new_server_owning(
    service_name: str,
    add: Callable[[grpc.Server], None],
    address: str,
    close_store: Callable[[], None],
    servicer: object | None = None,
    *,
    on_loop: bool = False,
) -> Built:
    """Build a server that owns a store.

    The store closes when the server stops, or at once when the address cannot be bound, so a
    failed start leaves no open file behind.
    """
    try:
        return new_server(
            (service_name,),
            add,
            address,
            closers=(close_store,),
            servicer=servicer,
            on_loop=on_loop,
        )
    except BaseException:
        close_store()
        raise
