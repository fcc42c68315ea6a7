"""The gateway's public services on one port, and the deprecated GatewayService beside them."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

import runtime
from cli.client import GatewayStubs
from cmr.gateway.v1 import gateway_pb2 as pb
from cmr.gateway.v1 import gateway_pb2_grpc
from gateway.server import DEPRECATED_SERVICE, SERVICES
from services.common.config import DEFAULT_PORTS, Config
from services.common.server import Built

PASSWORD = "public-services-pass"
OLD_METHODS = [m.name for m in pb.DESCRIPTOR.services_by_name["GatewayService"].methods]
NEW_HOME = {
    m.name: name
    for name in SERVICES
    for m in pb.DESCRIPTOR.services_by_name[name.rpartition(".")[2]].methods
}


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[grpc.Channel]:
    data = tmp_path_factory.mktemp("public")
    (data / "pw").write_text(PASSWORD)
    cfg = Config(
        data_dir=data,
        controller_name="public",
        bootstrap_password_file=data / "pw",
        ports=dict.fromkeys(DEFAULT_PORTS, 0),
    )
    built: list[Built] = runtime.build_embedded(cfg)
    for one in built:
        one.start()
    with grpc.insecure_channel(f"127.0.0.1:{built[-1].port}") as made:
        yield made
    for one in reversed(built):
        one.stop(None)


@pytest.fixture(scope="module")
def auth(channel: grpc.Channel) -> tuple[tuple[str, str], ...]:
    login = pb.LoginRequest(user="admin", password=PASSWORD)
    token = GatewayStubs.over(channel).session.Login(login, timeout=10).token
    return (("authorization", f"Bearer {token}"),)


def _answer(channel: grpc.Channel, path: str, streaming: bool) -> tuple[object, ...]:
    """What `path` answers an empty request with no credentials: its code, details, bytes."""
    try:
        if streaming:
            parts = channel.unary_stream(path, None, None)(b"", timeout=10)
            return (grpc.StatusCode.OK, "", tuple(parts))
        return (grpc.StatusCode.OK, "", channel.unary_unary(path, None, None)(b"", timeout=10))
    except grpc.RpcError as err:
        call = err if isinstance(err, grpc.Call) else None
        return (call and call.code(), call and call.details(), b"")


def test_reflection_lists_every_public_service_and_the_deprecated_one(
    channel: grpc.Channel,
) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    [reply] = list(stub.ServerReflectionInfo(iter([request]), timeout=10))
    names = {s.name for s in reply.list_services_response.service}
    assert {*SERVICES, DEPRECATED_SERVICE, "grpc.health.v1.Health"} <= names
    assert {
        "cmr.gateway.v1.SessionService",
        "cmr.gateway.v1.UserService",
        "cmr.gateway.v1.ModelService",
        "cmr.gateway.v1.CrossModelService",
        "cmr.gateway.v1.CrossControllerService",
    } == set(SERVICES)


def test_health_reports_every_public_service_serving(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", *SERVICES, DEPRECATED_SERVICE):
        reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, name


def test_the_deprecated_service_answers_old_clients(
    channel: grpc.Channel, auth: tuple[tuple[str, str], ...]
) -> None:
    old = gateway_pb2_grpc.GatewayServiceStub(channel)
    assert old.Ping(pb.PingRequest(), timeout=10) == pb.PingResponse()
    who = old.WhoAmI(pb.WhoAmIRequest(), metadata=auth, timeout=10)
    assert (who.user, who.superuser, who.controller) == ("admin", True, "public")
    with pytest.raises(grpc.RpcError) as caught:
        old.WhoAmI(pb.WhoAmIRequest(), timeout=10)
    assert isinstance(caught.value, grpc.Call)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_write_by_the_old_path_is_read_by_the_new_one(
    channel: grpc.Channel, auth: tuple[tuple[str, str], ...]
) -> None:
    old = gateway_pb2_grpc.GatewayServiceStub(channel)
    old.AddModel(pb.AddModelRequest(name="written-old"), metadata=auth, timeout=10)
    new = GatewayStubs.over(channel)
    models = new.models.ListModels(pb.ListModelsRequest(), metadata=auth, timeout=10).models
    assert "written-old" in {m.name for m in models}
    parts = old.StreamStatus(pb.StreamStatusRequest(model="written-old"), metadata=auth)
    assert [p.part.model.name for p in parts] == ["written-old"]


@pytest.mark.parametrize("method", OLD_METHODS)
def test_every_old_method_answers_as_its_new_home_does(channel: grpc.Channel, method: str) -> None:
    streaming = method == "StreamStatus"
    old = _answer(channel, f"/{DEPRECATED_SERVICE}/{method}", streaming)
    new = _answer(channel, f"/{NEW_HOME[method]}/{method}", streaming)
    assert old[0] != grpc.StatusCode.UNIMPLEMENTED
    assert old == new
