"""The gateway in-process with the four real services: authentication, routing, status, codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

import runtime
from cli.client import GatewayStubs
from cmr.gateway.v1 import gateway_pb2 as pb
from services.common.config import DEFAULT_PORTS, Config
from services.common.server import Built

PASSWORD = "gateway-test-pass"
MYSQL = "name: mysql\nprovides:\n  db: mysql\n"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Built]]:
    data = tmp_path_factory.mktemp("gw")
    (data / "pw").write_text(PASSWORD)
    cfg = Config(
        data_dir=data,
        controller_name="gw",
        bootstrap_password_file=data / "pw",
        ports=dict.fromkeys(DEFAULT_PORTS, 0),
    )
    built = runtime.build_embedded(cfg)
    for one in built:
        one.start()
    yield built
    for one in reversed(built):
        one.stop(None)


@pytest.fixture(scope="module")
def stub(servers: list[Built]) -> Iterator[GatewayStubs]:
    with grpc.insecure_channel(f"127.0.0.1:{servers[-1].port}") as channel:
        yield GatewayStubs.over(channel)


@pytest.fixture(scope="module")
def auth(stub: GatewayStubs) -> tuple[tuple[str, str], ...]:
    reply = stub.session.Login(pb.LoginRequest(user="admin", password=PASSWORD), timeout=10)
    assert reply.controller == "gw"
    assert reply.controller_uuid
    return (("authorization", f"Bearer {reply.token}"),)


def _code(call: object) -> grpc.StatusCode:
    assert isinstance(call, grpc.Call)
    return call.code()


def test_login_refuses_a_wrong_password(stub: GatewayStubs) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.session.Login(pb.LoginRequest(user="admin", password="nope"), timeout=10)
    assert _code(caught.value) == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    "call",
    [
        lambda s, md: s.session.WhoAmI(pb.WhoAmIRequest(), metadata=md, timeout=10),
        lambda s, md: s.models.AddModel(pb.AddModelRequest(name="x"), metadata=md, timeout=10),
        lambda s, md: s.models.GetStatus(pb.GetStatusRequest(model="x"), metadata=md, timeout=10),
        lambda s, md: s.models.Deploy(pb.DeployRequest(model="x"), metadata=md, timeout=10),
    ],
)
def test_every_call_needs_a_valid_token(stub: GatewayStubs, call: object) -> None:
    for metadata in [(), (("authorization", "Bearer forged"),)]:
        with pytest.raises(grpc.RpcError) as caught:
            call(stub, metadata)  # type: ignore[operator]
        assert _code(caught.value) == grpc.StatusCode.UNAUTHENTICATED


def test_status_composes_model_machines_and_units(
    stub: GatewayStubs, auth: tuple[tuple[str, str], ...]
) -> None:
    stub.models.AddModel(pb.AddModelRequest(name="composed"), metadata=auth, timeout=10)
    stub.models.Deploy(
        pb.DeployRequest(model="composed", metadata_yaml=MYSQL, num_units=2),
        metadata=auth,
        timeout=10,
    )
    status = stub.models.GetStatus(
        pb.GetStatusRequest(model="admin/composed"), metadata=auth, timeout=10
    )
    assert status.model.name == "composed"
    assert status.model.controller == "gw"
    assert [m.id for m in status.machines] == ["0", "1"]
    (app,) = status.applications
    assert [u.name for u in app.units] == ["mysql/0", "mysql/1"]
    assert [u.leader for u in app.units] == [True, False]
    assert app.units[0].public_address == status.machines[0].dns_name


def test_unknown_models_and_bad_refs(
    stub: GatewayStubs, auth: tuple[tuple[str, str], ...]
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.models.GetStatus(pb.GetStatusRequest(model="nope"), metadata=auth, timeout=10)
    assert _code(caught.value) == grpc.StatusCode.NOT_FOUND
    assert isinstance(caught.value, grpc.Call)
    assert caught.value.details() == 'model "admin/nope" not found'
    with pytest.raises(grpc.RpcError) as caught:
        stub.models.GetStatus(pb.GetStatusRequest(model="a/b/c"), metadata=auth, timeout=10)
    assert _code(caught.value) == grpc.StatusCode.INVALID_ARGUMENT


def test_a_stopped_service_is_unavailable_by_name(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(PASSWORD)
    cfg = Config(
        data_dir=tmp_path,
        bootstrap_password_file=tmp_path / "pw",
        ports=dict.fromkeys(DEFAULT_PORTS, 0),
    )
    built = runtime.build_embedded(cfg)
    for one in built:
        one.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{built[-1].port}") as channel:
            gw = GatewayStubs.over(channel)
            token = gw.session.Login(
                pb.LoginRequest(user="admin", password=PASSWORD), timeout=10
            ).token
            md = (("authorization", f"Bearer {token}"),)
            built[0].stop(None)  # placement
            with pytest.raises(grpc.RpcError) as caught:
                gw.models.AddModel(pb.AddModelRequest(name="m"), metadata=md, timeout=20)
            assert _code(caught.value) == grpc.StatusCode.UNAVAILABLE
            assert isinstance(caught.value, grpc.Call)
            assert (caught.value.details() or "").startswith("placement service at 127.0.0.1:")
    finally:
        for one in reversed(built[1:]):
            one.stop(None)
