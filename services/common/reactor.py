"""A reactor: one thread that follows another service's change feed and applies each event.

A context that must react to another consumes the owner's feed, persists its cursor in its own
store and applies each event idempotently. `FeedReactor` does that, whatever the source:

- it opens `Watch(after_sequence=<stored cursor>)` on the source and hands each event to
  `apply`, which must move the cursor in the same transaction as its change, so a restart
  resumes where it stopped and nothing is applied twice;
- when the source is down or not started yet, its `services.common.follow.FeedFollower`
  retries with a capped backoff, so services may start in any order;
- `wait_for(sequence)` lets a `Sync` RPC hold a caller (the gateway, for read-your-writes)
  until an event has been applied;
- an event that `matters` says cannot change anything here is passed over without a
  transaction: the reactor remembers it in memory, and stores the cursor only with the next
  event that matters, or with every `PERSIST_EVERY`th passed over. A restart may so replay a
  few events that change nothing, and passes over them again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Final, Protocol

import grpc

from cmr.common.v1 import common_pb2
from services.common.follow import FeedFollower

PERSIST_EVERY: Final = 256
"""Among consecutive events passed over, every this many is applied, to store the cursor."""
SYNC_LIMIT_S: Final = 30.0
"""The longest a `Sync` call waits, whatever its deadline."""


class _Item(Protocol):
    @property
    def event(self) -> common_pb2.Event: ...


class FeedReactor:
    """Follows one source's feed and applies it to this context's store."""

    def __init__(
        self,
        source: str,
        address: str,
        watch: Callable[[grpc.Channel, int], Iterable[_Item]],
        apply: Callable[[common_pb2.Event], None],
        cursor: Callable[[], int],
        *,
        owner: str,
        matters: Callable[[common_pb2.Event], bool] | None = None,
        local: grpc.Channel | None = None,
    ) -> None:
        """Prepare the reactor; `start()` starts its thread.

        Args:
            source: the feed's name, as stored with the cursor (`access`, `relations`, ...).
            address: where the source listens (`host:port`).
            watch: opens the stream after a sequence on a channel to the source.
            apply: applies one event and moves the cursor with it, in one transaction.
            cursor: the last sequence applied, from the store.
            owner: the context that reacts, for the thread's name and the log.
            matters: whether an event can change anything here (all do, without it).
            local: the source's `LocalChannel` when it is built in this process: followed
                without the wire, `address` unused.
        """
        self.source = source
        self._apply = apply
        self._cursor = cursor
        self._matters = matters
        self._passed = 0  # the last event passed over (not applied), in memory
        self._passed_count = 0
        self._applied = threading.Condition()
        self._follower = FeedFollower(
            f"{owner}-{source}-reactor",
            address,
            lambda channel: watch(channel, self.applied()),  # resume after the stored cursor
            self._take,
            local=local,
        )

    def start(self) -> None:
        """Start following the feed."""
        self._follower.start()

    def stop(self) -> None:
        """Stop following; waits for the thread."""
        self._follower.stop()

    def applied(self) -> int:
        """The last sequence of the source applied (or passed over)."""
        return max(self._cursor(), self._passed)

    def wait_for(self, sequence: int, timeout: float) -> bool:
        """Wait until the feed is applied up to `sequence`; False when `timeout` passed first."""
        with self._applied:
            return self._applied.wait_for(lambda: self.applied() >= sequence, timeout=timeout)

    def _take(self, item: _Item) -> None:
        self._pass_or_apply(item.event)
        with self._applied:
            self._applied.notify_all()

    def _pass_or_apply(self, event: common_pb2.Event) -> None:
        if self._matters is not None and not self._matters(event):
            self._passed_count += 1
            if self._passed_count < PERSIST_EVERY:
                self._passed = event.sequence
                return
        self._passed_count = 0
        self._apply(event)


def wait_within(reactor: FeedReactor, sequence: int, remaining: float | None) -> bool:
    """Wait for `reactor` to pass `sequence` within a call's remaining time (at most 30 s)."""
    limit = min(SYNC_LIMIT_S, remaining if remaining is not None else SYNC_LIMIT_S)
    return reactor.wait_for(sequence, max(limit - 0.1, 0.0))
