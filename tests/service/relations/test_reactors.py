"""The relations reactors against real placement and access servers, restart included."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

import runtime
from cmr.access.v1 import access_pb2, access_pb2_grpc
from cmr.placement.v1 import placement_pb2, placement_pb2_grpc
from cmr.relations.v1 import relations_pb2, relations_pb2_grpc
from services.common.config import DEFAULT_PORTS, SERVICES, Config
from services.common.server import Built
from services.relations.store import SqliteRelations

TIMEOUT = 10
CHARMS = Path(__file__).resolve().parents[3] / "charms"


@dataclass
class Stubs:
    placement: placement_pb2_grpc.PlacementServiceStub
    access: access_pb2_grpc.AccessServiceStub
    relations: relations_pb2_grpc.RelationServiceStub


class Controller:
    """The embedded controller's services, which can be stopped and started again."""

    def __init__(self, data: Path) -> None:
        password = data / "admin-password"
        data.mkdir(parents=True, exist_ok=True)
        password.write_text("pw\n")
        self.cfg = Config(
            data_dir=data,
            bootstrap_password_file=password,
            ports=dict.fromkeys(DEFAULT_PORTS, 0),
        )
        self.built: list[Built] = []
        self.channels: list[grpc.Channel] = []

    def start(self) -> Stubs:
        self.built = runtime.build_embedded(self.cfg)
        for one in self.built:
            one.start()
        ports = {s: b.port for s, b in zip(SERVICES, self.built, strict=False)}
        self.channels = [grpc.insecure_channel(f"127.0.0.1:{ports[s]}") for s in SERVICES]
        by = dict(zip(SERVICES, self.channels, strict=True))
        return Stubs(
            placement=placement_pb2_grpc.PlacementServiceStub(by["placement"]),
            access=access_pb2_grpc.AccessServiceStub(by["access"]),
            relations=relations_pb2_grpc.RelationServiceStub(by["relations"]),
        )

    def stop(self) -> None:
        for channel in self.channels:
            channel.close()
        for one in reversed(self.built):
            one.stop(None)


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[Controller]:
    made = Controller(tmp_path / "ctrl")
    try:
        yield made
    finally:
        made.stop()


def _deploy(stubs: Stubs, model: str, charm: str, units: int) -> int:
    reply = stubs.placement.Deploy(
        placement_pb2.DeployRequest(
            model_uuid=model,
            metadata_yaml=(CHARMS / charm / "metadata.yaml").read_text(),
            num_units=units,
        ),
        timeout=TIMEOUT,
    )
    return reply.sequence


def _ep(name: str, role: str) -> relations_pb2.CandidateEndpoint:
    return relations_pb2.CandidateEndpoint(name=name, role=role, interface="mysql")


def _relate(stubs: Stubs, offering: str, consuming: str, user: str) -> relations_pb2.Relation:
    """The offerer's half of a cross-model relation, as the gateway registers it."""
    return stubs.relations.AddRelation(
        relations_pb2.AddRelationRequest(
            model_uuid=offering,
            a=relations_pb2.RelationSide(
                application="remote-" + "b" * 32,
                endpoint="db",
                remote=True,
                endpoints=[_ep("db", "requirer")],
            ),
            b=relations_pb2.RelationSide(
                application="mysql", endpoint="db", endpoints=[_ep("db", "provider")]
            ),
            cross_model=relations_pb2.CrossModel(
                token="tok-" + consuming,
                side="offerer",
                offer_uuid="offer-1",
                username=user,
                source_model_uuid=consuming,
                subnets=["10.1.0.1/32"],
            ),
        ),
        timeout=TIMEOUT,
    ).relation


def _events(controller: Controller) -> list[tuple[str, str]]:
    """Every relations feed event so far, as (kind, entity), read from its file."""
    store = SqliteRelations(controller.cfg.db_path("relations"))
    try:
        return [(e.kind, e.entity) for e in store.events_after(0, limit=100_000)]
    finally:
        store.close()


def test_units_enter_scope_and_a_revoke_suspends_once_across_a_restart(
    controller: Controller,
) -> None:
    stubs = controller.start()
    model = stubs.placement.AddModel(
        placement_pb2.AddModelRequest(name="prod", owner="admin"), timeout=TIMEOUT
    ).model
    seq = _deploy(stubs, model.uuid, "mysql", 2)
    relation = _relate(stubs, model.uuid, "consumer-1", "bob")
    stubs.relations.Sync(relations_pb2.SyncRequest(source="placement", sequence=seq), timeout=5)
    entered = [e for k, e in _events(controller) if k == "unit-entered-scope"]
    assert sorted(entered) == ["mysql/0", "mysql/1"]

    offer = access_pb2.Target(
        kind=access_pb2.TARGET_KIND_OFFER, model_uuid=model.uuid, offer_uuid="offer-1"
    )
    stubs.access.AddUser(access_pb2.AddUserRequest(actor="admin", name="bob"), timeout=TIMEOUT)
    stubs.access.InitTarget(access_pb2.InitTargetRequest(target=offer, owner="admin"))
    stubs.access.Grant(
        access_pb2.GrantRequest(actor="admin", user="bob", level="consume", target=offer),
        timeout=TIMEOUT,
    )
    revoked = stubs.access.Revoke(
        access_pb2.RevokeRequest(actor="admin", user="bob", level="consume", target=offer),
        timeout=TIMEOUT,
    )
    stubs.relations.Sync(
        relations_pb2.SyncRequest(source="access", sequence=revoked.sequence), timeout=5
    )
    [after] = stubs.relations.ListRelations(
        relations_pb2.ListRelationsRequest(model_uuid=model.uuid), timeout=TIMEOUT
    ).relations
    assert (after.id, after.status, after.suspended_reason, after.suspend_cause) == (
        relation.id,
        "suspended",
        "offer permission revoked",
        relations_pb2.SUSPEND_CAUSE_REVOKED,
    )
    left = [e for k, e in _events(controller) if k == "unit-left-scope"]
    assert sorted(left) == ["mysql/0", "mysql/1"]
    before = _events(controller)

    # restart: the cursors are stored, so nothing is applied twice
    controller.stop()
    stubs = controller.start()
    seq = _deploy(stubs, model.uuid, "mediawiki", 1)
    stubs.relations.Sync(relations_pb2.SyncRequest(source="placement", sequence=seq), timeout=5)
    stubs.relations.Sync(
        relations_pb2.SyncRequest(source="access", sequence=revoked.sequence), timeout=5
    )
    assert _events(controller) == before


def test_sync_for_an_unknown_feed_is_invalid(controller: Controller) -> None:
    stubs = controller.start()
    with pytest.raises(grpc.RpcError) as raised:
        stubs.relations.Sync(relations_pb2.SyncRequest(source="offers", sequence=1), timeout=5)
    assert isinstance(raised.value, grpc.Call)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_sync_past_the_feed_is_unavailable_within_the_deadline(controller: Controller) -> None:
    stubs = controller.start()
    with pytest.raises(grpc.RpcError) as raised:
        stubs.relations.Sync(
            relations_pb2.SyncRequest(source="access", sequence=10**9), timeout=0.5
        )
    assert isinstance(raised.value, grpc.Call)
    assert raised.value.code() in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    )
