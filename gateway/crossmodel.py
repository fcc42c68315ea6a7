"""Cross-model relations, as the gateway orchestrates them: consume, relate, suspend, resume.

A cross-model relation is stored as two halves in the relations context, sharing a token
(REFERENCE §10): the consumer's half in the consuming model (local application ↔ SAAS) and the
offerer's half in the offering model (offered application ↔ `remote-<hex>`), which carries the
offer connection. The consuming side makes its half first (its rules and messages come first),
then asks the offering side to register its half; when that fails, the consumer's half is
removed again, so no half is ever left alone.

Within one controller the "offering side" is this gateway's own services, called directly: the
same steps a second controller would take over the network, without the hop.

Egress (REFERENCE §6.1): a relation's `--via` subnets, else the consuming model's
`egress-subnets`, else each local unit's address as a /32 (/128). The offerer checks them
against its `juju-application-offer` allow-list when the relation is set up; a refusal leaves
both halves in `error` with Juju's message, and later rule changes do not touch them.

The consumer proxy's name is `remote-` and 32 hex digits, derived from the consuming model's
UUID and the local application's name (a UUID-5 digest): the same consuming application always
gets the same proxy in the offering model, and the offerer never learns its name.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import grpc

from cmr.access.v1 import access_pb2
from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from cmr.relations.v1 import relations_pb2
from gateway.auth import Caller
from gateway.peers import Peers
from gateway.resolve import (
    PERMISSION_DENIED,
    Resolver,
    at_least,
    offer_target,
)
from services.common import errors
from services.offers.url import is_application_name

PROXY_NAMESPACE: Final = uuid.UUID("6b1f3c0e-5d7a-4e0b-9a51-0c6f2d8e7a44")
"""Namespace of the UUID-5 digests that name consumer proxies."""
ROLE_NAMES: Final = {
    placement_pb2.ROLE_PROVIDER: "provider",
    placement_pb2.ROLE_REQUIRER: "requirer",
    placement_pb2.ROLE_PEER: "peer",
}
CONSUMER: Final = "consumer"
OFFERER: Final = "offerer"


def looks_like_url(ref: str) -> bool:
    """True when an add-relation argument names an offer rather than an application.

    Application and endpoint names hold neither `/` nor `.`; every offer URL holds a `.`.
    """
    return "/" in ref or "." in ref


def proxy_name(consumer_model_uuid: str, application: str) -> str:
    """The consumer proxy's name in the offering model, `remote-<32 hex>`."""
    digest = uuid.uuid5(PROXY_NAMESPACE, f"{consumer_model_uuid}/{application}")
    return f"remote-{digest.hex}"


def parse_via(via: Sequence[str]) -> list[str]:
    """Validate `--via` CIDRs (REFERENCE §6.1).

    Raises:
        Invalid: not a CIDR, or `0.0.0.0/0` (`CIDR "0.0.0.0/0" not allowed`).
    """
    out: list[str] = []
    for text in (v.strip() for v in via):
        if not text:
            continue
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise errors.Invalid(f'invalid CIDR address: "{text}"') from None
        if "/" not in text:
            raise errors.Invalid(f'invalid CIDR address: "{text}"')
        if net.prefixlen == 0:
            raise errors.Invalid(f'CIDR "{text}" not allowed')
        out.append(text)
    return out


def candidate(e: placement_pb2.Endpoint) -> relations_pb2.CandidateEndpoint:
    """A charm endpoint as the relations context matches it."""
    return relations_pb2.CandidateEndpoint(
        name=e.name,
        role=ROLE_NAMES[e.role],
        interface=e.interface,
        scope="container" if e.scope == placement_pb2.SCOPE_CONTAINER else "global",
        limit=e.limit,
        implicit=e.implicit,
    )


def saas_side(saas: offers_pb2.Saas, endpoint: str) -> relations_pb2.RelationSide:
    """A SAAS as one side of a relation: remote, with the offer's endpoints."""
    return relations_pb2.RelationSide(
        application=saas.name,
        endpoint=endpoint,
        remote=True,
        endpoints=[
            relations_pb2.CandidateEndpoint(name=e.name, role=e.role, interface=e.interface)
            for e in saas.endpoints
        ],
    )


def terminated_message(name: str) -> str:
    """What relating to a terminated SAAS says (REFERENCE §4.3)."""
    return (
        f'Offer "{name}" has been removed from the remote model.\n'
        "To integrate with a new offer with the same name, first run\n"
        f"'cmr remove-saas {name}' to remove the SAAS record from this model."
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class End:
    """One resolved end of add-relation."""

    side: relations_pb2.RelationSide
    """What the relations context matches."""
    saas: offers_pb2.Saas | None = None
    """The SAAS, when the end is remote."""
    consumed: bool = False
    """True when this call consumed the offer (a URL end): undone if the relation fails."""


class CrossModel:
    """The gateway's cross-model use cases, on top of the four services."""

    def __init__(self, peers: Peers, resolver: Resolver) -> None:
        self._peers = peers
        self._resolve = resolver

    # -- lookups ---------------------------------------------------------------------------

    def find_saas(
        self, model_uuid: str, name: str, context: grpc.ServicerContext
    ) -> offers_pb2.Saas | None:
        """The model's SAAS of that name, or None."""
        reply = self._peers.ask_or_none(
            "offers",
            self._peers.offers.GetSaas,
            offers_pb2.GetSaasRequest(model_uuid=model_uuid, name=name),
            context,
        )
        return reply.saas if reply is not None else None

    def find_application(
        self, model_uuid: str, name: str, context: grpc.ServicerContext
    ) -> placement_pb2.Application | None:
        """The model's application of that name, or None."""
        reply = self._peers.ask_or_none(
            "placement",
            self._peers.placement.GetApplication,
            placement_pb2.GetApplicationRequest(model_uuid=model_uuid, application=name),
            context,
        )
        return reply.application if reply is not None else None

    def _offer(self, offer_uuid: str, context: grpc.ServicerContext) -> offers_pb2.Offer | None:
        reply = self._peers.ask_or_none(
            "offers",
            self._peers.offers.GetOffer,
            offers_pb2.GetOfferRequest(offer_uuid=offer_uuid),
            context,
        )
        return reply.offer if reply is not None else None

    def ingress(
        self, model_uuid: str, subnets: Sequence[str], context: grpc.ServicerContext
    ) -> offers_pb2.CheckIngressResponse:
        """The offering model's verdict on a consumer's ingress subnets (REFERENCE §6.3)."""
        return self._peers.ask(
            "offers",
            self._peers.offers.CheckIngress,
            offers_pb2.CheckIngressRequest(model_uuid=model_uuid, subnets=subnets),
            context,
        )

    def user_level(self, user: str, offer: offers_pb2.Offer, context: grpc.ServicerContext) -> str:
        """A user's effective level on an offer (implicit admins included)."""
        reply = self._peers.ask(
            "access",
            self._peers.access.CheckAccess,
            access_pb2.CheckAccessRequest(user=user, targets=[offer_target(offer)]),
            context,
        )
        return reply.levels[0] if reply.levels else ""

    # -- consume ---------------------------------------------------------------------------

    def consume(
        self,
        caller: Caller,
        model: placement_pb2.Model,
        text: str,
        alias: str,
        context: grpc.ServicerContext,
    ) -> tuple[offers_pb2.Saas, str]:
        """Consume an offer into `model` (REFERENCE §4.1); idempotent.

        Returns:
            The SAAS and the offer's full URL (with controller).

        Raises:
            Invalid: a bad URL or alias, or a URL with an endpoint.
            NotFound: no such offer, or one the caller cannot see.
            Forbidden: the caller may only read the offer.
            AlreadyExists: the name is taken by an application or another SAAS.
        """
        if not text:
            raise errors.Invalid("no remote offer specified")
        url = self._resolve.offer_url(caller, text, context)
        if url.endpoint:
            raise errors.Invalid(f'remote offer "{text}" shouldn\'t include endpoint')
        if alias and not is_application_name(alias):
            raise errors.Invalid(f'invalid application name "{alias}"')
        held = self._resolve.offer(caller, url, "consume", context)
        return self._consume(model, held.offer, alias or held.offer.name, context).saas, str(url)

    def _consume(
        self,
        model: placement_pb2.Model,
        offer: offers_pb2.Offer,
        name: str,
        context: grpc.ServicerContext,
    ) -> offers_pb2.ConsumeResponse:
        if self.find_application(model.uuid, name, context) is not None:
            raise errors.AlreadyExists(
                f'cannot add saas application "{name}": local application with same name '
                "already exists"
            )
        controller = self._resolve.controller(context).name
        return self._peers.ask(
            "offers",
            self._peers.offers.Consume,
            offers_pb2.ConsumeRequest(
                model_uuid=model.uuid,
                model_name=model.name,
                name=name,
                offer_uuid=offer.uuid,
                offer_url=f"{controller}:{offer.url}",
                source_model_uuid=offer.model_uuid,
                endpoints=offer.endpoints,
            ),
            context,
        )

    # -- relate ----------------------------------------------------------------------------

    def side(
        self,
        caller: Caller,
        model: placement_pb2.Model,
        ref: str,
        context: grpc.ServicerContext,
        *,
        consume: bool,
    ) -> End:
        """One end of add-relation: an application, a SAAS, or an offer URL.

        A URL is consumed under the offer's name first (unless `consume` is False, for a dry
        run, when the SAAS is only imagined).

        Raises:
            Invalid: a malformed end.
            NotFound: no application or SAAS of that name.
            Refused: the SAAS is terminated.
        """
        if looks_like_url(ref):
            url = self._resolve.offer_url(caller, ref, context)
            held = self._resolve.offer(caller, url, "consume", context)
            created = False
            if consume:
                consumed = self._consume(model, held.offer, held.offer.name, context)
                saas, created = consumed.saas, consumed.created
            else:
                saas = offers_pb2.Saas(
                    model_uuid=model.uuid,
                    name=held.offer.name,
                    offer_uuid=held.offer.uuid,
                    source_model_uuid=held.offer.model_uuid,
                    endpoints=held.offer.endpoints,
                )
            return End(side=saas_side(saas, url.endpoint), saas=saas, consumed=created)
        application, _, endpoint = ref.partition(":")
        if not application or (":" in ref and not endpoint):
            raise errors.Invalid(f'invalid endpoint "{ref}"')
        app = self.find_application(model.uuid, application, context)
        if app is not None:
            return End(
                side=relations_pb2.RelationSide(
                    application=application,
                    endpoint=endpoint,
                    subordinate=app.subordinate,
                    endpoints=[candidate(e) for e in app.charm.endpoints],
                )
            )
        found = self.find_saas(model.uuid, application, context)
        if found is None:
            raise errors.NotFound(f'application "{application}" not found')
        if found.status == "terminated":
            raise errors.Refused(terminated_message(found.name))
        return End(side=saas_side(found, endpoint), saas=found)

    def egress(
        self,
        model: placement_pb2.Model,
        application: str,
        via: Sequence[str],
        context: grpc.ServicerContext,
    ) -> list[str]:
        """The consumer's egress for a relation: `--via`, `egress-subnets`, or unit addresses."""
        if via:
            return list(via)
        config = self._peers.ask(
            "placement",
            self._peers.placement.GetModelConfig,
            placement_pb2.GetModelConfigRequest(model_uuid=model.uuid),
            context,
        ).config
        configured = [c.strip() for c in config.get("egress-subnets", "").split(",") if c.strip()]
        if configured:
            return configured
        status = self._peers.ask(
            "placement",
            self._peers.placement.GetModelStatus,
            placement_pb2.GetModelStatusRequest(model_uuid=model.uuid),
            context,
        )
        out = []
        for unit in status.units:
            if unit.application == application and unit.address:
                bits = ipaddress.ip_address(unit.address).max_prefixlen
                out.append(f"{unit.address}/{bits}")
        return sorted(set(out))

    def relate(
        self,
        caller: Caller,
        model: placement_pb2.Model,
        a: relations_pb2.RelationSide,
        b: relations_pb2.RelationSide,
        saas: offers_pb2.Saas,
        via: Sequence[str],
        context: grpc.ServicerContext,
    ) -> relations_pb2.Relation:
        """Make both halves of a cross-model relation; the consumer's half is returned.

        Raises:
            Forbidden: the caller no longer has consume on the offer.
            Refused: the offer has gone, or the offering side refuses its half.
        """
        local = b if a.remote else a
        offer = self._offer(saas.offer_uuid, context)
        if offer is None:
            raise errors.Refused(terminated_message(saas.name))
        if not at_least(
            access_pb2.TARGET_KIND_OFFER, self.user_level(caller.user, offer, context), "consume"
        ):
            raise errors.Forbidden(PERMISSION_DENIED)
        subnets = self.egress(model, local.application, via, context)
        check = self.ingress(offer.model_uuid, subnets, context)
        token = str(uuid.uuid4())
        state = "joined" if check.allowed else "error"
        consumer = self._peers.ask(
            "relations",
            self._peers.relations.AddRelation,
            relations_pb2.AddRelationRequest(
                model_uuid=model.uuid,
                a=a,
                b=b,
                cross_model=relations_pb2.CrossModel(
                    token=token,
                    side=CONSUMER,
                    username=caller.user,
                    source_model_uuid=model.uuid,
                    subnets=subnets,
                    status=state,
                    message=check.message,
                    via=via,
                ),
            ),
            context,
        ).relation
        try:
            self._register(consumer, model, offer, caller.user, subnets, check, token, context)
        except BaseException:
            self._peers.ask(
                "relations",
                self._peers.relations.RemoveRelation,
                relations_pb2.RemoveRelationRequest(
                    model_uuid=model.uuid, id=consumer.id, by_id=True
                ),
                context,
            )
            raise
        return consumer

    def _register(
        self,
        consumer: relations_pb2.Relation,
        model: placement_pb2.Model,
        offer: offers_pb2.Offer,
        user: str,
        subnets: Sequence[str],
        check: offers_pb2.CheckIngressResponse,
        token: str,
        context: grpc.ServicerContext,
    ) -> None:
        """The offering side's part: its half, with the proxy and the connection."""
        local = next(e for e in consumer.endpoints if not e.remote)
        offered = next(e for e in consumer.endpoints if e.remote)
        app = self.find_application(offer.model_uuid, offer.application, context)
        if app is None:
            raise errors.Refused(f'application "{offer.application}" has been removed')
        proxy = proxy_name(model.uuid, local.application)
        self._peers.ask(
            "relations",
            self._peers.relations.AddRelation,
            relations_pb2.AddRelationRequest(
                model_uuid=offer.model_uuid,
                a=relations_pb2.RelationSide(
                    application=proxy,
                    endpoint=local.name,
                    remote=True,
                    endpoints=[
                        relations_pb2.CandidateEndpoint(
                            name=local.name, role=local.role, interface=local.interface
                        )
                    ],
                ),
                b=relations_pb2.RelationSide(
                    application=offer.application,
                    endpoint=offered.name,
                    endpoints=[candidate(e) for e in app.charm.endpoints],
                ),
                cross_model=relations_pb2.CrossModel(
                    token=token,
                    side=OFFERER,
                    offer_uuid=offer.uuid,
                    username=user,
                    source_model_uuid=model.uuid,
                    subnets=subnets,
                    status="joined" if check.allowed else "error",
                    message=check.message,
                ),
            ),
            context,
        )

    def republish_egress(self, model: placement_pb2.Model, context: grpc.ServicerContext) -> None:
        """After egress may have changed (model config, units), publish it again (§6.3).

        Each consumer's half without `--via` whose egress differs from what it published is
        checked again by the offerer: refused, it goes to `error`; admitted, out of `error`.
        """
        relations = self._peers.ask(
            "relations",
            self._peers.relations.ListRelations,
            relations_pb2.ListRelationsRequest(model_uuid=model.uuid),
            context,
        ).relations
        egress: dict[str, list[str]] = {}
        for relation in relations:
            cross = relation.cross_model
            if cross.side != CONSUMER or cross.via:
                continue
            local = next(e for e in relation.endpoints if not e.remote)
            remote = next(e for e in relation.endpoints if e.remote)
            if local.application not in egress:
                egress[local.application] = self.egress(model, local.application, (), context)
            subnets = egress[local.application]
            if list(cross.subnets) == subnets:
                continue
            saas = self.find_saas(model.uuid, remote.application, context)
            offer = self._offer(saas.offer_uuid, context) if saas is not None else None
            if offer is None:
                continue
            check = self.ingress(offer.model_uuid, subnets, context)
            self._peers.ask(
                "relations",
                self._peers.relations.UpdateEgress,
                relations_pb2.UpdateEgressRequest(
                    model_uuid=model.uuid,
                    id=relation.id,
                    subnets=subnets,
                    refused="" if check.allowed else check.message,
                ),
                context,
            )

    # -- suspend, resume -------------------------------------------------------------------

    def check_resumable(
        self, model: placement_pb2.Model, ids: Sequence[int], context: grpc.ServicerContext
    ) -> dict[int, str]:
        """Check what resume-relation would resume: consume access, then the allow-list.

        Returns:
            The ids whose ingress the offering model's allow-list now refuses, with the message.

        Raises:
            Forbidden: `permission denied`: a connection's user no longer has consume.
        """
        relations = self._peers.ask(
            "relations",
            self._peers.relations.ListRelations,
            relations_pb2.ListRelationsRequest(model_uuid=model.uuid),
            context,
        ).relations
        by_id = {r.id: r for r in relations}
        refused: dict[int, str] = {}
        for relation_id in ids:
            relation = by_id.get(relation_id)
            if relation is None or not relation.suspended:
                continue  # the relations context reports unknown ids; not suspended: no-op
            cross = relation.cross_model
            if cross.side != OFFERER:
                continue
            offer = self._offer(cross.offer_uuid, context)
            if offer is None or not at_least(
                access_pb2.TARGET_KIND_OFFER,
                self.user_level(cross.username, offer, context),
                "consume",
            ):
                raise errors.Forbidden(PERMISSION_DENIED)
            check = self.ingress(model.uuid, cross.subnets, context)
            if not check.allowed:
                refused[relation_id] = check.message
        return refused
