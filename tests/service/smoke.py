"""Shared by the pytest-grpc contract smoke modules: a failure's status, a stream to its end,
and what every service's `Watch` answers on an empty feed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

import grpc
import pytest

from kernel.errors import Reason
from services.common.status import reason_of

T = TypeVar("T")

TIMEOUT: Final = 10
"""Deadline of a unary call: fails before pytest-timeout does."""
WATCH_DEADLINE: Final = 0.5
"""Deadline of a `Watch` on an empty feed: how long it is followed before the test reads it."""


def failure(call: Callable[[], object]) -> tuple[grpc.StatusCode, str, str]:
    """The code, message and machine-readable reason `call` fails with."""
    with pytest.raises(grpc.RpcError) as raised:
        call()
    assert isinstance(raised.value, grpc.Call)
    return raised.value.code(), raised.value.details() or "", reason_of(raised.value)


def read_to_end(stream: Iterable[T]) -> tuple[list[T], grpc.StatusCode]:
    """Everything a server stream yields, and the code it ends with (OK when it just ends)."""
    heard: list[T] = []
    try:
        heard.extend(stream)
    except grpc.RpcError as err:
        return heard, err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.UNKNOWN
    return heard, grpc.StatusCode.OK


def empty_feed_watched(stub: Any, request: Callable[..., Any], reply: Callable[..., Any]) -> None:
    """What a service's `Watch` answers on an empty feed, asked three ways.

    From 0 it hears nothing until its deadline; `from_latest` answers `head=0` first and ends
    CANCELLED when the client cancels; from a negative sequence it is INVALID_ARGUMENT.

    Args:
        stub: the service's stub.
        request: its `WatchRequest` class.
        reply: its `WatchResponse` class.
    """
    stream = stub.Watch(request(after_sequence=0), timeout=WATCH_DEADLINE)
    assert read_to_end(stream) == ([], grpc.StatusCode.DEADLINE_EXCEEDED)
    stream = stub.Watch(request(from_latest=True), timeout=TIMEOUT)
    assert next(iter(stream)) == reply(head=0)
    stream.cancel()
    assert read_to_end(stream) == ([], grpc.StatusCode.CANCELLED)
    stream = stub.Watch(request(after_sequence=-1), timeout=TIMEOUT)
    assert failure(lambda: list(stream)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "after_sequence must not be negative, got -1",
        Reason.INVALID,
    )
