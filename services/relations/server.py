"""The relations service's gRPC edge: proto <-> domain, and `build_server`."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
from typing_extensions import override

from cmr.relations.v1 import relations_pb2, relations_pb2_grpc
from services.common import feed, status
from services.common.config import Config
from services.common.server import Built, new_server_owning
from services.relations import domain
from services.relations.store import SqliteRelations

SERVICE_NAME = relations_pb2.DESCRIPTOR.services_by_name["RelationService"].full_name


class RelationServicer(relations_pb2_grpc.RelationServiceServicer):
    """Serves `cmr.relations.v1.RelationService` from one store."""

    def __init__(self, store: SqliteRelations) -> None:
        self._store = store

    @override
    @status.unary
    def ListOfferRelations(
        self, request: relations_pb2.ListOfferRelationsRequest, context: grpc.ServicerContext
    ) -> relations_pb2.ListOfferRelationsResponse:
        found = domain.offer_relations(self._store, request.offer_uuid)
        return relations_pb2.ListOfferRelationsResponse(
            relations=[
                relations_pb2.RelationSummary(id=r.id, key=r.key, status=str(r.status))
                for r in found
            ]
        )

    @override
    @status.unary
    def RemoveOfferRelations(
        self, request: relations_pb2.RemoveOfferRelationsRequest, context: grpc.ServicerContext
    ) -> relations_pb2.RemoveOfferRelationsResponse:
        removed, seq = domain.remove_offer_relations(self._store, request.offer_uuid)
        return relations_pb2.RemoveOfferRelationsResponse(removed=removed, sequence=seq)

    @override
    @status.streaming
    def Watch(
        self, request: relations_pb2.WatchRequest, context: grpc.ServicerContext
    ) -> Iterator[relations_pb2.WatchResponse]:
        for ev in feed.follow(self._store, request.after_sequence, context):
            yield relations_pb2.WatchResponse(event=ev)


def build_server(config: Config) -> Built:
    """Build the relations server on `config.bind_address("relations")` with its store open.

    Raises:
        RuntimeError: the address cannot be bound.
    """
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteRelations(config.db_path("relations"))
    servicer = RelationServicer(store)
    return new_server_owning(
        SERVICE_NAME,
        lambda s: relations_pb2_grpc.add_RelationServiceServicer_to_server(servicer, s),
        config.bind_address("relations"),
        store.close,
    )
