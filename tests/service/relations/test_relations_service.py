"""The relations service skeleton over gRPC on port 0: schema, Watch, health, reflection."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from cmr.relations.v1 import relations_pb2, relations_pb2_grpc
from kernel import errors
from kernel.relation import Role, Scope
from services.common import config
from services.relations.domain import Endpoint, Relation, relation_key
from services.relations.server import build_server
from services.relations.store import SqliteRelations


@dataclass
class Relations:
    stub: relations_pb2_grpc.RelationServiceStub
    channel: grpc.Channel
    db_path: Path


@pytest.fixture
def relations(tmp_path: Path) -> Iterator[Relations]:
    cfg = config.Config(data_dir=tmp_path, ports={**config.DEFAULT_PORTS, "relations": 0})
    built = build_server(cfg)
    built.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{built.port}") as channel:
            yield Relations(
                relations_pb2_grpc.RelationServiceStub(channel), channel, cfg.db_path("relations")
            )
    finally:
        built.stop(None)


@pytest.fixture
def store(relations: Relations) -> Iterator[SqliteRelations]:
    # A second connection to the server's file, as another writer would have.
    opened = SqliteRelations(relations.db_path)
    try:
        yield opened
    finally:
        opened.close()


WORDPRESS_DB = Endpoint(application="wordpress", name="db", role=Role.REQUIRER, interface="mysql")
MYSQL_SERVER = Endpoint(application="mysql", name="server", role=Role.PROVIDER, interface="mysql")
LOGGING_INFO = Endpoint(
    application="logging",
    name="info",
    role=Role.REQUIRER,
    interface="juju-info",
    scope=Scope.CONTAINER,
)
MYSQL_INFO = Endpoint(
    application="mysql", name="juju-info", role=Role.PROVIDER, interface="juju-info"
)


def _relate(store: SqliteRelations, model: str, *endpoints: Endpoint) -> Relation:
    with store.transaction():
        relation = Relation(
            model_uuid=model,
            id=store.next_relation_id(model),
            key=relation_key(endpoints),
            endpoints=endpoints,
            scope=max((e.scope for e in endpoints), key=lambda s: s == Scope.CONTAINER),
        )
        store.add_relation(relation)
        store.append_event("relation-added", model_uuid=model, entity=str(relation.id))
    return relation


@pytest.mark.parametrize(
    ("endpoints", "key"),
    [
        ((MYSQL_SERVER, WORDPRESS_DB), "wordpress:db mysql:server"),
        ((MYSQL_INFO, LOGGING_INFO), "logging:info mysql:juju-info"),
        (
            (Endpoint(application="riak", name="ring", role=Role.PEER, interface="riak"),),
            "riak:ring",
        ),
    ],
)
def test_relation_keys_put_requirers_first(endpoints: tuple[Endpoint, ...], key: str) -> None:
    assert relation_key(endpoints) == key


def test_relation_ids_count_per_model_from_zero(store: SqliteRelations) -> None:
    assert _relate(store, "m1", WORDPRESS_DB, MYSQL_SERVER).id == 0
    assert _relate(store, "m1", LOGGING_INFO, MYSQL_INFO).id == 1
    assert _relate(store, "m2", WORDPRESS_DB, MYSQL_SERVER).id == 0


def test_relation_ids_are_never_reused(store: SqliteRelations) -> None:
    _relate(store, "m1", WORDPRESS_DB, MYSQL_SERVER)
    with store.transaction():
        store.engine.execute("DELETE FROM relations WHERE model_uuid = 'm1'")
    assert store.count_relations("m1", "mysql") == 0
    assert _relate(store, "m1", WORDPRESS_DB, MYSQL_SERVER).id == 1


def test_count_relations_of_an_application(store: SqliteRelations) -> None:
    _relate(store, "m1", WORDPRESS_DB, MYSQL_SERVER)
    _relate(store, "m1", LOGGING_INFO, MYSQL_INFO)
    assert store.count_relations("m1", "mysql") == 2
    assert store.count_relations("m1", "wordpress") == 1
    assert store.count_relations("m2", "mysql") == 0
    rows = store.engine.query("SELECT scope FROM relations WHERE model_uuid = 'm1' ORDER BY id")
    assert [r["scope"] for r in rows] == ["global", "container"]


def test_relation_keys_are_unique_per_model(store: SqliteRelations) -> None:
    _relate(store, "m1", WORDPRESS_DB, MYSQL_SERVER)
    taken = "relation wordpress:db mysql:server already exists"
    with pytest.raises(errors.AlreadyExists, match=taken):
        _relate(store, "m1", MYSQL_SERVER, WORDPRESS_DB)
    assert store.count_relations("m1", "mysql") == 1
    assert [e.kind for e in store.events_after(0)] == ["relation-added"]


def test_watch_replays_events_committed_by_the_store(
    relations: Relations, store: SqliteRelations
) -> None:
    relation = _relate(store, "m1", WORDPRESS_DB, MYSQL_SERVER)
    stream = relations.stub.Watch(relations_pb2.WatchRequest(after_sequence=0), timeout=30)
    try:
        event = next(iter(stream)).event
        assert (event.sequence, event.kind, event.model_uuid, event.entity) == (
            1,
            "relation-added",
            "m1",
            str(relation.id),
        )
    finally:
        stream.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs


def test_watch_after_a_sequence_skips_earlier_events(
    relations: Relations, store: SqliteRelations
) -> None:
    with store.transaction():
        first = store.append_event("relation-added", model_uuid="m1", entity="0")
        store.append_event("relation-added", model_uuid="m1", entity="1")
    stream = relations.stub.Watch(relations_pb2.WatchRequest(after_sequence=first), timeout=30)
    try:
        assert next(iter(stream)).event.entity == "1"
    finally:
        stream.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs
