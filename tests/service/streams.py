"""Following a server-streaming `Watch` from a test: a thread that records what it hears."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

import grpc


class Follower:
    """Reads a stream of `WatchResponse`s in a thread: the event kinds, then how it ended."""

    def __init__(self, stream: Iterable[Any]) -> None:
        self.heard: list[str] = []
        self.ended: list[grpc.StatusCode] = []
        self._thread = threading.Thread(target=self._follow, args=(stream,))
        self._thread.start()

    def _follow(self, stream: Iterable[Any]) -> None:
        try:
            self.heard.extend(item.event.kind for item in stream)
        except grpc.RpcError as err:
            code = err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.UNKNOWN
            self.ended.append(code)

    def wait_for(self, count: int, timeout: float = 2.0) -> list[str]:
        """What it heard once it has `count` events, or when `timeout` passed (bounded)."""
        deadline = time.monotonic() + timeout
        while len(self.heard) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.heard

    def join(self, timeout: float = 5.0) -> bool:
        """Wait for the stream to end; whether it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
