"""PlacementService over gRPC, built as production builds it: every RPC's happy path, its bad
inputs with their exact code and message, Watch, health and reflection. No INTERNAL ever."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from cmr.placement.v1 import placement_pb2 as pb
from cmr.placement.v1 import placement_pb2_grpc
from tests.service.placement.conftest import Served

Code = grpc.StatusCode
Stub = placement_pb2_grpc.PlacementServiceStub
T = 5
CHARMS = Path(__file__).resolve().parents[3] / "charms"
MYSQL = "name: mysql\nsummary: a database\nprovides:\n  db: mysql\n"
WORDPRESS = "name: wordpress\nrequires:\n  db: {interface: mysql, limit: 1}\n"
LOGGING = (
    "name: logging\nsubordinate: true\n"
    "requires:\n  info: {interface: juju-info, scope: container}\n"
)
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _fails(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    err = caught.value
    assert isinstance(err, grpc.Call)
    assert err.code() not in (Code.INTERNAL, Code.UNKNOWN), err.details()
    return err.code(), err.details() or ""


def _model(stub: Stub, name: str = "prod", owner: str = "admin") -> str:
    return stub.AddModel(pb.AddModelRequest(name=name, owner=owner), timeout=T).model.uuid


def _deploy(stub: Stub, uuid: str, text: str = MYSQL, **kw: Any) -> pb.DeployResponse:
    return stub.Deploy(pb.DeployRequest(model_uuid=uuid, metadata_yaml=text, **kw), timeout=T)


def _status(stub: Stub, uuid: str) -> pb.GetModelStatusResponse:
    return stub.GetModelStatus(pb.GetModelStatusRequest(model_uuid=uuid), timeout=T)


def _state(stub: Stub, uuid: str) -> tuple[bytes, bytes]:
    """Everything a refusal must leave alone: the model's status and every model."""
    models = stub.ListModels(pb.ListModelsRequest(page_size=1000), timeout=T)
    return (
        _status(stub, uuid).SerializeToString(deterministic=True),
        models.SerializeToString(deterministic=True),
    )


def _populated(stub: Stub) -> str:
    """prod: mysql/0 on machine 0 (auto), machine 1 (empty), logging (subordinate)."""
    uuid = _model(stub)
    _deploy(stub, uuid)
    stub.AddMachine(pb.AddMachineRequest(model_uuid=uuid), timeout=T)
    _deploy(stub, uuid, LOGGING)
    return uuid


# -- health and reflection ---------------------------------------------------------------------


def test_health_reports_serving(served: Served) -> None:
    health = health_pb2_grpc.HealthStub(served.channel)
    for service in ("", "cmr.placement.v1.PlacementService"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=T)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_placement_service(served: Served) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(served.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    replies = list(stub.ServerReflectionInfo(iter([request]), timeout=T))
    names = {s.name for s in replies[0].list_services_response.service}
    assert "cmr.placement.v1.PlacementService" in names


# -- happy paths ---------------------------------------------------------------------------------


def test_models_add_get_list_destroy(stub: Stub) -> None:
    added = stub.AddModel(pb.AddModelRequest(name="prod", owner="admin"), timeout=T)
    assert (added.model.name, added.model.owner, added.model.life) == ("prod", "admin", "alive")
    assert added.model.address_pool == "10.1.0.0/16"
    assert added.sequence == 1
    uuid = added.model.uuid
    for name, owner in [("staging", "admin"), ("prod", "bob"), ("dev", "bob")]:
        _model(stub, name, owner)
    got = stub.GetModel(pb.GetModelRequest(uuid=uuid), timeout=T).model
    assert got == added.model
    assert stub.GetModel(pb.GetModelRequest(owner="admin", name="prod"), timeout=T).model == got
    first = stub.ListModels(pb.ListModelsRequest(page_size=3), timeout=T)
    assert [(m.owner, m.name) for m in first.models] == [
        ("admin", "prod"),
        ("admin", "staging"),
        ("bob", "dev"),
    ]
    assert first.next_page_token
    rest = stub.ListModels(
        pb.ListModelsRequest(page_size=3, page_token=first.next_page_token), timeout=T
    )
    assert ([(m.owner, m.name) for m in rest.models], rest.next_page_token) == (
        [("bob", "prod")],
        "",
    )
    bobs = stub.ListModels(pb.ListModelsRequest(owner="bob"), timeout=T)
    assert [m.name for m in bobs.models] == ["dev", "prod"]
    destroyed = stub.DestroyModel(pb.DestroyModelRequest(model_uuid=uuid), timeout=T)
    assert destroyed.sequence == 5
    assert _fails(lambda: stub.GetModel(pb.GetModelRequest(uuid=uuid), timeout=T)) == (
        Code.NOT_FOUND,
        f'model "{uuid}" not found',
    )
    # The destroyed model's pool is the lowest free one again.
    again = stub.AddModel(pb.AddModelRequest(name="prod", owner="admin"), timeout=T)
    assert again.model.address_pool == "10.1.0.0/16"
    assert again.model.uuid != uuid


def test_model_config_get_and_set(stub: Stub) -> None:
    uuid = _model(stub)
    got = stub.GetModelConfig(pb.GetModelConfigRequest(model_uuid=uuid), timeout=T)
    assert dict(got.config) == {"egress-subnets": ""}
    set_ = stub.SetModelConfig(
        pb.SetModelConfigRequest(
            model_uuid=uuid, config={"egress-subnets": "10.0.0.0/8, 192.168.0.0/16"}
        ),
        timeout=T,
    )
    assert dict(set_.config) == {"egress-subnets": "10.0.0.0/8,192.168.0.0/16"}
    assert set_.sequence == 2
    got = stub.GetModelConfig(pb.GetModelConfigRequest(model_uuid=uuid), timeout=T)
    assert dict(got.config) == dict(set_.config)
    assert dict(_status(stub, uuid).config) == dict(set_.config)


def test_deploy_get_and_remove_application(stub: Stub) -> None:
    uuid = _model(stub)
    deployed = _deploy(stub, uuid, WORDPRESS, application="blog", num_units=2)
    app = deployed.application
    assert (app.name, app.model_uuid, app.unit_count, app.subordinate) == ("blog", uuid, 2, False)
    assert (app.life, app.status) == ("alive", "unknown")
    assert (app.charm.name, app.charm.revision, app.charm.subordinate) == ("wordpress", 1, False)
    assert [
        (e.name, e.role, e.interface, e.scope, e.limit, e.implicit) for e in app.charm.endpoints
    ] == [
        ("db", pb.ROLE_REQUIRER, "mysql", pb.SCOPE_GLOBAL, 1, False),
        ("juju-info", pb.ROLE_PROVIDER, "juju-info", pb.SCOPE_GLOBAL, 0, True),
    ]
    assert [(u.name, u.machine, u.address, u.leader) for u in deployed.units] == [
        ("blog/0", "0", "10.1.0.1", True),
        ("blog/1", "1", "10.1.0.2", False),
    ]
    assert {(u.workload_status, u.agent_status, u.principal) for u in deployed.units} == {
        ("unknown", "idle", "")
    }
    assert [(m.id, m.address, m.status, m.instance_status) for m in deployed.machines] == [
        ("0", "10.1.0.1", "started", "running"),
        ("1", "10.1.0.2", "started", "running"),
    ]
    assert {(m.base_name, m.base_channel) for m in deployed.machines} == {("ubuntu", "22.04")}
    assert deployed.sequence == 6
    got = stub.GetApplication(
        pb.GetApplicationRequest(model_uuid=uuid, application="blog"), timeout=T
    )
    assert got.application == app
    removed = stub.RemoveApplication(
        pb.RemoveApplicationRequest(model_uuid=uuid, application="blog"), timeout=T
    )
    assert list(removed.removed_units) == ["blog/0", "blog/1"]
    assert removed.sequence == 11
    status = _status(stub, uuid)
    assert (list(status.applications), list(status.units), list(status.machines)) == ([], [], [])


def test_deploy_every_sample_charm(stub: Stub) -> None:
    uuid = _model(stub)
    for path in sorted(CHARMS.glob("*/metadata.yaml")):
        deployed = _deploy(stub, uuid, path.read_text())
        app = deployed.application
        assert app.name == path.parent.name
        assert app.charm.endpoints[-1].name == "juju-info"
        assert len(deployed.units) == (0 if app.subordinate else 1)


def test_units_and_machines(stub: Stub) -> None:
    uuid = _model(stub)
    added = stub.AddMachine(pb.AddMachineRequest(model_uuid=uuid, count=2), timeout=T)
    assert [(m.id, m.address) for m in added.machines] == [("0", "10.1.0.1"), ("1", "10.1.0.2")]
    assert added.sequence == 3
    _deploy(stub, uuid, to=["1"])
    more = stub.AddUnit(
        pb.AddUnitRequest(model_uuid=uuid, application="mysql", num_units=2, to=["0"]), timeout=T
    )
    assert [(u.name, u.machine, u.leader) for u in more.units] == [
        ("mysql/1", "0", False),
        ("mysql/2", "2", False),
    ]
    assert [m.id for m in more.machines] == ["2"]
    one = stub.AddUnit(pb.AddUnitRequest(model_uuid=uuid, application="mysql"), timeout=T)
    assert [u.name for u in one.units] == ["mysql/3"]
    gone = stub.RemoveUnit(
        pb.RemoveUnitRequest(model_uuid=uuid, units=["mysql/0", "mysql/2"]), timeout=T
    )
    status = _status(stub, uuid)
    assert [(u.name, u.machine, u.leader) for u in status.units] == [
        ("mysql/1", "0", True),
        ("mysql/3", "3", False),
    ]
    # Machine 2 was made for mysql/2 and went with it; 1 came from AddMachine and stays.
    assert [m.id for m in status.machines] == ["0", "1", "3"]
    assert status.applications[0].unit_count == 2
    assert status.model.uuid == uuid
    assert gone.sequence > one.sequence
    removed = stub.RemoveMachine(
        pb.RemoveMachineRequest(model_uuid=uuid, machines=["0", "1"], force=True), timeout=T
    )
    status = _status(stub, uuid)
    assert [m.id for m in status.machines] == ["3"]
    assert [u.name for u in status.units] == ["mysql/3"]
    assert removed.sequence > gone.sequence
    again = stub.AddUnit(pb.AddUnitRequest(model_uuid=uuid, application="mysql"), timeout=T)
    assert [(u.name, m.id) for u, m in zip(again.units, again.machines, strict=True)] == [
        ("mysql/4", "4")
    ]


# -- bad inputs: one row per refusal ------------------------------------------------------------

Call = Callable[[Stub, str], Any]


def _row(call: Call, code: grpc.StatusCode, message: str | Callable[[str], str], id_: str) -> Any:
    return pytest.param(call, code, message, id=id_)


BAD: list[Any] = [
    # AddModel
    _row(
        lambda s, u: s.AddModel(pb.AddModelRequest(name="Prod", owner="admin"), timeout=T),
        Code.INVALID_ARGUMENT,
        'model name "Prod" not valid: use lower-case letters, digits and hyphens, '
        "at most 128 characters",
        "add-model-upper",
    ),
    _row(
        lambda s, u: s.AddModel(pb.AddModelRequest(name="", owner="admin"), timeout=T),
        Code.INVALID_ARGUMENT,
        'model name "" not valid: use lower-case letters, digits and hyphens, '
        "at most 128 characters",
        "add-model-empty",
    ),
    _row(
        lambda s, u: s.AddModel(pb.AddModelRequest(name="a_b", owner="admin"), timeout=T),
        Code.INVALID_ARGUMENT,
        'model name "a_b" not valid: use lower-case letters, digits and hyphens, '
        "at most 128 characters",
        "add-model-underscore",
    ),
    _row(
        lambda s, u: s.AddModel(pb.AddModelRequest(name="x" * 129, owner="admin"), timeout=T),
        Code.INVALID_ARGUMENT,
        f'model name "{"x" * 129}" not valid: use lower-case letters, digits and hyphens, '
        "at most 128 characters",
        "add-model-long",
    ),
    _row(
        lambda s, u: s.AddModel(pb.AddModelRequest(name="dev", owner="b"), timeout=T),
        Code.INVALID_ARGUMENT,
        'user name "b" not valid',
        "add-model-bad-owner",
    ),
    _row(
        lambda s, u: s.AddModel(pb.AddModelRequest(name="prod", owner="admin"), timeout=T),
        Code.ALREADY_EXISTS,
        'model "admin/prod" already exists',
        "add-model-duplicate",
    ),
    # ListModels
    _row(
        lambda s, u: s.ListModels(pb.ListModelsRequest(page_size=-1), timeout=T),
        Code.INVALID_ARGUMENT,
        "page_size must not be negative, got -1",
        "list-negative-size",
    ),
    _row(
        lambda s, u: s.ListModels(pb.ListModelsRequest(page_token="garbage"), timeout=T),
        Code.INVALID_ARGUMENT,
        "page_token not valid: pass the next_page_token of a previous page",
        "list-bad-token",
    ),
    # GetModel
    _row(
        lambda s, u: s.GetModel(pb.GetModelRequest(uuid=UNKNOWN), timeout=T),
        Code.NOT_FOUND,
        f'model "{UNKNOWN}" not found',
        "get-model-unknown-uuid",
    ),
    _row(
        lambda s, u: s.GetModel(pb.GetModelRequest(owner="admin", name="nope"), timeout=T),
        Code.NOT_FOUND,
        'model "admin/nope" not found',
        "get-model-unknown-name",
    ),
    _row(
        lambda s, u: s.GetModel(pb.GetModelRequest(name="prod"), timeout=T),
        Code.INVALID_ARGUMENT,
        "give a model uuid, or an owner and a name",
        "get-model-no-owner",
    ),
    # GetModelConfig / SetModelConfig
    _row(
        lambda s, u: s.SetModelConfig(
            pb.SetModelConfigRequest(model_uuid=u, config={"colour": "red"}), timeout=T
        ),
        Code.INVALID_ARGUMENT,
        'unknown model config key "colour"',
        "set-config-unknown-key",
    ),
    _row(
        lambda s, u: s.SetModelConfig(
            pb.SetModelConfigRequest(model_uuid=u, config={"egress-subnets": "10.0.0.0/8,x"}),
            timeout=T,
        ),
        Code.INVALID_ARGUMENT,
        'invalid egress-subnets value "x": not a CIDR',
        "set-config-bad-cidr",
    ),
    # Deploy
    _row(
        lambda s, u: _deploy(s, u, "name: x\nrequires: {db: {scope: container}}"),
        Code.INVALID_ARGUMENT,
        'charm "x": requires.db has no "interface"',
        "deploy-bad-metadata",
    ),
    _row(
        lambda s, u: _deploy(s, u, "name: x\n  : ["),
        Code.INVALID_ARGUMENT,
        "charm metadata is not valid YAML: expected <block end>, but found "
        "'<block mapping start>' (line 2, column 3)",
        "deploy-bad-yaml",
    ),
    _row(
        lambda s, u: _deploy(s, u, ""),
        Code.INVALID_ARGUMENT,
        "charm metadata must be a mapping with at least a name",
        "deploy-empty-metadata",
    ),
    _row(
        lambda s, u: _deploy(s, u, "name: x\n#" + "a" * (1024 * 1024)),
        Code.INVALID_ARGUMENT,
        "charm metadata is larger than 1 MiB",
        "deploy-too-large",
    ),
    _row(
        lambda s, u: _deploy(s, u, WORDPRESS, application="foo-1"),
        Code.INVALID_ARGUMENT,
        'invalid application name "foo-1", unexpected number(s) found after last hyphen',
        "deploy-bad-app-name",
    ),
    _row(
        lambda s, u: _deploy(s, u),
        Code.ALREADY_EXISTS,
        'application "mysql" already exists',
        "deploy-duplicate",
    ),
    _row(
        lambda s, u: _deploy(s, u, WORDPRESS, num_units=-1),
        Code.INVALID_ARGUMENT,
        "num_units must not be negative, got -1",
        "deploy-negative-units",
    ),
    _row(
        lambda s, u: _deploy(s, u, LOGGING, application="logs", num_units=1),
        Code.INVALID_ARGUMENT,
        "cannot use --num-units or --to with subordinate application",
        "deploy-subordinate-units",
    ),
    _row(
        lambda s, u: _deploy(s, u, WORDPRESS, num_units=2, to=["1", "7"]),
        Code.NOT_FOUND,
        "machine 7 not found",
        "deploy-to-missing-machine",
    ),
    _row(
        lambda s, u: _deploy(s, u, WORDPRESS, to=["lxd:1"]),
        Code.INVALID_ARGUMENT,
        'machine id "lxd:1" not valid: use a machine number',
        "deploy-to-bad-directive",
    ),
    _row(
        lambda s, u: _deploy(s, u, WORDPRESS, to=["0", "1"]),
        Code.INVALID_ARGUMENT,
        "2 placement directives for 1 unit(s): give at most one per unit",
        "deploy-too-many-directives",
    ),
    # GetApplication / RemoveApplication
    _row(
        lambda s, u: s.GetApplication(
            pb.GetApplicationRequest(model_uuid=u, application="ghost"), timeout=T
        ),
        Code.NOT_FOUND,
        'application "ghost" not found',
        "get-app-unknown",
    ),
    _row(
        lambda s, u: s.RemoveApplication(
            pb.RemoveApplicationRequest(model_uuid=u, application="ghost"), timeout=T
        ),
        Code.NOT_FOUND,
        'application "ghost" not found',
        "remove-app-unknown",
    ),
    # AddUnit
    _row(
        lambda s, u: s.AddUnit(pb.AddUnitRequest(model_uuid=u, application="ghost"), timeout=T),
        Code.NOT_FOUND,
        'application "ghost" not found',
        "add-unit-unknown-app",
    ),
    _row(
        lambda s, u: s.AddUnit(pb.AddUnitRequest(model_uuid=u, application="logging"), timeout=T),
        Code.FAILED_PRECONDITION,
        'cannot add unit to application "logging": application is a subordinate',
        "add-unit-subordinate",
    ),
    _row(
        lambda s, u: s.AddUnit(
            pb.AddUnitRequest(model_uuid=u, application="mysql", num_units=-3), timeout=T
        ),
        Code.INVALID_ARGUMENT,
        "num_units must not be negative, got -3",
        "add-unit-negative",
    ),
    _row(
        lambda s, u: s.AddUnit(
            pb.AddUnitRequest(model_uuid=u, application="mysql", to=["9"]), timeout=T
        ),
        Code.NOT_FOUND,
        "machine 9 not found",
        "add-unit-to-missing-machine",
    ),
    # RemoveUnit
    _row(
        lambda s, u: s.RemoveUnit(
            pb.RemoveUnitRequest(model_uuid=u, units=["mysql/0", "ghost/0"]), timeout=T
        ),
        Code.NOT_FOUND,
        'unit "ghost/0" not found',
        "remove-unit-unknown-app",
    ),
    _row(
        lambda s, u: s.RemoveUnit(
            pb.RemoveUnitRequest(model_uuid=u, units=["mysql/0", "mysql/5"]), timeout=T
        ),
        Code.NOT_FOUND,
        'unit "mysql/5" not found',
        "remove-unit-unknown-number",
    ),
    _row(
        lambda s, u: s.RemoveUnit(
            pb.RemoveUnitRequest(model_uuid=u, units=["mysql/0", "mysql"]), timeout=T
        ),
        Code.INVALID_ARGUMENT,
        'unit name "mysql" not valid',
        "remove-unit-malformed",
    ),
    _row(
        lambda s, u: s.RemoveUnit(pb.RemoveUnitRequest(model_uuid=u), timeout=T),
        Code.INVALID_ARGUMENT,
        "no units specified",
        "remove-unit-none",
    ),
    # AddMachine / RemoveMachine
    _row(
        lambda s, u: s.AddMachine(pb.AddMachineRequest(model_uuid=u, count=-1), timeout=T),
        Code.INVALID_ARGUMENT,
        "count must not be negative, got -1",
        "add-machine-negative",
    ),
    _row(
        lambda s, u: s.RemoveMachine(
            pb.RemoveMachineRequest(model_uuid=u, machines=["1", "0"]), timeout=T
        ),
        Code.FAILED_PRECONDITION,
        'machine 0 is hosting units "mysql/0"; remove them first or pass --force',
        "remove-machine-hosting",
    ),
    _row(
        lambda s, u: s.RemoveMachine(
            pb.RemoveMachineRequest(model_uuid=u, machines=["1", "4"], force=True), timeout=T
        ),
        Code.NOT_FOUND,
        "machine 4 not found",
        "remove-machine-unknown",
    ),
    _row(
        lambda s, u: s.RemoveMachine(
            pb.RemoveMachineRequest(model_uuid=u, machines=["1", "-1"]), timeout=T
        ),
        Code.INVALID_ARGUMENT,
        'machine id "-1" not valid: use a machine number',
        "remove-machine-malformed",
    ),
    _row(
        lambda s, u: s.RemoveMachine(pb.RemoveMachineRequest(model_uuid=u), timeout=T),
        Code.INVALID_ARGUMENT,
        "no machines specified",
        "remove-machine-none",
    ),
]

# Every RPC that takes a model_uuid, called with a valid rest of the request.
BY_MODEL: dict[str, Callable[[Stub, str], Any]] = {
    "DestroyModel": lambda s, u: s.DestroyModel(pb.DestroyModelRequest(model_uuid=u), timeout=T),
    "GetModelConfig": lambda s, u: s.GetModelConfig(
        pb.GetModelConfigRequest(model_uuid=u), timeout=T
    ),
    "SetModelConfig": lambda s, u: s.SetModelConfig(
        pb.SetModelConfigRequest(model_uuid=u, config={"egress-subnets": ""}), timeout=T
    ),
    "Deploy": lambda s, u: _deploy(s, u, WORDPRESS),
    "GetApplication": lambda s, u: s.GetApplication(
        pb.GetApplicationRequest(model_uuid=u, application="mysql"), timeout=T
    ),
    "RemoveApplication": lambda s, u: s.RemoveApplication(
        pb.RemoveApplicationRequest(model_uuid=u, application="mysql"), timeout=T
    ),
    "AddUnit": lambda s, u: s.AddUnit(
        pb.AddUnitRequest(model_uuid=u, application="mysql"), timeout=T
    ),
    "RemoveUnit": lambda s, u: s.RemoveUnit(
        pb.RemoveUnitRequest(model_uuid=u, units=["mysql/0"]), timeout=T
    ),
    "AddMachine": lambda s, u: s.AddMachine(pb.AddMachineRequest(model_uuid=u), timeout=T),
    "RemoveMachine": lambda s, u: s.RemoveMachine(
        pb.RemoveMachineRequest(model_uuid=u, machines=["1"]), timeout=T
    ),
    "GetModelStatus": lambda s, u: _status(s, u),
}


def _with_uuid(call: Call, uuid: str) -> Call:
    return lambda s, u: call(s, uuid)


for _name, _call in BY_MODEL.items():
    BAD.append(
        _row(
            _with_uuid(_call, ""),
            Code.INVALID_ARGUMENT,
            "model_uuid is required",
            f"{_name}-empty-uuid",
        )
    )
    BAD.append(
        _row(
            _with_uuid(_call, UNKNOWN),
            Code.NOT_FOUND,
            f'model "{UNKNOWN}" not found',
            f"{_name}-unknown-uuid",
        )
    )


def test_status_of_one_application_lists_only_its_units(stub: Stub) -> None:
    uuid = _model(stub, "egress")
    _deploy(stub, uuid, num_units=2)
    _deploy(stub, uuid, WORDPRESS, num_units=1)
    whole = _status(stub, uuid)
    one = stub.GetModelStatus(
        pb.GetModelStatusRequest(model_uuid=uuid, application="mysql"), timeout=T
    )
    assert [u.name for u in one.units] == ["mysql/0", "mysql/1"]
    assert list(one.units) == [u for u in whole.units if u.application == "mysql"]
    assert (list(one.machines), list(one.applications)) == ([], [])
    assert (one.model, one.config) == (whole.model, whole.config)
    none = stub.GetModelStatus(
        pb.GetModelStatusRequest(model_uuid=uuid, application="nope"), timeout=T
    )
    assert list(none.units) == []
    assert (
        _fails(
            lambda: stub.GetModelStatus(
                pb.GetModelStatusRequest(model_uuid=UNKNOWN, application="mysql"), timeout=T
            )
        )[0]
        == Code.NOT_FOUND
    )


def test_status_shaped_for_status_holds_what_the_flat_reply_holds(stub: Stub) -> None:
    uuid = _model(stub, "shaped")
    _deploy(stub, uuid, num_units=2)
    stub.AddMachine(pb.AddMachineRequest(model_uuid=uuid), timeout=T)
    flat = _status(stub, uuid)
    shaped = stub.GetModelStatus(
        pb.GetModelStatusRequest(model_uuid=uuid, for_status=True), timeout=T
    )
    assert (list(shaped.units), list(shaped.machines)) == ([], [])
    assert (shaped.model, shaped.config, shaped.applications) == (
        flat.model,
        flat.config,
        flat.applications,
    )
    assert [(m.id, m.dns_name, m.base_name) for m in shaped.status_machines.machines] == [
        (m.id, m.address, m.base_name) for m in flat.machines
    ]
    (mysql,) = shaped.status_units
    assert mysql.application == "mysql"
    assert [(u.name, u.machine, u.address, u.leader) for u in mysql.status.units] == [
        (u.name, u.machine, u.address, u.leader) for u in flat.units
    ]
    both = pb.GetModelStatusRequest(model_uuid=uuid, for_status=True, application="mysql")
    assert _fails(lambda: stub.GetModelStatus(both, timeout=T)) == (
        Code.INVALID_ARGUMENT,
        "for_status and application cannot be combined",
    )


@pytest.mark.parametrize(("call", "code", "message"), BAD)
def test_bad_input_is_refused_with_its_code_and_changes_nothing(
    stub: Stub, call: Call, code: grpc.StatusCode, message: str
) -> None:
    uuid = _populated(stub)
    before = _state(stub, uuid)
    assert _fails(lambda: call(stub, uuid)) == (code, message)
    assert _state(stub, uuid) == before


def test_every_model_rpc_works_on_the_populated_model(stub: Stub) -> None:
    # The calls the refusal table sends with a bad uuid succeed with the real one.
    uuid = _populated(stub)
    order = [
        "GetModelConfig",
        "SetModelConfig",
        "Deploy",  # wordpress/0 on new machine 2
        "GetApplication",
        "AddUnit",  # mysql/1 on new machine 3
        "RemoveUnit",  # mysql/0 and its machine 0
        "AddMachine",  # machine 4
        "RemoveMachine",  # machine 1, empty
        "RemoveApplication",  # mysql/1 and its machine 3
    ]
    assert sorted(order) == sorted(set(BY_MODEL) - {"DestroyModel", "GetModelStatus"})
    for name in order:
        BY_MODEL[name](stub, uuid)
    status = BY_MODEL["GetModelStatus"](stub, uuid)
    assert [a.name for a in status.applications] == ["logging", "wordpress"]
    assert [(u.name, u.machine) for u in status.units] == [("wordpress/0", "2")]
    assert [m.id for m in status.machines] == ["2", "4"]
    BY_MODEL["DestroyModel"](stub, uuid)
    assert _fails(lambda: _status(stub, uuid)) == (Code.NOT_FOUND, f'model "{uuid}" not found')


# -- known bugs -----------------------------------------------------------------------------------


def test_an_endpoint_limit_beyond_int32_is_refused(stub: Stub) -> None:
    uuid = _model(stub)
    text = "name: big\nprovides: {db: {interface: mysql, limit: 3000000000}}"
    with pytest.raises(grpc.RpcError) as caught:
        _deploy(stub, uuid, text)
    assert isinstance(caught.value, grpc.Call)
    assert caught.value.code() == Code.INVALID_ARGUMENT
    assert list(_status(stub, uuid).applications) == []


@pytest.mark.parametrize("rpc", ["Deploy", "AddUnit", "RemoveMachine"])
def test_a_huge_machine_number_is_not_found(stub: Stub, rpc: str) -> None:
    uuid = _populated(stub)
    huge = "99999999999999999999"
    calls: dict[str, Callable[[], Any]] = {
        "Deploy": lambda: _deploy(stub, uuid, WORDPRESS, to=[huge]),
        "AddUnit": lambda: stub.AddUnit(
            pb.AddUnitRequest(model_uuid=uuid, application="mysql", to=[huge]), timeout=T
        ),
        "RemoveMachine": lambda: stub.RemoveMachine(
            pb.RemoveMachineRequest(model_uuid=uuid, machines=[huge]), timeout=T
        ),
    }
    assert _fails(calls[rpc]) == (Code.NOT_FOUND, f"machine {huge} not found")


def test_deeply_nested_metadata_is_invalid(stub: Stub) -> None:
    uuid = _model(stub)
    text = "name: x\nextra: " + "[" * 3000 + "]" * 3000
    code, _ = _fails(lambda: _deploy(stub, uuid, text))
    assert code == Code.INVALID_ARGUMENT


# -- Watch ------------------------------------------------------------------------------------


def _history(stub: Stub) -> str:
    uuid = _model(stub)
    _deploy(stub, uuid, num_units=2)
    stub.SetModelConfig(
        pb.SetModelConfigRequest(model_uuid=uuid, config={"egress-subnets": "10.0.0.0/8"}),
        timeout=T,
    )
    stub.RemoveUnit(pb.RemoveUnitRequest(model_uuid=uuid, units=["mysql/1"]), timeout=T)
    return uuid


HISTORY = [
    (1, "model-added", "prod"),
    (2, "application-added", "mysql"),
    (3, "machine-added", "0"),
    (4, "unit-added", "mysql/0"),
    (5, "machine-added", "1"),
    (6, "unit-added", "mysql/1"),
    (7, "model-config-changed", ""),
    (8, "unit-removed", "mysql/1"),
    (9, "machine-removed", "1"),
]


def test_watch_replays_from_zero(stub: Stub) -> None:
    uuid = _history(stub)
    stream = stub.Watch(pb.WatchRequest(after_sequence=0), timeout=T)
    try:
        replay = iter(stream)
        events = [next(replay).event for _ in HISTORY]
    finally:
        stream.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs
    assert [(e.sequence, e.kind, e.entity) for e in events] == HISTORY
    assert {e.model_uuid for e in events} == {uuid}
    assert dict(events[7].attributes) == {
        "application": "mysql",
        "machine": "1",
        "principal": "",
    }
    assert dict(events[6].attributes) == {"egress-subnets": "10.0.0.0/8"}


def test_watch_replays_from_a_cursor(stub: Stub) -> None:
    _history(stub)
    stream = stub.Watch(pb.WatchRequest(after_sequence=6), timeout=T)
    try:
        replay = iter(stream)
        events = [next(replay).event for _ in range(3)]
    finally:
        stream.cancel()  # type: ignore[no-untyped-call]
    assert [(e.sequence, e.kind, e.entity) for e in events] == HISTORY[6:]


def test_watch_follows_a_change_made_after_it_opened(stub: Stub) -> None:
    uuid = _model(stub)
    stream = stub.Watch(pb.WatchRequest(after_sequence=1), timeout=T)
    received: list[Any] = []
    done = threading.Event()

    def read() -> None:
        try:
            received.append(next(iter(stream)).event)
        except grpc.RpcError as err:  # pragma: no cover - shown by the assertion below
            received.append(err)
        finally:
            done.set()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        added = stub.AddMachine(pb.AddMachineRequest(model_uuid=uuid), timeout=T)
        assert done.wait(T)
    finally:
        stream.cancel()  # type: ignore[no-untyped-call]
        reader.join(T)
    (event,) = received
    assert (event.sequence, event.kind, event.entity) == (added.sequence, "machine-added", "0")
    assert dict(event.attributes) == {"address": "10.1.0.1"}


def test_watch_refuses_a_negative_cursor(stub: Stub) -> None:
    stream = stub.Watch(pb.WatchRequest(after_sequence=-5), timeout=T)
    assert _fails(lambda: next(iter(stream))) == (
        Code.INVALID_ARGUMENT,
        "after_sequence must not be negative, got -5",
    )
