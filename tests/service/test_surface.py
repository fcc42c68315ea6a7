"""What every server offers the same way: health, reflection, and Watch's cursor check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

import runtime
from cmr.access.v1 import access_pb2, access_pb2_grpc
from cmr.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from cmr.offers.v1 import offers_pb2, offers_pb2_grpc
from cmr.placement.v1 import placement_pb2, placement_pb2_grpc
from cmr.relations.v1 import relations_pb2, relations_pb2_grpc
from services.common.config import DEFAULT_PORTS, Config
from services.common.server import Built

# service -> (full name, stub class, Watch request class)
SURFACES: dict[str, tuple[str, Callable[[grpc.Channel], Any], Any]] = {
    "placement": (
        "cmr.placement.v1.PlacementService",
        placement_pb2_grpc.PlacementServiceStub,
        placement_pb2.WatchRequest,
    ),
    "access": (
        "cmr.access.v1.AccessService",
        access_pb2_grpc.AccessServiceStub,
        access_pb2.WatchRequest,
    ),
    "relations": (
        "cmr.relations.v1.RelationService",
        relations_pb2_grpc.RelationServiceStub,
        relations_pb2.WatchRequest,
    ),
    "offers": (
        "cmr.offers.v1.OfferService",
        offers_pb2_grpc.OfferServiceStub,
        offers_pb2.WatchRequest,
    ),
    "gateway": ("cmr.gateway.v1.SessionService", gateway_pb2_grpc.SessionServiceStub, None),
}


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Built]]:
    data: Path = tmp_path_factory.mktemp("surface")
    cfg = Config(data_dir=data, ports=dict.fromkeys(DEFAULT_PORTS, 0))
    built = runtime.build_embedded(cfg)
    for one in built:
        one.start()
    yield dict(zip([*SURFACES], built, strict=True))
    for one in reversed(built):
        one.stop(None)


@pytest.mark.parametrize("service", list(SURFACES))
def test_health_reports_serving_for_the_server_and_its_service(
    controller: dict[str, Built], service: str
) -> None:
    name = SURFACES[service][0]
    with grpc.insecure_channel(f"127.0.0.1:{controller[service].port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for checked in ("", name):
            reply = health.Check(health_pb2.HealthCheckRequest(service=checked), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("service", list(SURFACES))
def test_reflection_lists_the_service_and_health(
    controller: dict[str, Built], service: str
) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{controller[service].port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        replies = list(stub.ServerReflectionInfo(iter([request]), timeout=10))
    names = {s.name for s in replies[0].list_services_response.service}
    assert {SURFACES[service][0], "grpc.health.v1.Health"} <= names


@pytest.mark.parametrize("service", [s for s in SURFACES if s != "gateway"])
def test_watch_refuses_a_negative_cursor(controller: dict[str, Built], service: str) -> None:
    _, stub_class, request_class = SURFACES[service]
    with grpc.insecure_channel(f"127.0.0.1:{controller[service].port}") as channel:
        stream = stub_class(channel).Watch(request_class(after_sequence=-1), timeout=10)
        with pytest.raises(grpc.RpcError) as caught:
            next(iter(stream))
    err = caught.value
    assert isinstance(err, grpc.Call)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == "after_sequence must not be negative, got -1"


def test_a_busy_port_is_a_start_up_error(controller: dict[str, Built], tmp_path: Path) -> None:
    from services.offers.server import build_server

    taken = controller["offers"].port
    cfg = Config(data_dir=tmp_path, ports={**DEFAULT_PORTS, "offers": taken})
    with pytest.raises(RuntimeError, match="cannot listen"):
        build_server(cfg)


PINGS: dict[str, Any] = {
    "placement": placement_pb2.PingRequest,
    "access": access_pb2.PingRequest,
    "relations": relations_pb2.PingRequest,
    "offers": offers_pb2.PingRequest,
    "gateway": gateway_pb2.PingRequest,
}


@pytest.mark.parametrize("service", list(SURFACES))
def test_ping_answers_without_credentials(controller: dict[str, Built], service: str) -> None:
    _, stub_class, _ = SURFACES[service]
    with grpc.insecure_channel(f"127.0.0.1:{controller[service].port}") as channel:
        reply = stub_class(channel).Ping(PINGS[service](), timeout=10)
    assert reply.ByteSize() == 0
