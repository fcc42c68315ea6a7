"""Unary calls to a servicer in the same process, without the wire (the embedded controller).

`cmr run` and every embedded controller run the four services and the gateway in one process,
where a call over gRPC from the gateway to a service would cost a whole RPC (HTTP/2 framing, a
hand-off to the service's pool thread and back) and one command makes several. A `LocalChannel`
stands in for a `grpc.Channel` to a service built in the same process: the generated stub, and
everything written against a channel (the reactors' and the read cache's `Watch`), take it
unchanged, and a call costs the handler's own work:

- **The same contract.** A method is called as through any channel (`stub.Method(request,
  timeout=...)`, `stub.Method.future(...)`); the request and the reply cross as bytes (each
  side parses its own copy, as over the wire), so neither shares an object with the other.
- **The same errors.** The servicer's `context.abort(code, details)` reaches the caller as a
  `grpc.RpcError` that is a `grpc.Call` with that code and details; a call that outlives its
  deadline ends in `DEADLINE_EXCEEDED`; a stopped service answers `UNAVAILABLE`.
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
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any, Final, NamedTuple, NoReturn, TypeAlias

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message

log = logging.getLogger(__name__)

Metadata: TypeAlias = tuple[tuple[str, str | bytes], ...]
"""gRPC metadata: (key, value) pairs; values of `-bin` keys are bytes."""

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

    def __init__(self, timeout: float | None, target: LocalTarget | None = None) -> None:
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._target = target
        self._code: grpc.StatusCode | None = None
        self._details = ""
        self._trailing: Metadata = ()
        self._cancelled = False
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

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

    def is_active(self) -> bool:
        """Whether the caller still waits (and the service still serves)."""
        if self._cancelled or (self._target is not None and not self._target.serving):
            return False
        return self._deadline is None or time.monotonic() < self._deadline

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        """End the call with `code` and `details`."""
        self._code = code
        self._details = details
        raise _Aborted(details)

    def abort_with_status(self, status: grpc.Status) -> NoReturn:
        """End the call with `status`, its trailing metadata (error details) included."""
        self._trailing = tuple(status.trailing_metadata or ())
        self.abort(status.code, status.details)

    def set_trailing_metadata(self, metadata: Metadata) -> None:
        """Metadata the call ends with."""
        self._trailing = tuple(metadata)

    def ended(self) -> Ended:
        """How the call ended, once it aborted."""
        return Ended(self._code or grpc.StatusCode.UNKNOWN, self._details, self._trailing)

    def code(self) -> grpc.StatusCode | None:
        """The code set so far (None: none)."""
        return self._code

    def details(self) -> str:
        """The message set so far."""
        return self._details


class LocalTarget:
    """A servicer built in this process, open to local calls while its server serves."""

    def __init__(self, service_name: str, servicer: object) -> None:
        self.service_name = service_name
        self.servicer = servicer
        self.descriptor = descriptor_pool.Default().FindServiceByName(service_name)
        self._serving = threading.Event()

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


class _Method:
    """What a unary and a server-streaming method of a `LocalChannel` share."""

    def __init__(
        self,
        target: LocalTarget,
        name: str,
        request_type: type[Message],
        reply_type: type[Message],
    ) -> None:
        self._target = target
        self._request_type = request_type
        self._reply_type = reply_type
        self._handler: Callable[[Message, LocalContext], Any] = getattr(target.servicer, name)

    def _parsed(self, request: Message) -> Message:
        """The servicer's own copy of `request`; UNAVAILABLE while its server is not serving."""
        if not self._target.serving:
            raise LocalRpcError(
                grpc.StatusCode.UNAVAILABLE, f"{self._target.service_name} is not serving"
            )
        return self._request_type.FromString(request.SerializeToString())


class LocalMethod(_Method):
    """One unary method through a `LocalChannel`."""

    def __call__(
        self,
        request: Message,
        timeout: float | None = None,
        metadata: object = None,
        **_: object,
    ) -> Message:
        """Call the method as the generated stub would, and return the reply."""
        parsed = self._parsed(request)
        context = LocalContext(timeout)
        try:
            reply = self._handler(parsed, context)
        except _Aborted:
            raise context.ended().error() from None
        if not context.is_active():
            raise LocalRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
        return self._reply_type.FromString(reply.SerializeToString())

    def future(
        self, request: Message, timeout: float | None = None, metadata: object = None
    ) -> _Future:
        """Start the call on the local pool; the future's `result()` is its reply."""
        return _Future(_pool().submit(self, request, timeout, metadata))


class LocalStream:
    """A server-streaming call in progress: iterate it for the replies; `cancel()` it."""

    def __init__(
        self,
        target: LocalTarget,
        handler: Callable[[Message, LocalContext], Iterator[Message]],
        request: Message,
        reply_type: type[Message],
    ) -> None:
        self._context = LocalContext(None, target)
        self._replies = handler(request, self._context)
        self._reply_type = reply_type

    def __iter__(self) -> LocalStream:
        return self

    def __next__(self) -> Message:
        if self._context.cancelled:
            raise LocalRpcError(grpc.StatusCode.CANCELLED, "Locally cancelled by application!")
        try:
            reply = next(self._replies)
        except _Aborted:
            raise self._context.ended().error() from None
        except StopIteration:
            if self._context.cancelled:
                raise LocalRpcError(
                    grpc.StatusCode.CANCELLED, "Locally cancelled by application!"
                ) from None
            if not self._context.is_active():
                raise LocalRpcError(grpc.StatusCode.UNAVAILABLE, "the service stopped") from None
            raise
        return self._reply_type.FromString(reply.SerializeToString())

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
        metadata: object = None,
        **_: object,
    ) -> LocalStream:
        """Start the call; nothing runs until the first `next()`."""
        return LocalStream(self._target, self._handler, self._parsed(request), self._reply_type)


class LocalChannel(grpc.Channel):
    """A `grpc.Channel` whose unary and server-streaming calls reach a `LocalTarget`.

    Only what the generated stubs ask of a channel: `unary_unary` and `unary_stream` by method
    path. A client-streaming method is not offered (no service has one); closing is a no-op,
    the target's server owns the servicer.
    """

    def __init__(self, target: LocalTarget) -> None:
        self.target = target
        self._methods = {
            f"/{target.service_name}/{method.name}": method for method in target.descriptor.methods
        }

    def _method(self, path: str) -> tuple[LocalTarget, str, type[Message], type[Message]]:
        """What a method object needs of the method at `path` (`/package.Service/Method`)."""
        found = self._methods.get(path)
        if found is None:
            raise ValueError(f"{self.target.service_name} has no method {path!r} to call locally")
        return (
            self.target,
            found.name,
            message_factory.GetMessageClass(found.input_type),
            message_factory.GetMessageClass(found.output_type),
        )

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
