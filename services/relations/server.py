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
    def AddRelation(
        self, request: relations_pb2.AddRelationRequest, context: grpc.ServicerContext
    ) -> relations_pb2.AddRelationResponse:
        added = domain.add_relation(
            self._store,
            request.model_uuid,
            _side(request.a),
            _side(request.b),
            dry_run=request.dry_run,
        )
        return relations_pb2.AddRelationResponse(
            relation=_relation(added.relation),
            candidates=[
                relations_pb2.Candidate(pair=c.pair, accepted=c.accepted, reason=c.reason)
                for c in added.candidates
            ],
            sequence=added.sequence,
        )

    @override
    @status.unary
    def RemoveRelation(
        self, request: relations_pb2.RemoveRelationRequest, context: grpc.ServicerContext
    ) -> relations_pb2.RemoveRelationResponse:
        if request.by_id:
            removed, seq = domain.remove_relation(
                self._store, request.model_uuid, relation_id=request.id
            )
        else:
            removed, seq = domain.remove_relation(
                self._store, request.model_uuid, ends=(request.a, request.b)
            )
        return relations_pb2.RemoveRelationResponse(relation=_relation(removed), sequence=seq)

    @override
    @status.unary
    def ListRelations(
        self, request: relations_pb2.ListRelationsRequest, context: grpc.ServicerContext
    ) -> relations_pb2.ListRelationsResponse:
        found = domain.list_relations(self._store, request.model_uuid)
        return relations_pb2.ListRelationsResponse(relations=[_relation(r) for r in found])

    @override
    @status.unary
    def RemoveApplicationRelations(
        self,
        request: relations_pb2.RemoveApplicationRelationsRequest,
        context: grpc.ServicerContext,
    ) -> relations_pb2.RemoveApplicationRelationsResponse:
        removed, seq = domain.remove_application_relations(
            self._store, request.model_uuid, request.application
        )
        return relations_pb2.RemoveApplicationRelationsResponse(removed=removed, sequence=seq)

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


def _side(side: relations_pb2.RelationSide) -> domain.Side:
    return domain.Side(
        application=side.application,
        endpoint=side.endpoint,
        subordinate=side.subordinate,
        remote=side.remote,
        endpoints=tuple(
            domain.CandidateEndpoint(
                name=e.name,
                role=domain.parse_role(e.role),
                interface=e.interface,
                scope=domain.parse_scope(e.scope),
                limit=e.limit,
                implicit=e.implicit,
            )
            for e in side.endpoints
        ),
    )


def _relation(relation: domain.Relation) -> relations_pb2.Relation:
    return relations_pb2.Relation(
        id=relation.id,
        key=relation.key,
        scope=str(relation.scope),
        status=str(relation.status),
        message=relation.message,
        interface=relation.interface,
        endpoints=[
            relations_pb2.RelationEndpoint(
                application=e.application,
                name=e.name,
                role=str(e.role),
                interface=e.interface,
                scope=str(e.scope),
            )
            for e in relation.endpoints
        ],
    )


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
