"""The gateway's public services: each servicer authenticates, calls one use case, converts."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

import grpc
from typing_extensions import override

from cmr.access.v1 import access_pb2
from cmr.gateway.v1 import gateway_pb2 as pb
from cmr.gateway.v1 import gateway_pb2_grpc
from gateway import status as status_view
from services.common import status as codes
from services.common.deadline import Deadline

if TYPE_CHECKING:
    from gateway.server import Gateway

Req = TypeVar("Req")
Resp = TypeVar("Resp")
S = TypeVar("S", bound="_Servicer")


def nudges(
    method: Callable[[S, Req, grpc.ServicerContext], Resp],
) -> Callable[[S, Req, grpc.ServicerContext], Resp]:
    """Wrap a command that may change cross-controller halves; then nudge their peers.

    Each half it changed or removed has its peer controller told to look again (see
    `gateway.app.reconcile`).
    """

    @functools.wraps(method)
    def wrapper(self: S, request: Req, context: grpc.ServicerContext) -> Resp:
        with self.reconciler.nudging(Deadline.of(context)):
            return method(self, request, context)

    return wrapper


class _Servicer:
    """What every servicer of the gateway calls: the shared parts of one `Gateway`.

    The servicers are the gateway's own edge: they take its parts directly.
    """

    def __init__(self, gateway: Gateway) -> None:
        self.ports = gateway.ports
        self.reconciler = gateway.reconciler
        self._auth = gateway.auth
        self._resolve = gateway.resolve
        self._cmr = gateway.cmr
        self._users = gateway.users

    def _controller(self, context: grpc.ServicerContext) -> access_pb2.GetControllerInfoResponse:
        return self._resolve.controller(Deadline.of(context))


class SessionServicer(_Servicer, gateway_pb2_grpc.SessionServiceServicer):
    """Sessions: log in and out, who the caller is."""

    @override
    @codes.unary
    def Ping(self, request: pb.PingRequest, context: grpc.ServicerContext) -> pb.PingResponse:
        """Answer at once, with no authentication: the benchmarks' baseline."""
        return pb.PingResponse()

    @override
    @codes.unary
    def Login(self, request: pb.LoginRequest, context: grpc.ServicerContext) -> pb.LoginResponse:
        reply = self._users.login(request.user, request.password, Deadline.of(context))
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
        self._users.logout(caller, Deadline.of(context))
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


class UserServicer(_Servicer, gateway_pb2_grpc.UserServiceServicer):
    """Users and their access levels."""

    def __init__(self, gateway: Gateway) -> None:
        super().__init__(gateway)
        self._access = gateway.access

    @override
    @codes.unary
    def AddUser(
        self, request: pb.AddUserRequest, context: grpc.ServicerContext
    ) -> pb.AddUserResponse:
        caller = self._auth.caller(context)
        reply = self._users.add(caller, request.name, request.display_name, Deadline.of(context))
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
        reply = self._users.register(
            request.user, request.secret, request.password, Deadline.of(context)
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
        self._users.change_password(caller, request.user, request.password, Deadline.of(context))
        return pb.ChangeUserPasswordResponse()

    @override
    @codes.unary
    def SetUserEnabled(
        self, request: pb.SetUserEnabledRequest, context: grpc.ServicerContext
    ) -> pb.SetUserEnabledResponse:
        caller = self._auth.caller(context)
        self._users.set_enabled(caller, request.user, request.enabled, Deadline.of(context))
        self._auth.forget_all()
        return pb.SetUserEnabledResponse()

    @override
    @codes.unary
    def ListUsers(
        self, request: pb.ListUsersRequest, context: grpc.ServicerContext
    ) -> pb.ListUsersResponse:
        self._auth.caller(context)
        reply = self._users.listed(
            request.include_disabled, request.page_size, request.page_token, Deadline.of(context)
        )
        return pb.ListUsersResponse(users=reply.users, next_page_token=reply.next_page_token)

    @override
    @codes.unary
    def Grant(self, request: pb.GrantRequest, context: grpc.ServicerContext) -> pb.GrantResponse:
        caller = self._auth.caller(context)
        self._access.grant(
            caller, request.user, request.level, request.targets, Deadline.of(context)
        )
        return pb.GrantResponse()

    @override
    @codes.unary
    @nudges
    def Revoke(
        self, request: pb.RevokeRequest, context: grpc.ServicerContext
    ) -> pb.RevokeResponse:
        caller = self._auth.caller(context)
        self._access.revoke(
            caller, request.user, request.level, request.targets, Deadline.of(context)
        )
        return pb.RevokeResponse()

    @override
    @codes.unary
    def ListAudit(
        self, request: pb.ListAuditRequest, context: grpc.ServicerContext
    ) -> pb.ListAuditResponse:
        caller = self._auth.caller(context)
        reply = self._access.audit(
            caller, request.target, request.page_size, request.page_token, Deadline.of(context)
        )
        return pb.ListAuditResponse(entries=reply.entries, next_page_token=reply.next_page_token)


class ModelServicer(_Servicer, gateway_pb2_grpc.ModelServiceServicer):
    """What is in a model: applications, units, machines, relations, status."""

    def __init__(self, gateway: Gateway) -> None:
        super().__init__(gateway)
        self._models = gateway.models
        self._status = gateway.status
        self._applications = gateway.applications
        self._relations = gateway.relations

    @override
    @codes.unary
    def AddModel(
        self, request: pb.AddModelRequest, context: grpc.ServicerContext
    ) -> pb.AddModelResponse:
        caller = self._auth.caller(context)
        return pb.AddModelResponse(
            model=self._models.add(caller, request.name, Deadline.of(context))
        )

    @override
    @codes.unary
    def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.ServicerContext
    ) -> pb.ListModelsResponse:
        caller = self._auth.caller(context)
        models, token = self._models.visible(
            caller, request.page_size, request.page_token, Deadline.of(context)
        )
        return pb.ListModelsResponse(models=models, next_page_token=token)

    @override
    @codes.unary
    @nudges
    def DestroyModel(
        self, request: pb.DestroyModelRequest, context: grpc.ServicerContext
    ) -> pb.DestroyModelResponse:
        caller = self._auth.caller(context)
        self._models.destroy(caller, request.model, Deadline.of(context))
        return pb.DestroyModelResponse()

    @override
    @codes.unary
    def GetModelConfig(
        self, request: pb.GetModelConfigRequest, context: grpc.ServicerContext
    ) -> pb.GetModelConfigResponse:
        caller = self._auth.caller(context)
        config = self._models.config(caller, request.model, request.keys, Deadline.of(context))
        return pb.GetModelConfigResponse(config=config)

    @override
    @codes.unary
    def SetModelConfig(
        self, request: pb.SetModelConfigRequest, context: grpc.ServicerContext
    ) -> pb.SetModelConfigResponse:
        caller = self._auth.caller(context)
        config = self._models.set_config(
            caller, request.model, request.config, Deadline.of(context)
        )
        return pb.SetModelConfigResponse(config=config)

    @override
    @codes.unary
    def Deploy(
        self, request: pb.DeployRequest, context: grpc.ServicerContext
    ) -> pb.DeployResponse:
        caller = self._auth.caller(context)
        reply = self._applications.deploy(
            caller,
            request.model,
            request.metadata_yaml,
            request.application,
            request.num_units,
            request.to,
            Deadline.of(context),
        )
        return pb.DeployResponse(application=reply.application, units=reply.units)

    @override
    @codes.unary
    def AddUnit(
        self, request: pb.AddUnitRequest, context: grpc.ServicerContext
    ) -> pb.AddUnitResponse:
        caller = self._auth.caller(context)
        units = self._applications.add_unit(
            caller,
            request.model,
            request.application,
            request.num_units,
            request.to,
            Deadline.of(context),
        )
        return pb.AddUnitResponse(units=units)

    @override
    @codes.unary
    def RemoveUnit(
        self, request: pb.RemoveUnitRequest, context: grpc.ServicerContext
    ) -> pb.RemoveUnitResponse:
        caller = self._auth.caller(context)
        self._applications.remove_unit(caller, request.model, request.units, Deadline.of(context))
        return pb.RemoveUnitResponse()

    @override
    @codes.unary
    @nudges
    def RemoveApplication(
        self, request: pb.RemoveApplicationRequest, context: grpc.ServicerContext
    ) -> pb.RemoveApplicationResponse:
        caller = self._auth.caller(context)
        removed = self._applications.remove(
            caller, request.model, request.application, request.force, Deadline.of(context)
        )
        return pb.RemoveApplicationResponse(removed_units=removed)

    @override
    @codes.unary
    def AddMachine(
        self, request: pb.AddMachineRequest, context: grpc.ServicerContext
    ) -> pb.AddMachineResponse:
        caller = self._auth.caller(context)
        machines = self._applications.add_machine(
            caller, request.model, request.count, Deadline.of(context)
        )
        return pb.AddMachineResponse(machines=machines)

    @override
    @codes.unary
    def RemoveMachine(
        self, request: pb.RemoveMachineRequest, context: grpc.ServicerContext
    ) -> pb.RemoveMachineResponse:
        caller = self._auth.caller(context)
        self._applications.remove_machine(
            caller, request.model, request.machines, request.force, Deadline.of(context)
        )
        return pb.RemoveMachineResponse()

    @override
    @codes.unary
    def AddRelation(
        self, request: pb.AddRelationRequest, context: grpc.ServicerContext
    ) -> pb.AddRelationResponse:
        caller = self._auth.caller(context)
        return self._relations.add(
            caller,
            request.model,
            request.a,
            request.b,
            request.via,
            Deadline.of(context),
            dry_run=request.dry_run,
            remote=request.remote if request.HasField("remote") else None,
        )

    @override
    @codes.unary
    @nudges
    def RemoveRelation(
        self, request: pb.RemoveRelationRequest, context: grpc.ServicerContext
    ) -> pb.RemoveRelationResponse:
        caller = self._auth.caller(context)
        relation = self._relations.remove(
            caller,
            request.model,
            request.a,
            request.b,
            request.id,
            request.by_id,
            Deadline.of(context),
        )
        return pb.RemoveRelationResponse(relation=relation)

    @override
    @codes.unary
    def GetStatus(
        self, request: pb.GetStatusRequest, context: grpc.ServicerContext
    ) -> pb.GetStatusResponse:
        caller = self._auth.caller(context)
        return self._status.model(caller, request.model, request.patterns, Deadline.of(context))

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


class CrossModelServicer(_Servicer, gateway_pb2_grpc.CrossModelServiceServicer):
    """Offers, consuming them, suspending and resuming their relations, firewall rules."""

    def __init__(self, gateway: Gateway) -> None:
        super().__init__(gateway)
        self._offers = gateway.offers
        self._relations = gateway.relations

    @override
    @codes.unary
    def Offer(self, request: pb.OfferRequest, context: grpc.ServicerContext) -> pb.OfferResponse:
        caller = self._auth.caller(context)
        return self._offers.offer(
            caller,
            request.model,
            request.application,
            request.endpoints,
            request.offer_name,
            Deadline.of(context),
        )

    @override
    @codes.unary
    def ListOffers(
        self, request: pb.ListOffersRequest, context: grpc.ServicerContext
    ) -> pb.ListOffersResponse:
        caller = self._auth.caller(context)
        offers = self._offers.administered(
            caller,
            request.model,
            Deadline.of(context),
            application=request.application,
            name=request.name,
            interface=request.interface,
        )
        return pb.ListOffersResponse(offers=offers)

    @override
    @codes.unary
    def ShowOffer(
        self, request: pb.ShowOfferRequest, context: grpc.ServicerContext
    ) -> pb.ShowOfferResponse:
        caller = self._auth.caller(context)
        offer = self._offers.show(caller, request.url, request.model, Deadline.of(context))
        return pb.ShowOfferResponse(offer=offer)

    @override
    @codes.unary
    def FindOffers(
        self, request: pb.FindOffersRequest, context: grpc.ServicerContext
    ) -> pb.FindOffersResponse:
        caller = self._auth.caller(context)
        offers = self._offers.find(
            caller,
            request.url,
            request.offer,
            request.interface,
            request.endpoint,
            Deadline.of(context),
        )
        return pb.FindOffersResponse(offers=offers)

    @override
    @codes.unary
    @nudges
    def RemoveOffer(
        self, request: pb.RemoveOfferRequest, context: grpc.ServicerContext
    ) -> pb.RemoveOfferResponse:
        caller = self._auth.caller(context)
        removed = self._offers.remove(
            caller, request.urls, request.model, request.force, Deadline.of(context)
        )
        return pb.RemoveOfferResponse(removed_relations=removed)

    @override
    @codes.unary
    def GetConsumeDetails(
        self, request: pb.GetConsumeDetailsRequest, context: grpc.ServicerContext
    ) -> pb.GetConsumeDetailsResponse:
        """For a client consuming from another controller: the offer and a consume token."""
        caller = self._auth.caller(context)
        return self._cmr.consume_details(
            caller, request.url, request.source_model_uuid, Deadline.of(context)
        )

    @override
    @codes.unary
    def Consume(
        self, request: pb.ConsumeRequest, context: grpc.ServicerContext
    ) -> pb.ConsumeResponse:
        caller = self._auth.caller(context)
        saas, url = self._relations.consume(
            caller,
            request.model,
            request.url,
            request.alias,
            Deadline.of(context),
            request.remote if request.HasField("remote") else None,
        )
        return pb.ConsumeResponse(saas=saas, url=url)

    @override
    @codes.unary
    @nudges
    def RemoveSaas(
        self, request: pb.RemoveSaasRequest, context: grpc.ServicerContext
    ) -> pb.RemoveSaasResponse:
        caller = self._auth.caller(context)
        removed = self._relations.remove_saas(
            caller, request.model, request.name, Deadline.of(context)
        )
        return pb.RemoveSaasResponse(removed_relations=removed)

    @override
    @codes.unary
    @nudges
    def SuspendRelation(
        self, request: pb.SuspendRelationRequest, context: grpc.ServicerContext
    ) -> pb.SuspendRelationResponse:
        caller = self._auth.caller(context)
        relations = self._relations.suspend(
            caller, request.model, request.ids, request.message, Deadline.of(context)
        )
        return pb.SuspendRelationResponse(relations=relations)

    @override
    @codes.unary
    @nudges
    def ResumeRelation(
        self, request: pb.ResumeRelationRequest, context: grpc.ServicerContext
    ) -> pb.ResumeRelationResponse:
        caller = self._auth.caller(context)
        relations = self._relations.resume(
            caller, request.model, request.ids, Deadline.of(context)
        )
        return pb.ResumeRelationResponse(relations=relations)

    @override
    @codes.unary
    def SetFirewallRule(
        self, request: pb.SetFirewallRuleRequest, context: grpc.ServicerContext
    ) -> pb.SetFirewallRuleResponse:
        caller = self._auth.caller(context)
        rule = self._offers.set_firewall_rule(
            caller, request.model, request.service, request.allowlist, Deadline.of(context)
        )
        return pb.SetFirewallRuleResponse(rule=rule)

    @override
    @codes.unary
    def ListFirewallRules(
        self, request: pb.ListFirewallRulesRequest, context: grpc.ServicerContext
    ) -> pb.ListFirewallRulesResponse:
        caller = self._auth.caller(context)
        rules = self._offers.firewall_rules(caller, request.model, Deadline.of(context))
        return pb.ListFirewallRulesResponse(rules=rules)


class CrossControllerServicer(_Servicer, gateway_pb2_grpc.CrossControllerServiceServicer):
    """What another controller's gateway asks this one."""

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
        return self.reconciler.state(request.credential, request.token, Deadline.of(context))

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
        """Renew a token this controller issued; consume is checked again for its user."""
        return pb.RenewTokenResponse(
            token=self._cmr.renew_token(request.token, Deadline.of(context))
        )
