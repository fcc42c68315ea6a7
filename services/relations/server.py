"""The relations service's gRPC edge: proto <-> domain, and `build_server`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

import grpc
from typing_extensions import override

from cmr.relations.v1 import relations_pb2, relations_pb2_grpc
from kernel import errors
from services.common import feed, status
from services.common.config import Config
from services.common.local import LocalTarget
from services.common.reactor import FeedReactor, wait_within
from services.common.server import Bound, Built, binding
from services.relations import domain, reactor
from services.relations.store import SqliteRelations

SERVICE_NAME = relations_pb2.DESCRIPTOR.services_by_name["RelationService"].full_name
SERVICE_NAMES: Final = (SERVICE_NAME,)
"""The services it serves on its port."""

_CAUSES: Final[dict[domain.SuspendCause, relations_pb2.SuspendCause.ValueType]] = {
    domain.SuspendCause.USER: relations_pb2.SUSPEND_CAUSE_USER,
    domain.SuspendCause.REVOKED: relations_pb2.SUSPEND_CAUSE_REVOKED,
    domain.SuspendCause.REMOTE: relations_pb2.SUSPEND_CAUSE_REMOTE,
}
"""Each suspend cause on the wire; `SUSPEND_CAUSE_UNSPECIFIED` is "not suspended"."""
_CAUSE_OF: Final = {wire: cause for cause, wire in _CAUSES.items()}


class RelationServicer(relations_pb2_grpc.RelationServiceServicer):
    """Serves `cmr.relations.v1.RelationService` from one store."""

    def __init__(
        self, store: SqliteRelations, reactors: Mapping[str, FeedReactor] | None = None
    ) -> None:
        self._store = store
        self._reactors = dict(reactors or {})

    @override
    @status.unary
    def Ping(
        self, request: relations_pb2.PingRequest, context: grpc.ServicerContext
    ) -> relations_pb2.PingResponse:
        """Answer at once: the benchmarks' baseline."""
        return relations_pb2.PingResponse()

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
            cross=_cross(request.cross_model) if request.HasField("cross_model") else None,
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
    def AddCrossModelRelation(
        self, request: relations_pb2.AddCrossModelRelationRequest, context: grpc.ServicerContext
    ) -> relations_pb2.AddCrossModelRelationResponse:
        added = domain.add_cross_model_relation(
            self._store, _half(request.consumer), _half(request.offerer)
        )
        return relations_pb2.AddCrossModelRelationResponse(
            consumer=_relation(added.consumer),
            offerer=_relation(added.offerer),
            sequence=added.sequence,
        )

    @override
    @status.unary
    def AddPeerRelations(
        self, request: relations_pb2.AddPeerRelationsRequest, context: grpc.ServicerContext
    ) -> relations_pb2.AddPeerRelationsResponse:
        made, seq = domain.add_peer_relations(
            self._store, request.model_uuid, _side(request.application)
        )
        return relations_pb2.AddPeerRelationsResponse(
            relations=[_relation(r) for r in made], sequence=seq
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
        found = domain.list_relations(self._store, request.model_uuid, list(request.ids))
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
        uuids = [u for u in (request.offer_uuid, *request.offer_uuids) if u]
        found = domain.offer_relations(self._store, uuids or [""])
        return relations_pb2.ListOfferRelationsResponse(
            relations=[
                relations_pb2.RelationSummary(
                    id=r.id,
                    key=r.key,
                    status=str(r.status),
                    model_uuid=r.model_uuid,
                    message=r.message,
                    offer_uuid=r.offer_uuid,
                    username=r.username,
                    source_model_uuid=r.source_model_uuid,
                    endpoint=r.offered_endpoint,
                    consumer_application=r.consumer_application,
                    subnets=list(r.subnets),
                )
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
    @status.unary
    def SuspendRelation(
        self, request: relations_pb2.SuspendRelationRequest, context: grpc.ServicerContext
    ) -> relations_pb2.SuspendRelationResponse:
        changed = domain.suspend_relations(
            self._store, request.model_uuid, list(request.ids), request.message
        )
        return relations_pb2.SuspendRelationResponse(
            relations=[_relation(r) for r in changed.relations], sequence=changed.sequence
        )

    @override
    @status.unary
    def ResumeRelation(
        self, request: relations_pb2.ResumeRelationRequest, context: grpc.ServicerContext
    ) -> relations_pb2.ResumeRelationResponse:
        changed = domain.resume_relations(
            self._store, request.model_uuid, list(request.ids), dict(request.refused)
        )
        return relations_pb2.ResumeRelationResponse(
            relations=[_relation(r) for r in changed.relations], sequence=changed.sequence
        )

    @override
    @status.unary
    def UpdateEgress(
        self, request: relations_pb2.UpdateEgressRequest, context: grpc.ServicerContext
    ) -> relations_pb2.UpdateEgressResponse:
        changed = domain.update_egress(
            self._store, request.model_uuid, request.id, list(request.subnets), request.refused
        )
        return relations_pb2.UpdateEgressResponse(
            relation=_relation(changed.relations[0]), sequence=changed.sequence
        )

    @override
    @status.unary
    def ListRemoteHalves(
        self, request: relations_pb2.ListRemoteHalvesRequest, context: grpc.ServicerContext
    ) -> relations_pb2.ListRemoteHalvesResponse:
        return relations_pb2.ListRemoteHalvesResponse(
            halves=[
                relations_pb2.RemoteHalf(model_uuid=r.model_uuid, relation=_relation(r))
                for r in self._store.remote_halves(request.token)
            ]
        )

    @override
    @status.unary
    def SetPeerToken(
        self, request: relations_pb2.SetPeerTokenRequest, context: grpc.ServicerContext
    ) -> relations_pb2.SetPeerTokenResponse:
        if not request.token or not request.peer_token:
            raise errors.Invalid("token and peer_token are required")
        with self._store.transaction():
            self._store.set_peer_token(request.token, request.peer_token)
        return relations_pb2.SetPeerTokenResponse()

    @override
    @status.unary
    def MirrorRemoteState(
        self, request: relations_pb2.MirrorRemoteStateRequest, context: grpc.ServicerContext
    ) -> relations_pb2.MirrorRemoteStateResponse:
        seq = domain.mirror_remote_state(
            self._store,
            request.token,
            request.suspended,
            request.reason,
            # unspecified, or a cause a newer peer knows and this version does not: `remote`
            _CAUSE_OF.get(request.suspend_cause),
        )
        return relations_pb2.MirrorRemoteStateResponse(sequence=seq)

    @override
    @status.unary
    def Sync(
        self, request: relations_pb2.SyncRequest, context: grpc.ServicerContext
    ) -> relations_pb2.SyncResponse:
        """Wait, within the call's deadline (at most 30 s), for the reactor to pass `sequence`."""
        follower = self._reactors.get(request.source)
        if follower is None:
            raise errors.Invalid(f'no reactor follows "{request.source}"')
        if not wait_within(follower, request.sequence, context.time_remaining()):
            raise errors.Unavailable(
                f"relations has not yet applied {request.source} event {request.sequence}"
            )
        return relations_pb2.SyncResponse(sequence=follower.applied())

    @override
    @status.streaming
    def Watch(
        self, request: relations_pb2.WatchRequest, context: grpc.ServicerContext
    ) -> Iterator[relations_pb2.WatchResponse]:
        yield from feed.serve_watch(self._store, request, context, relations_pb2.WatchResponse)


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


def _half(half: relations_pb2.CrossModelHalf) -> domain.NewHalf:
    return domain.NewHalf(
        model_uuid=half.model_uuid,
        a=_side(half.a),
        b=_side(half.b),
        cross=_cross(half.cross_model),
    )


def _cross(cross: relations_pb2.CrossModel) -> domain.CrossModel:
    try:
        state = domain.RelationStatus(cross.status or domain.RelationStatus.JOINED)
    except ValueError:
        raise errors.Invalid(f'relation status "{cross.status}" not valid') from None
    return domain.CrossModel(
        token=cross.token,
        side=cross.side,
        offer_uuid=cross.offer_uuid,
        username=cross.username,
        source_model_uuid=cross.source_model_uuid,
        subnets=tuple(cross.subnets),
        status=state,
        message=cross.message,
        via=tuple(cross.via),
        peer_controller=cross.peer_controller,
        peer_address=cross.peer_address,
        peer_token=cross.peer_token,
    )


def _relation(relation: domain.Relation) -> relations_pb2.Relation:
    cross = (
        relations_pb2.CrossModel(
            token=relation.token,
            side=relation.side,
            offer_uuid=relation.offer_uuid,
            username=relation.username,
            source_model_uuid=relation.source_model_uuid,
            subnets=list(relation.subnets),
            via=list(relation.via),
            peer_controller=relation.peer_controller,
            peer_address=relation.peer_address,
            peer_token=relation.peer_token,
        )
        if relation.token
        else None
    )
    return relations_pb2.Relation(
        cross_model=cross,
        suspended=relation.suspended,
        suspended_reason=relation.suspended_reason,
        suspend_cause=(
            _CAUSES[relation.suspend_cause]
            if relation.suspend_cause
            else relations_pb2.SUSPEND_CAUSE_UNSPECIFIED
        ),
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
                remote=e.remote,
            )
            for e in relation.endpoints
        ],
    )


def build_server(
    config: Config,
    *,
    bound: Bound | None = None,
    local: Mapping[str, LocalTarget] | None = None,
) -> Built:
    """Build the relations server with its store open, on `bound` or `config.bind_address`.

    Its reactors (`reactor.FeedReactor`) follow access and placement through `local`'s targets
    when they are in this process, else at `config.address_of(...)`; they start with the
    server (`Built.run`) and retry until their sources answer.

    Raises:
        RuntimeError: the address cannot be bound.
    """
    address = config.bind_address("relations")
    with binding(bound, SERVICE_NAME, address, on_loop=config.event_loop) as bound:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        store = SqliteRelations(config.db_path("relations"))
        followers = reactor.reactors(store, config.address_of, local or {})

        def close() -> None:
            for follower in followers.values():
                follower.stop()
            store.close()

        return bound.build(
            RelationServicer(store, followers),
            starters=tuple(follower.start for follower in followers.values()),
            closers=(close,),
        )
