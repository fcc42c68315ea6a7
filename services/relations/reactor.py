"""The relations context's reactors on other contexts' feeds.

- **access**: revoking consume suspends that user's relations (`domain.apply_access_event`).
- **placement**: units entering and leaving relation scopes (`domain.apply_placement_event`).

Both are `services.common.reactor.FeedReactor`s: one thread each, cursor stored in the
relations store and moved in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import grpc

from cmr.access.v1 import access_pb2, access_pb2_grpc
from cmr.common.v1 import common_pb2
from cmr.placement.v1 import placement_pb2, placement_pb2_grpc
from services.common.local import LocalTarget
from services.common.reactor import FeedReactor
from services.relations import domain


def _watch_access(channel: grpc.Channel, after: int) -> Iterable[access_pb2.WatchResponse]:
    stub = access_pb2_grpc.AccessServiceStub(channel)
    return stub.Watch(access_pb2.WatchRequest(after_sequence=after))


def _watch_placement(channel: grpc.Channel, after: int) -> Iterable[placement_pb2.WatchResponse]:
    stub = placement_pb2_grpc.PlacementServiceStub(channel)
    return stub.Watch(placement_pb2.WatchRequest(after_sequence=after))


def reactors(
    store: domain.Relations,
    address: Callable[[str], str],
    local: Mapping[str, LocalTarget],
) -> dict[str, FeedReactor]:
    """The relations context's reactors, by source, not yet started.

    Args:
        store: the relations store, which keeps each source's cursor.
        address: where each source listens (`host:port`).
        local: the sources built in this process, followed without the wire.
    """

    def channel(source: str) -> grpc.Channel | None:
        target = local.get(source)
        return target.channel() if target is not None else None

    def apply_access(ev: common_pb2.Event) -> None:
        domain.apply_access_event(store, "access", ev.sequence, ev.kind, dict(ev.attributes))

    def apply_placement(ev: common_pb2.Event) -> None:
        domain.apply_placement_event(
            store,
            "placement",
            ev.sequence,
            ev.kind,
            ev.model_uuid,
            ev.entity,
            dict(ev.attributes),
        )

    return {
        "access": FeedReactor(
            "access",
            address("access"),
            _watch_access,
            apply_access,
            lambda: store.cursor("access"),
            owner="relations",
            matters=lambda ev: domain.access_event_matters(ev.kind, ev.attributes),
            local=channel("access"),
        ),
        "placement": FeedReactor(
            "placement",
            address("placement"),
            _watch_placement,
            apply_placement,
            lambda: store.cursor("placement"),
            owner="relations",
            matters=lambda ev: domain.placement_event_matters(ev.kind, ev.attributes),
            local=channel("placement"),
        ),
    }
