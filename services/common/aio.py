"""A service served on `grpc.aio`: what `cmr serve --service NAME` runs.

grpcio's thread-pool server hands every call from its poller thread to a pool thread, and the
pool threads then pass the GIL and the store's lock among themselves at each SQLite call, which
under concurrent writers costs several times the handler's own work. On `grpc.aio` the calls
are taken on one event loop, and a servicer's short handlers (a store transaction) run right
there, one after another, with no hand-off. The servicers stay the same synchronous code as in
the embedded controller:

- **Inline** by default: a unary method runs on the loop. Its `context` is a `LocalContext`
  (deadline, `abort`), so the servicers' `status.unary` edge works unchanged; an abort becomes
  the call's status.
- **Off the loop** (its contract says `may_wait`): a method that waits (`Sync` waits for a
  reactor) or calls another service (offers asks relations) runs in a thread pool, so the loop
  never blocks on it.
- **Streams** (`Watch`) run their generator in the pool, one item per hop; a client that
  leaves cancels it (the servicer's context turns inactive and its callbacks run).

`AioServer` runs the loop in a thread of its own and is driven as a `grpc.Server` is
(`add_insecure_port`, `start`, `stop(grace).wait()`), so `Built` and `serve_until_signalled`
treat both alike; `LoopHealth` does the same for the health servicer.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Iterator
from concurrent import futures
from typing import Any, Final, TypeVar

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2

from services.common import contract
from services.common.local import Ended, LocalContext, LocalTarget, aborted_status

POOL_THREADS: Final = 16
"""Threads for the methods that run off the loop; each open `Watch` stream holds one while it
waits for an event."""

T = TypeVar("T")
_END: Final = object()


class AioServer:
    """A `grpc.aio.Server` on its own event loop thread, driven like a `grpc.Server`."""

    def __init__(self, options: Iterable[tuple[str, Any]], name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()
        self.pool = futures.ThreadPoolExecutor(POOL_THREADS, thread_name_prefix=f"{name}-pool")
        self.server: grpc.aio.Server = self.run(self._make(list(options)))

    async def _make(self, options: list[tuple[str, Any]]) -> grpc.aio.Server:
        return grpc.aio.server(options=options)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def add_insecure_port(self, address: str) -> int:
        """Bind `address`; the port bound (0 when it could not be)."""
        return self.run(self._bind(address))

    async def _bind(self, address: str) -> int:
        return self.server.add_insecure_port(address)

    def start(self) -> None:
        """Start serving."""
        self.run(self.server.start())

    def stop(self, grace: float | None) -> threading.Event:
        """Stop serving (in-flight calls get `grace` seconds), then end the loop's thread."""
        self.run(self.server.stop(grace))
        self.pool.shutdown(wait=False, cancel_futures=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()
        done = threading.Event()
        done.set()
        return done


class LoopHealth:
    """The asyncio health servicer, driven from plain threads (`Built.mark_serving`, `stop`)."""

    def __init__(self, server: AioServer) -> None:
        self._server = server
        self.servicer = health.aio.HealthServicer()  # type: ignore[attr-defined]

    def set(self, service: str, status: health_pb2.HealthCheckResponse.ServingStatus) -> None:
        """Set a service's status."""
        self._server.run(self.servicer.set(service, status))

    def enter_graceful_shutdown(self) -> None:
        """Report NOT_SERVING for every service from now on."""
        self._server.run(self.servicer.enter_graceful_shutdown())


def handlers(target: LocalTarget, pool: futures.Executor) -> grpc.GenericRpcHandler[Any, Any]:
    """The service's methods, each calling the synchronous servicer as the notes say.

    A method whose contract says it may wait (`contract.waits`) runs in `pool`.

    A stream's context is the target's: when the server stops serving (`LocalTarget.close`),
    an open `Watch` ends at once instead of holding the whole grace period.
    """
    service_name, servicer = target.service_name, target.servicer
    descriptor = descriptor_pool.Default().FindServiceByName(service_name)
    methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    waiting = contract.waits(service_name)
    for method in descriptor.methods:
        if method.client_streaming:
            continue  # no service has one
        request = message_factory.GetMessageClass(method.input_type)
        reply = message_factory.GetMessageClass(method.output_type)
        call = getattr(servicer, method.name)
        if method.server_streaming:
            methods[method.name] = grpc.unary_stream_rpc_method_handler(
                _streaming(call, pool, target),
                request_deserializer=request.FromString,
                response_serializer=reply.SerializeToString,
            )
        else:
            methods[method.name] = grpc.unary_unary_rpc_method_handler(
                _unary(call, pool if method.name in waiting else None),
                request_deserializer=request.FromString,
                response_serializer=reply.SerializeToString,
            )
    return grpc.method_handlers_generic_handler(service_name, methods)


def _unary(
    call: Callable[[Message, LocalContext], Message], pool: futures.Executor | None
) -> Callable[[Message, grpc.aio.ServicerContext[Any, Any]], Awaitable[Message]]:
    async def handle(request: Message, context: grpc.aio.ServicerContext[Any, Any]) -> Message:
        local = LocalContext(context.time_remaining())
        if pool is None:
            outcome = _attempt(call, request, local)
        else:
            loop = asyncio.get_running_loop()
            outcome = await loop.run_in_executor(pool, _attempt, call, request, local)
        if isinstance(outcome, Message):
            return outcome
        await context.abort(outcome.code, outcome.details, outcome.trailing)
        raise AssertionError("unreachable: abort raises")  # pragma: no cover

    return handle


def _attempt(
    call: Callable[[Message, LocalContext], Message], request: Message, local: LocalContext
) -> Message | Ended:
    """The servicer's reply, or the status it aborted with."""
    try:
        return call(request, local)
    except Exception as err:  # only an abort is expected; `aborted_status` logs the rest
        return aborted_status(local, err)


def _streaming(
    call: Callable[[Message, LocalContext], Iterable[Message]],
    pool: futures.Executor,
    target: LocalTarget,
) -> Callable[[Message, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Message]]:
    async def handle(
        request: Message, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Message]:
        local = LocalContext(context.time_remaining(), target)
        loop = asyncio.get_running_loop()
        items = iter(call(request, local))
        try:
            while True:
                item = await loop.run_in_executor(pool, _next, items, local)
                if item is _END:
                    if not target.serving:  # as a stream cut by a server going away
                        await context.abort(
                            grpc.StatusCode.UNAVAILABLE, f"{target.service_name} is stopping"
                        )
                    return
                if isinstance(item, Ended):
                    await context.abort(item.code, item.details, item.trailing)
                yield item  # type: ignore[misc]
        finally:
            local.cancel()  # the client left, or the stream ended: the generator stops waiting

    return handle


def _next(items: Iterator[Message], local: LocalContext) -> Message | object | Ended:
    try:
        item: Message | object = next(items, _END)
        return item
    except Exception as err:  # as in `_attempt`
        return aborted_status(local, err)
