"""Calls to a servicer in the same process, without the wire (the embedded controller).

`cmr run` and every embedded controller run the four services and the gateway in one process,
where a call over gRPC from the gateway to a service would cost a whole RPC (HTTP/2 framing, a
hand-off to the service's pool thread and back) and one command makes several. A `LocalChannel`
stands in for a `grpc.Channel` to a service built in the same process: the generated stub, and
everything written against a channel (the reactors' and the read cache's `Watch`), take it
unchanged, and a call costs the handler's own work:

- **The same contract.** A method is called as through any channel (`stub.Method(request,
  timeout=..., metadata=...)`, `stub.Method.future(...)`); the request and the reply cross as
  bytes (each side parses its own copy, as over the wire), so neither shares an object with the
  other.
- **The same interceptors.** A `LocalTarget` is the service's in-process endpoint, made when its
  server binds and given the servicer and the server's `grpc.ServerInterceptor`s when it is
  built. Every call, over the wire (the server's handler is the target's `generic_handler`) or
  local, finds its handler through `LocalTarget.handler`: each interceptor's
  `intercept_service(continuation, details)` sees the method's full name and the caller's
  metadata, and the handler the chain returns is what runs. An interceptor that denies a call
  denies it locally too.
- **The same errors.** The servicer's `context.abort(code, details)` reaches the caller as a
  `grpc.RpcError` that is a `grpc.Call` with that code, details and trailing metadata (the
  error's details); a call that outlives its deadline ends in `DEADLINE_EXCEEDED`; a service
  not serving (not started yet, or stopped) answers `UNAVAILABLE`.
- **The same deadline.** The servicer's `context.time_remaining()` is the caller's deadline.
- **Streams too.** A server-streaming method (`Watch`) runs the servicer's generator in the
  caller's thread, one reply per `next()`; `cancel()` ends it (the servicer's context turns
  inactive and its termination callbacks run, as when a gRPC client cancels), and so does the
  service stopping. The gateway's read cache and the reactors follow co-located feeds so.
- The services still serve their ports to every other client (other controllers' gateways,
  the load tool, a split deployment).

A controller whose services run elsewhere (`cmr serve --service ...`) uses gRPC throughout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent import futures
from typing import Any, Final, NamedTuple, NoReturn, TypeAlias

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message

log = logging.getLogger(__name__)

Metadata: TypeAlias = tuple[tuple[str, str | bytes], ...]
"""gRPC metadata: (key, value) pairs; values of `-bin` keys are bytes."""

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Interceptor: TypeAlias = "grpc.ServerInterceptor[Any, Any]"

FUTURE_THREADS: Final = 8
"""Threads that run `future()` calls, so a command's parallel reads stay parallel."""

_POOL: futures.ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> futures.ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = futures.ThreadPoolExecutor(FUTURE_THREADS, thread_name_prefix="cmr-local")
        return _POOL


class Metadatum(NamedTuple):
    """One metadata entry, as gRPC hands them to a server: `key` and `value`."""

    key: str
    value: str | bytes


class CallDetails(grpc.HandlerCallDetails):
    """What a server interceptor learns of a call: the method's full name and its metadata."""

    __slots__ = ("invocation_metadata", "method")

    def __init__(self, method: str, invocation_metadata: tuple[Metadatum, ...]) -> None:
        self.method = method
        """`/package.Service/Method`."""
        self.invocation_metadata = invocation_metadata
        """The caller's metadata."""


def metadata_of(metadata: Iterable[tuple[str, str | bytes]] | None) -> tuple[Metadatum, ...]:
    """A caller's `metadata=` as a server sees it (`Metadatum`s; none when None)."""
    if not metadata:
        return ()
    return tuple(Metadatum(key, value) for key, value in metadata)


class LocalRpcError(grpc.RpcError, grpc.Call):
    """A local call's failure, shaped as gRPC's: a `grpc.Call` with a code and details."""

    def __init__(self, code: grpc.StatusCode, details: str, trailing: Metadata = ()) -> None:
        super().__init__(details)
        self._code = code
        self._details = details
        self._trailing = trailing

    def code(self) -> grpc.StatusCode:
        """The status code."""
        return self._code

    def details(self) -> str:
        """The message."""
        return self._details

    def initial_metadata(self) -> tuple[()]:
        """None is sent."""
        return ()

    def trailing_metadata(self) -> Metadata:  # type: ignore[override]
        """What the servicer aborted with: the error's details (its reason), or nothing."""
        return self._trailing

    def is_active(self) -> bool:
        """A failed call is over."""
        return False

    def time_remaining(self) -> float:
        """A failed call has no time left."""
        return 0.0

    def cancel(self) -> bool:
        """Too late to cancel."""
        return False

    def add_callback(self, callback: Callable[[], None]) -> bool:
        """The call has ended: the callback is not kept."""
        return False

    def __str__(self) -> str:
        return f"<LocalRpcError {self._code.name}: {self._details}>"


class _Aborted(Exception):
    """Unwinds the servicer after `context.abort`."""


class Ended(NamedTuple):
    """How a call ended in failure: its code, message and trailing metadata."""

    code: grpc.StatusCode
    details: str
    trailing: Metadata = ()

    def error(self) -> LocalRpcError:
        """The error a local caller gets."""
        return LocalRpcError(self.code, self.details, self.trailing)


def aborted_status(context: LocalContext, err: BaseException) -> Ended:
    """The status a servicer's exception ends its call with: its `abort`'s, else INTERNAL.

    Servicers end every failure with `context.abort` (`services.common.status`); anything else
    is a bug, logged here.
    """
    if isinstance(err, _Aborted):
        return context.ended()
    log.error("a call failed unexpectedly", exc_info=err)
    return Ended(grpc.StatusCode.INTERNAL, "the call failed unexpectedly; see the service log")


class LocalContext:
    """What a servicer uses of `grpc.ServicerContext`, for a call made in-process."""

    def __init__(
        self,
        timeout: float | None,
        target: LocalTarget | None = None,
        metadata: tuple[Metadatum, ...] = (),
    ) -> None:
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._target = target
        self._metadata = metadata
        self._code: grpc.StatusCode | None = None
        self._details = ""
        self._trailing: Metadata = ()
        self._cancelled = False
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def invocation_metadata(self) -> tuple[Metadatum, ...]:
        """The metadata the caller sent."""
        return self._metadata

    def add_callback(self, callback: Callable[[], None]) -> bool:
        """Run `callback` when the call ends early (cancelled by its caller)."""
        with self._lock:
            if self._cancelled:
                return False
            self._callbacks.append(callback)
            return True

    def cancel(self) -> None:
        """The caller leaves: the call is no longer active; its callbacks run."""
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    @property
    def cancelled(self) -> bool:
        """Whether the caller has cancelled."""
        return self._cancelled

    def time_remaining(self) -> float | None:
        """Seconds until the caller's deadline (None: no deadline)."""
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def expired(self) -> bool:
        """Whether the caller's deadline has passed."""
        return self._deadline is not None and time.monotonic() >= self._deadline

    def is_active(self) -> bool:
        """Whether the caller still waits (and the service still serves)."""
        if self._cancelled or (self._target is not None and not self._target.serving):
            return False
        return not self.expired()

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        """End the call with `code` and `details`."""
        self._code = code
        self._details = details
        raise _Aborted(details)

    def abort_with_status(self, status: grpc.Status) -> NoReturn:
        """End the call with `status`, its trailing metadata (error details) included."""
        self._trailing = tuple(status.trailing_metadata or ())
        self.abort(status.code, status.details)

    def set_code(self, code: grpc.StatusCode) -> None:
        """The code the call ends with once its handler returns (OK unless set)."""
        self._code = code

    def set_details(self, details: str) -> None:
        """The message the call ends with, with a code set by `set_code`."""
        self._details = details

    def set_trailing_metadata(self, metadata: Metadata) -> None:
        """Metadata the call ends with."""
        self._trailing = tuple(metadata)

    def ended(self) -> Ended:
        """How the call ended, once it aborted."""
        return Ended(self._code or grpc.StatusCode.UNKNOWN, self._details, self._trailing)

    def failed(self) -> bool:
        """Whether the handler set a code other than OK (`set_code`) and returned."""
        return self._code is not None and self._code is not grpc.StatusCode.OK

    def code(self) -> grpc.StatusCode | None:
        """The code set so far (None: none)."""
        return self._code

    def details(self) -> str:
        """The message set so far."""
        return self._details


def _intercepted(
    interceptors: Sequence[Interceptor],
    at: int,
    last: Callable[[grpc.HandlerCallDetails], Handler | None],
    details: grpc.HandlerCallDetails,
) -> Handler | None:
    """What `interceptors[at:]`, in order, make of `last`'s handler, as a gRPC server does."""
    if at == len(interceptors):
        return last(details)
    return interceptors[at].intercept_service(
        lambda d: _intercepted(interceptors, at + 1, last, d), details
    )


def method_handlers(service_name: str, servicer: object) -> dict[str, Handler]:
    """The handler of each method of `servicer`, by full name, with its messages' codecs.

    What the generated `add_..._to_server` registers, read from the service's descriptor.
    """
    descriptor = descriptor_pool.Default().FindServiceByName(service_name)
    found: dict[str, Handler] = {}
    for method in descriptor.methods:
        request = message_factory.GetMessageClass(method.input_type)
        reply = message_factory.GetMessageClass(method.output_type)
        kind = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }[(method.client_streaming, method.server_streaming)]
        found[f"/{service_name}/{method.name}"] = kind(
            getattr(servicer, method.name),
            request_deserializer=request.FromString,
            response_serializer=reply.SerializeToString,
        )
    return found


class LocalTarget:
    """A server's endpoint in this process: made when it binds, open while it serves.

    It answers nothing until `serve` gives it the servicers and the server's interceptors (once,
    when the server is built), and then only while its server serves (`open`, `close`). A
    context's server serves one service; the gateway's serves several on one port.
    """

    def __init__(self, service_name: str, *more: str) -> None:
        self.service_name = service_name
        """The first (for a context, the only) service it serves."""
        self.service_names = (service_name, *more)
        pool = descriptor_pool.Default()
        self.descriptors = tuple(pool.FindServiceByName(name) for name in self.service_names)
        self.servicer: object | None = None
        self._handlers: dict[str, Handler] = {}
        self._interceptors: tuple[Interceptor, ...] = ()
        self._serving = threading.Event()

    def serve(
        self,
        servicer: object,
        interceptors: Iterable[Interceptor] = (),
        *,
        others: Mapping[str, object] | None = None,
    ) -> None:
        """Answer with `servicer`'s methods, through `interceptors` (outermost first).

        Args:
            servicer: the servicer of the first service.
            interceptors: server interceptors, for wire and local calls alike.
            others: the servicer of each other service, by full name.

        Raises:
            ValueError: it already has a servicer, or a service has none.
        """
        if self.servicer is not None:
            raise ValueError(f"{self.service_name} already has its servicer")
        servicers = {self.service_name: servicer, **(others or {})}
        if set(servicers) != set(self.service_names):
            raise ValueError(f"servicers for {sorted(servicers)}, not {list(self.service_names)}")
        self._handlers = {
            path: handler
            for name, one in servicers.items()
            for path, handler in method_handlers(name, one).items()
        }
        self._interceptors = tuple(interceptors)
        self.servicer = servicer

    def method_handlers(self) -> dict[str, Handler]:
        """The servicer's own handler of each method, by full name (no interceptor's)."""
        return dict(self._handlers)

    def handler(self, details: grpc.HandlerCallDetails) -> Handler | None:
        """The handler that runs a call: the method's, through every interceptor.

        None when there is no such method, or an interceptor says so.
        """
        if not self._interceptors:
            return self._handlers.get(details.method)
        return _intercepted(self._interceptors, 0, self._lookup, details)

    def handler_of(self, method: str, metadata: tuple[Metadatum, ...]) -> Handler | None:
        """`handler` of a local call of `method` (full name) with `metadata`."""
        if not self._interceptors:
            return self._handlers.get(method)
        return _intercepted(self._interceptors, 0, self._lookup, CallDetails(method, metadata))

    def _lookup(self, details: grpc.HandlerCallDetails) -> Handler | None:
        return self._handlers.get(details.method)

    def generic_handler(self) -> grpc.GenericRpcHandler[Any, Any]:
        """The target's methods for a `grpc.Server`: wire calls take the same handlers."""
        return _Served(self)

    def open(self) -> None:
        """Its server started: local calls are answered."""
        self._serving.set()

    def close(self) -> None:
        """Its server stops: local calls answer UNAVAILABLE."""
        self._serving.clear()

    @property
    def serving(self) -> bool:
        """Whether local calls are answered."""
        return self._serving.is_set()

    def channel(self) -> LocalChannel:
        """A stand-in for a channel to this service: give it to the generated stub."""
        return LocalChannel(self)


class _Served(grpc.GenericRpcHandler):  # type: ignore[type-arg]
    """A `LocalTarget`'s methods, served on a gRPC server."""

    def __init__(self, target: LocalTarget) -> None:
        self._target = target

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        """The handler of a call that came over the wire."""
        return self._target.handler(handler_call_details)


class _Future:
    """What callers use of the future a generated stub's `method.future(...)` returns."""

    def __init__(self, inner: futures.Future[Any]) -> None:
        self._inner = inner

    def result(self, timeout: float | None = None) -> Any:
        """The reply, or the call's `grpc.RpcError`."""
        return self._inner.result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The call's error, if it failed."""
        return self._inner.exception(timeout)

    def done(self) -> bool:
        """Whether the call has ended."""
        return self._inner.done()

    def cancel(self) -> bool:
        """Cancel the call if it has not started."""
        return self._inner.cancel()


def _unimplemented() -> LocalRpcError:
    return LocalRpcError(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")


class _Method:
    """What a unary and a server-streaming method of a `LocalChannel` share."""

    def __init__(self, target: LocalTarget, path: str, reply_type: type[Message]) -> None:
        self._target = target
        self._path = path
        self._reply_type = reply_type

    def _start(
        self, request: Message, metadata: Iterable[tuple[str, str | bytes]] | None
    ) -> tuple[Handler, object, tuple[Metadatum, ...]]:
        """The handler for this call, the request as it takes it, and the caller's metadata.

        Raises:
            LocalRpcError: UNAVAILABLE while the service is not serving; UNIMPLEMENTED when an
                interceptor finds no handler; UNKNOWN when an interceptor fails.
        """
        target = self._target
        if not target.serving:
            raise LocalRpcError(
                grpc.StatusCode.UNAVAILABLE, f"{target.service_name} is not serving"
            )
        sent = metadata_of(metadata)
        try:
            handler = target.handler_of(self._path, sent)
        except Exception:  # as gRPC's server answers an interceptor's failure
            log.exception("%s: an interceptor failed", self._path)
            raise LocalRpcError(grpc.StatusCode.UNKNOWN, "Error in service handler!") from None
        if handler is None:
            raise _unimplemented()
        data = request.SerializeToString()  # the servicer parses its own copy
        decode = handler.request_deserializer
        return handler, (decode(data) if decode is not None else data), sent

    def _reply(self, handler: Handler, reply: Any) -> Message:
        """The caller's own copy of `reply`."""
        encode = handler.response_serializer
        return self._reply_type.FromString(encode(reply) if encode is not None else reply)


class LocalMethod(_Method):
    """One unary method through a `LocalChannel`."""

    def __call__(
        self,
        request: Message,
        timeout: float | None = None,
        metadata: Iterable[tuple[str, str | bytes]] | None = None,
        **_: object,
    ) -> Message:
        """Call the method as the generated stub would, and return the reply."""
        handler, parsed, sent = self._start(request, metadata)
        behaviour: Callable[[Any, Any], Any] | None = handler.unary_unary
        if behaviour is None:
            raise _unimplemented()
        context = LocalContext(timeout, metadata=sent)
        try:
            reply = behaviour(parsed, context)
        except _Aborted:
            raise context.ended().error() from None
        if context.failed():
            raise context.ended().error()
        if not context.is_active():
            raise LocalRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
        return self._reply(handler, reply)

    def future(
        self,
        request: Message,
        timeout: float | None = None,
        metadata: Iterable[tuple[str, str | bytes]] | None = None,
    ) -> _Future:
        """Start the call on the local pool; the future's `result()` is its reply."""
        return _Future(_pool().submit(self, request, timeout, metadata))


def _one(behaviour: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Iterator[Any]]:
    """A unary handler's behaviour as a stream of its one reply."""

    def stream(request: Any, context: Any) -> Iterator[Any]:
        yield behaviour(request, context)

    return stream


class LocalStream:
    """A server-streaming call in progress: iterate it for the replies; `cancel()` it."""

    def __init__(
        self,
        method: LocalStreamMethod,
        handler: Handler,
        request: object,
        context: LocalContext,
    ) -> None:
        self._method = method
        self._handler = handler
        self._context = context
        behaviour: Callable[[Any, Any], Iterable[Any]] = handler.unary_stream or _one(
            handler.unary_unary  # type: ignore[arg-type]  # not None: checked by the method
        )
        self._replies: Iterator[Any] = iter(behaviour(request, context))

    def __iter__(self) -> LocalStream:
        return self

    def __next__(self) -> Message:
        context = self._context
        if context.cancelled:
            raise LocalRpcError(grpc.StatusCode.CANCELLED, "Locally cancelled by application!")
        try:
            reply = next(self._replies)
        except _Aborted:
            raise context.ended().error() from None
        except StopIteration:
            if context.cancelled:
                raise LocalRpcError(
                    grpc.StatusCode.CANCELLED, "Locally cancelled by application!"
                ) from None
            if context.failed():
                raise context.ended().error() from None
            if context.expired():
                raise LocalRpcError(
                    grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"
                ) from None
            if not context.is_active():
                raise LocalRpcError(grpc.StatusCode.UNAVAILABLE, "the service stopped") from None
            raise
        return self._method._reply(self._handler, reply)

    def cancel(self) -> bool:
        """End the call; the servicer's loop sees it at its next check."""
        self._context.cancel()
        return True


class LocalStreamMethod(_Method):
    """One server-streaming method through a `LocalChannel`."""

    def __call__(
        self,
        request: Message,
        timeout: float | None = None,
        metadata: Iterable[tuple[str, str | bytes]] | None = None,
        **_: object,
    ) -> LocalStream:
        """Start the call; the servicer runs from the first `next()`."""
        handler, parsed, sent = self._start(request, metadata)
        if handler.unary_stream is None and handler.unary_unary is None:
            raise _unimplemented()
        context = LocalContext(timeout, self._target, sent)
        return LocalStream(self, handler, parsed, context)


class LocalChannel(grpc.Channel):
    """A `grpc.Channel` whose unary and server-streaming calls reach a `LocalTarget`.

    Only what the generated stubs ask of a channel: `unary_unary` and `unary_stream` by method
    path. A client-streaming method is not offered (no service has one); closing is a no-op,
    the target's server owns the servicer.
    """

    def __init__(self, target: LocalTarget) -> None:
        self.target = target
        self._methods = {
            f"/{descriptor.full_name}/{method.name}": method
            for descriptor in target.descriptors
            for method in descriptor.methods
        }

    def _method(self, path: str) -> tuple[LocalTarget, str, type[Message]]:
        """What a method object needs of the method at `path` (`/package.Service/Method`)."""
        found = self._methods.get(path)
        if found is None:
            raise ValueError(f"{self.target.service_name} has no method {path!r} to call locally")
        return self.target, path, message_factory.GetMessageClass(found.output_type)

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """The unary method at `method`."""
        return LocalMethod(*self._method(method))

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """The server-streaming method at `method`."""
        return LocalStreamMethod(*self._method(method))

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Not offered locally."""
        return _NotLocal(method)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Not offered locally."""
        return _NotLocal(method)

    def subscribe(self, callback: Callable[..., None], try_to_connect: bool = False) -> None:
        """A local channel has no connectivity to watch."""

    def unsubscribe(self, callback: Callable[..., None]) -> None:
        """A local channel has no connectivity to watch."""

    def close(self) -> None:
        """Nothing to close: the target's server owns the servicer."""

    def __enter__(self) -> LocalChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _NotLocal:
    """A client-streaming method through a `LocalChannel`: refused as unimplemented."""

    def __init__(self, method: str) -> None:
        self._method = method

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise LocalRpcError(
            grpc.StatusCode.UNIMPLEMENTED, f"{self._method} cannot be called locally"
        )
