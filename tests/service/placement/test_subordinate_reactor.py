"""Placement's reactor on the relations feed: subordinate units exactly once, across crashes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

import runtime
from cmr.placement.v1 import placement_pb2, placement_pb2_grpc
from cmr.relations.v1 import relations_pb2, relations_pb2_grpc
from services.common.config import DEFAULT_PORTS, Config
from services.common.server import Built
from services.placement import domain
from services.placement import server as placement_server
from services.placement.store import SqlitePlacement

TIMEOUT = 10
CHARMS = Path(__file__).resolve().parents[3] / "charms"


def _config(data: Path) -> Config:
    password = data / "admin-password"
    data.mkdir(parents=True, exist_ok=True)
    password.write_text("pw\n")
    return Config(
        data_dir=data, bootstrap_password_file=password, ports=dict.fromkeys(DEFAULT_PORTS, 0)
    )


@pytest.fixture
def built(tmp_path: Path) -> Iterator[list[Built]]:
    servers = runtime.build_embedded(_config(tmp_path / "ctrl"))
    for one in servers:
        one.start()
    try:
        yield servers
    finally:
        for one in reversed(servers):
            one.stop(None)


def _side(app: placement_pb2.Application) -> relations_pb2.RelationSide:
    return relations_pb2.RelationSide(
        application=app.name,
        subordinate=app.subordinate,
        endpoints=[
            relations_pb2.CandidateEndpoint(
                name=e.name,
                role={1: "provider", 2: "requirer", 3: "peer"}[e.role],
                interface=e.interface,
                scope="container" if e.scope == placement_pb2.SCOPE_CONTAINER else "global",
                implicit=e.implicit,
            )
            for e in app.charm.endpoints
        ],
    )


def test_a_restarted_placement_makes_each_subordinate_unit_exactly_once(
    built: list[Built], tmp_path: Path
) -> None:
    placement_built, relations_built = built[0], built[2]
    with (
        grpc.insecure_channel(f"127.0.0.1:{placement_built.port}") as p_channel,
        grpc.insecure_channel(f"127.0.0.1:{relations_built.port}") as r_channel,
    ):
        placement = placement_pb2_grpc.PlacementServiceStub(p_channel)
        relations = relations_pb2_grpc.RelationServiceStub(r_channel)
        model = placement.AddModel(
            placement_pb2.AddModelRequest(name="crash", owner="admin"), timeout=TIMEOUT
        ).model
        apps = {}
        for charm, units in (("wordpress", 3), ("logging", 0)):
            apps[charm] = placement.Deploy(
                placement_pb2.DeployRequest(
                    model_uuid=model.uuid,
                    metadata_yaml=(CHARMS / charm / "metadata.yaml").read_text(),
                    num_units=units,
                ),
                timeout=TIMEOUT,
            ).application
        # placement goes down before it sees the relation
        placement_built.stop(None)
        added = relations.AddRelation(
            relations_pb2.AddRelationRequest(
                model_uuid=model.uuid, a=_side(apps["logging"]), b=_side(apps["wordpress"])
            ),
            timeout=TIMEOUT,
        )
        assert added.relation.scope == "container"
    # and comes back on the same file and a new port
    cfg = _config(tmp_path / "ctrl").with_changes(
        addresses={"relations": f"127.0.0.1:{relations_built.port}"}
    )
    again = placement_server.build_server(cfg)
    again.start()
    built[0] = again
    with grpc.insecure_channel(f"127.0.0.1:{again.port}") as channel:
        placement = placement_pb2_grpc.PlacementServiceStub(channel)
        placement.Sync(
            placement_pb2.SyncRequest(source="relations", sequence=added.sequence), timeout=5
        )
        status = placement.GetModelStatus(
            placement_pb2.GetModelStatusRequest(model_uuid=model.uuid), timeout=TIMEOUT
        )
    subs = sorted((u.principal, u.name) for u in status.units if u.application == "logging")
    assert subs == [
        ("wordpress/0", "logging/0"),
        ("wordpress/1", "logging/1"),
        ("wordpress/2", "logging/2"),
    ]


class Crashing(SqlitePlacement):
    """Fails once, at the very end of applying an event, as a crash would."""

    crashed = False

    def set_cursor(self, source: str, sequence: int) -> None:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("power cut")
        super().set_cursor(source, sequence)


def test_a_crash_mid_event_leaves_nothing_and_the_retry_makes_the_units(tmp_path: Path) -> None:
    store = Crashing(tmp_path / "placement.db")
    try:
        model, _ = domain.add_model(store, "m", "admin", now="2026-01-01T00:00:00Z")
        for charm, units in (("wordpress", 2), ("logging", 0)):
            text = (CHARMS / charm / "metadata.yaml").read_text()
            domain.deploy(store, model.uuid, text, "", units, [])
        attributes = {"scope": "container", "applications": "logging,wordpress"}
        with pytest.raises(RuntimeError):
            domain.apply_relations_event(
                store, "relations", 7, "relation-added", model.uuid, "0", attributes
            )
        assert store.units_of(model.uuid, "logging") == []
        assert store.cursor("relations") == 0
        for _ in range(2):  # the retry, then a replay
            domain.apply_relations_event(
                store, "relations", 7, "relation-added", model.uuid, "0", attributes
            )
        assert [u.name for u in store.units_of(model.uuid, "logging")] == [
            "logging/0",
            "logging/1",
        ]
        assert store.cursor("relations") == 7
    finally:
        store.close()
