"""The one table that knows gRPC status codes: maps error kinds to codes at the servicer edge.

A failure leaves with its kind's code, its message and a `google.rpc.ErrorInfo` carrying its
machine-readable reason (`kernel.errors.Reason`) in the standard `grpc-status-details-bin`
trailer, so a client in any language reads the reason with its own gRPC status library.
`reason_of` reads it back here; a callee's status passes through a servicer unchanged,
reason included.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import Final, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from kernel import errors

log = logging.getLogger(__name__)

DETAILS_KEY: Final = "grpc-status-details-bin"
"""The trailer that carries a `google.rpc.Status` with the error's details."""

CODES: Final[dict[type[errors.CmrError], grpc.StatusCode]] = {
    errors.Invalid: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.Refused: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Forbidden: grpc.StatusCode.PERMISSION_DENIED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
}

KINDS: Final[dict[grpc.StatusCode, type[errors.CmrError]]] = {
    code: kind for kind, code in CODES.items()
}
"""The kind each mapped code stands for, when a caller turns a callee's status back into one."""

S = TypeVar("S")
Req = TypeVar("Req")
Resp = TypeVar("Resp")


def code_of(err: errors.CmrError) -> grpc.StatusCode:
    """Return the gRPC code of an error kind (its nearest mapped base class)."""
    for kind in type(err).__mro__:
        if kind in CODES:
            return CODES[kind]
    return grpc.StatusCode.INTERNAL


def error_status(code: grpc.StatusCode, message: str, reason: str) -> grpc.Status:
    """The status a call ends with: `code`, `message` and an `ErrorInfo` with `reason`."""
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=errors.DOMAIN))
    return rpc_status.to_status(
        status_pb2.Status(code=code.value[0], message=message, details=[detail])
    )


def reason_of(err: BaseException) -> str:
    """The machine-readable reason a failed call carries, or "" when it carries none."""
    if not isinstance(err, grpc.Call):
        return ""
    try:
        found = rpc_status.from_call(err)
    except ValueError:  # a trailer that does not match the call's own status: not ours
        return ""
    for detail in found.details if found is not None else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info) and info.domain == errors.DOMAIN:
            return str(info.reason)
    return ""


def error_from(err: BaseException) -> errors.CmrError | None:
    """The error kind a failed call's code stands for, with its message and reason.

    None for a code no kind maps to (INTERNAL, DEADLINE_EXCEEDED, ...): those pass on as they
    came. A refusal without a reason of ours (another party's) gets its kind's default.
    """
    if not isinstance(err, grpc.Call):
        return None
    kind = KINDS.get(err.code())
    if kind is None:
        return None
    reason = reason_of(err)
    known = reason in errors.Reason.__members__.values()
    return kind(err.details() or "", reason=errors.Reason(reason) if known else None)


class _Passed(grpc.Status):
    """A callee's status, passed on as it came."""

    def __init__(self, err: grpc.Call, name: str) -> None:
        self.code = err.code()
        self.details = err.details() or f"{name} failed"
        self.trailing_metadata = tuple(
            (key, value) for key, value in err.trailing_metadata() or () if key == DETAILS_KEY
        )


def _abort(context: grpc.ServicerContext, name: str, err: BaseException) -> None:
    if context.code() is not None:  # type: ignore[attr-defined]
        raise err  # context.abort() already ran; it raises to unwind the handler
    if isinstance(err, errors.CmrError):
        context.abort_with_status(error_status(code_of(err), err.message, err.reason))
    if isinstance(err, grpc.RpcError):
        # A callee's status passes through unchanged, so its code, message and reason reach
        # the client.
        if isinstance(err, grpc.Call):
            context.abort_with_status(_Passed(err, name))
        context.abort(grpc.StatusCode.INTERNAL, f"{name} failed")
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
