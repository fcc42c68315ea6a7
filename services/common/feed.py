"""The server side of every service's `Watch(after_sequence)`: replay, then follow live."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final, Protocol, TypeVar

import grpc

from cmr.common.v1 import common_pb2
from kernel import errors
from services.common.db import Event, SqliteStore

R = TypeVar("R")

POLL_S: Final = 1.0
"""How often an idle stream checks that its client is still there."""


def to_pb(event: Event) -> common_pb2.Event:
    """Convert a stored event to its wire form."""
    return common_pb2.Event(
        sequence=event.sequence,
        kind=event.kind,
        model_uuid=event.model_uuid,
        entity=event.entity,
        attributes=dict(event.attributes),
        time=event.time,
    )


def follow(
    store: SqliteStore, after_sequence: int, context: grpc.ServicerContext
) -> Iterator[common_pb2.Event]:
    """Yield every event after `after_sequence`, then each new one, until the client leaves.

    Batches are read under the store's lock; waiting happens outside it, so writers are never
    blocked by a slow watcher.

    Raises:
        Invalid: `after_sequence` is negative.
    """
    if after_sequence < 0:
        raise errors.Invalid(f"after_sequence must not be negative, got {after_sequence}")
    cursor = after_sequence
    store.refresh()
    context.add_callback(store.wake)  # a cancelled watch leaves at once, not at the next poll
    while context.is_active() and not store.closed:
        batch = store.recent_after(cursor)
        for event in batch:
            yield to_pb(event)
            cursor = event.sequence
        if not batch:
            store.wait_for_events(cursor, POLL_S)


class WatchRequest(Protocol):
    """What every service's `WatchRequest` carries."""

    @property
    def after_sequence(self) -> int:
        """Replay after this sequence."""
        ...

    @property
    def from_latest(self) -> bool:
        """Skip the history."""
        ...


def serve_watch(
    store: SqliteStore,
    request: WatchRequest,
    context: grpc.ServicerContext,
    response: Callable[..., R],
) -> Iterator[R]:
    """Serve a `Watch`: the events after `after_sequence`, or only the new ones.

    With `from_latest`, the first response carries only `head` (the newest sequence now), then
    every event after it follows. A `from_latest` watcher (the gateway's read cache) needs no
    history, only to know from when it hears of every change; `head` tells it.
    """
    after = request.after_sequence
    if request.from_latest:
        after = store.last_sequence()
        yield response(head=after)
    for event in follow(store, after, context):
        yield response(event=event)
