"""ListOfferRelations and RemoveOfferRelations over gRPC on port 0."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from cmr.relations.v1 import relations_pb2 as pb
from cmr.relations.v1 import relations_pb2_grpc
from kernel.relation import Role
from services.common import config
from services.common.db import now_rfc3339
from services.relations.domain import Endpoint, Relation, RelationStatus, relation_key
from services.relations.server import build_server
from services.relations.store import SqliteRelations

TIMEOUT = 10


@dataclass
class Relations:
    stub: relations_pb2_grpc.RelationServiceStub
    db_path: Path


@pytest.fixture
def relations(tmp_path: Path) -> Iterator[Relations]:
    cfg = config.Config(data_dir=tmp_path, ports={**config.DEFAULT_PORTS, "relations": 0})
    built = build_server(cfg)
    built.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{built.port}") as channel:
            yield Relations(
                relations_pb2_grpc.RelationServiceStub(channel), cfg.db_path("relations")
            )
    finally:
        built.stop(None)


@pytest.fixture
def store(relations: Relations) -> Iterator[SqliteRelations]:
    opened = SqliteRelations(relations.db_path)
    try:
        yield opened
    finally:
        opened.close()


def _relate(
    store: SqliteRelations,
    model: str,
    consumer: str,
    offer_uuid: str,
    status: RelationStatus = RelationStatus.JOINED,
) -> Relation:
    endpoints = (
        Endpoint(application=consumer, name="db", role=Role.REQUIRER, interface="mysql"),
        Endpoint(application="mysql", name="server", role=Role.PROVIDER, interface="mysql"),
    )
    with store.transaction():
        relation = Relation(
            model_uuid=model,
            id=store.next_relation_id(model),
            key=relation_key(endpoints),
            endpoints=endpoints,
            status=status,
            offer_uuid=offer_uuid,
        )
        store.add_relation(relation)
        for unit, app, role in (
            (f"{consumer}/0", consumer, "requirer"),
            ("mysql/0", "mysql", "provider"),
        ):
            store.engine.execute(
                "INSERT INTO relation_units (model_uuid, relation_id, unit, application, role,"
                " entered_at) VALUES (?,?,?,?,?,?)",
                (model, relation.id, unit, app, role, now_rfc3339()),
            )
        store.append_event("relation-added", model_uuid=model, entity=str(relation.id))
    return relation


def test_list_offer_relations_returns_those_of_the_offer_by_id(
    relations: Relations, store: SqliteRelations
) -> None:
    _relate(store, "m1", "wordpress", "offer-1")
    _relate(store, "m1", "mediawiki", "offer-2")
    _relate(store, "m1", "ghost", "offer-1", RelationStatus.SUSPENDED)
    _relate(store, "m1", "local", "")
    reply = relations.stub.ListOfferRelations(
        pb.ListOfferRelationsRequest(offer_uuid="offer-1"), timeout=TIMEOUT
    )
    assert [(r.id, r.key, r.status) for r in reply.relations] == [
        (0, "wordpress:db mysql:server", "joined"),
        (2, "ghost:db mysql:server", "suspended"),
    ]
    none = relations.stub.ListOfferRelations(
        pb.ListOfferRelationsRequest(offer_uuid="offer-9"), timeout=TIMEOUT
    )
    assert list(none.relations) == []


def test_remove_offer_relations_removes_only_that_offers_relations(
    relations: Relations, store: SqliteRelations
) -> None:
    first = _relate(store, "m1", "wordpress", "offer-1")
    kept = _relate(store, "m1", "mediawiki", "offer-2")
    second = _relate(store, "m1", "ghost", "offer-1")
    before = store.last_sequence()
    reply = relations.stub.RemoveOfferRelations(
        pb.RemoveOfferRelationsRequest(offer_uuid="offer-1"), timeout=TIMEOUT
    )
    assert reply.removed == 2
    assert reply.sequence == store.last_sequence()
    assert [r["id"] for r in store.engine.query("SELECT id FROM relations")] == [kept.id]
    for table in ("relation_endpoints", "relation_units"):
        rows = store.engine.query(f"SELECT DISTINCT relation_id FROM {table}")  # noqa: S608
        assert [r["relation_id"] for r in rows] == [kept.id]
    events = store.events_after(before)
    assert [
        (e.kind, e.model_uuid, e.entity, e.attributes["offer-uuid"], e.attributes["key"])
        for e in events
        if e.kind == "relation-removed"
    ] == [
        ("relation-removed", "m1", str(first.id), "offer-1", first.key),
        ("relation-removed", "m1", str(second.id), "offer-1", second.key),
    ]
    # each unit in scope leaves it, with an event, before its relation goes
    left = [(e.entity, e.attributes["relation-id"]) for e in events if e.kind == "unit-left-scope"]
    assert {rid for _, rid in left} == {str(first.id), str(second.id)}
    # The id counter is untouched: ids are never reused.
    assert _relate(store, "m1", "again", "offer-1").id == 3


def test_remove_offer_relations_without_any_is_a_no_op(
    relations: Relations, store: SqliteRelations
) -> None:
    reply = relations.stub.RemoveOfferRelations(
        pb.RemoveOfferRelationsRequest(offer_uuid="offer-1"), timeout=TIMEOUT
    )
    assert (reply.removed, reply.sequence) == (0, 0)
    assert store.events_after(0) == []


@pytest.mark.parametrize("method", ["ListOfferRelations", "RemoveOfferRelations"])
def test_an_offer_uuid_is_required(relations: Relations, method: str) -> None:
    request = (
        pb.ListOfferRelationsRequest()
        if method == "ListOfferRelations"
        else pb.RemoveOfferRelationsRequest()
    )
    with pytest.raises(grpc.RpcError) as raised:
        getattr(relations.stub, method)(request, timeout=TIMEOUT)
    err = raised.value
    assert isinstance(err, grpc.Call)
    assert (err.code(), err.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "offer_uuid is required",
    )
