"""The relations context's reactors on other contexts' feeds.

- **access**: revoking consume suspends that user's relations (`domain.apply_access_event`).
- **placement**: units entering and leaving relation scopes (`domain.apply_placement_event`).

Each reactor is one daemon thread that follows the source's `Watch` from the cursor stored in
the relations store and applies each event in one transaction with the cursor: a restart
resumes where it stopped, and nothing is applied twice. When the source is down or not started
yet, the thread retries with a capped backoff, so services may start in any order. `wait_for`
lets `Sync` callers (the gateway, after a revoke) wait until an event has been applied.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Final

import grpc

from cmr.access.v1 import access_pb2, access_pb2_grpc
from cmr.common.v1 import common_pb2
from cmr.placement.v1 import placement_pb2, placement_pb2_grpc
from services.common.server import CHANNEL_OPTIONS
from services.relations import domain

SOURCES: Final = ("access", "placement")
"""The feeds followed, by their names in `feed_cursors`."""
BACKOFF_S: Final = (0.05, 0.2, 0.5, 1.0, 2.0)
"""Waits between reconnection attempts; the last repeats."""

log = logging.getLogger(__name__)


class FeedReactor:
    """Follows one source's feed (`access` or `placement`) and applies it to the store."""

    def __init__(self, store: domain.Relations, source: str, address: str) -> None:
        if source not in SOURCES:
            raise ValueError(f"no reactor for {source!r}")
        self.source = source
        self.address = address
        self._store = store
        self._stop = threading.Event()
        self._applied = threading.Condition()
        self._channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
        self._call: grpc.Future | None = None  # type: ignore[type-arg]
        self._thread = threading.Thread(target=self._run, name=f"relations-{source}-reactor")
        self._thread.daemon = True

    def _watch(self, after: int) -> Iterator[common_pb2.Event]:
        if self.source == "access":
            access = access_pb2_grpc.AccessServiceStub(self._channel)
            from_access = access.Watch(access_pb2.WatchRequest(after_sequence=after))
            self._call = from_access  # type: ignore[assignment]
            for item in from_access:
                yield item.event
        else:
            placement = placement_pb2_grpc.PlacementServiceStub(self._channel)
            from_placement = placement.Watch(placement_pb2.WatchRequest(after_sequence=after))
            self._call = from_placement  # type: ignore[assignment]
            for one in from_placement:
                yield one.event

    def _apply(self, ev: common_pb2.Event) -> None:
        attributes = dict(ev.attributes)
        if self.source == "access":
            domain.apply_access_event(self._store, self.source, ev.sequence, ev.kind, attributes)
        else:
            domain.apply_placement_event(
                self._store,
                self.source,
                ev.sequence,
                ev.kind,
                ev.model_uuid,
                ev.entity,
                attributes,
            )

    def start(self) -> None:
        """Start following the feed."""
        self._thread.start()

    def stop(self) -> None:
        """Stop following and close the channel; waits for the thread."""
        self._stop.set()
        call = self._call
        if call is not None:
            call.cancel()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._channel.close()

    def applied(self) -> int:
        """The last sequence of the source applied."""
        return self._store.cursor(self.source)

    def wait_for(self, sequence: int, timeout: float) -> bool:
        """Wait until the feed is applied up to `sequence`; False when `timeout` passed first."""
        with self._applied:
            return self._applied.wait_for(lambda: self.applied() >= sequence, timeout=timeout)

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                for ev in self._watch(self.applied()):
                    attempt = 0
                    self._apply(ev)
                    with self._applied:
                        self._applied.notify_all()
            except grpc.RpcError as err:
                if self._stop.is_set():
                    return
                log.debug("%s feed at %s: %s", self.source, self.address, err)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("applying the %s feed failed; retrying", self.source)
            delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            attempt += 1
            self._stop.wait(delay)
