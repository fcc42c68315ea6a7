"""The gateway servicer: authenticate, authorise, call the owning service, compose status."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Final, TypeVar

import grpc
import yaml
from typing_extensions import override

from cmr.access.v1 import access_pb2
from cmr.gateway.v1 import gateway_pb2 as pb
from cmr.gateway.v1 import gateway_pb2_grpc
from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from cmr.relations.v1 import relations_pb2
from gateway import adapters
from gateway import status as status_view
from gateway.auth import Authenticator, Caller
from gateway.cache import CachedCalls, ReadCache, WriteFence
from gateway.crossmodel import ROLE_NAMES, CrossModel, candidate, looks_like_url, parse_via
from gateway.peers import Peers
from gateway.ports import pages
from gateway.remote import PeerControllers, Reconciler
from gateway.resolve import (
    CONTROLLER_TARGET,
    Held,
    Resolver,
    model_target,
    offer_target,
    split_model_ref,
)
from kernel import errors, tokens
from kernel.access import ends_consume
from kernel.offerurl import OfferURL
from kernel.relation import Half
from services.common import status as codes
from services.common.config import Config
from services.common.deadline import Deadline
from services.common.local import LocalTarget
from services.common.server import Bound, Built, binding

SERVICE_NAME: Final = "cmr.gateway.v1.GatewayService"


Req = TypeVar("Req")
Resp = TypeVar("Resp")


def nudges(
    method: Callable[[Gateway, Req, grpc.ServicerContext], Resp],
) -> Callable[[Gateway, Req, grpc.ServicerContext], Resp]:
    """Wrap a command that may change cross-controller halves; then nudge their peers.

    Each half it changed or removed has its peer controller told to look again (see
    `gateway.remote`).
    """

    @functools.wraps(method)
    def wrapper(self: Gateway, request: Req, context: grpc.ServicerContext) -> Resp:
        with self.reconciler.nudging(Deadline.of(context)):
            return method(self, request, context)

    return wrapper


def charm_name(metadata_yaml: str) -> str:
    """The `name` of a charm's metadata, or empty when it has none (placement judges the rest)."""
    try:
        meta = yaml.safe_load(metadata_yaml)
    except (yaml.YAMLError, RecursionError, ValueError):
        return ""
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else ""


class Gateway(gateway_pb2_grpc.GatewayServiceServicer):
    """The one public API of a controller."""

    def __init__(self, peers: Peers, advertise: str = "") -> None:
        self._peers = peers
        calls = CachedCalls(peers, peers.cache) if peers.cache is not None else peers
        self.ports = adapters.over(peers, calls)
        self._auth = Authenticator(self.ports)
        self._resolve = Resolver(self.ports)
        self.advertise = advertise
        """`host:port` other controllers reach this gateway at (set once it is bound)."""
        self.remote = PeerControllers()
        self.reconciler = Reconciler(self.ports, self.remote)
        self._cmr = CrossModel(
            self.ports, self._resolve, self.remote, self.reconciler, lambda: self.advertise
        )

    def _controller(self, context: grpc.ServicerContext) -> access_pb2.GetControllerInfoResponse:
        return self._resolve.controller(Deadline.of(context))

    @override
    @codes.unary
    def Ping(self, request: pb.PingRequest, context: grpc.ServicerContext) -> pb.PingResponse:
        """Answer at once, with no authentication: the benchmarks' baseline."""
        return pb.PingResponse()

    # -- sessions --------------------------------------------------------------------------

    @override
    @codes.unary
    def Login(self, request: pb.LoginRequest, context: grpc.ServicerContext) -> pb.LoginResponse:
        reply = self.ports.access.login(
            access_pb2.LoginRequest(user=request.user, password=request.password),
            Deadline.of(context),
        )
        identity = self._controller(context)
        return pb.LoginResponse(
            token=reply.token,
            expires_at=reply.expires_at,
            user=reply.user.name,
            controller=identity.name,
            controller_uuid=identity.uuid,
        )

    @override
    @codes.unary
    def Logout(
        self, request: pb.LogoutRequest, context: grpc.ServicerContext
    ) -> pb.LogoutResponse:
        caller = self._auth.caller(context)
        self.ports.access.logout(
            access_pb2.LogoutRequest(token=caller.token), Deadline.of(context)
        )
        self._auth.forget(caller.token)
        return pb.LogoutResponse()

    @override
    @codes.unary
    def WhoAmI(
        self, request: pb.WhoAmIRequest, context: grpc.ServicerContext
    ) -> pb.WhoAmIResponse:
        caller = self._auth.caller(context)
        identity = self._controller(context)
        return pb.WhoAmIResponse(
            user=caller.user,
            superuser=caller.superuser,
            controller=identity.name,
            controller_uuid=identity.uuid,
        )

    # -- models ----------------------------------------------------------------------------

    @override
    @codes.unary
    def AddModel(
        self, request: pb.AddModelRequest, context: grpc.ServicerContext
    ) -> pb.AddModelResponse:
        caller = self._auth.caller(context)
        self._resolve.require_controller(caller, "add-model", Deadline.of(context))
        reply = self.ports.placement.add_model(
            placement_pb2.AddModelRequest(name=request.name, owner=caller.user),
            Deadline.of(context),
        )
        self.ports.access.init_target(
            access_pb2.InitTargetRequest(target=model_target(reply.model), owner=caller.user),
            Deadline.of(context),
        )
        return pb.AddModelResponse(model=reply.model)

    @override
    @codes.unary
    def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.ServicerContext
    ) -> pb.ListModelsResponse:
        """A superuser pages through every model; others get every model they can read at once."""
        caller = self._auth.caller(context)
        if caller.superuser:
            reply = self.ports.placement.list_models(
                placement_pb2.ListModelsRequest(
                    page_size=request.page_size, page_token=request.page_token
                ),
                Deadline.of(context),
            )
            return pb.ListModelsResponse(
                models=reply.models, next_page_token=reply.next_page_token
            )
        found = list(
            pages(
                lambda token: self.ports.placement.list_models(
                    placement_pb2.ListModelsRequest(page_size=1000, page_token=token),
                    Deadline.of(context),
                ),
                lambda reply: reply.models,
            )
        )
        levels = self._resolve.levels(
            caller, [model_target(m) for m in found], Deadline.of(context)
        )
        return pb.ListModelsResponse(models=[m for m, lv in zip(found, levels, strict=True) if lv])

    @override
    @codes.unary
    @nudges
    def DestroyModel(
        self, request: pb.DestroyModelRequest, context: grpc.ServicerContext
    ) -> pb.DestroyModelResponse:
        """Destroys the model's offers and SAAS (with their relations), then the model.

        Offers go with `--force`: the consumers' halves go too and their SAAS turn
        `terminated`. Each SAAS goes with its relations, whose offering halves go with them.
        """
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "admin", Deadline.of(context))
        for offer in self._model_offers(model.uuid, context):
            self._delete_offer(offer, force=True, context=context)
        saas = self.ports.offers.list_saas(
            offers_pb2.ListSaasRequest(model_uuid=model.uuid), Deadline.of(context)
        ).saas
        for one in saas:
            self._remove_saas(model.uuid, one.name, context)
        relations = self.ports.relations.list_relations(
            relations_pb2.ListRelationsRequest(model_uuid=model.uuid), Deadline.of(context)
        ).relations
        # by application: that takes peer relations too, and both halves of cross-model ones
        for application in sorted(
            {e.application for r in relations for e in r.endpoints if not e.remote}
        ):
            self.ports.relations.remove_application_relations(
                relations_pb2.RemoveApplicationRelationsRequest(
                    model_uuid=model.uuid, application=application
                ),
                Deadline.of(context),
            )
        self.ports.placement.destroy_model(
            placement_pb2.DestroyModelRequest(model_uuid=model.uuid), Deadline.of(context)
        )
        self.ports.access.drop_target(
            access_pb2.DropTargetRequest(target=model_target(model)), Deadline.of(context)
        )
        return pb.DestroyModelResponse()

    @override
    @codes.unary
    def GetModelConfig(
        self, request: pb.GetModelConfigRequest, context: grpc.ServicerContext
    ) -> pb.GetModelConfigResponse:
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "read", Deadline.of(context))
        reply = self.ports.placement.get_model_config(
            placement_pb2.GetModelConfigRequest(model_uuid=model.uuid), Deadline.of(context)
        )
        config = dict(reply.config)
        if request.keys:
            unknown = [k for k in request.keys if k not in config]
            if unknown:
                raise errors.NotFound(f'key "{unknown[0]}" not found in model "{model.name}"')
            config = {k: config[k] for k in request.keys}
        return pb.GetModelConfigResponse(config=config)

    @override
    @codes.unary
    def SetModelConfig(
        self, request: pb.SetModelConfigRequest, context: grpc.ServicerContext
    ) -> pb.SetModelConfigResponse:
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "admin", Deadline.of(context))
        reply = self.ports.placement.set_model_config(
            placement_pb2.SetModelConfigRequest(model_uuid=model.uuid, config=request.config),
            Deadline.of(context),
        )
        if "egress-subnets" in request.config:
            self._cmr.republish_egress(model, Deadline.of(context))
        return pb.SetModelConfigResponse(config=reply.config)

    # -- applications, units, machines -----------------------------------------------------

    @override
    @codes.unary
    def Deploy(
        self, request: pb.DeployRequest, context: grpc.ServicerContext
    ) -> pb.DeployResponse:
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "write", Deadline.of(context))
        name = request.application or charm_name(request.metadata_yaml)
        if name and self._cmr.find_saas(model.uuid, name, Deadline.of(context)):
            raise errors.AlreadyExists(
                f'cannot add application "{name}": saas application with same name already exists'
            )
        reply = self.ports.placement.deploy(
            placement_pb2.DeployRequest(
                model_uuid=model.uuid,
                metadata_yaml=request.metadata_yaml,
                application=request.application,
                num_units=request.num_units,
                to=request.to,
            ),
            Deadline.of(context),
        )
        # each `peers:` endpoint gets its relation at deploy (REFERENCE §5.1)
        if any(e.role == placement_pb2.ROLE_PEER for e in reply.application.charm.endpoints):
            self.ports.relations.add_peer_relations(
                relations_pb2.AddPeerRelationsRequest(
                    model_uuid=model.uuid,
                    application=relations_pb2.RelationSide(
                        application=reply.application.name,
                        endpoints=[candidate(e) for e in reply.application.charm.endpoints],
                    ),
                ),
                Deadline.of(context),
            )
        return pb.DeployResponse(application=reply.application, units=reply.units)

    @override
    @codes.unary
    def AddUnit(
        self, request: pb.AddUnitRequest, context: grpc.ServicerContext
    ) -> pb.AddUnitResponse:
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "write", Deadline.of(context))
        reply = self.ports.placement.add_unit(
            placement_pb2.AddUnitRequest(
                model_uuid=model.uuid,
                application=request.application,
                num_units=request.num_units,
                to=request.to,
            ),
            Deadline.of(context),
        )
        self._cmr.republish_egress(model, Deadline.of(context))
        return pb.AddUnitResponse(units=reply.units)

    @override
    @codes.unary
    def RemoveUnit(
        self, request: pb.RemoveUnitRequest, context: grpc.ServicerContext
    ) -> pb.RemoveUnitResponse:
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "write", Deadline.of(context))
        self.ports.placement.remove_unit(
            placement_pb2.RemoveUnitRequest(model_uuid=model.uuid, units=request.units),
            Deadline.of(context),
        )
        self._cmr.republish_egress(model, Deadline.of(context))
        return pb.RemoveUnitResponse()

    @override
    @codes.unary
    @nudges
    def RemoveApplication(
        self, request: pb.RemoveApplicationRequest, context: grpc.ServicerContext
    ) -> pb.RemoveApplicationResponse:
        """Refuse while the application is offered (REFERENCE §2.4, the seed's rule).

        With `force`, its offers go first, as `remove-offer --force` would remove them.
        """
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "write", Deadline.of(context))
        offered = self._model_offers(model.uuid, context, application=request.application)
        if offered and not request.force:
            noun = "offer" if len(offered) == 1 else "offers"
            raise errors.Refused(
                f'cannot destroy application "{request.application}": '
                f"application is used by {len(offered)} {noun}"
            )
        for offer in offered:
            self._delete_offer(offer, force=True, context=context)
        self.ports.relations.remove_application_relations(
            relations_pb2.RemoveApplicationRelationsRequest(
                model_uuid=model.uuid, application=request.application
            ),
            Deadline.of(context),
        )
        reply = self.ports.placement.remove_application(
            placement_pb2.RemoveApplicationRequest(
                model_uuid=model.uuid, application=request.application, force=request.force
            ),
            Deadline.of(context),
        )
        return pb.RemoveApplicationResponse(removed_units=reply.removed_units)

    @override
    @codes.unary
    def AddMachine(
        self, request: pb.AddMachineRequest, context: grpc.ServicerContext
    ) -> pb.AddMachineResponse:
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "write", Deadline.of(context))
        reply = self.ports.placement.add_machine(
            placement_pb2.AddMachineRequest(model_uuid=model.uuid, count=request.count),
            Deadline.of(context),
        )
        return pb.AddMachineResponse(machines=reply.machines)

    @override
    @codes.unary
    def RemoveMachine(
        self, request: pb.RemoveMachineRequest, context: grpc.ServicerContext
    ) -> pb.RemoveMachineResponse:
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "write", Deadline.of(context))
        self.ports.placement.remove_machine(
            placement_pb2.RemoveMachineRequest(
                model_uuid=model.uuid, machines=request.machines, force=request.force
            ),
            Deadline.of(context),
        )
        return pb.RemoveMachineResponse()

    # -- status ----------------------------------------------------------------------------

    @override
    @codes.unary
    def GetStatus(
        self, request: pb.GetStatusRequest, context: grpc.ServicerContext
    ) -> pb.GetStatusResponse:
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "read", Deadline.of(context))
        deadline = Deadline.of(context).timeout()
        placement_call = self._peers.placement.GetModelStatus.future(
            placement_pb2.GetModelStatusRequest(model_uuid=model.uuid, for_status=True),
            timeout=deadline,
        )
        offers_call = self._peers.offers.ListOffers.future(
            offers_pb2.ListOffersRequest(model_uuid=model.uuid, page_size=1000), timeout=deadline
        )
        relations_call = self._peers.relations.ListRelations.future(
            relations_pb2.ListRelationsRequest(model_uuid=model.uuid), timeout=deadline
        )
        saas_call = self._peers.offers.ListSaas.future(
            offers_pb2.ListSaasRequest(model_uuid=model.uuid), timeout=deadline
        )
        placement = self._peers.call("placement", placement_call.result, changes=False)
        offers = self._peers.call("offers", offers_call.result, changes=False)
        relations = self._peers.call("relations", relations_call.result, changes=False)
        saas = self._peers.call("offers", saas_call.result, changes=False).saas
        composed = status_view.compose(
            placement,
            offers.offers,
            relations.relations,
            controller=self._controller(context).name,
            saas=saas,
            saas_status={s.name: self._saas_status(s, context) for s in saas},
        )
        return status_view.filtered(composed, request.patterns)

    def _saas_status(self, saas: offers_pb2.Saas, context: grpc.ServicerContext) -> pb.StatusValue:
        """A SAAS mirrors the offered application's status once it is known (REFERENCE §4.3)."""
        if saas.status != "unknown" or saas.source_controller:
            return pb.StatusValue(current=saas.status, message=saas.status_message)
        try:
            offer = self.ports.offers.get_offer(
                offers_pb2.GetOfferRequest(offer_uuid=saas.offer_uuid), Deadline.of(context)
            ).offer
        except (errors.CmrError, grpc.RpcError):
            return pb.StatusValue(current=saas.status, message=saas.status_message)
        app = self._cmr.find_application(offer.model_uuid, offer.application, Deadline.of(context))
        if app is None or not app.status or app.status == "unknown":
            return pb.StatusValue(current="unknown")
        return pb.StatusValue(current=app.status)

    @override
    @codes.streaming
    def StreamStatus(
        self, request: pb.StreamStatusRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.StreamStatusResponse]:
        """GetStatus in parts that fit any client's default message limit."""
        whole = self.GetStatus(
            pb.GetStatusRequest(model=request.model, patterns=request.patterns), context
        )
        for part in status_view.split(whole):
            yield pb.StreamStatusResponse(part=part)

    # -- users and access ------------------------------------------------------------------

    @override
    @codes.unary
    def AddUser(
        self, request: pb.AddUserRequest, context: grpc.ServicerContext
    ) -> pb.AddUserResponse:
        caller = self._auth.caller(context)
        reply = self.ports.access.add_user(
            access_pb2.AddUserRequest(
                actor=caller.user, name=request.name, display_name=request.display_name
            ),
            Deadline.of(context),
        )
        identity = self._controller(context)
        return pb.AddUserResponse(
            user=reply.user,
            secret=reply.secret,
            controller=identity.name,
            controller_uuid=identity.uuid,
        )

    @override
    @codes.unary
    def Register(
        self, request: pb.RegisterRequest, context: grpc.ServicerContext
    ) -> pb.RegisterResponse:
        reply = self.ports.access.register(
            access_pb2.RegisterRequest(
                user=request.user, secret=request.secret, password=request.password
            ),
            Deadline.of(context),
        )
        identity = self._controller(context)
        return pb.RegisterResponse(
            token=reply.session.token,
            expires_at=reply.session.expires_at,
            user=reply.session.user.name,
            controller=identity.name,
            controller_uuid=identity.uuid,
        )

    @override
    @codes.unary
    def ChangeUserPassword(
        self, request: pb.ChangeUserPasswordRequest, context: grpc.ServicerContext
    ) -> pb.ChangeUserPasswordResponse:
        caller = self._auth.caller(context)
        self.ports.access.change_password(
            access_pb2.ChangePasswordRequest(
                actor=caller.user, user=request.user, password=request.password
            ),
            Deadline.of(context),
        )
        return pb.ChangeUserPasswordResponse()

    @override
    @codes.unary
    def SetUserEnabled(
        self, request: pb.SetUserEnabledRequest, context: grpc.ServicerContext
    ) -> pb.SetUserEnabledResponse:
        caller = self._auth.caller(context)
        self.ports.access.set_user_enabled(
            access_pb2.SetUserEnabledRequest(
                actor=caller.user, user=request.user, enabled=request.enabled
            ),
            Deadline.of(context),
        )
        self._auth.forget_all()
        return pb.SetUserEnabledResponse()

    @override
    @codes.unary
    def ListUsers(
        self, request: pb.ListUsersRequest, context: grpc.ServicerContext
    ) -> pb.ListUsersResponse:
        self._auth.caller(context)
        reply = self.ports.access.list_users(
            access_pb2.ListUsersRequest(
                include_disabled=request.include_disabled,
                page_size=request.page_size,
                page_token=request.page_token,
            ),
            Deadline.of(context),
        )
        return pb.ListUsersResponse(users=reply.users, next_page_token=reply.next_page_token)

    def _targets(
        self, caller: Caller, refs: Sequence[str], context: grpc.ServicerContext
    ) -> list[access_pb2.Target]:
        """Resolve grant/revoke targets: none is the controller; offer URLs or model names.

        An argument is an offer URL exactly when it holds a `.` (REFERENCE §1.2), since model
        names cannot. The caller must be able to see each; access decides whether they may
        change it.
        """
        if not refs:
            return [CONTROLLER_TARGET]
        urls = [r for r in refs if "." in r]
        if urls and len(urls) != len(refs):
            raise errors.Invalid("either specify model names or offer URLs but not both")
        if urls:
            return [
                offer_target(
                    self._resolve.offer(
                        caller,
                        self._resolve.offer_url(caller, u, Deadline.of(context)),
                        "read",
                        Deadline.of(context),
                    ).offer
                )
                for u in urls
            ]
        return [
            model_target(self._resolve.model(caller, r, "read", Deadline.of(context)))
            for r in refs
        ]

    def _change_access(
        self,
        grant: bool,
        request: pb.GrantRequest | pb.RevokeRequest,
        context: grpc.ServicerContext,
    ) -> None:
        """Resolve every target first, then grant or revoke on each through access.

        After a revoke on an offer that the relations context acts on (it takes the user below
        consume: `ends_consume`), wait (under the deadline) until relations has applied
        it: the relations it suspends are suspended when `revoke` returns.
        """
        caller = self._auth.caller(context)
        deadline = Deadline.of(context)
        last = 0
        for target in self._targets(caller, request.targets, context):
            if grant:
                self.ports.access.grant(
                    access_pb2.GrantRequest(
                        actor=caller.user, user=request.user, level=request.level, target=target
                    ),
                    deadline,
                )
                continue
            reply = self.ports.access.revoke(
                access_pb2.RevokeRequest(
                    actor=caller.user, user=request.user, level=request.level, target=target
                ),
                deadline,
            )
            if (
                target.kind == access_pb2.TARGET_KIND_OFFER
                and target.offer_uuid
                and ends_consume(reply.previous, reply.effective)
            ):
                last = max(last, reply.sequence)
        if last:
            self.ports.relations.sync(
                relations_pb2.SyncRequest(source="access", sequence=last), Deadline.of(context)
            )

    @override
    @codes.unary
    def Grant(self, request: pb.GrantRequest, context: grpc.ServicerContext) -> pb.GrantResponse:
        self._change_access(True, request, context)
        return pb.GrantResponse()

    @override
    @codes.unary
    @nudges
    def Revoke(
        self, request: pb.RevokeRequest, context: grpc.ServicerContext
    ) -> pb.RevokeResponse:
        self._change_access(False, request, context)
        return pb.RevokeResponse()

    @override
    @codes.unary
    def ListAudit(
        self, request: pb.ListAuditRequest, context: grpc.ServicerContext
    ) -> pb.ListAuditResponse:
        caller = self._auth.caller(context)
        target = self._targets(caller, [request.target], context)[0] if request.target else None
        reply = self.ports.access.list_audit(
            access_pb2.ListAuditRequest(
                actor=caller.user,
                target=target,
                page_size=request.page_size,
                page_token=request.page_token,
            ),
            Deadline.of(context),
        )
        return pb.ListAuditResponse(entries=reply.entries, next_page_token=reply.next_page_token)

    # -- offers ----------------------------------------------------------------------------

    def _model_offers(
        self,
        model_uuid: str,
        context: grpc.ServicerContext,
        *,
        application: str = "",
        name: str = "",
        interface: str = "",
    ) -> list[offers_pb2.Offer]:
        """Every offer of a model that matches the filters (all pages)."""
        return list(
            pages(
                lambda token: self.ports.offers.list_offers(
                    offers_pb2.ListOffersRequest(
                        model_uuid=model_uuid,
                        application=application,
                        name=name,
                        interface=interface,
                        page_size=1000,
                        page_token=token,
                    ),
                    Deadline.of(context),
                ),
                lambda reply: reply.offers,
            )
        )

    def _delete_offer(
        self, offer: offers_pb2.Offer, *, force: bool, context: grpc.ServicerContext
    ) -> int:
        reply = self.ports.offers.delete_offer(
            offers_pb2.DeleteOfferRequest(offer_uuid=offer.uuid, force=force), Deadline.of(context)
        )
        self.ports.access.drop_target(
            access_pb2.DropTargetRequest(target=offer_target(offer)), Deadline.of(context)
        )
        return reply.removed_relations

    def _details(
        self, caller: Caller, held: Held, context: grpc.ServicerContext
    ) -> pb.OfferDetails:
        """An offer as the caller may see it: users and connections only for its admins."""
        entries = list(
            self.ports.access.list_access(
                access_pb2.ListAccessRequest(target=offer_target(held.offer)), Deadline.of(context)
            ).entries
        )
        offer = offers_pb2.Offer()
        offer.CopyFrom(held.offer)
        if held.level != "admin":
            del offer.connections[:]
            entries = [access_pb2.AccessEntry(user=caller.user, level=held.level)]
        return pb.OfferDetails(
            offer=offer,
            url=f"{self._controller(context).name}:{held.offer.url}",
            access=held.level,
            users=entries,
        )

    @override
    @codes.unary
    def Offer(self, request: pb.OfferRequest, context: grpc.ServicerContext) -> pb.OfferResponse:
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "admin", Deadline.of(context))
        endpoints: list[offers_pb2.ApplicationEndpoint] = []
        charm, summary = "", ""
        # an unknown application reaches the offers service as no endpoints at all, so that
        # its message names the offer (REFERENCE §2.1)
        app = self._cmr.find_application(model.uuid, request.application, Deadline.of(context))
        if app is not None:
            endpoints = [
                offers_pb2.ApplicationEndpoint(
                    name=e.name,
                    interface=e.interface,
                    role=ROLE_NAMES[e.role],
                    scope="container" if e.scope == placement_pb2.SCOPE_CONTAINER else "global",
                )
                for e in app.charm.endpoints
            ]
            charm = f"local:{app.charm.name}-{app.charm.revision}"
            summary = app.charm.summary
        reply = self.ports.offers.create_offer(
            offers_pb2.CreateOfferRequest(
                model_uuid=model.uuid,
                model_name=model.name,
                model_owner=model.owner,
                offer_name=request.offer_name,
                application=request.application,
                endpoints=request.endpoints,
                application_endpoints=endpoints,
                charm=charm,
                charm_summary=summary,
                created_by=caller.user,
            ),
            Deadline.of(context),
        )
        if reply.created:
            self.ports.access.init_target(
                access_pb2.InitTargetRequest(target=offer_target(reply.offer), owner=caller.user),
                Deadline.of(context),
            )
        details = self._details(caller, Held(offer=reply.offer, level="admin"), context)
        return pb.OfferResponse(
            offer=details, created=reply.created, previous_endpoints=reply.previous_endpoints
        )

    @override
    @codes.unary
    def ListOffers(
        self, request: pb.ListOffersRequest, context: grpc.ServicerContext
    ) -> pb.ListOffersResponse:
        """The model's offers the caller administers (REFERENCE §2.2's visibility table)."""
        caller = self._auth.caller(context)
        try:
            model = self._resolve.model(caller, request.model, "read", Deadline.of(context))
        except errors.NotFound:
            # an offer admin may list what they administer in a model they cannot read; to
            # anyone else the model stays invisible
            model = self._resolve.model(caller, request.model, "", Deadline.of(context))
            hidden = True
        else:
            hidden = False
        found = self._model_offers(
            model.uuid,
            context,
            application=request.application,
            name=request.name,
            interface=request.interface,
        )
        held = [
            h
            for h in self._resolve.readable(caller, found, Deadline.of(context))
            if h.level == "admin"
        ]
        if hidden and not held:
            owner, name = split_model_ref(request.model, caller.user)
            raise errors.NotFound(f'model "{owner}/{name}" not found')
        return pb.ListOffersResponse(offers=[self._details(caller, h, context) for h in held])

    @override
    @codes.unary
    def ShowOffer(
        self, request: pb.ShowOfferRequest, context: grpc.ServicerContext
    ) -> pb.ShowOfferResponse:
        caller = self._auth.caller(context)
        if not request.url:
            raise errors.Invalid("must specify endpoint URL")
        url = self._offer_ref(caller, request.url, request.model, context)
        held = self._resolve.offer(caller, url, "read", Deadline.of(context), connections=True)
        return pb.ShowOfferResponse(offer=self._details(caller, held, context))

    def _offer_ref(
        self, caller: Caller, ref: str, model: str, context: grpc.ServicerContext
    ) -> OfferURL:
        """A full offer URL, or a bare offer name in `model` (the current model)."""
        if "." not in ref and ":" not in ref and "/" not in ref:
            owner, name = split_model_ref(model, caller.user)
            ref = f"{owner}/{name}.{ref}"
        return self._resolve.offer_url(caller, ref, Deadline.of(context))

    @override
    @codes.unary
    def FindOffers(
        self, request: pb.FindOffersRequest, context: grpc.ServicerContext
    ) -> pb.FindOffersResponse:
        caller = self._auth.caller(context)
        term = OfferURL.parse_filter(request.url) if request.url else None
        name = self._controller(context).name
        if term is not None and term.source and term.source != name:
            raise errors.NotFound(f'controller "{term.source}" not found')
        if term is not None and term.offer and request.offer:
            raise errors.Invalid("cannot specify both a URL term and offer term")
        found = list(
            pages(
                lambda token: self.ports.offers.find_offers(
                    offers_pb2.FindOffersRequest(
                        model_owner=term.user if term else "",
                        model_name=term.model if term else "",
                        offer_name=(term.offer if term else "") or request.offer,
                        interface=request.interface,
                        endpoint=request.endpoint,
                        page_size=1000,
                        page_token=token,
                    ),
                    Deadline.of(context),
                ),
                lambda reply: reply.offers,
            )
        )
        held = self._resolve.readable(caller, found, Deadline.of(context))
        return pb.FindOffersResponse(offers=[self._details(caller, h, context) for h in held])

    @override
    @codes.unary
    @nudges
    def RemoveOffer(
        self, request: pb.RemoveOfferRequest, context: grpc.ServicerContext
    ) -> pb.RemoveOfferResponse:
        """Every offer is resolved and authorised before any is removed."""
        caller = self._auth.caller(context)
        if not request.urls:
            raise errors.Invalid("no offers specified")
        urls = [self._offer_ref(caller, u, request.model, context) for u in request.urls]
        with_endpoint = [str(u) for u in urls if u.endpoint]
        if with_endpoint:
            lines = "".join(f"\n -{u}" for u in with_endpoint)
            raise errors.Invalid(
                f"These offers contain endpoints. Only specify the offer name itself.{lines}"
            )
        held = [self._resolve.offer(caller, u, "admin", Deadline.of(context)) for u in urls]
        removed = sum(
            self._delete_offer(h.offer, force=request.force, context=context) for h in held
        )
        return pb.RemoveOfferResponse(removed_relations=removed)

    # -- relations -------------------------------------------------------------------------

    @override
    @codes.unary
    def AddRelation(
        self, request: pb.AddRelationRequest, context: grpc.ServicerContext
    ) -> pb.AddRelationResponse:
        """Relate two ends; an offer URL is consumed first, a SAAS makes it cross-model."""
        caller = self._auth.caller(context)
        model = self._resolve.model(
            caller, request.model, "read" if request.dry_run else "write", Deadline.of(context)
        )
        if looks_like_url(request.a) and looks_like_url(request.b):
            raise errors.Invalid("providing more than one remote endpoints not supported")
        via = parse_via(request.via)
        consume = not request.dry_run
        remote = request.remote if request.HasField("remote") else None
        a = self._cmr.side(
            caller, model, request.a, Deadline.of(context), consume=consume, remote=remote
        )
        b = self._cmr.side(
            caller, model, request.b, Deadline.of(context), consume=consume, remote=remote
        )
        saas = a.saas or b.saas
        if via and saas is None:
            raise errors.Invalid(
                "integration via subnets for non cross model relations not supported"
            )
        if saas is None or request.dry_run or (a.saas is not None and b.saas is not None):
            # two SAAS: the relations context gives Juju's refusal
            reply = self.ports.relations.add_relation(
                relations_pb2.AddRelationRequest(
                    model_uuid=model.uuid, a=a.side, b=b.side, dry_run=request.dry_run
                ),
                Deadline.of(context),
            )
            self._await_subordinates(reply.relation, reply.sequence, context)
            return pb.AddRelationResponse(relation=reply.relation, candidates=reply.candidates)
        try:
            relation = self._cmr.relate(
                caller, model, a.side, b.side, saas, via, Deadline.of(context)
            )
        except BaseException:
            # a SAAS this call consumed goes again: a refused relation changes nothing
            for end in (a, b):
                if end.saas is not None and end.consumed:
                    self._remove_saas(model.uuid, end.saas.name, context)
            raise
        return pb.AddRelationResponse(relation=relation)

    @override
    @codes.unary
    @nudges
    def RemoveRelation(
        self, request: pb.RemoveRelationRequest, context: grpc.ServicerContext
    ) -> pb.RemoveRelationResponse:
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "write", Deadline.of(context))
        reply = self.ports.relations.remove_relation(
            relations_pb2.RemoveRelationRequest(
                model_uuid=model.uuid, a=request.a, b=request.b, id=request.id, by_id=request.by_id
            ),
            Deadline.of(context),
        )
        self._await_subordinates(reply.relation, reply.sequence, context)
        return pb.RemoveRelationResponse(relation=reply.relation)

    def _await_subordinates(
        self, relation: relations_pb2.Relation, sequence: int, context: grpc.ServicerContext
    ) -> None:
        """Wait until placement has made or removed a container relation's subordinate units.

        DESIGN's read-your-writes: the command returns after the units exist, under the call's
        deadline.
        """
        if relation.scope != "container" or sequence <= 0:
            return
        self.ports.placement.sync(
            placement_pb2.SyncRequest(source="relations", sequence=sequence), Deadline.of(context)
        )

    @override
    @codes.unary
    @nudges
    def SuspendRelation(
        self, request: pb.SuspendRelationRequest, context: grpc.ServicerContext
    ) -> pb.SuspendRelationResponse:
        """Only in the offering model, by its admin (REFERENCE §5.3)."""
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "admin", Deadline.of(context))
        reply = self.ports.relations.suspend_relation(
            relations_pb2.SuspendRelationRequest(
                model_uuid=model.uuid, ids=request.ids, message=request.message
            ),
            Deadline.of(context),
        )
        return pb.SuspendRelationResponse(relations=reply.relations)

    @override
    @codes.unary
    @nudges
    def ResumeRelation(
        self, request: pb.ResumeRelationRequest, context: grpc.ServicerContext
    ) -> pb.ResumeRelationResponse:
        """Each connection's user must still have consume on the offer (REFERENCE §3.3).

        The firewall check runs again: a relation whose ingress the allow-list now refuses
        resumes into `error` with Juju's message rather than `joined`.
        """
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "admin", Deadline.of(context))
        refused = self._cmr.check_resumable(model, request.ids, Deadline.of(context))
        reply = self.ports.relations.resume_relation(
            relations_pb2.ResumeRelationRequest(
                model_uuid=model.uuid, ids=request.ids, refused=refused
            ),
            Deadline.of(context),
        )
        return pb.ResumeRelationResponse(relations=reply.relations)

    # -- consume and SAAS ------------------------------------------------------------------

    @override
    @codes.unary
    def Consume(
        self, request: pb.ConsumeRequest, context: grpc.ServicerContext
    ) -> pb.ConsumeResponse:
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "write", Deadline.of(context))
        remote = request.remote if request.HasField("remote") else None
        saas, url = self._cmr.consume(
            caller, model, request.url, request.alias, Deadline.of(context), remote
        )
        return pb.ConsumeResponse(saas=saas, url=url)

    @override
    @codes.unary
    @nudges
    def RemoveSaas(
        self, request: pb.RemoveSaasRequest, context: grpc.ServicerContext
    ) -> pb.RemoveSaasResponse:
        """All the SAAS's relations go first (both halves), then the SAAS (REFERENCE §4.3)."""
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "write", Deadline.of(context))
        if self._cmr.find_saas(model.uuid, request.name, Deadline.of(context)) is None:
            raise errors.NotFound(f'saas application "{request.name}" not found')
        removed = self._remove_saas(model.uuid, request.name, context)
        return pb.RemoveSaasResponse(removed_relations=removed)

    def _remove_saas(self, model_uuid: str, name: str, context: grpc.ServicerContext) -> int:
        reply = self.ports.relations.remove_application_relations(
            relations_pb2.RemoveApplicationRelationsRequest(
                model_uuid=model_uuid, application=name
            ),
            Deadline.of(context),
        )
        self.ports.offers.remove_saas(
            offers_pb2.RemoveSaasRequest(model_uuid=model_uuid, name=name), Deadline.of(context)
        )
        return reply.removed

    # -- firewall --------------------------------------------------------------------------

    @override
    @codes.unary
    def SetFirewallRule(
        self, request: pb.SetFirewallRuleRequest, context: grpc.ServicerContext
    ) -> pb.SetFirewallRuleResponse:
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "admin", Deadline.of(context))
        reply = self.ports.offers.set_firewall_rule(
            offers_pb2.SetFirewallRuleRequest(
                model_uuid=model.uuid, service=request.service, allowlist=request.allowlist
            ),
            Deadline.of(context),
        )
        return pb.SetFirewallRuleResponse(rule=reply.rule)

    @override
    @codes.unary
    def ListFirewallRules(
        self, request: pb.ListFirewallRulesRequest, context: grpc.ServicerContext
    ) -> pb.ListFirewallRulesResponse:
        caller = self._auth.caller(context)
        model = self._resolve.model(caller, request.model, "read", Deadline.of(context))
        reply = self.ports.offers.list_firewall_rules(
            offers_pb2.ListFirewallRulesRequest(model_uuid=model.uuid), Deadline.of(context)
        )
        return pb.ListFirewallRulesResponse(rules=reply.rules)

    # -- across controllers ----------------------------------------------------------------

    @override
    @codes.unary
    def GetConsumeDetails(
        self, request: pb.GetConsumeDetailsRequest, context: grpc.ServicerContext
    ) -> pb.GetConsumeDetailsResponse:
        """For a client consuming from another controller: the offer and a consume token."""
        caller = self._auth.caller(context)
        if not request.source_model_uuid:
            raise errors.Invalid("the consuming model's UUID is required")
        url = self._resolve.offer_url(caller, request.url, Deadline.of(context))
        offer = self._resolve.offer(
            caller, url, "consume", Deadline.of(context)
        ).offer  # no connections
        token = self._cmr.issue_token(
            user=caller.user,
            offer_model_uuid=offer.model_uuid,
            offer_uuid=offer.uuid,
            source_model_uuid=request.source_model_uuid,
            kind="consume",
            deadline=Deadline.of(context),
        )
        identity = self._controller(context)
        return pb.GetConsumeDetailsResponse(
            offer=offer,
            consume_token=token,
            controller_uuid=identity.uuid,
            controller_name=identity.name,
        )

    @override
    @codes.unary
    def GetControllerIdentity(
        self, request: pb.GetControllerIdentityRequest, context: grpc.ServicerContext
    ) -> pb.GetControllerIdentityResponse:
        identity = self._controller(context)
        return pb.GetControllerIdentityResponse(uuid=identity.uuid, name=identity.name)

    @override
    @codes.unary
    def RegisterRemoteRelation(
        self, request: pb.RegisterRemoteRelationRequest, context: grpc.ServicerContext
    ) -> pb.RegisterRemoteRelationResponse:
        return self._cmr.register_remote(request, Deadline.of(context))

    @override
    @codes.unary
    def GetRemoteRelation(
        self, request: pb.GetRemoteRelationRequest, context: grpc.ServicerContext
    ) -> pb.GetRemoteRelationResponse:
        half = self.reconciler.verify(request.credential, request.token, Deadline.of(context))
        if half is None:
            return pb.GetRemoteRelationResponse(exists=False)
        offered = ""
        if half.relation.cross_model.side == Half.OFFERER:
            local = next((e for e in half.relation.endpoints if not e.remote), None)
            app = (
                self._cmr.find_application(
                    half.model_uuid, local.application, Deadline.of(context)
                )
                if local is not None
                else None
            )
            offered = app.status if app is not None else ""
        return pb.GetRemoteRelationResponse(
            exists=True,
            suspended=half.relation.suspended,
            reason=half.relation.suspended_reason,
            status=half.relation.status,
            application_status=offered,
        )

    @override
    @codes.unary
    def Nudge(self, request: pb.NudgeRequest, context: grpc.ServicerContext) -> pb.NudgeResponse:
        """The peer changed its half: look again now (authentic credential needed)."""
        self.reconciler.verify(
            request.credential, request.token, Deadline.of(context), authentic_only=True
        )
        self.reconciler.reconcile(Deadline.of(context), request.token)
        return pb.NudgeResponse()

    @override
    @codes.unary
    def RenewToken(
        self, request: pb.RenewTokenRequest, context: grpc.ServicerContext
    ) -> pb.RenewTokenResponse:
        """Renew a token this controller issued; consume is checked again for its user.

        The token's (as yet unchecked) offer names the offering model access checks consume
        on; access then checks the token itself, so a forged claim gains nothing.
        """
        claimed = tokens.peek(request.token)
        offer_model = ""
        if claimed is not None and claimed.kind != tokens.CALLBACK:
            offer = self._cmr.offer(claimed.offer_uuid, Deadline.of(context))
            if offer is None:
                raise errors.NotFound(f'application offer "{claimed.offer_uuid}" not found')
            offer_model = offer.model_uuid
        reply = self.ports.access.renew_offer_token(
            access_pb2.RenewOfferTokenRequest(token=request.token, offer_model_uuid=offer_model),
            Deadline.of(context),
        )
        return pb.RenewTokenResponse(token=reply.token)


def build_server(
    config: Config,
    *,
    bound: Bound | None = None,
    local: Mapping[str, LocalTarget] | None = None,
) -> Built:
    """Build the gateway on `bound` or `config.bind_address("gateway")`.

    It calls each service through its target in `local` when the service is built in this
    process, else over a channel to `config.address_of(...)`. Other controllers reach it at
    `config.advertise_address`, or at its host and bound port; it reconciles cross-controller
    relations every `config.reconcile_seconds` seconds once started.
    """
    with binding(bound, SERVICE_NAME, config.bind_address("gateway")) as bound:
        peers = Peers(config, local)
        cache = peers.cache = ReadCache(peers.addresses, local)
        host = config.host if config.host not in ("", "0.0.0.0", "::") else "127.0.0.1"  # noqa: S104 - comparing, not binding
        gateway = Gateway(peers, config.advertise_address or f"{host}:{bound.port}")

        def close() -> None:
            gateway.reconciler.stop()
            cache.stop()
            gateway.remote.close()
            peers.close()

        return bound.build(
            gateway,
            interceptors=(WriteFence(peers),),
            starters=(lambda: gateway.reconciler.start(config.reconcile_seconds), cache.start),
            closers=(close,),
        )
