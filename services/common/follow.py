"""Following a change feed: one thread that keeps a `Watch` stream open and hands on its items.

The loop the reactors (`services.common.reactor`) and the gateway's read cache share: open the
stream on a channel to the source (the source's `LocalChannel` when it is built in this process,
else gRPC to its address), retry with a capped backoff, cancel the open stream on stop (a stream
that opens just then included). Its owner says how to open the stream (from its cursor) and
what to do with each item.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Final, Generic, TypeVar

import grpc

from services.common.server import channel_to

BACKOFF_S: Final = (0.05, 0.2, 0.5, 1.0, 2.0)
"""Waits between attempts to open a feed, in seconds; the last repeats."""
JOIN_S: Final = 5.0
"""How long `stop()` waits for the thread."""

log = logging.getLogger(__name__)

Item = TypeVar("Item")


class FeedFollower(Generic[Item]):
    """A thread that follows one source's feed and hands each item to its owner."""

    def __init__(
        self,
        name: str,
        address: str,
        open_stream: Callable[[grpc.Channel], Iterable[Item]],
        take: Callable[[Item], None],
        *,
        local: grpc.Channel | None = None,
        lost: Callable[[], None] | None = None,
        backoff: Sequence[float] = BACKOFF_S,
        wait: Callable[[float], object] | None = None,
    ) -> None:
        """Prepare the follower; `start()` starts its thread.

        Args:
            name: the thread's name, also in the log (`relations-access-reactor`).
            address: where the source listens (`host:port`).
            open_stream: opens the stream on a channel to the source.
            take: handles one item of the stream; an exception breaks the stream (logged, then
                retried like any failure).
            local: the source's `LocalChannel` when it is built in this process: the stream
                opens on it, and `address` is not dialled.
            lost: called after each attempt, when its stream has ended, failed or not opened.
            backoff: waits between attempts, in seconds; the last repeats.
            wait: waits that long between attempts (default: until then or `stop()`).
        """
        self.name = name
        self._address = address
        self._open = open_stream
        self._take = take
        self._lost = lost
        self._backoff = tuple(backoff)
        self._stop = threading.Event()
        self._wait = wait if wait is not None else self._stop.wait
        self._local = local
        self._lock = threading.Lock()  # the stream open now
        self._cancel_open: Callable[[], object] | None = None  # cancels the stream open now
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start following the feed."""
        self._thread.start()

    def stop(self) -> None:
        """Stop following: cancel the open stream, and wait for the thread."""
        self._stop.set()
        self._cancel()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=JOIN_S)

    def _cancel(self) -> None:
        with self._lock:
            cancel = self._cancel_open
        if cancel is not None:
            cancel()

    def _opened(self, stream: Iterable[Item]) -> None:
        """Keep how to cancel `stream`; cancel it at once if stopped meanwhile."""
        cancel: Callable[[], object] | None = getattr(stream, "cancel", None)
        with self._lock:
            self._cancel_open = cancel
            unwanted = self._stop.is_set()
        if unwanted and cancel is not None:
            cancel()  # stopped while it opened: stop() found no stream to cancel

    def _attempt(self) -> bool:
        """Open the stream and read it until it ends or fails; whether an item was taken."""
        address = "this process" if self._local is not None else self._address
        taken = False
        try:
            with channel_to(self._local, address) as channel:
                stream = self._open(channel)
                self._opened(stream)
                for item in stream:
                    self._take(item)
                    taken = True
        except grpc.RpcError as err:
            if not self._stop.is_set():
                log.debug("%s: the feed at %s: %s", self.name, address, err)
        except Exception:
            if not self._stop.is_set():
                log.exception("%s: following the feed failed; retrying", self.name)
        finally:
            with self._lock:
                cancel, self._cancel_open = self._cancel_open, None
            if cancel is not None:
                cancel()  # a stream left by a failure ends here, not when collected
            if self._lost is not None:
                self._lost()
        return taken

    def _run(self) -> None:
        failures = 0  # attempts in a row that took nothing (one that did counts as the first)
        while not self._stop.is_set():
            failures = 1 if self._attempt() else failures + 1
            if self._stop.is_set():
                return
            self._wait(self._backoff[min(failures, len(self._backoff)) - 1])
