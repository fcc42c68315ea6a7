"""The offers service's gRPC edge: proto <-> domain, and `build_server`."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from cmr.offers.v1 import offers_pb2, offers_pb2_grpc
from services.common import feed, status
from services.common.config import Config
from services.common.server import Built, new_server_owning
from services.offers.store import SqliteOffers

SERVICE_NAME = offers_pb2.DESCRIPTOR.services_by_name["OfferService"].full_name


class OfferServicer(offers_pb2_grpc.OfferServiceServicer):
    """Serves `cmr.offers.v1.OfferService` from one store."""

    def __init__(self, store: SqliteOffers) -> None:
        self._store = store

    @status.streaming
    def Watch(  # noqa: N802 - gRPC method name
        self, request: offers_pb2.WatchRequest, context: grpc.ServicerContext
    ) -> Iterator[offers_pb2.WatchResponse]:
        for ev in feed.follow(self._store, request.after_sequence, context):
            yield offers_pb2.WatchResponse(event=ev)


def build_server(config: Config) -> Built:
    """Build the offers server on `config.bind_address("offers")` with its store open.

    Raises:
        RuntimeError: the address cannot be bound.
    """
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteOffers(config.db_path("offers"))
    servicer = OfferServicer(store)
    return new_server_owning(
        SERVICE_NAME,
        lambda s: offers_pb2_grpc.add_OfferServiceServicer_to_server(servicer, s),
        config.bind_address("offers"),
        store.close,
    )
