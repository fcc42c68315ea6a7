"""The offers service's gRPC edge: proto <-> domain, and `build_server`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Final

import grpc
from typing_extensions import override

from cmr.offers.v1 import offers_pb2 as pb
from cmr.offers.v1 import offers_pb2_grpc
from kernel import errors
from kernel.relation import Role, Scope
from services.common import feed
from services.common import status as codes
from services.common.config import Config
from services.common.db import now_rfc3339
from services.common.local import LocalTarget
from services.common.server import Bound, Built, binding
from services.offers import domain
from services.offers.relations_client import RelationsClient
from services.offers.store import SqliteOffers

SERVICE_NAME: Final = pb.DESCRIPTOR.services_by_name["OfferService"].full_name
SERVICE_NAMES: Final = (SERVICE_NAME,)
"""The services it serves on its port."""


def offer_pb(offer: domain.Offer) -> pb.Offer:
    """An offer on the wire, with its connections and counts."""
    return pb.Offer(
        uuid=offer.uuid,
        model_uuid=offer.model_uuid,
        model_name=offer.model_name,
        model_owner=offer.owner,
        name=offer.name,
        application=offer.application,
        charm=offer.charm,
        description=offer.description,
        endpoints=_endpoints(offer.endpoints),
        url=offer.url,
        created_by=offer.created_by,
        created_at=offer.created_at,
        connections=[
            pb.OfferConnection(
                relation_id=c.relation_id,
                source_model_uuid=c.source_model_uuid,
                username=c.username,
                endpoint=c.endpoint,
                status=c.status,
                message=c.message,
                ingress_subnets=list(c.ingress_cidrs),
            )
            for c in offer.connections
        ],
        total_connected_count=offer.total_connected_count,
        active_connected_count=offer.active_connected_count,
    )


def saas_pb(saas: domain.RemoteApplication) -> pb.Saas:
    """A SAAS on the wire."""
    return pb.Saas(
        model_uuid=saas.model_uuid,
        name=saas.name,
        offer_uuid=saas.offer_uuid,
        offer_url=saas.offer_url,
        source_model_uuid=saas.source_model_uuid,
        source_controller=saas.source_controller,
        endpoints=_endpoints(saas.endpoints),
        status=saas.status,
        status_message=saas.status_message,
        created_at=saas.created_at,
        source_controller_uuid=saas.source_controller_uuid,
        source_address=saas.source_address,
        consume_token=saas.consume_token,
    )


def _endpoints(endpoints: Iterable[domain.OfferEndpoint]) -> list[pb.OfferEndpoint]:
    return [
        pb.OfferEndpoint(name=e.name, interface=e.interface, role=str(e.role)) for e in endpoints
    ]


def _rule(rule: domain.FirewallRule) -> pb.FirewallRule:
    return pb.FirewallRule(service=str(rule.service), allowlist=list(rule.cidrs))


def _role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise errors.Invalid(f'endpoint role "{text}" not valid') from None


def _scope(text: str) -> Scope:
    try:
        return Scope(text or "global")
    except ValueError:
        raise errors.Invalid(f'endpoint scope "{text}" not valid') from None


class OfferServicer(offers_pb2_grpc.OfferServiceServicer):
    """Serves `cmr.offers.v1.OfferService` from one store and a relations client."""

    def __init__(self, store: SqliteOffers, relations: domain.RelationsPort) -> None:
        self._store = store
        self._relations = relations

    @override
    @codes.unary
    def Ping(self, request: pb.PingRequest, context: grpc.ServicerContext) -> pb.PingResponse:
        """Answer at once: the benchmarks' baseline."""
        return pb.PingResponse()

    @override
    @codes.unary
    def CreateOffer(
        self, request: pb.CreateOfferRequest, context: grpc.ServicerContext
    ) -> pb.CreateOfferResponse:
        result = domain.create_offer(
            self._store,
            domain.OfferRequest(
                model_uuid=request.model_uuid,
                model_name=request.model_name,
                model_owner=request.model_owner,
                offer_name=request.offer_name,
                application=request.application,
                endpoints=tuple(request.endpoints),
                application_endpoints=tuple(
                    domain.ApplicationEndpoint(
                        name=e.name,
                        interface=e.interface,
                        role=_role(e.role),
                        scope=_scope(e.scope),
                    )
                    for e in request.application_endpoints
                ),
                charm=request.charm,
                description=request.description,
                charm_summary=request.charm_summary,
                created_by=request.created_by,
            ),
            now=now_rfc3339(),
            relations=self._relations,
        )
        return pb.CreateOfferResponse(
            offer=offer_pb(result.offer),
            created=result.created,
            previous_endpoints=list(result.previous_endpoints),
            sequence=result.sequence,
        )

    @override
    @codes.unary
    def GetOffer(
        self, request: pb.GetOfferRequest, context: grpc.ServicerContext
    ) -> pb.GetOfferResponse:
        offer = domain.get_offer(self._store, request.offer_uuid, request.model_uuid, request.name)
        if not request.without_connections:
            [offer] = domain.with_connections(self._relations, [offer])
        return pb.GetOfferResponse(offer=offer_pb(offer))

    @override
    @codes.unary
    def ListOffers(
        self, request: pb.ListOffersRequest, context: grpc.ServicerContext
    ) -> pb.ListOffersResponse:
        page = domain.list_offers(
            self._store,
            domain.OfferFilter(
                model_uuid=request.model_uuid,
                application=request.application,
                interface=request.interface,
                name=request.name,
            ),
            request.page_size,
            request.page_token,
        )
        found = domain.with_connections(self._relations, page.offers)
        return pb.ListOffersResponse(
            offers=[offer_pb(o) for o in found], next_page_token=page.next_page_token
        )

    @override
    @codes.unary
    def FindOffers(
        self, request: pb.FindOffersRequest, context: grpc.ServicerContext
    ) -> pb.FindOffersResponse:
        page = domain.find_offers(
            self._store,
            domain.OfferFilter(
                model_owner=request.model_owner,
                model_name=request.model_name,
                name=request.offer_name,
                interface=request.interface,
                endpoint=request.endpoint,
            ),
            request.page_size,
            request.page_token,
        )
        found = domain.with_connections(self._relations, page.offers)
        return pb.FindOffersResponse(
            offers=[offer_pb(o) for o in found], next_page_token=page.next_page_token
        )

    @override
    @codes.unary
    def DeleteOffer(
        self, request: pb.DeleteOfferRequest, context: grpc.ServicerContext
    ) -> pb.DeleteOfferResponse:
        deleted = domain.delete_offer(
            self._store, self._relations, request.offer_uuid, force=request.force
        )
        return pb.DeleteOfferResponse(
            removed_relations=deleted.removed_relations, sequence=deleted.sequence
        )

    @override
    @codes.unary
    def Consume(
        self, request: pb.ConsumeRequest, context: grpc.ServicerContext
    ) -> pb.ConsumeResponse:
        done = domain.consume(
            self._store,
            domain.RemoteApplication(
                model_uuid=request.model_uuid,
                name=request.name,
                offer_uuid=request.offer_uuid,
                offer_url=request.offer_url,
                source_model_uuid=request.source_model_uuid,
                source_controller=request.source_controller,
                source_controller_uuid=request.source_controller_uuid,
                source_address=request.source_address,
                consume_token=request.consume_token,
                endpoints=tuple(
                    domain.OfferEndpoint(name=e.name, interface=e.interface, role=_role(e.role))
                    for e in request.endpoints
                ),
                created_at=now_rfc3339(),
            ),
            model_name=request.model_name,
        )
        return pb.ConsumeResponse(
            saas=saas_pb(done.saas), created=done.created, sequence=done.sequence
        )

    @override
    @codes.unary
    def GetSaas(
        self, request: pb.GetSaasRequest, context: grpc.ServicerContext
    ) -> pb.GetSaasResponse:
        found = domain.get_saas(self._store, request.model_uuid, request.name)
        return pb.GetSaasResponse(saas=saas_pb(found))

    @override
    @codes.unary
    def ListSaas(
        self, request: pb.ListSaasRequest, context: grpc.ServicerContext
    ) -> pb.ListSaasResponse:
        found = domain.list_saas(self._store, request.model_uuid)
        return pb.ListSaasResponse(saas=[saas_pb(s) for s in found])

    @override
    @codes.unary
    def SetSaasStatus(
        self, request: pb.SetSaasStatusRequest, context: grpc.ServicerContext
    ) -> pb.SetSaasStatusResponse:
        domain.set_saas_status(
            self._store,
            request.model_uuid,
            request.name,
            request.status,
            request.message,
            request.consume_token,
        )
        return pb.SetSaasStatusResponse()

    @override
    @codes.unary
    def RemoveSaas(
        self, request: pb.RemoveSaasRequest, context: grpc.ServicerContext
    ) -> pb.RemoveSaasResponse:
        seq = domain.remove_saas(self._store, request.model_uuid, request.name)
        return pb.RemoveSaasResponse(sequence=seq)

    @override
    @codes.unary
    def SetFirewallRule(
        self, request: pb.SetFirewallRuleRequest, context: grpc.ServicerContext
    ) -> pb.SetFirewallRuleResponse:
        rule = domain.set_firewall_rule(
            self._store, request.model_uuid, request.service, list(request.allowlist)
        )
        return pb.SetFirewallRuleResponse(rule=_rule(rule))

    @override
    @codes.unary
    def ListFirewallRules(
        self, request: pb.ListFirewallRulesRequest, context: grpc.ServicerContext
    ) -> pb.ListFirewallRulesResponse:
        rules = domain.firewall_rules(self._store, request.model_uuid)
        return pb.ListFirewallRulesResponse(rules=[_rule(r) for r in rules])

    @override
    @codes.unary
    def CheckIngress(
        self, request: pb.CheckIngressRequest, context: grpc.ServicerContext
    ) -> pb.CheckIngressResponse:
        refused = domain.check_ingress(self._store, request.model_uuid, list(request.subnets))
        return pb.CheckIngressResponse(allowed=not refused, message=refused)

    @override
    @codes.streaming
    def Watch(
        self, request: pb.WatchRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.WatchResponse]:
        yield from feed.serve_watch(self._store, request, context, pb.WatchResponse)


def build_server(
    config: Config,
    *,
    bound: Bound | None = None,
    local: Mapping[str, LocalTarget] | None = None,
) -> Built:
    """Build the offers server with its store open, on `bound` or `config.bind_address`.

    It asks the relations service about offers' relations: through `local`'s target when
    relations is in this process, else over a channel to `config.address_of("relations")`;
    the store and the channel close when the server stops.

    Raises:
        RuntimeError: the address cannot be bound.
    """
    relations_target = (local or {}).get("relations")
    address = config.bind_address("offers")
    with binding(bound, SERVICE_NAME, address, on_loop=config.event_loop) as bound:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        store = SqliteOffers(config.db_path("offers"))
        relations = RelationsClient(
            config.address_of("relations"),
            local=relations_target.channel() if relations_target is not None else None,
        )

        def close() -> None:
            relations.close()
            store.close()

        return bound.build(OfferServicer(store, relations), closers=(close,))
