"""Placement over gRPC: every RPC's bad input gets its code and message, and changes nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from cmr.placement.v1 import placement_pb2 as pb
from cmr.placement.v1 import placement_pb2_grpc

Code = grpc.StatusCode
MYSQL = "name: mysql\nprovides:\n  db: mysql\n"
LOGGING = (
    "name: logging\nsubordinate: true\n"
    "requires:\n  info: {interface: juju-info, scope: container}\n"
)


def _model(stub: placement_pb2_grpc.PlacementServiceStub, name: str = "prod") -> str:
    reply = stub.AddModel(pb.AddModelRequest(name=name, owner="admin"), timeout=5)
    return reply.model.uuid


def _fails(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    err = caught.value
    assert isinstance(err, grpc.Call)
    return err.code(), err.details() or ""


def _snapshot(
    stub: placement_pb2_grpc.PlacementServiceStub, uuid: str
) -> pb.GetModelStatusResponse:
    return stub.GetModelStatus(pb.GetModelStatusRequest(model_uuid=uuid), timeout=5)


@pytest.mark.parametrize(
    ("name", "owner", "code", "message"),
    [
        ("Prod", "admin", Code.INVALID_ARGUMENT, 'model name "Prod" not valid'),
        ("", "admin", Code.INVALID_ARGUMENT, 'model name "" not valid'),
        ("x" * 129, "admin", Code.INVALID_ARGUMENT, "not valid"),
        ("prod", "b", Code.INVALID_ARGUMENT, 'user name "b" not valid'),
    ],
)
def test_add_model_refuses_bad_names(
    stub: placement_pb2_grpc.PlacementServiceStub, name: str, owner: str, code: Code, message: str
) -> None:
    got = _fails(lambda: stub.AddModel(pb.AddModelRequest(name=name, owner=owner), timeout=5))
    assert got[0] == code
    assert message in got[1]
    assert not stub.ListModels(pb.ListModelsRequest(), timeout=5).models


def test_duplicate_model_and_unknown_models(stub: placement_pb2_grpc.PlacementServiceStub) -> None:
    _model(stub)
    assert _fails(lambda: _model(stub)) == (
        Code.ALREADY_EXISTS,
        'model "admin/prod" already exists',
    )
    assert _fails(
        lambda: stub.GetModel(pb.GetModelRequest(owner="admin", name="nope"), timeout=5)
    ) == (Code.NOT_FOUND, 'model "admin/nope" not found')
    for call in (
        lambda u: stub.Deploy(pb.DeployRequest(model_uuid=u, metadata_yaml=MYSQL), timeout=5),
        lambda u: stub.AddUnit(pb.AddUnitRequest(model_uuid=u, application="mysql"), timeout=5),
        lambda u: stub.AddMachine(pb.AddMachineRequest(model_uuid=u), timeout=5),
        lambda u: stub.GetModelStatus(pb.GetModelStatusRequest(model_uuid=u), timeout=5),
        lambda u: stub.DestroyModel(pb.DestroyModelRequest(model_uuid=u), timeout=5),
        lambda u: stub.GetModelConfig(pb.GetModelConfigRequest(model_uuid=u), timeout=5),
    ):
        assert _fails(lambda c=call: c("no-such-uuid")) == (  # type: ignore[misc]
            Code.NOT_FOUND,
            'model "no-such-uuid" not found',
        )
        assert _fails(lambda c=call: c(""))[0] == Code.INVALID_ARGUMENT  # type: ignore[misc]


@pytest.mark.parametrize(
    ("metadata", "application", "message"),
    [
        ("- a list", "", "charm metadata must be a mapping"),
        ("summary: no name", "", 'charm metadata has no "name"'),
        ("name: Bad", "", 'charm name "Bad" not valid'),
        (
            "name: x\nrequires: {db: {scope: container}}",
            "",
            'charm "x": requires.db has no "interface"',
        ),
        (
            "name: x\nprovides: {juju-foo: bar}",
            "",
            'charm "x" using a reserved relation name: "juju-foo"',
        ),
        (
            "name: x\nsubordinate: true\nrequires: {db: mysql}",
            "",
            'subordinate charm "x" lacks "requires" relation with container scope',
        ),
        (MYSQL, "Mysql", 'invalid application name "Mysql", unexpected uppercase character'),
        (MYSQL, "mysql-1", "unexpected number(s) found after last hyphen"),
        ("name: x\n  bad: [yaml", "", "charm metadata is not valid YAML"),
    ],
)
def test_deploy_refuses_bad_metadata_and_names(
    stub: placement_pb2_grpc.PlacementServiceStub, metadata: str, application: str, message: str
) -> None:
    uuid = _model(stub)
    before = _snapshot(stub, uuid)
    code, details = _fails(
        lambda: stub.Deploy(
            pb.DeployRequest(model_uuid=uuid, metadata_yaml=metadata, application=application),
            timeout=5,
        )
    )
    assert code == Code.INVALID_ARGUMENT
    assert message in details
    assert _snapshot(stub, uuid) == before


def test_application_and_unit_refusals_change_nothing(
    stub: placement_pb2_grpc.PlacementServiceStub,
) -> None:
    uuid = _model(stub)
    stub.Deploy(pb.DeployRequest(model_uuid=uuid, metadata_yaml=MYSQL, num_units=2), timeout=5)
    stub.Deploy(pb.DeployRequest(model_uuid=uuid, metadata_yaml=LOGGING), timeout=5)
    before = _snapshot(stub, uuid)
    cases: list[tuple[Callable[[], Any], Code, str]] = [
        (
            lambda: stub.Deploy(pb.DeployRequest(model_uuid=uuid, metadata_yaml=MYSQL), timeout=5),
            Code.ALREADY_EXISTS,
            'application "mysql" already exists',
        ),
        (
            lambda: stub.AddUnit(
                pb.AddUnitRequest(model_uuid=uuid, application="wooble"), timeout=5
            ),
            Code.NOT_FOUND,
            'application "wooble" not found',
        ),
        (
            lambda: stub.AddUnit(
                pb.AddUnitRequest(model_uuid=uuid, application="logging"), timeout=5
            ),
            Code.FAILED_PRECONDITION,
            'cannot add unit to application "logging": application is a subordinate',
        ),
        (
            lambda: stub.AddUnit(
                pb.AddUnitRequest(model_uuid=uuid, application="mysql", num_units=-1), timeout=5
            ),
            Code.INVALID_ARGUMENT,
            "num_units must not be negative, got -1",
        ),
        (
            lambda: stub.AddUnit(
                pb.AddUnitRequest(model_uuid=uuid, application="mysql", to=["9"]), timeout=5
            ),
            Code.NOT_FOUND,
            "machine 9 not found",
        ),
        (
            lambda: stub.AddUnit(
                pb.AddUnitRequest(model_uuid=uuid, application="mysql", to=["lxd:0"]), timeout=5
            ),
            Code.INVALID_ARGUMENT,
            'machine id "lxd:0" not valid: use a machine number',
        ),
        (
            lambda: stub.Deploy(
                pb.DeployRequest(
                    model_uuid=uuid, metadata_yaml=LOGGING, application="l2", num_units=1
                ),
                timeout=5,
            ),
            Code.INVALID_ARGUMENT,
            "cannot use --num-units or --to with subordinate application",
        ),
        (
            lambda: stub.RemoveUnit(
                pb.RemoveUnitRequest(model_uuid=uuid, units=["mysql/0", "mysql/9"]), timeout=5
            ),
            Code.NOT_FOUND,
            'unit "mysql/9" not found',
        ),
        (
            lambda: stub.RemoveUnit(
                pb.RemoveUnitRequest(model_uuid=uuid, units=["mysql"]), timeout=5
            ),
            Code.INVALID_ARGUMENT,
            'unit name "mysql" not valid',
        ),
        (
            lambda: stub.RemoveApplication(
                pb.RemoveApplicationRequest(model_uuid=uuid, application="nope"), timeout=5
            ),
            Code.NOT_FOUND,
            'application "nope" not found',
        ),
        (
            lambda: stub.RemoveMachine(
                pb.RemoveMachineRequest(model_uuid=uuid, machines=["0"]), timeout=5
            ),
            Code.FAILED_PRECONDITION,
            'machine 0 is hosting units "mysql/0"; remove them first or pass --force',
        ),
        (
            lambda: stub.AddMachine(pb.AddMachineRequest(model_uuid=uuid, count=-2), timeout=5),
            Code.INVALID_ARGUMENT,
            "count must not be negative, got -2",
        ),
        (
            lambda: stub.SetModelConfig(
                pb.SetModelConfigRequest(
                    model_uuid=uuid, config={"egress-subnets": "10.0.0.0/8,nope"}
                ),
                timeout=5,
            ),
            Code.INVALID_ARGUMENT,
            'invalid egress-subnets value "nope": not a CIDR',
        ),
        (
            lambda: stub.SetModelConfig(
                pb.SetModelConfigRequest(model_uuid=uuid, config={"colour": "blue"}), timeout=5
            ),
            Code.INVALID_ARGUMENT,
            'unknown model config key "colour"',
        ),
        (
            lambda: stub.ListModels(pb.ListModelsRequest(page_size=-1), timeout=5),
            Code.INVALID_ARGUMENT,
            "page_size must not be negative, got -1",
        ),
        (
            lambda: stub.ListModels(pb.ListModelsRequest(page_token="!!"), timeout=5),
            Code.INVALID_ARGUMENT,
            "page_token not valid",
        ),
    ]
    for call, code, message in cases:
        got_code, details = _fails(call)
        assert got_code == code, (message, details)
        assert message in details
        assert _snapshot(stub, uuid) == before


def test_units_numbers_machines_and_addresses(
    stub: placement_pb2_grpc.PlacementServiceStub,
) -> None:
    uuid = _model(stub)
    deployed = stub.Deploy(
        pb.DeployRequest(model_uuid=uuid, metadata_yaml=MYSQL, num_units=2), timeout=5
    )
    assert [u.name for u in deployed.units] == ["mysql/0", "mysql/1"]
    assert [m.address for m in deployed.machines] == ["10.1.0.1", "10.1.0.2"]
    stub.RemoveUnit(pb.RemoveUnitRequest(model_uuid=uuid, units=["mysql/1"]), timeout=5)
    added = stub.AddUnit(pb.AddUnitRequest(model_uuid=uuid, application="mysql"), timeout=5)
    assert [u.name for u in added.units] == ["mysql/2"]
    assert added.units[0].machine == "2"  # machine 1 went with its last unit; numbers not reused
    status = _snapshot(stub, uuid)
    assert [m.id for m in status.machines] == ["0", "2"]
    assert [(u.name, u.leader) for u in status.units] == [("mysql/0", True), ("mysql/2", False)]
    other = _model(stub, "other")
    assert (
        stub.GetModel(pb.GetModelRequest(uuid=other), timeout=5).model.address_pool
        == "10.2.0.0/16"
    )


def test_watch_replays_then_follows(stub: placement_pb2_grpc.PlacementServiceStub) -> None:
    uuid = _model(stub)
    stub.Deploy(pb.DeployRequest(model_uuid=uuid, metadata_yaml=MYSQL), timeout=5)
    stream = stub.Watch(pb.WatchRequest(after_sequence=0), timeout=30)
    events = iter(stream)
    kinds = [next(events).event.kind for _ in range(4)]
    assert kinds == ["model-added", "application-added", "machine-added", "unit-added"]
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.append(next(events).event.entity))
    reader.start()
    stub.AddMachine(pb.AddMachineRequest(model_uuid=uuid), timeout=5)
    reader.join(timeout=30)
    stream.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs
    assert seen == ["1"]
    later = stub.Watch(pb.WatchRequest(after_sequence=4), timeout=30)
    assert next(iter(later)).event.kind == "machine-added"
    later.cancel()  # type: ignore[no-untyped-call]
