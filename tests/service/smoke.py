"""Shared by the pytest-grpc contract smoke modules: a failure's status, a stream to its end."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final, TypeVar

import grpc
import pytest

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
