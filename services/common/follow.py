"""Following a change feed: one thread that keeps a `Watch` stream open and hands on its items.

The loop the reactors (`services.common.reactor`) and the gateway's read cache share: open the
stream on a channel to the source (gRPC, or the `LocalChannel` once told the source is in this
process), retry with a capped backoff, cancel the open stream on stop or on the switch to local
(a stream that opens just then included, so an embedded controller never hears a feed twice).
Its owner says how to open the stream (from its cursor) and what to do with each item.
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
        address: Callable[[], str],
        open_stream: Callable[[grpc.Channel], Iterable[Item]],
        take: Callable[[Item], None],
        *,
        lost: Callable[[], None] | None = None,
        backoff: Sequence[float] = BACKOFF_S,
        wait: Callable[[float], object] | None = None,
    ) -> None:
        """Prepare the follower; `start()` starts its thread.

        Args:
            name: the thread's name, also in the log (`relations-access-reactor`).
            address: where the source is now (`host:port`), asked on every attempt over gRPC,
                because an embedded controller learns its peers' ports only once all are bound.
            open_stream: opens the stream on a channel to the source.
            take: handles one item of the stream; an exception breaks the stream (logged, then
                retried like any failure).
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
        self._lock = threading.Lock()  # the stream open now, and the local channel
        self._cancel_open: Callable[[], object] | None = None  # cancels the stream open now
        self._local: grpc.Channel | None = None
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

    def use_local(self, channel: grpc.Channel) -> None:
        """Follow the source built in this process through `channel` (a `LocalChannel`).

        A stream open over gRPC is cancelled, and opened again locally at once.
        """
        with self._lock:
            self._local = channel
        self._cancel()

    def _cancel(self) -> None:
        with self._lock:
            cancel = self._cancel_open
        if cancel is not None:
            cancel()

    def _opened(self, stream: Iterable[Item], *, local: bool) -> None:
        """Keep how to cancel `stream`; cancel it at once if it is already not wanted."""
        cancel: Callable[[], object] | None = getattr(stream, "cancel", None)
        with self._lock:
            self._cancel_open = cancel
            unwanted = self._stop.is_set() or (not local and self._local is not None)
        if unwanted and cancel is not None:
            cancel()  # stopped, or told to follow locally, while it opened

    def _attempt(self) -> tuple[bool, bool]:
        """Open the stream and read it until it ends or fails.

        Returns:
            Whether an item was taken, and whether the stream was opened locally.
        """
        with self._lock:
            local = self._local
        address = "this process" if local is not None else self._address()
        taken = False
        try:
            with channel_to(local, address) as channel:
                stream = self._open(channel)
                self._opened(stream, local=local is not None)
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
        return taken, local is not None

    def _run(self) -> None:
        failures = 0  # attempts in a row that took nothing (one that did counts as the first)
        while not self._stop.is_set():
            taken, local = self._attempt()
            failures = 1 if taken else failures + 1
            if self._stop.is_set():
                return
            if not local and self._local is not None:
                continue  # told to follow locally while over gRPC: no reason to wait
            self._wait(self._backoff[min(failures, len(self._backoff)) - 1])
