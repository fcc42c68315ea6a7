"""Placement over gRPC: every RPC's happy path, more refusals, health and the change feed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cmr.placement.v1 import placement_pb2 as pb
from cmr.placement.v1 import placement_pb2_grpc
from tests.service.placement.conftest import Served

Code = grpc.StatusCode
Stub = placement_pb2_grpc.PlacementServiceStub
CHARMS = Path(__file__).resolve().parents[3] / "charms"
T = 5


def _charm(name: str) -> str:
    return (CHARMS / name / "metadata.yaml").read_text()


def _model(stub: Stub, name: str = "prod", owner: str = "admin") -> str:
    return stub.AddModel(pb.AddModelRequest(name=name, owner=owner), timeout=T).model.uuid


def _fails(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    err = caught.value
    assert isinstance(err, grpc.Call)
    return err.code(), err.details() or ""


def _status(stub: Stub, uuid: str) -> pb.GetModelStatusResponse:
    return stub.GetModelStatus(pb.GetModelStatusRequest(model_uuid=uuid), timeout=T)


def test_health_is_serving_after_start(served: Served) -> None:
    health = health_pb2_grpc.HealthStub(served.channel)
    for service in ("", "cmr.placement.v1.PlacementService"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=T)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_models_add_get_list_destroy(stub: Stub) -> None:
    added = stub.AddModel(pb.AddModelRequest(name="prod", owner="admin"), timeout=T)
    model = added.model
    assert (model.name, model.owner, model.life, model.address_pool) == (
        "prod",
        "admin",
        "alive",
        "10.1.0.0/16",
    )
    assert len(model.uuid) == 36
    assert model.created_at.endswith("Z")
    assert added.sequence == 1
    by_uuid = stub.GetModel(pb.GetModelRequest(uuid=model.uuid), timeout=T).model
    by_name = stub.GetModel(pb.GetModelRequest(owner="admin", name="prod"), timeout=T).model
    assert by_uuid == by_name == model
    for owner, name in [("bob", "b"), ("bob", "a"), ("admin", "dev")]:
        _model(stub, name, owner)
    listed = stub.ListModels(pb.ListModelsRequest(), timeout=T)
    assert [(m.owner, m.name) for m in listed.models] == [
        ("admin", "dev"),
        ("admin", "prod"),
        ("bob", "a"),
        ("bob", "b"),
    ]
    assert listed.next_page_token == ""
    first = stub.ListModels(pb.ListModelsRequest(page_size=3), timeout=T)
    assert len(first.models) == 3
    assert first.next_page_token
    rest = stub.ListModels(
        pb.ListModelsRequest(page_size=3, page_token=first.next_page_token), timeout=T
    )
    assert ([m.name for m in rest.models], rest.next_page_token) == (["b"], "")
    bobs = stub.ListModels(pb.ListModelsRequest(owner="bob"), timeout=T)
    assert [m.name for m in bobs.models] == ["a", "b"]
    destroyed = stub.DestroyModel(pb.DestroyModelRequest(model_uuid=model.uuid), timeout=T)
    assert destroyed.sequence == 5
    assert _fails(lambda: stub.GetModel(pb.GetModelRequest(uuid=model.uuid), timeout=T)) == (
        Code.NOT_FOUND,
        f'model "{model.uuid}" not found',
    )
    assert _model(stub, "again") != model.uuid
    pools = [m.address_pool for m in stub.ListModels(pb.ListModelsRequest(), timeout=T).models]
    assert sorted(pools) == ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16", "10.4.0.0/16"]


def test_model_config_round_trip(stub: Stub) -> None:
    uuid = _model(stub)
    got = stub.GetModelConfig(pb.GetModelConfigRequest(model_uuid=uuid), timeout=T)
    assert dict(got.config) == {"egress-subnets": ""}
    done = stub.SetModelConfig(
        pb.SetModelConfigRequest(model_uuid=uuid, config={"egress-subnets": "10.0.0.0/8"}),
        timeout=T,
    )
    assert dict(done.config) == {"egress-subnets": "10.0.0.0/8"}
    assert done.sequence == 2
    got = stub.GetModelConfig(pb.GetModelConfigRequest(model_uuid=uuid), timeout=T)
    assert dict(got.config) == {"egress-subnets": "10.0.0.0/8"}
    assert dict(_status(stub, uuid).config) == {"egress-subnets": "10.0.0.0/8"}


def test_deploy_every_sample_charm(stub: Stub) -> None:
    uuid = _model(stub)
    mysql = stub.Deploy(
        pb.DeployRequest(model_uuid=uuid, metadata_yaml=_charm("mysql"), num_units=2), timeout=T
    )
    app = mysql.application
    assert (app.model_uuid, app.name, app.unit_count, app.status, app.subordinate) == (
        uuid,
        "mysql",
        2,
        "unknown",
        False,
    )
    assert (app.charm.name, app.charm.revision, app.charm.summary) == (
        "mysql",
        1,
        "A relational database server",
    )
    assert [(e.name, e.role, e.interface, e.scope, e.implicit) for e in app.charm.endpoints] == [
        ("db", pb.ROLE_PROVIDER, "mysql", pb.SCOPE_GLOBAL, False),
        ("cluster", pb.ROLE_PEER, "mysql-ha", pb.SCOPE_GLOBAL, False),
        ("juju-info", pb.ROLE_PROVIDER, "juju-info", pb.SCOPE_GLOBAL, True),
    ]
    assert [(u.name, u.machine, u.address, u.leader) for u in mysql.units] == [
        ("mysql/0", "0", "10.1.0.1", True),
        ("mysql/1", "1", "10.1.0.2", False),
    ]
    assert [(u.workload_status, u.agent_status, u.principal) for u in mysql.units] == [
        ("unknown", "idle", "")
    ] * 2
    machine = mysql.machines[0]
    assert (
        machine.status,
        machine.instance_status,
        machine.base_name,
        machine.base_channel,
    ) == ("started", "running", "ubuntu", "22.04")
    assert mysql.sequence == 6  # model, application, 2 x (machine, unit)
    wordpress = stub.Deploy(
        pb.DeployRequest(model_uuid=uuid, metadata_yaml=_charm("wordpress"), application="blog"),
        timeout=T,
    )
    assert wordpress.application.name == "blog"
    assert wordpress.application.charm.name == "wordpress"
    (db,) = [e for e in wordpress.application.charm.endpoints if e.name == "db"]
    assert (db.name, db.role, db.limit) == ("db", pb.ROLE_REQUIRER, 1)
    logging = stub.Deploy(
        pb.DeployRequest(model_uuid=uuid, metadata_yaml=_charm("logging")), timeout=T
    )
    assert logging.application.subordinate
    assert (list(logging.units), list(logging.machines)) == ([], [])
    assert logging.sequence == 10
    got = stub.GetApplication(
        pb.GetApplicationRequest(model_uuid=uuid, application="logging"), timeout=T
    )
    assert got.application == logging.application
    stub.Deploy(pb.DeployRequest(model_uuid=uuid, metadata_yaml=_charm("mediawiki")), timeout=T)
    status = _status(stub, uuid)
    assert [(a.name, a.unit_count) for a in status.applications] == [
        ("blog", 1),
        ("logging", 0),
        ("mediawiki", 1),
        ("mysql", 2),
    ]
    assert [u.name for u in status.units] == ["blog/0", "mediawiki/0", "mysql/0", "mysql/1"]
    assert [m.id for m in status.machines] == ["0", "1", "2", "3"]
    assert status.model.uuid == uuid


def test_units_and_machines(stub: Stub) -> None:
    uuid = _model(stub)
    stub.Deploy(pb.DeployRequest(model_uuid=uuid, metadata_yaml=_charm("mysql")), timeout=T)
    made = stub.AddMachine(pb.AddMachineRequest(model_uuid=uuid, count=2), timeout=T)
    assert [(m.id, m.address) for m in made.machines] == [("1", "10.1.0.2"), ("2", "10.1.0.3")]
    added = stub.AddUnit(
        pb.AddUnitRequest(model_uuid=uuid, application="mysql", num_units=3, to=["2", "2"]),
        timeout=T,
    )
    assert [(u.name, u.machine) for u in added.units] == [
        ("mysql/1", "2"),
        ("mysql/2", "2"),
        ("mysql/3", "3"),
    ]
    assert [m.id for m in added.machines] == ["3"]
    removed = stub.RemoveUnit(
        pb.RemoveUnitRequest(model_uuid=uuid, units=["mysql/0", "mysql/3"]), timeout=T
    )
    assert removed.sequence > added.sequence
    status = _status(stub, uuid)
    assert [m.id for m in status.machines] == ["1", "2"]  # 0 and 3 went with their units
    assert [(u.name, u.leader) for u in status.units] == [("mysql/1", True), ("mysql/2", False)]
    forced = stub.RemoveMachine(
        pb.RemoveMachineRequest(model_uuid=uuid, machines=["2"], force=True), timeout=T
    )
    assert forced.sequence > removed.sequence
    status = _status(stub, uuid)
    assert ([m.id for m in status.machines], list(status.units)) == (["1"], [])
    stub.RemoveMachine(pb.RemoveMachineRequest(model_uuid=uuid, machines=["1"]), timeout=T)
    again = stub.AddUnit(pb.AddUnitRequest(model_uuid=uuid, application="mysql"), timeout=T)
    assert [(u.name, u.machine, u.leader) for u in again.units] == [("mysql/4", "4", True)]
    gone = stub.RemoveApplication(
        pb.RemoveApplicationRequest(model_uuid=uuid, application="mysql"), timeout=T
    )
    assert list(gone.removed_units) == ["mysql/4"]
    status = _status(stub, uuid)
    assert (list(status.applications), list(status.units), list(status.machines)) == ([], [], [])


def test_more_refusals_change_nothing(stub: Stub) -> None:
    uuid = _model(stub)
    stub.Deploy(pb.DeployRequest(model_uuid=uuid, metadata_yaml=_charm("mysql")), timeout=T)
    stub.Deploy(pb.DeployRequest(model_uuid=uuid, metadata_yaml=_charm("logging")), timeout=T)
    before = _status(stub, uuid)
    cases: list[tuple[Callable[[], Any], Code, str]] = [
        (
            lambda: stub.GetApplication(
                pb.GetApplicationRequest(model_uuid=uuid, application="wooble"), timeout=T
            ),
            Code.NOT_FOUND,
            'application "wooble" not found',
        ),
        (
            lambda: stub.GetModel(pb.GetModelRequest(), timeout=T),
            Code.INVALID_ARGUMENT,
            "give a model uuid, or an owner and a name",
        ),
        (
            lambda: stub.Deploy(
                pb.DeployRequest(
                    model_uuid=uuid, metadata_yaml=_charm("logging"), application="l2", to=["0"]
                ),
                timeout=T,
            ),
            Code.INVALID_ARGUMENT,
            "cannot use --num-units or --to with subordinate application",
        ),
        (
            lambda: stub.Deploy(
                pb.DeployRequest(
                    model_uuid=uuid,
                    metadata_yaml=_charm("mysql"),
                    application="db",
                    num_units=1,
                    to=["0", "0"],
                ),
                timeout=T,
            ),
            Code.INVALID_ARGUMENT,
            "2 placement directives for 1 unit(s): give at most one per unit",
        ),
        (
            lambda: stub.Deploy(
                pb.DeployRequest(
                    model_uuid=uuid, metadata_yaml=_charm("mysql"), application="db", num_units=-1
                ),
                timeout=T,
            ),
            Code.INVALID_ARGUMENT,
            "num_units must not be negative, got -1",
        ),
        (
            lambda: stub.Deploy(
                pb.DeployRequest(
                    model_uuid=uuid, metadata_yaml="name: big\n#" + "x" * (1024 * 1024)
                ),
                timeout=T,
            ),
            Code.INVALID_ARGUMENT,
            "charm metadata is larger than 1 MiB",
        ),
        (
            lambda: stub.Deploy(
                pb.DeployRequest(
                    model_uuid=uuid, metadata_yaml="name: x\nprovides: {a: i}\npeers: {a: j}"
                ),
                timeout=T,
            ),
            Code.INVALID_ARGUMENT,
            'charm "x" using a duplicated relation name: "a"',
        ),
        (
            lambda: stub.Deploy(
                pb.DeployRequest(
                    model_uuid=uuid, metadata_yaml=_charm("mysql"), application="a_b"
                ),
                timeout=T,
            ),
            Code.INVALID_ARGUMENT,
            'invalid application name "a_b", unexpected character _',
        ),
        (
            lambda: stub.RemoveMachine(
                pb.RemoveMachineRequest(model_uuid=uuid, machines=["7"]), timeout=T
            ),
            Code.NOT_FOUND,
            "machine 7 not found",
        ),
        (
            lambda: stub.RemoveMachine(
                pb.RemoveMachineRequest(model_uuid=uuid, machines=["0/lxd/0"]), timeout=T
            ),
            Code.INVALID_ARGUMENT,
            'machine id "0/lxd/0" not valid: use a machine number',
        ),
        (
            lambda: stub.RemoveUnit(pb.RemoveUnitRequest(model_uuid=uuid), timeout=T),
            Code.INVALID_ARGUMENT,
            "no units specified",
        ),
        (
            lambda: stub.RemoveApplication(
                pb.RemoveApplicationRequest(model_uuid="", application="mysql"), timeout=T
            ),
            Code.INVALID_ARGUMENT,
            "model_uuid is required",
        ),
        (
            lambda: stub.SetModelConfig(
                pb.SetModelConfigRequest(model_uuid="nope", config={"egress-subnets": ""}),
                timeout=T,
            ),
            Code.NOT_FOUND,
            'model "nope" not found',
        ),
    ]
    for call, code, message in cases:
        assert _fails(call) == (code, message)
        assert _status(stub, uuid) == before


def test_watch_replays_from_zero_and_from_a_cursor(stub: Stub) -> None:
    uuid = _model(stub)
    deployed = stub.Deploy(
        pb.DeployRequest(model_uuid=uuid, metadata_yaml=_charm("mysql")), timeout=T
    )
    stub.SetModelConfig(
        pb.SetModelConfigRequest(model_uuid=uuid, config={"egress-subnets": "10.0.0.0/8"}),
        timeout=T,
    )
    stub.RemoveApplication(
        pb.RemoveApplicationRequest(model_uuid=uuid, application="mysql"), timeout=T
    )
    stub.DestroyModel(pb.DestroyModelRequest(model_uuid=uuid), timeout=T)
    stream = stub.Watch(pb.WatchRequest(after_sequence=0), timeout=30)
    replay = iter(stream)
    events = [next(replay).event for _ in range(9)]
    stream.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs
    assert [(e.sequence, e.kind, e.entity) for e in events] == [
        (1, "model-added", "prod"),
        (2, "application-added", "mysql"),
        (3, "machine-added", "0"),
        (4, "unit-added", "mysql/0"),
        (5, "model-config-changed", ""),
        (6, "unit-removed", "mysql/0"),
        (7, "machine-removed", "0"),
        (8, "application-removed", "mysql"),
        (9, "model-removed", "prod"),
    ]
    assert deployed.sequence == 4
    assert {e.model_uuid for e in events} == {uuid}
    assert dict(events[3].attributes) == {"application": "mysql", "machine": "0", "principal": ""}
    assert dict(events[2].attributes) == {"address": "10.1.0.1"}
    assert dict(events[4].attributes) == {"egress-subnets": "10.0.0.0/8"}
    assert events[0].time.endswith("Z")
    later = stub.Watch(pb.WatchRequest(after_sequence=6), timeout=30)
    assert [next(iter(later)).event.sequence for _ in range(3)] == [7, 8, 9]
    later.cancel()  # type: ignore[no-untyped-call]


def test_watch_follows_live_changes(stub: Stub) -> None:
    uuid = _model(stub)
    stream = stub.Watch(pb.WatchRequest(after_sequence=0), timeout=30)
    events = iter(stream)
    try:
        assert next(events).event.kind == "model-added"  # the stream is open and caught up
        made = stub.AddMachine(pb.AddMachineRequest(model_uuid=uuid), timeout=T)
        live = next(events).event  # bounded by the call's deadline
        assert (live.sequence, live.kind, live.entity) == (made.sequence, "machine-added", "0")
    finally:
        stream.cancel()  # type: ignore[no-untyped-call]


def test_watch_refuses_a_negative_cursor(stub: Stub) -> None:
    stream = stub.Watch(pb.WatchRequest(after_sequence=-1), timeout=T)
    assert _fails(lambda: next(iter(stream))) == (
        Code.INVALID_ARGUMENT,
        "after_sequence must not be negative, got -1",
    )
