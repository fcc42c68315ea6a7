"""The relations context's reactor on the access feed: revoking consume suspends relations.

One daemon thread follows access's `Watch` from the cursor stored in the relations store and
applies each event with `domain.apply_access_event`, which moves the cursor in the same
transaction as the change: a restart resumes where it stopped, and nothing is applied twice.
When access is down or not started yet, the thread retries with a capped backoff, so the two
services may start in any order. `wait_for` lets `Sync` callers (the gateway, after a revoke)
wait until an event has been applied.
"""

from __future__ import annotations

import logging
import threading
from typing import Final

import grpc

from cmr.access.v1 import access_pb2, access_pb2_grpc
from services.common.server import CHANNEL_OPTIONS
from services.relations import domain

SOURCE: Final = "access"
"""The feed's name in `feed_cursors`."""
BACKOFF_S: Final = (0.05, 0.2, 0.5, 1.0, 2.0)
"""Waits between reconnection attempts; the last repeats."""

log = logging.getLogger(__name__)


class AccessReactor:
    """Follows the access feed and suspends the relations a revoke of consume ends."""

    def __init__(self, store: domain.Relations, address: str) -> None:
        self.address = address
        self._store = store
        self._stop = threading.Event()
        self._applied = threading.Condition()
        self._channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
        self._stub = access_pb2_grpc.AccessServiceStub(self._channel)
        self._call: grpc.Future | None = None  # type: ignore[type-arg]
        self._thread = threading.Thread(target=self._run, name="relations-access-reactor")
        self._thread.daemon = True

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
        """The last access sequence applied."""
        return self._store.cursor(SOURCE)

    def wait_for(self, sequence: int, timeout: float) -> bool:
        """Wait until the feed is applied up to `sequence`; False when `timeout` passed first."""
        with self._applied:
            return self._applied.wait_for(lambda: self.applied() >= sequence, timeout=timeout)

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                stream = self._stub.Watch(access_pb2.WatchRequest(after_sequence=self.applied()))
                self._call = stream  # type: ignore[assignment]
                for item in stream:
                    attempt = 0
                    ev = item.event
                    domain.apply_access_event(
                        self._store, SOURCE, ev.sequence, ev.kind, dict(ev.attributes)
                    )
                    with self._applied:
                        self._applied.notify_all()
            except grpc.RpcError as err:
                if self._stop.is_set():
                    return
                log.debug("access feed at %s: %s", self.address, err)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("applying the access feed failed; retrying")
            delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            attempt += 1
            self._stop.wait(delay)
