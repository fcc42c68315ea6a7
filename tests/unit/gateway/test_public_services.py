"""The gateway's public services: one home per method, and the deprecated service on top."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from cmr.gateway.v1 import gateway_pb2 as pb
from cmr.gateway.v1 import gateway_pb2_grpc
from gateway import server, servicers
from services.common import contract


def _service(name: str) -> ServiceDescriptor:
    return pb.DESCRIPTOR.services_by_name[name.rpartition(".")[2]]


def _contract(method: MethodDescriptor) -> tuple[object, ...]:
    return (
        method.input_type.full_name,
        method.output_type.full_name,
        method.client_streaming,
        method.server_streaming,
        method.GetOptions().idempotency_level,
    )


def _returning(path: str) -> Callable[..., str]:
    return lambda *_: path


def _stand_ins() -> dict[str, Any]:
    """A stand-in servicer per public service: each method returns its own path."""
    return {
        name: SimpleNamespace(
            **{m.name: _returning(f"/{name}/{m.name}") for m in _service(name).methods}
        )
        for name in server.SERVICES
    }


def test_every_method_of_the_deprecated_service_has_one_home_with_the_same_contract() -> None:
    homes: dict[str, list[MethodDescriptor]] = {}
    for name in server.SERVICES:
        for method in _service(name).methods:
            homes.setdefault(method.name, []).append(method)
    old = _service(server.DEPRECATED_SERVICE).methods
    assert sorted(homes) == sorted(m.name for m in old)
    for method in old:
        [home] = homes[method.name]
        assert _contract(home) == _contract(method), method.name


def test_the_public_services_give_each_method_its_own_messages() -> None:
    used: list[str] = []
    for name in server.SERVICES:
        for method in _service(name).methods:
            used += [method.input_type.full_name, method.output_type.full_name]
    assert len(used) == len(set(used))


def test_reads_are_the_same_by_either_path() -> None:
    new = set().union(*(contract.reads(name) for name in server.SERVICES))
    assert new == contract.reads(server.DEPRECATED_SERVICE)
    assert {"Ping", "WhoAmI", "GetStatus", "ShowOffer", "GetControllerIdentity"} <= new


def test_only_the_old_service_is_marked_deprecated() -> None:
    assert _service(server.DEPRECATED_SERVICE).GetOptions().deprecated
    for name in server.SERVICES:
        assert not _service(name).GetOptions().deprecated, name


def test_each_servicer_implements_every_method_of_its_service() -> None:
    classes = {
        "SessionService": (servicers.SessionServicer, gateway_pb2_grpc.SessionServiceServicer),
        "UserService": (servicers.UserServicer, gateway_pb2_grpc.UserServiceServicer),
        "ModelService": (servicers.ModelServicer, gateway_pb2_grpc.ModelServiceServicer),
        "CrossModelService": (
            servicers.CrossModelServicer,
            gateway_pb2_grpc.CrossModelServiceServicer,
        ),
        "CrossControllerService": (
            servicers.CrossControllerServicer,
            gateway_pb2_grpc.CrossControllerServiceServicer,
        ),
    }
    assert sorted(classes) == sorted(n.rpartition(".")[2] for n in server.SERVICES)
    for name, (servicer, generated) in classes.items():
        for method in pb.DESCRIPTOR.services_by_name[name].methods:
            assert getattr(servicer, method.name) is not getattr(generated, method.name), (
                f"{name}/{method.name} is not implemented"
            )


def test_each_old_path_is_answered_by_the_servicer_of_its_new_service() -> None:
    old: Any = server.served_by(server.DEPRECATED_SERVICE, _stand_ins())
    for method in _service(server.DEPRECATED_SERVICE).methods:
        service, _, name = getattr(old, method.name)(None, None).lstrip("/").rpartition("/")
        assert name == method.name
        assert service in server.SERVICES


def test_an_old_method_without_a_new_home_stops_the_server_being_built() -> None:
    stand_ins = _stand_ins()
    del stand_ins["cmr.gateway.v1.CrossControllerService"]
    with pytest.raises(ValueError, match="GatewayService/GetControllerIdentity"):
        server.served_by(server.DEPRECATED_SERVICE, stand_ins)
