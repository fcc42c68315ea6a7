"""The operations `cmr-load` can call: one table from (service, operation) to a call builder.

Each entry builds, once per client channel, a function that makes one call with a per-call
timeout and returns its awaitable. Adding an operation is adding a row to `OPERATIONS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from google.protobuf.message import Message
from grpc import aio

from cmr.access.v1 import access_pb2, access_pb2_grpc
from cmr.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from cmr.offers.v1 import offers_pb2, offers_pb2_grpc
from cmr.placement.v1 import placement_pb2, placement_pb2_grpc
from cmr.relations.v1 import relations_pb2, relations_pb2_grpc

Invoke = Callable[[float], Awaitable[object]]
"""One call of an operation, given its timeout in seconds; raises `grpc.aio.AioRpcError`."""


@dataclass(frozen=True)
class Params:
    """What operations need besides the channel: session metadata and their targets."""

    metadata: tuple[tuple[str, str], ...] = ()
    """Sent with every call that needs a session (`authorization: Bearer <token>`)."""
    model: str = ""
    """Gateway model, `[owner/]name` (`status`)."""
    offer: str = ""
    """Gateway offer URL (`show-offer`)."""
    model_uuid: str = ""
    """Model UUID for the services' per-model reads."""


Build = Callable[[aio.Channel, Params], Invoke]


@dataclass(frozen=True)
class Operation:
    """One row of the table."""

    build: Build
    """Makes the call function for one channel."""
    rpc: str
    """The RPC it calls, for help texts."""
    needs: tuple[str, ...] = ()
    """`Params` fields that must be set (each is the option `--<field with dashes>`)."""
    auth: bool = False
    """True when it needs a gateway session (log in first)."""


_Req = TypeVar("_Req", bound=Message)


def _unary(
    method: aio.UnaryUnaryMultiCallable[_Req, Any],
    request: _Req,
    metadata: tuple[tuple[str, str], ...] = (),
) -> Invoke:
    """Bind a stub method to one request (built once, reused by every call)."""

    def call(timeout: float) -> Awaitable[object]:
        return method(request, timeout=timeout, metadata=metadata or None)

    return call


def _session(channel: aio.Channel) -> gateway_pb2_grpc.SessionServiceAsyncStub:
    return gateway_pb2_grpc.SessionServiceStub(channel)


def _models(channel: aio.Channel) -> gateway_pb2_grpc.ModelServiceAsyncStub:
    return gateway_pb2_grpc.ModelServiceStub(channel)


def _cross_model(channel: aio.Channel) -> gateway_pb2_grpc.CrossModelServiceAsyncStub:
    return gateway_pb2_grpc.CrossModelServiceStub(channel)


def _gateway_ping(channel: aio.Channel, params: Params) -> Invoke:
    return _unary(_session(channel).Ping, gateway_pb2.PingRequest())


def _gateway_status(channel: aio.Channel, params: Params) -> Invoke:
    request = gateway_pb2.GetStatusRequest(model=params.model)
    return _unary(_models(channel).GetStatus, request, params.metadata)


def _gateway_show_offer(channel: aio.Channel, params: Params) -> Invoke:
    request = gateway_pb2.ShowOfferRequest(url=params.offer)
    return _unary(_cross_model(channel).ShowOffer, request, params.metadata)


def _gateway_list_models(channel: aio.Channel, params: Params) -> Invoke:
    request = gateway_pb2.ListModelsRequest()
    return _unary(_models(channel).ListModels, request, params.metadata)


def _gateway_whoami(channel: aio.Channel, params: Params) -> Invoke:
    return _unary(_session(channel).WhoAmI, gateway_pb2.WhoAmIRequest(), params.metadata)


def _placement_ping(channel: aio.Channel, params: Params) -> Invoke:
    stub = placement_pb2_grpc.PlacementServiceStub(channel)
    return _unary(stub.Ping, placement_pb2.PingRequest())


def _placement_model_status(channel: aio.Channel, params: Params) -> Invoke:
    stub = placement_pb2_grpc.PlacementServiceStub(channel)
    request = placement_pb2.GetModelStatusRequest(model_uuid=params.model_uuid)
    return _unary(stub.GetModelStatus, request)


def _access_ping(channel: aio.Channel, params: Params) -> Invoke:
    return _unary(access_pb2_grpc.AccessServiceStub(channel).Ping, access_pb2.PingRequest())


def _access_list_users(channel: aio.Channel, params: Params) -> Invoke:
    stub = access_pb2_grpc.AccessServiceStub(channel)
    return _unary(stub.ListUsers, access_pb2.ListUsersRequest())


def _offers_ping(channel: aio.Channel, params: Params) -> Invoke:
    return _unary(offers_pb2_grpc.OfferServiceStub(channel).Ping, offers_pb2.PingRequest())


def _offers_find(channel: aio.Channel, params: Params) -> Invoke:
    stub = offers_pb2_grpc.OfferServiceStub(channel)
    return _unary(stub.FindOffers, offers_pb2.FindOffersRequest())


def _relations_ping(channel: aio.Channel, params: Params) -> Invoke:
    stub = relations_pb2_grpc.RelationServiceStub(channel)
    return _unary(stub.Ping, relations_pb2.PingRequest())


def _relations_list(channel: aio.Channel, params: Params) -> Invoke:
    stub = relations_pb2_grpc.RelationServiceStub(channel)
    request = relations_pb2.ListRelationsRequest(model_uuid=params.model_uuid)
    return _unary(stub.ListRelations, request)


OPERATIONS: Final[Mapping[str, Mapping[str, Operation]]] = {
    "gateway": {
        "ping": Operation(_gateway_ping, "SessionService/Ping"),
        "status": Operation(_gateway_status, "ModelService/GetStatus", ("model",), True),
        "show-offer": Operation(
            _gateway_show_offer, "CrossModelService/ShowOffer", ("offer",), True
        ),
        "list-models": Operation(_gateway_list_models, "ModelService/ListModels", auth=True),
        "whoami": Operation(_gateway_whoami, "SessionService/WhoAmI", auth=True),
    },
    "placement": {
        "ping": Operation(_placement_ping, "PlacementService/Ping"),
        "get-model-status": Operation(
            _placement_model_status, "PlacementService/GetModelStatus", ("model_uuid",)
        ),
    },
    "access": {
        "ping": Operation(_access_ping, "AccessService/Ping"),
        "list-users": Operation(_access_list_users, "AccessService/ListUsers"),
    },
    "offers": {
        "ping": Operation(_offers_ping, "OfferService/Ping"),
        "find-offers": Operation(_offers_find, "OfferService/FindOffers"),
    },
    "relations": {
        "ping": Operation(_relations_ping, "RelationService/Ping"),
        "list-relations": Operation(
            _relations_list, "RelationService/ListRelations", ("model_uuid",)
        ),
    },
}
"""Service -> operation name -> operation."""

SERVICES: Final = tuple(OPERATIONS)


def option_name(field: str) -> str:
    """The command-line option that sets a `Params` field: `model_uuid` -> `--model-uuid`."""
    return "--" + field.replace("_", "-")


def missing_params(service: str, names: Iterable[str], params: Params) -> list[str]:
    """Options the chosen operations need but `params` lacks, as `--opt (for op)` texts."""
    return [
        f"{option_name(field)} (for {name})"
        for name in names
        for field in OPERATIONS[service][name].needs
        if not getattr(params, field)
    ]


def needs_session(service: str, names: Iterable[str]) -> bool:
    """True when any of the operations needs a gateway session."""
    return any(OPERATIONS[service][name].auth for name in names)
