"""Cross-model relations, as the gateway orchestrates them: consume, relate, suspend, resume.

A cross-model relation is stored as two halves in the relations deadline, sharing a token
as in Juju: the consumer's half in the consuming model (local application ↔ SAAS) and the
offerer's half in the offering model (offered application ↔ `remote-<hex>`), which carries the
offer connection. The consumer's half is checked first (a dry run: its rules and messages come
first, and it chooses the endpoints the offerer's half mirrors).

Within one controller both halves are in the one relations store, and one call
(`AddCrossModelRelation`) writes them in one transaction: either both exist or neither, whatever
crashes or races. Across controllers the offering controller registers its half first, then the
consumer's half is made here; when that fails, the offerer is nudged and drops its half.

Egress: a relation's `--via` subnets, else the consuming model's
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from cmr.access.v1 import access_pb2
from cmr.gateway.v1 import gateway_pb2 as gateway_pb
from cmr.gateway.v1 import gateway_pb2_grpc
from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from cmr.relations.v1 import relations_pb2
from gateway.app.reconcile import Reconciler
from gateway.auth import Caller
from gateway.ports import Ports
from gateway.remote import CALL_TIMEOUT_S, PeerControllers
from gateway.resolve import (
    PERMISSION_DENIED,
    Resolver,
    at_least,
    find_application,
    find_offer,
    find_saas,
    offer_target,
)
from kernel import errors, tokens
from kernel.names import is_application_name, is_proxy_name
from kernel.offerurl import OfferURL
from kernel.relation import Half
from services.common.deadline import Deadline

"""A consumer proxy's name."""
PROXY_NAMESPACE: Final = uuid.UUID("6b1f3c0e-5d7a-4e0b-9a51-0c6f2d8e7a44")
"""Namespace of the UUID-5 digests that name consumer proxies."""
ROLE_NAMES: Final = {
    placement_pb2.ROLE_PROVIDER: "provider",
    placement_pb2.ROLE_REQUIRER: "requirer",
    placement_pb2.ROLE_PEER: "peer",
}


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
    """Validate `--via` CIDRs.

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
    """A charm endpoint as the relations deadline matches it."""
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
    """What relating to a terminated SAAS says."""
    return (
        f'Offer "{name}" has been removed from the remote model.\n'
        "To integrate with a new offer with the same name, first run\n"
        f"'cmr remove-saas {name}' to remove the SAAS record from this model."
    )


def consumer_cross(
    user: str,
    model_uuid: str,
    token: str,
    subnets: Sequence[str],
    via: Sequence[str],
    refused: str,
) -> relations_pb2.CrossModel:
    """What makes a relation of the consuming model the consumer's half.

    `refused` is the offerer's verdict on the ingress: non-empty, the half starts in `error`
    with it as the message.
    """
    return relations_pb2.CrossModel(
        token=token,
        side=Half.CONSUMER,
        username=user,
        source_model_uuid=model_uuid,
        subnets=subnets,
        status="error" if refused else "joined",
        message=refused,
        via=via,
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class End:
    """One resolved end of add-relation."""

    side: relations_pb2.RelationSide
    """What the relations deadline matches."""
    saas: offers_pb2.Saas | None = None
    """The SAAS, when the end is remote."""
    consumed: bool = False
    """True when this call consumed the offer (a URL end): undone if the relation fails."""


class CrossModel:
    """The gateway's cross-model use cases, on top of the four services."""

    def __init__(
        self,
        ports: Ports,
        resolver: Resolver,
        remote: PeerControllers,
        reconciler: Reconciler,
        advertise: Callable[[], str],
    ) -> None:
        self._ports = ports
        self._resolve = resolver
        self._remote = remote
        self._reconciler = reconciler
        self._advertise = advertise

    # -- lookups ---------------------------------------------------------------------------

    def ingress(
        self, model_uuid: str, subnets: Sequence[str], deadline: Deadline
    ) -> offers_pb2.CheckIngressResponse:
        """The offering model's verdict on a consumer's ingress subnets."""
        return self._ports.offers.check_ingress(
            offers_pb2.CheckIngressRequest(model_uuid=model_uuid, subnets=subnets), deadline
        )

    def issue_token(
        self,
        *,
        user: str,
        offer_uuid: str,
        source_model_uuid: str,
        kind: str,
        deadline: Deadline,
        offer_model_uuid: str = "",
        relation: str = "",
    ) -> str:
        """A token this controller's access signs (`kernel.tokens`)."""
        return self._ports.access.issue_offer_token(
            access_pb2.IssueOfferTokenRequest(
                user=user,
                offer_model_uuid=offer_model_uuid,
                offer_uuid=offer_uuid,
                source_model_uuid=source_model_uuid,
                kind=kind,
                relation=relation,
            ),
            deadline,
        ).token

    def user_level(self, user: str, offer: offers_pb2.Offer, deadline: Deadline) -> str:
        """A user's effective level on an offer (implicit admins included)."""
        reply = self._ports.access.check_access(
            access_pb2.CheckAccessRequest(user=user, targets=[offer_target(offer)]), deadline
        )
        return reply.levels[0] if reply.levels else ""

    # -- consume ---------------------------------------------------------------------------

    def consume(
        self,
        caller: Caller,
        model: placement_pb2.Model,
        text: str,
        alias: str,
        deadline: Deadline,
        remote: gateway_pb.RemoteOffer | None = None,
    ) -> tuple[offers_pb2.Saas, str]:
        """Consume an offer into `model`; idempotent.

        An offer on another controller comes with `remote`: what the client fetched there with
        its own account (`GetConsumeDetails`).

        Returns:
            The SAAS and the offer's full URL (with controller).

        Raises:
            Invalid: a bad URL or alias, or a URL with an endpoint.
            NotFound: no such offer, one the caller cannot see, or an unknown controller.
            Forbidden: the caller may only read the offer.
            AlreadyExists: the name is taken by an application or another SAAS.
            Refused: the other controller answers with another identity.
        """
        if not text:
            raise errors.Invalid("no remote offer specified")
        if alias and not is_application_name(alias):
            raise errors.Invalid(f'invalid application name "{alias}"')
        offer, url, source = self._offer_for(caller, text, deadline, remote)
        if url.endpoint:
            raise errors.Invalid(f'remote offer "{text}" shouldn\'t include endpoint')
        saas = self._consume(model, offer, alias or offer.name, deadline, source).saas
        return saas, str(url)

    def _offer_for(
        self,
        caller: Caller,
        text: str,
        deadline: Deadline,
        remote: gateway_pb.RemoteOffer | None,
    ) -> tuple[offers_pb2.Offer, OfferURL, gateway_pb.RemoteOffer | None]:
        """The offer a URL names, here (consume access checked) or on another controller."""
        here = self._resolve.controller(deadline).name
        url = OfferURL.parse(text)
        if url.source and url.source != here:
            if remote is None or remote.controller_name != url.source:
                raise errors.NotFound(f'controller "{url.source}" not found')
            identity = self._remote.identity(remote.address)
            if identity.uuid != remote.controller_uuid:
                raise errors.Refused(
                    f'controller at {remote.address} answers as "{identity.name}" '
                    f"({identity.uuid}), not as the registered {remote.controller_name} "
                    f"({remote.controller_uuid})"
                )
            return remote.offer, url.with_defaults(url.source, caller.user), remote
        url = self._resolve.offer_url(caller, text, deadline)
        return self._resolve.offer(caller, url, "consume", deadline).offer, url, None

    def _consume(
        self,
        model: placement_pb2.Model,
        offer: offers_pb2.Offer,
        name: str,
        deadline: Deadline,
        source: gateway_pb.RemoteOffer | None = None,
    ) -> offers_pb2.ConsumeResponse:
        if find_application(self._ports, model.uuid, name, deadline) is not None:
            raise errors.AlreadyExists(
                f'cannot add saas application "{name}": local application with same name '
                "already exists"
            )
        controller = source.controller_name if source else self._resolve.controller(deadline).name
        return self._ports.offers.consume(
            offers_pb2.ConsumeRequest(
                model_uuid=model.uuid,
                model_name=model.name,
                name=name,
                offer_uuid=offer.uuid,
                offer_url=f"{controller}:{offer.url}",
                source_model_uuid=offer.model_uuid,
                endpoints=offer.endpoints,
                source_controller=source.controller_name if source else "",
                source_controller_uuid=source.controller_uuid if source else "",
                source_address=source.address if source else "",
                consume_token=source.consume_token if source else "",
            ),
            deadline,
        )

    # -- relate ----------------------------------------------------------------------------

    def side(
        self,
        caller: Caller,
        model: placement_pb2.Model,
        ref: str,
        deadline: Deadline,
        *,
        consume: bool,
        remote: gateway_pb.RemoteOffer | None = None,
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
            offer, url, source = self._offer_for(caller, ref, deadline, remote)
            created = False
            if consume:
                consumed = self._consume(model, offer, offer.name, deadline, source)
                saas, created = consumed.saas, consumed.created
            else:
                saas = offers_pb2.Saas(
                    model_uuid=model.uuid,
                    name=offer.name,
                    offer_uuid=offer.uuid,
                    source_model_uuid=offer.model_uuid,
                    endpoints=offer.endpoints,
                )
            return End(side=saas_side(saas, url.endpoint), saas=saas, consumed=created)
        application, _, endpoint = ref.partition(":")
        if not application or (":" in ref and not endpoint):
            raise errors.Invalid(f'invalid endpoint "{ref}"')
        app = find_application(self._ports, model.uuid, application, deadline)
        if app is not None:
            return End(
                side=relations_pb2.RelationSide(
                    application=application,
                    endpoint=endpoint,
                    subordinate=app.subordinate,
                    endpoints=[candidate(e) for e in app.charm.endpoints],
                )
            )
        found = find_saas(self._ports, model.uuid, application, deadline)
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
        deadline: Deadline,
    ) -> list[str]:
        """The consumer's egress for a relation: `--via`, `egress-subnets`, or unit addresses."""
        if via:
            return list(via)
        config = self._ports.placement.get_model_config(
            placement_pb2.GetModelConfigRequest(model_uuid=model.uuid), deadline
        ).config
        configured = [c.strip() for c in config.get("egress-subnets", "").split(",") if c.strip()]
        if configured:
            return configured
        status = self._ports.placement.get_model_status(
            placement_pb2.GetModelStatusRequest(model_uuid=model.uuid, application=application),
            deadline,
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
        deadline: Deadline,
    ) -> relations_pb2.Relation:
        """Make both halves of a cross-model relation; the consumer's half is returned.

        Within this controller both halves are written by one call to the relations service,
        in one transaction: when either half is refused, neither exists.

        Raises:
            Forbidden: the caller no longer has consume on the offer.
            Refused: the offer or the offered application has gone, or either half is refused.
        """
        if saas.source_controller_uuid:
            return self._relate_remote(caller, model, a, b, saas, via, deadline)
        offer = find_offer(self._ports, saas.offer_uuid, deadline)
        if offer is None:
            raise errors.Refused(terminated_message(saas.name))
        if not at_least(
            access_pb2.TARGET_KIND_OFFER, self.user_level(caller.user, offer, deadline), "consume"
        ):
            raise errors.Forbidden(PERMISSION_DENIED)
        local, offered = self._ends(model, a, b, deadline)
        subnets = self.egress(model, local.application, via, deadline)
        check = self.ingress(offer.model_uuid, subnets, deadline)
        token = str(uuid.uuid4())
        offerer = self._offerer_half(
            offer,
            proxy=proxy_name(model.uuid, local.application),
            consumer_end=gateway_pb.RemoteEndpoint(
                name=local.name, role=local.role, interface=local.interface
            ),
            offered_endpoint=offered.name,
            cross=relations_pb2.CrossModel(
                token=token,
                username=caller.user,
                source_model_uuid=model.uuid,
                subnets=subnets,
                message=check.message,
            ),
            deadline=deadline,
        )
        consumer = relations_pb2.CrossModelHalf(
            model_uuid=model.uuid,
            a=a,
            b=b,
            cross_model=consumer_cross(
                caller.user, model.uuid, token, subnets, via, check.message
            ),
        )
        return self._ports.relations.add_cross_model_relation(
            relations_pb2.AddCrossModelRelationRequest(consumer=consumer, offerer=offerer),
            deadline,
        ).consumer

    def _ends(
        self,
        model: placement_pb2.Model,
        a: relations_pb2.RelationSide,
        b: relations_pb2.RelationSide,
        deadline: Deadline,
    ) -> tuple[relations_pb2.RelationEndpoint, relations_pb2.RelationEndpoint]:
        """The endpoints the consumer's half relates, the local one first (a dry run).

        The offerer's half is built from them: the proxy stands for the local endpoint.

        Raises:
            Invalid, NotFound, AlreadyExists, Refused: the consumer's half is refused.
        """
        dry = self._ports.relations.add_relation(
            relations_pb2.AddRelationRequest(model_uuid=model.uuid, a=a, b=b, dry_run=True),
            deadline,
        ).relation
        local = next(e for e in dry.endpoints if not e.remote)
        offered = next(e for e in dry.endpoints if e.remote)
        return local, offered

    def _offerer_half(
        self,
        offer: offers_pb2.Offer,
        *,
        proxy: str,
        consumer_end: gateway_pb.RemoteEndpoint,
        offered_endpoint: str,
        cross: relations_pb2.CrossModel,
        deadline: Deadline,
    ) -> relations_pb2.CrossModelHalf:
        """The offerer's half, to be written: the proxy, the offered application, the connection.

        `cross` carries the token, user, consuming model, subnets, the ingress verdict (a
        non-empty `message` is a refusal) and, across controllers, the peer.

        Raises:
            Refused: the offered application has been removed.
        """
        app = find_application(self._ports, offer.model_uuid, offer.application, deadline)
        if app is None:
            raise errors.Refused(f'application "{offer.application}" has been removed')
        half = relations_pb2.CrossModel()
        half.CopyFrom(cross)
        half.side = Half.OFFERER
        half.offer_uuid = offer.uuid
        half.status = "error" if cross.message else "joined"
        return relations_pb2.CrossModelHalf(
            model_uuid=offer.model_uuid,
            a=relations_pb2.RelationSide(
                application=proxy,
                endpoint=consumer_end.name,
                remote=True,
                endpoints=[
                    relations_pb2.CandidateEndpoint(
                        name=consumer_end.name,
                        role=consumer_end.role,
                        interface=consumer_end.interface,
                    )
                ],
            ),
            b=relations_pb2.RelationSide(
                application=offer.application,
                endpoint=offered_endpoint,
                endpoints=[candidate(e) for e in app.charm.endpoints],
            ),
            cross_model=half,
        )

    def register_half(
        self,
        offer: offers_pb2.Offer,
        *,
        proxy: str,
        consumer_end: gateway_pb.RemoteEndpoint,
        offered_endpoint: str,
        cross: relations_pb2.CrossModel,
        deadline: Deadline,
    ) -> relations_pb2.Relation:
        """The offering side's part across controllers: its half alone (see `_offerer_half`).

        The consumer's half is on the other controller, which makes it once this answers.
        """
        half = self._offerer_half(
            offer,
            proxy=proxy,
            consumer_end=consumer_end,
            offered_endpoint=offered_endpoint,
            cross=cross,
            deadline=deadline,
        )
        return self._ports.relations.add_relation(
            relations_pb2.AddRelationRequest(
                model_uuid=half.model_uuid, a=half.a, b=half.b, cross_model=half.cross_model
            ),
            deadline,
        ).relation

    # -- across controllers ----------------------------------------------------------------

    def _relate_remote(
        self,
        caller: Caller,
        model: placement_pb2.Model,
        a: relations_pb2.RelationSide,
        b: relations_pb2.RelationSide,
        saas: offers_pb2.Saas,
        via: Sequence[str],
        deadline: Deadline,
    ) -> relations_pb2.Relation:
        """The consumer's part across controllers: check locally, register there, then here.

        Raises:
            Unavailable: the offering controller cannot be reached; nothing was made.
            grpc.RpcError: the offering controller's refusal, as it said it.
        """
        local, offered = self._ends(model, a, b, deadline)
        subnets = self.egress(model, local.application, via, deadline)
        token = str(uuid.uuid4())
        identity = self._resolve.controller(deadline)
        callback = self.issue_token(
            user=caller.user,
            offer_uuid=saas.offer_uuid,
            source_model_uuid=model.uuid,
            kind="callback",
            relation=token,
            deadline=deadline,
        )

        def keep(fresh: str) -> None:
            self._ports.offers.set_saas_status(
                offers_pb2.SetSaasStatusRequest(
                    model_uuid=model.uuid,
                    name=saas.name,
                    status=saas.status,
                    message=saas.status_message,
                    consume_token=fresh,
                ),
                deadline,
            )

        request = gateway_pb.RegisterRemoteRelationRequest(
            offer_uuid=saas.offer_uuid,
            source_model_uuid=model.uuid,
            token=token,
            consumer_endpoint=gateway_pb.RemoteEndpoint(
                name=local.name, role=local.role, interface=local.interface
            ),
            offer_endpoint=offered.name,
            subnets=subnets,
            consumer_controller_uuid=identity.uuid,
            consumer_address=self._advertise(),
            callback_token=callback,
            proxy_name=proxy_name(model.uuid, local.application),
        )

        def register(
            stub: gateway_pb2_grpc.CrossControllerServiceStub, credential: str
        ) -> gateway_pb.RegisterRemoteRelationResponse:
            request.consume_token = credential
            return stub.RegisterRemoteRelation(request, timeout=CALL_TIMEOUT_S)

        reply = self._remote.call(saas.source_address, register, saas.consume_token, renewed=keep)
        peer = relations_pb2.CrossModel(
            peer_controller=saas.source_controller_uuid,
            peer_address=saas.source_address,
            peer_token=reply.relation_token,
        )
        cross = consumer_cross(caller.user, model.uuid, token, subnets, via, reply.message)
        cross.MergeFrom(peer)
        try:
            return self._ports.relations.add_relation(
                relations_pb2.AddRelationRequest(
                    model_uuid=model.uuid, a=a, b=b, cross_model=cross
                ),
                deadline,
            ).relation
        except BaseException:
            self._reconciler.nudge(peer, token)  # the offerer finds no half here and drops its
            raise

    def consume_details(
        self, caller: Caller, text: str, source_model_uuid: str, deadline: Deadline
    ) -> gateway_pb.GetConsumeDetailsResponse:
        """For a client consuming from another controller: the offer and a consume token.

        Raises:
            Invalid: no consuming model.
            NotFound, Forbidden: the offer, or the caller's consume on it.
        """
        if not source_model_uuid:
            raise errors.Invalid("the consuming model's UUID is required")
        url = self._resolve.offer_url(caller, text, deadline)
        offer = self._resolve.offer(caller, url, "consume", deadline).offer  # no connections
        token = self.issue_token(
            user=caller.user,
            offer_model_uuid=offer.model_uuid,
            offer_uuid=offer.uuid,
            source_model_uuid=source_model_uuid,
            kind="consume",
            deadline=deadline,
        )
        identity = self._resolve.controller(deadline)
        return gateway_pb.GetConsumeDetailsResponse(
            offer=offer,
            consume_token=token,
            controller_uuid=identity.uuid,
            controller_name=identity.name,
        )

    def renew_token(self, token: str, deadline: Deadline) -> str:
        """Renew a token this controller issued; consume is checked again for its user.

        The token's (as yet unchecked) offer names the offering model access checks consume
        on; access then checks the token itself, so a forged claim gains nothing.
        """
        claimed = tokens.peek(token)
        offer_model = ""
        if claimed is not None and claimed.kind != tokens.CALLBACK:
            offer = find_offer(self._ports, claimed.offer_uuid, deadline)
            if offer is None:
                raise errors.NotFound(f'application offer "{claimed.offer_uuid}" not found')
            offer_model = offer.model_uuid
        return self._ports.access.renew_offer_token(
            access_pb2.RenewOfferTokenRequest(token=token, offer_model_uuid=offer_model), deadline
        ).token

    def register_remote(
        self, request: gateway_pb.RegisterRemoteRelationRequest, deadline: Deadline
    ) -> gateway_pb.RegisterRemoteRelationResponse:
        """The offerer's part across controllers, for a consumer holding a consume token.

        Raises:
            NotFound: no such offer.
            Unauthenticated, Forbidden: the token is bad, misused, or its user lost consume.
            Invalid: a malformed request.
        """
        if not request.token or not is_proxy_name(request.proxy_name):
            raise errors.Invalid("a relation token and a proxy name `remote-<32 hex>` are needed")
        if not request.consumer_controller_uuid or not request.consumer_address:
            raise errors.Invalid("the consuming controller's UUID and address are needed")
        offer = find_offer(self._ports, request.offer_uuid, deadline)
        if offer is None:
            raise errors.NotFound(f'application offer "{request.offer_uuid}" not found')
        claims = self._ports.access.verify_offer_token(
            access_pb2.VerifyOfferTokenRequest(
                token=request.consume_token,
                kind="consume",
                offer_model_uuid=offer.model_uuid,
                offer_uuid=offer.uuid,
                source_model_uuid=request.source_model_uuid,
            ),
            deadline,
        ).claims
        check = self.ingress(offer.model_uuid, request.subnets, deadline)
        relation = self.register_half(
            offer,
            proxy=request.proxy_name,
            consumer_end=request.consumer_endpoint,
            offered_endpoint=request.offer_endpoint,
            cross=relations_pb2.CrossModel(
                token=request.token,
                username=claims.user,
                source_model_uuid=request.source_model_uuid,
                subnets=request.subnets,
                message=check.message,
                peer_controller=request.consumer_controller_uuid,
                peer_address=request.consumer_address,
                peer_token=request.callback_token,
            ),
            deadline=deadline,
        )
        self._reconciler.registered(request.token)
        token = self.issue_token(
            user=claims.user,
            offer_model_uuid=offer.model_uuid,
            offer_uuid=offer.uuid,
            source_model_uuid=request.source_model_uuid,
            kind="relation",
            relation=request.token,
            deadline=deadline,
        )
        return gateway_pb.RegisterRemoteRelationResponse(
            relation_token=token,
            status=relation.status,
            message=relation.message,
            relation_id=relation.id,
        )

    def republish_egress(self, model: placement_pb2.Model, deadline: Deadline) -> None:
        """After egress may have changed (model config, units), publish it again.

        Each consumer's half without `--via` whose egress differs from what it published is
        checked again by the offerer: refused, it goes to `error`; admitted, out of `error`.
        """
        relations = self._ports.relations.list_relations(
            relations_pb2.ListRelationsRequest(model_uuid=model.uuid), deadline
        ).relations
        egress: dict[str, list[str]] = {}
        for relation in relations:
            cross = relation.cross_model
            if cross.side != Half.CONSUMER or cross.via:
                continue
            local = next(e for e in relation.endpoints if not e.remote)
            remote = next(e for e in relation.endpoints if e.remote)
            if local.application not in egress:
                egress[local.application] = self.egress(model, local.application, (), deadline)
            subnets = egress[local.application]
            if list(cross.subnets) == subnets:
                continue
            saas = find_saas(self._ports, model.uuid, remote.application, deadline)
            offer = (
                find_offer(self._ports, saas.offer_uuid, deadline) if saas is not None else None
            )
            if offer is None:
                continue
            check = self.ingress(offer.model_uuid, subnets, deadline)
            self._ports.relations.update_egress(
                relations_pb2.UpdateEgressRequest(
                    model_uuid=model.uuid,
                    id=relation.id,
                    subnets=subnets,
                    refused="" if check.allowed else check.message,
                ),
                deadline,
            )

    # -- suspend, resume -------------------------------------------------------------------

    def check_resumable(
        self, model: placement_pb2.Model, ids: Sequence[int], deadline: Deadline
    ) -> dict[int, str]:
        """Check what resume-relation would resume: consume access, then the allow-list.

        Returns:
            The ids whose ingress the offering model's allow-list now refuses, with the message.

        Raises:
            Forbidden: `permission denied`: a connection's user no longer has consume.
        """
        relations = self._ports.relations.list_relations(
            relations_pb2.ListRelationsRequest(model_uuid=model.uuid, ids=ids), deadline
        ).relations
        by_id = {r.id: r for r in relations}
        refused: dict[int, str] = {}
        for relation_id in ids:
            relation = by_id.get(relation_id)
            if relation is None or not relation.suspended:
                continue  # the relations deadline reports unknown ids; not suspended: no-op
            cross = relation.cross_model
            if cross.side != Half.OFFERER:
                continue
            offer = find_offer(self._ports, cross.offer_uuid, deadline)
            if offer is None or not at_least(
                access_pb2.TARGET_KIND_OFFER,
                self.user_level(cross.username, offer, deadline),
                "consume",
            ):
                raise errors.Forbidden(PERMISSION_DENIED)
            check = self.ingress(model.uuid, cross.subnets, deadline)
            if not check.allowed:
                refused[relation_id] = check.message
        return refused
