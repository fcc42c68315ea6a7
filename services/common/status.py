"""The one table that knows gRPC status codes: maps error kinds to codes at the servicer edge."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import Final, TypeVar

import grpc

from kernel import errors

log = logging.getLogger(__name__)

CODES: Final[dict[type[errors.CmrError], grpc.StatusCode]] = {
    errors.Invalid: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.Refused: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Forbidden: grpc.StatusCode.PERMISSION_DENIED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
}

S = TypeVar("S")
Req = TypeVar("Req")
Resp = TypeVar("Resp")


def code_of(err: errors.CmrError) -> grpc.StatusCode:
    """Return the gRPC code of an error kind (its nearest mapped base class)."""
    for kind in type(err).__mro__:
        if kind in CODES:
            return CODES[kind]
    return grpc.StatusCode.INTERNAL


def _abort(context: grpc.ServicerContext, name: str, err: BaseException) -> None:
    if context.code() is not None:  # type: ignore[attr-defined]
        raise err  # context.abort() already ran; it raises to unwind the handler
    if isinstance(err, errors.CmrError):
        context.abort(code_of(err), err.message)
    if isinstance(err, grpc.RpcError):
        # A callee's status passes through unchanged, so its code and message reach the client.
        code = err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.INTERNAL
        details = err.details() if isinstance(err, grpc.Call) else None
        context.abort(code, details or f"{name} failed")
    log.error("%s failed unexpectedly", name, exc_info=err)
    context.abort(grpc.StatusCode.INTERNAL, f"{name} failed unexpectedly; see the service log")


def unary(
    method: Callable[[S, Req, grpc.ServicerContext], Resp],
) -> Callable[[S, Req, grpc.ServicerContext], Resp]:
    """Wrap a unary servicer method so every exception becomes a status with a clear message."""

    @functools.wraps(method)
    def wrapper(self: S, request: Req, context: grpc.ServicerContext) -> Resp:
        try:
            return method(self, request, context)
        except Exception as err:  # the edge: every error gets a status
            _abort(context, method.__name__, err)
            raise  # unreachable: _abort always raises

    return wrapper


def streaming(
    method: Callable[[S, Req, grpc.ServicerContext], Iterator[Resp]],
) -> Callable[[S, Req, grpc.ServicerContext], Iterator[Resp]]:
    """Wrap a server-streaming method; errors raised mid-stream are mapped too."""

    @functools.wraps(method)
    def wrapper(self: S, request: Req, context: grpc.ServicerContext) -> Iterator[Resp]:
        try:
            yield from method(self, request, context)
        except Exception as err:  # the edge: every error gets a status
            _abort(context, method.__name__, err)
            raise

    return wrapper
