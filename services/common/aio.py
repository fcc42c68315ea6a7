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
- **Interceptors** are the server's plain `grpc.ServerInterceptor`s, run through the service's
  `LocalTarget` as for a thread-pool server or a local call.

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
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2

from services.common import contract
from services.common.local import Ended, LocalContext, LocalTarget, aborted_status, metadata_of

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
    """The target's methods, each calling the synchronous servicer as the notes say.

    A call finds its handler through `LocalTarget.handler`, so the target's server interceptors
    (plain `grpc.ServerInterceptor`s) see it as on a thread-pool server or a local call; their
    `intercept_service` runs on the loop, and the handler they return runs where the method
    does. A method whose contract says it may wait (`contract.waits`) runs in `pool`.

    A stream's context is the target's: when the server stops serving (`LocalTarget.close`),
    an open `Watch` ends at once instead of holding the whole grace period.
    """
    return _LoopHandlers(target, pool)


class _LoopHandlers(grpc.GenericRpcHandler):  # type: ignore[type-arg]
    """A `LocalTarget`'s handlers made into the event loop's."""

    def __init__(self, target: LocalTarget, pool: futures.Executor) -> None:
        self._target = target
        self._pool = pool
        self._waiting = {
            f"/{target.service_name}/{name}" for name in contract.waits(target.service_name)
        }
        # the loop's form of each method's own handler, made once: a call no interceptor
        # replaced the handler of takes it as it is
        self._own = {
            method: (handler, self._on_loop(handler, method))
            for method, handler in target.method_handlers().items()
        }

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        """The loop's handler of a call."""
        handler = self._target.handler(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        own = self._own.get(method)
        if own is not None and own[0] is handler:
            return own[1]
        return self._on_loop(handler, method)

    def _on_loop(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _unary(handler.unary_unary, self._pool if method in self._waiting else None),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _streaming(handler.unary_stream, self._pool, self._target),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return None  # no service has a client-streaming method


def _unary(
    call: Callable[[Any, Any], Any], pool: futures.Executor | None
) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]:
    # `call` is a handler's function: the servicer's method, or what an interceptor made of it
    async def handle(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        local = LocalContext(
            context.time_remaining(), metadata=metadata_of(context.invocation_metadata())
        )
        if pool is None:
            outcome = _attempt(call, request, local)
        else:
            loop = asyncio.get_running_loop()
            outcome = await loop.run_in_executor(pool, _attempt, call, request, local)
        if not isinstance(outcome, Ended):
            return outcome
        await context.abort(outcome.code, outcome.details, outcome.trailing)
        raise AssertionError("unreachable: abort raises")  # pragma: no cover

    return handle


def _attempt(call: Callable[[Any, Any], Any], request: Any, local: LocalContext) -> Any:
    """The servicer's reply, or the status it aborted with."""
    try:
        reply = call(request, local)
    except Exception as err:  # only an abort is expected; `aborted_status` logs the rest
        return aborted_status(local, err)
    return local.ended() if local.failed() else reply


def _streaming(
    call: Callable[[Any, Any], Iterable[Any]],
    pool: futures.Executor,
    target: LocalTarget,
) -> Callable[[Message, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Message]]:
    async def handle(
        request: Message, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Message]:
        local = LocalContext(
            context.time_remaining(), target, metadata_of(context.invocation_metadata())
        )
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
