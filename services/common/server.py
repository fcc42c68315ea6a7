"""gRPC server plumbing shared by every service: options, health, reflection, serving."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent import futures
from contextlib import AbstractContextManager, contextmanager, nullcontext
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
    local: LocalTarget
    """Its servicer behind its interceptors, for calls from the same process
    (`services.common.local`)."""
    starters: tuple[Callable[[], None], ...] = ()
    """Called in order by `run()` (the threads that follow feeds or reconcile)."""
    closers: tuple[Callable[[], None], ...] = ()
    """Called in order by `stop()` after the server has stopped (stores, channels)."""

    @property
    def service_name(self) -> str:
        """The first (for a context, the only) service it serves."""
        return self.service_names[0]

    @property
    def context(self) -> str:
        """What it serves: `placement` for `cmr.placement.v1.PlacementService`."""
        return self.service_name.split(".")[1]

    def mark_serving(self) -> None:
        """Report SERVING for the whole server and each of its services."""
        for name in ("", *self.service_names):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    def open(self) -> None:
        """Start answering calls, over the wire and in-process; still reported NOT_SERVING."""
        self.server.start()
        self.local.open()

    def run(self) -> None:
        """Start its own threads, then report healthy (once `open`)."""
        for start in self.starters:
            start()
        self.mark_serving()

    def start(self) -> None:
        """Start serving, start its threads and report healthy."""
        self.open()
        self.run()

    def stop(self, grace: float | None = None) -> None:
        """Report NOT_SERVING, stop the server, then close its resources."""
        self.local.close()
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        for close in self.closers:
            close()


def start_all(built: Iterable[Built]) -> None:
    """Start servers built together: every one answers before any starts its threads.

    A reactor or a cache following a peer of the same process then finds it answering on its
    first attempt, instead of waiting out a retry.
    """
    servers = list(built)
    for b in servers:
        b.open()
    for b in servers:
        b.run()


@dataclass(frozen=True, kw_only=True, slots=True)
class Bound:
    """A server bound to its port, with health and reflection, waiting for its servicer.

    Binding first lets a controller know every address before it builds anything: `build`
    then adds the servicer. Its `local` target answers in-process calls once that server runs.
    """

    server: grpc.Server | AioServer
    """The gRPC server, not started."""
    port: int
    """The TCP port it bound (the chosen one when asked for port 0)."""
    health: health.HealthServicer | LoopHealth
    """Its health servicer, NOT_SERVING."""
    local: LocalTarget
    """The service's endpoint in this process; give its `channel()` to co-located callers."""

    @property
    def service_name(self) -> str:
        """Full name of the (first) service it serves."""
        return self.local.service_name

    def build(
        self,
        servicer: object,
        *,
        others: Mapping[str, object] | None = None,
        interceptors: Iterable[grpc.ServerInterceptor[Any, Any]] = (),
        starters: Iterable[Callable[[], None]] = (),
        closers: Iterable[Callable[[], None]] = (),
    ) -> Built:
        """Serve `servicer` behind `interceptors` (outermost first), on the wire and locally.

        Args:
            servicer: the service's servicer, its methods named as in the proto.
            others: on a server of several services, the servicer of each other one.
            interceptors: server interceptors; calls over the wire and local calls alike pass
                through them (`LocalTarget.handler`). Health and reflection do not.
            starters: started by `Built.run` (threads following feeds, reconciling).
            closers: called after the server stops.
        """
        self.local.serve(servicer, interceptors, others=others)
        if isinstance(self.server, AioServer):
            self.server.server.add_generic_rpc_handlers(
                (aio_handlers(self.local, self.server.pool),)
            )
        else:
            self.server.add_generic_rpc_handlers((self.local.generic_handler(),))
        return Built(
            server=self.server,
            port=self.port,
            health=self.health,
            service_names=self.local.service_names,
            local=self.local,
            starters=tuple(starters),
            closers=tuple(closers),
        )

    def close(self) -> None:
        """Give the port back: the server will not be built.

        grpcio frees a bound port only when a started server stops, so it starts here only to
        stop: it has no servicer, and its health says NOT_SERVING meanwhile.
        """
        self.server.start()
        self.server.stop(None).wait()


def bind(
    service_name: str,
    address: str,
    *,
    also: Sequence[str] = (),
    max_workers: int = 16,
    on_loop: bool = False,
) -> Bound:
    """Create a server with health checking and reflection, bound to `address`.

    Args:
        service_name: the full proto service name, for health, reflection and local calls.
        also: the full names of the other services it will serve on the same port.
        address: `host:port`; port 0 picks a free port.
        max_workers: handler threads; each open `Watch` stream holds one.
        on_loop: serve on `grpc.aio` (`services.common.aio`) instead of a thread pool: a
            service in a process of its own (`cmr serve --service`).

    Raises:
        RuntimeError: the address could not be bound.
    """
    names = (service_name, *also)
    server: grpc.Server | AioServer
    health_servicer: health.HealthServicer | LoopHealth
    if on_loop:
        server = aio_server = AioServer(SERVER_OPTIONS, service_name)
        health_servicer = LoopHealth(aio_server)
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer.servicer, aio_server.server)
        reflection.enable_server_reflection(
            (*names, health.SERVICE_NAME, reflection.SERVICE_NAME), aio_server.server
        )
    else:
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=service_name),
            options=SERVER_OPTIONS,
        )
        health_servicer = health.HealthServicer(experimental_non_blocking=True)
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(
            (*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
    for name in ("", *names):
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
    return Bound(server=server, port=port, health=health_servicer, local=LocalTarget(*names))


@contextmanager
def binding(
    bound: Bound | None,
    service_name: str,
    address: str,
    *,
    also: Sequence[str] = (),
    on_loop: bool = False,
) -> Iterator[Bound]:
    """The server a service is built on: `bound`, or one bound here to `address`.

    One bound here is closed again if the build fails; the composition root closes its own.
    """
    if bound is not None:
        yield bound
        return
    own = bind(service_name, address, also=also, on_loop=on_loop)
    try:
        yield own
    except BaseException:
        own.close()
        raise


def serve_until_signalled(
    built: Iterable[Built],
    *,
    grace: float = 5.0,
    on_started: Callable[[], None] | None = None,
) -> None:
    """Start every server (`start_all`), then block until SIGTERM or SIGINT and stop them.

    Args:
        built: servers in start-up order; they stop in the reverse order.
        grace: seconds in-flight calls get to finish when stopping.
        on_started: called once every server serves (to announce readiness).
    """
    servers = list(built)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    start_all(servers)
    if on_started is not None:
        on_started()
    stop.wait()
    for b in reversed(servers):
        b.stop(grace)
