"""The gateway servicer: authenticate, authorise, call the owning service, compose status."""

from __future__ import annotations

import threading
from typing import Final

import grpc
from typing_extensions import override

from cmr.access.v1 import access_pb2
from cmr.gateway.v1 import gateway_pb2 as pb
from cmr.gateway.v1 import gateway_pb2_grpc
from cmr.placement.v1 import placement_pb2
from gateway import status as status_view
from gateway.auth import Authenticator, Caller
from gateway.peers import Peers
from services.common import errors
from services.common import status as codes
from services.common.config import Config
from services.common.server import Built, new_server

SERVICE_NAME: Final = "cmr.gateway.v1.GatewayService"


def split_model_ref(ref: str, caller: str) -> tuple[str, str]:
    """Split `[owner/]name` into owner and name; a missing owner means the caller.

    Raises:
        Invalid: the reference is empty or has more than one `/`.
    """
    if not ref:
        raise errors.Invalid("no model specified: pass -m MODEL or run cmr switch MODEL")
    owner, slash, name = ref.rpartition("/")
    if not slash:
        return caller, ref
    if not owner or not name or "/" in owner:
        raise errors.Invalid(f'model name "{ref}" not valid: expected [owner/]name')
    return owner, name


class Gateway(gateway_pb2_grpc.GatewayServiceServicer):
    """The one public API of a controller."""

    def __init__(self, peers: Peers) -> None:
        self._peers = peers
        self._auth = Authenticator(peers)
        self._identity: access_pb2.GetControllerInfoResponse | None = None
        self._identity_lock = threading.Lock()

    # -- helpers ---------------------------------------------------------------------------

    def _controller(self, context: grpc.ServicerContext) -> access_pb2.GetControllerInfoResponse:
        with self._identity_lock:
            if self._identity is None:
                self._identity = self._peers.ask(
                    "access",
                    self._peers.access.GetControllerInfo,
                    access_pb2.GetControllerInfoRequest(),
                    context,
                )
            return self._identity

    def _model(
        self, caller: Caller, ref: str, context: grpc.ServicerContext
    ) -> placement_pb2.Model:
        """Resolve a model reference the caller may act on.

        A model the caller may not see answers NOT_FOUND, like a missing one, so that its
        existence does not leak. Finer model permissions arrive with the access context.
        """
        owner, name = split_model_ref(ref, caller.user)
        try:
            model = self._peers.ask(
                "placement",
                self._peers.placement.GetModel,
                placement_pb2.GetModelRequest(owner=owner, name=name),
                context,
            ).model
        except grpc.RpcError as err:
            if isinstance(err, grpc.Call) and err.code() == grpc.StatusCode.NOT_FOUND:
                raise errors.NotFound(f'model "{owner}/{name}" not found') from None
            raise
        if not (caller.superuser or model.owner == caller.user):
            raise errors.NotFound(f'model "{owner}/{name}" not found')
        return model

    # -- sessions --------------------------------------------------------------------------

    @override
    @codes.unary
    def Login(self, request: pb.LoginRequest, context: grpc.ServicerContext) -> pb.LoginResponse:
        reply = self._peers.ask(
            "access",
            self._peers.access.Login,
            access_pb2.LoginRequest(user=request.user, password=request.password),
            context,
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
        self._peers.ask(
            "access",
            self._peers.access.Logout,
            access_pb2.LogoutRequest(token=caller.token),
            context,
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
        reply = self._peers.ask(
            "placement",
            self._peers.placement.AddModel,
            placement_pb2.AddModelRequest(name=request.name, owner=caller.user),
            context,
        )
        return pb.AddModelResponse(model=reply.model)

    @override
    @codes.unary
    def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.ServicerContext
    ) -> pb.ListModelsResponse:
        caller = self._auth.caller(context)
        reply = self._peers.ask(
            "placement",
            self._peers.placement.ListModels,
            placement_pb2.ListModelsRequest(
                owner="" if caller.superuser else caller.user,
                page_size=request.page_size,
                page_token=request.page_token,
            ),
            context,
        )
        return pb.ListModelsResponse(models=reply.models, next_page_token=reply.next_page_token)

    @override
    @codes.unary
    def DestroyModel(
        self, request: pb.DestroyModelRequest, context: grpc.ServicerContext
    ) -> pb.DestroyModelResponse:
        caller = self._auth.caller(context)
        model = self._model(caller, request.model, context)
        self._peers.ask(
            "placement",
            self._peers.placement.DestroyModel,
            placement_pb2.DestroyModelRequest(model_uuid=model.uuid),
            context,
        )
        return pb.DestroyModelResponse()

    @override
    @codes.unary
    def GetModelConfig(
        self, request: pb.GetModelConfigRequest, context: grpc.ServicerContext
    ) -> pb.GetModelConfigResponse:
        caller = self._auth.caller(context)
        model = self._model(caller, request.model, context)
        reply = self._peers.ask(
            "placement",
            self._peers.placement.GetModelConfig,
            placement_pb2.GetModelConfigRequest(model_uuid=model.uuid),
            context,
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
        model = self._model(caller, request.model, context)
        reply = self._peers.ask(
            "placement",
            self._peers.placement.SetModelConfig,
            placement_pb2.SetModelConfigRequest(model_uuid=model.uuid, config=request.config),
            context,
        )
        return pb.SetModelConfigResponse(config=reply.config)

    # -- applications, units, machines -----------------------------------------------------

    @override
    @codes.unary
    def Deploy(
        self, request: pb.DeployRequest, context: grpc.ServicerContext
    ) -> pb.DeployResponse:
        caller = self._auth.caller(context)
        model = self._model(caller, request.model, context)
        reply = self._peers.ask(
            "placement",
            self._peers.placement.Deploy,
            placement_pb2.DeployRequest(
                model_uuid=model.uuid,
                metadata_yaml=request.metadata_yaml,
                application=request.application,
                num_units=request.num_units,
                to=request.to,
            ),
            context,
        )
        return pb.DeployResponse(application=reply.application, units=reply.units)

    @override
    @codes.unary
    def AddUnit(
        self, request: pb.AddUnitRequest, context: grpc.ServicerContext
    ) -> pb.AddUnitResponse:
        caller = self._auth.caller(context)
        model = self._model(caller, request.model, context)
        reply = self._peers.ask(
            "placement",
            self._peers.placement.AddUnit,
            placement_pb2.AddUnitRequest(
                model_uuid=model.uuid,
                application=request.application,
                num_units=request.num_units,
                to=request.to,
            ),
            context,
        )
        return pb.AddUnitResponse(units=reply.units)

    @override
    @codes.unary
    def RemoveUnit(
        self, request: pb.RemoveUnitRequest, context: grpc.ServicerContext
    ) -> pb.RemoveUnitResponse:
        caller = self._auth.caller(context)
        model = self._model(caller, request.model, context)
        self._peers.ask(
            "placement",
            self._peers.placement.RemoveUnit,
            placement_pb2.RemoveUnitRequest(model_uuid=model.uuid, units=request.units),
            context,
        )
        return pb.RemoveUnitResponse()

    @override
    @codes.unary
    def RemoveApplication(
        self, request: pb.RemoveApplicationRequest, context: grpc.ServicerContext
    ) -> pb.RemoveApplicationResponse:
        caller = self._auth.caller(context)
        model = self._model(caller, request.model, context)
        reply = self._peers.ask(
            "placement",
            self._peers.placement.RemoveApplication,
            placement_pb2.RemoveApplicationRequest(
                model_uuid=model.uuid, application=request.application, force=request.force
            ),
            context,
        )
        return pb.RemoveApplicationResponse(removed_units=reply.removed_units)

    @override
    @codes.unary
    def AddMachine(
        self, request: pb.AddMachineRequest, context: grpc.ServicerContext
    ) -> pb.AddMachineResponse:
        caller = self._auth.caller(context)
        model = self._model(caller, request.model, context)
        reply = self._peers.ask(
            "placement",
            self._peers.placement.AddMachine,
            placement_pb2.AddMachineRequest(model_uuid=model.uuid, count=request.count),
            context,
        )
        return pb.AddMachineResponse(machines=reply.machines)

    @override
    @codes.unary
    def RemoveMachine(
        self, request: pb.RemoveMachineRequest, context: grpc.ServicerContext
    ) -> pb.RemoveMachineResponse:
        caller = self._auth.caller(context)
        model = self._model(caller, request.model, context)
        self._peers.ask(
            "placement",
            self._peers.placement.RemoveMachine,
            placement_pb2.RemoveMachineRequest(
                model_uuid=model.uuid, machines=request.machines, force=request.force
            ),
            context,
        )
        return pb.RemoveMachineResponse()

    # -- status ----------------------------------------------------------------------------

    @override
    @codes.unary
    def GetStatus(
        self, request: pb.GetStatusRequest, context: grpc.ServicerContext
    ) -> pb.GetStatusResponse:
        caller = self._auth.caller(context)
        model = self._model(caller, request.model, context)
        placement = self._peers.ask(
            "placement",
            self._peers.placement.GetModelStatus,
            placement_pb2.GetModelStatusRequest(model_uuid=model.uuid),
            context,
        )
        return status_view.compose(placement, controller=self._controller(context).name)


def build_server(config: Config) -> Built:
    """Build the gateway on `config.bind_address("gateway")`, with channels to the services."""
    peers = Peers(config)
    gateway = Gateway(peers)
    return new_server(
        SERVICE_NAME,
        lambda s: gateway_pb2_grpc.add_GatewayServiceServicer_to_server(gateway, s),
        config.bind_address("gateway"),
        closers=(peers.close,),
    )
