"""The relations store contract: `SqliteRelations` and `InMemoryRelations` answer alike."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from kernel.relation import Half, Role, Scope
from services.relations.domain import (
    Endpoint,
    KnownUnit,
    Relation,
    RelationStatus,
    SuspendCause,
    in_key_order,
    relation_key,
)
from tests.store.conftest import REFUSED, Boom, RelationsStore

CREATED = "2024-05-01T12:00:00.000000Z"


def end(
    app: str,
    name: str,
    role: Role,
    interface: str = "mysql",
    *,
    scope: Scope = Scope.GLOBAL,
    remote: bool = False,
) -> Endpoint:
    return Endpoint(
        application=app, name=name, role=role, interface=interface, scope=scope, remote=remote
    )


DB = end("mysql", "db", Role.PROVIDER)
WP = end("wordpress", "db", Role.REQUIRER)


def relation(model: str, rid: int, *ends: Endpoint, **fields: Any) -> Relation:
    endpoints = in_key_order(ends or (WP, DB))
    made = Relation(
        model_uuid=model,
        id=rid,
        key=relation_key(endpoints),
        endpoints=endpoints,
        created_at=CREATED,
    )
    return replace(made, **fields)


def add(store: RelationsStore, *relations: Relation) -> None:
    with store.transaction():
        for r in relations:
            store.add_relation(r)


def unit(model: str, name: str, machine: str = "0", principal: str = "") -> KnownUnit:
    return KnownUnit(
        model_uuid=model,
        name=name,
        application=name.split("/")[0],
        machine=machine,
        principal=principal,
    )


# -- relations -----------------------------------------------------------------------------------


def test_relation_ids_count_from_zero_per_model_and_are_never_reused(
    relations: RelationsStore,
) -> None:
    with relations.transaction():
        assert [relations.next_relation_id("m1") for _ in range(3)] == [0, 1, 2]
        assert relations.next_relation_id("m2") == 0
        relations.add_relation(relation("m1", 2))
        relations.remove_relation("m1", 2)
        assert relations.next_relation_id("m1") == 3


def test_a_relation_reads_back_with_every_field(relations: RelationsStore) -> None:
    offered = relation(
        "m1",
        4,
        end("mysql", "db", Role.PROVIDER, scope=Scope.CONTAINER),
        end("remote-abc", "db", Role.REQUIRER, remote=True),
        scope=Scope.CONTAINER,
        status=RelationStatus.SUSPENDED,
        message="maintenance",
        suspended=True,
        suspended_reason="maintenance",
        offer_uuid="o1",
        via=("10.0.0.0/8",),
        token="t1",
        side=Half.OFFERER,
        username="bob",
        source_model_uuid="m9",
        subnets=("192.168.0.0/16", "10.1.0.0/16"),
        peer_controller="c2",
        peer_address="10.9.9.9:17070",
        peer_token="secret",
    )
    add(relations, offered)
    assert relations.get_relation("m1", 4) == offered
    assert relations.relation_with_key("m1", offered.key) == offered
    assert relations.get_relation("m1", 5) is None
    assert relations.get_relation("m2", 4) is None
    assert relations.relation_with_key("m1", "nothing:here") is None
    assert relations.relation_with_key("m2", offered.key) is None


def test_a_relation_reads_back_with_its_endpoints_in_key_order(relations: RelationsStore) -> None:
    given = relation("m1", 0)
    add(relations, replace(given, endpoints=(DB, WP)))
    found = relations.get_relation("m1", 0)
    assert found is not None
    assert found.endpoints == (WP, DB)


def test_a_relation_added_without_a_creation_time_gets_the_time_it_was_added(
    relations: RelationsStore,
) -> None:
    add(relations, relation("m1", 0, created_at=""))
    found = relations.get_relation("m1", 0)
    assert found is not None
    assert datetime.fromisoformat(found.created_at).tzinfo is not None


@pytest.mark.parametrize("clash", ["id", "key"])
def test_a_relation_id_and_key_are_unique_in_a_model(
    relations: RelationsStore, clash: str
) -> None:
    first = relation("m1", 0)
    add(relations, first, relation("m2", 0))
    other = relation("m1", 0, end("a", "b", Role.PEER)) if clash == "id" else relation("m1", 1)
    with pytest.raises(REFUSED):
        add(relations, other)
    assert relations.list_relations("m1") == [first]


def test_a_models_relations_list_by_id_and_by_application(relations: RelationsStore) -> None:
    peer = relation("m1", 10, end("mysql", "cluster", Role.PEER, "mysql-ha"))
    logs = relation(
        "m1",
        2,
        end("logging", "info", Role.REQUIRER, "juju-info"),
        end("wordpress", "juju-info", Role.PROVIDER, "juju-info"),
    )
    db = relation("m1", 3)
    add(relations, peer, logs, db, relation("m2", 0))

    assert relations.list_relations("m1") == [logs, db, peer]
    assert relations.list_relations("m1", "wordpress") == [logs, db]
    assert relations.list_relations("m1", "mysql") == [db, peer]
    assert relations.list_relations("m1", "nothing") == []
    assert relations.list_relations("m9") == []
    assert relations.count_relations("m1", "wordpress") == 2
    assert relations.count_relations("m1", "nothing") == 0
    assert relations.count_endpoint_relations("m1", "mysql", "db") == 1
    assert relations.count_endpoint_relations("m1", "mysql", "cluster") == 1
    assert relations.count_endpoint_relations("m1", "mysql", "other") == 0


def test_a_removed_relation_takes_its_scope_with_it(relations: RelationsStore) -> None:
    add(relations, relation("m1", 0), relation("m1", 1, end("mysql", "ha", Role.PEER)))
    with relations.transaction():
        relations.enter_scope("m1", 0, unit("m1", "wordpress/0"), Role.REQUIRER)
        relations.enter_scope("m1", 1, unit("m1", "mysql/0"), Role.PEER)
        relations.remove_relation("m1", 0)
    assert relations.get_relation("m1", 0) is None
    assert relations.in_scope("m1", 0) == []
    assert relations.in_scope("m1", 1) == ["mysql/0"]
    assert relations.count_relations("m1", "wordpress") == 0


def test_a_relations_state_and_subnets_change_in_place(relations: RelationsStore) -> None:
    given = relation("m1", 0, subnets=("10.0.0.0/8",))
    add(relations, given)
    with relations.transaction():
        relations.set_state(
            "m1",
            0,
            status=RelationStatus.SUSPENDED,
            message="offer permission revoked",
            suspended=True,
            suspended_reason="offer permission revoked",
            suspend_cause=SuspendCause.REVOKED,
        )
        relations.set_subnets("m1", 0, ["192.168.1.0/24", "10.2.0.0/16"])
    assert relations.get_relation("m1", 0) == replace(
        given,
        status=RelationStatus.SUSPENDED,
        message="offer permission revoked",
        suspended=True,
        suspended_reason="offer permission revoked",
        suspend_cause=SuspendCause.REVOKED,
        subnets=("192.168.1.0/24", "10.2.0.0/16"),
    )
    with relations.transaction():
        relations.set_subnets("m1", 0, [])
    found = relations.get_relation("m1", 0)
    assert found is not None
    assert found.subnets == ()


# -- cross-model halves --------------------------------------------------------------------------


def half(model: str, rid: int, token: str, **fields: Any) -> Relation:
    proxy = end(f"remote-{token}", "db", Role.REQUIRER, remote=True)
    return relation(model, rid, DB, proxy, token=token, side=Half.OFFERER, **fields)


def test_the_halves_of_an_offer_list_by_model_then_id(relations: RelationsStore) -> None:
    a = half("m2", 0, "t1", offer_uuid="o1", username="bob")
    b = half("m1", 10, "t2", offer_uuid="o1", username="carol")
    c = half("m1", 2, "t3", offer_uuid="o1", username="bob")
    d = half("m1", 3, "t4", offer_uuid="o2", username="bob")
    add(relations, a, b, c, d, relation("m1", 4))

    assert relations.relations_of_offer("o1") == [c, b, a]
    assert relations.relations_of_offer("o9") == []
    assert relations.relations_of_offers(["o2", "o1"]) == [c, d, b, a]
    assert relations.relations_of_offers([]) == []
    assert relations.user_relations_of_offer("o1", "bob") == [c, a]
    assert relations.user_relations_of_offer("o1", "dave") == []


def test_both_halves_of_a_relation_share_its_token(relations: RelationsStore) -> None:
    consumer = relation("m2", 7, WP, end("mysql", "db", Role.PROVIDER, remote=True), token="t1")
    offerer = half("m1", 0, "t1")
    add(relations, consumer, offerer, half("m1", 1, "t2"), relation("m1", 2))
    assert relations.halves("t1") == [offerer, consumer]
    assert relations.halves("t9") == []
    assert relations.halves("") == []


def test_remote_halves_and_their_peer_tokens(relations: RelationsStore) -> None:
    far = half("m1", 0, "t1", peer_controller="c2", peer_token="old")
    other = half("m1", 1, "t2", peer_controller="c3")
    add(relations, far, other, half("m1", 2, "t3"))
    assert relations.remote_halves() == [far, other]
    assert relations.remote_halves("t2") == [other]
    assert relations.remote_halves("t3") == []

    with relations.transaction():
        relations.set_peer_token("t1", "new")
    assert relations.remote_halves("t1") == [replace(far, peer_token="new")]
    assert relations.get_relation("m1", 1) == other


# -- units and scopes ----------------------------------------------------------------------------


def test_known_units_are_replaced_by_name_and_listed_by_name(relations: RelationsStore) -> None:
    with relations.transaction():
        relations.put_unit(unit("m1", "wordpress/10", "1"))
        relations.put_unit(unit("m1", "wordpress/2", "0"))
        relations.put_unit(unit("m1", "wordpress/2", "5"))
        relations.put_unit(unit("m1", "mysql/0"))
        relations.put_unit(unit("m1", "logging/0", principal="wordpress/2"))
        relations.put_unit(unit("m2", "wordpress/0"))

    assert relations.units_of("m1", ["wordpress"]) == [
        unit("m1", "wordpress/10", "1"),
        unit("m1", "wordpress/2", "5"),
    ]
    assert [u.name for u in relations.units_of("m1", ["mysql", "logging"])] == [
        "logging/0",
        "mysql/0",
    ]
    assert relations.units_of("m1", []) == []
    assert relations.units_in_container("m1", "wordpress/2") == [
        unit("m1", "logging/0", principal="wordpress/2"),
        unit("m1", "wordpress/2", "5"),
    ]
    assert relations.units_in_container("m1", "nothing/0") == []


def test_known_units_are_forgotten_one_at_a_time_or_by_model(relations: RelationsStore) -> None:
    with relations.transaction():
        for name in ("wordpress/0", "wordpress/1"):
            relations.put_unit(unit("m1", name))
            relations.put_unit(unit("m2", name))
        relations.drop_unit("m1", "wordpress/0")
        relations.drop_unit("m1", "wordpress/9")
    assert [u.name for u in relations.units_of("m1", ["wordpress"])] == ["wordpress/1"]
    with relations.transaction():
        relations.drop_model_units("m2")
    assert relations.units_of("m2", ["wordpress"]) == []
    assert len(relations.units_of("m1", ["wordpress"])) == 1


def test_a_unit_enters_a_scope_once_and_leaves_it(relations: RelationsStore) -> None:
    add(relations, relation("m1", 0), relation("m1", 1, end("mysql", "ha", Role.PEER)))
    with relations.transaction():
        assert relations.enter_scope("m1", 0, unit("m1", "wordpress/10"), Role.REQUIRER)
        assert relations.enter_scope("m1", 0, unit("m1", "mysql/0"), Role.PROVIDER)
        assert relations.enter_scope("m1", 0, unit("m1", "wordpress/2"), Role.REQUIRER)
        assert not relations.enter_scope("m1", 0, unit("m1", "mysql/0"), Role.PROVIDER)
        assert relations.enter_scope("m1", 1, unit("m1", "mysql/0"), Role.PEER)

    assert relations.in_scope("m1", 0) == ["mysql/0", "wordpress/10", "wordpress/2"]
    assert relations.in_scope("m1", 5) == []
    assert relations.in_scope_among("m1", 0, ["mysql/0", "mysql/1", "wordpress/2"]) == {
        "mysql/0",
        "wordpress/2",
    }
    assert relations.in_scope_among("m1", 0, []) == set()

    with relations.transaction():
        relations.leave_scope("m1", 0, "mysql/0")
        relations.leave_scope("m1", 0, "mysql/9")
    assert relations.in_scope("m1", 0) == ["wordpress/10", "wordpress/2"]
    assert relations.in_scope("m1", 1) == ["mysql/0"]


def test_a_feed_cursor_starts_at_zero_and_keeps_the_last_value(relations: RelationsStore) -> None:
    assert relations.cursor("placement") == 0
    with relations.transaction():
        relations.set_cursor("placement", 7)
        relations.set_cursor("placement", 9)
        relations.set_cursor("c2", 1)
    assert relations.cursor("placement") == 9
    assert relations.cursor("c2") == 1


def test_a_failed_transaction_takes_no_id_and_leaves_no_rows(relations: RelationsStore) -> None:
    with relations.transaction():
        relations.add_relation(relation("m1", relations.next_relation_id("m1")))

    def fail() -> None:
        with relations.transaction():
            rid = relations.next_relation_id("m1")
            relations.add_relation(relation("m1", rid, end("mysql", "ha", Role.PEER)))
            relations.enter_scope("m1", 0, unit("m1", "mysql/0"), Role.PROVIDER)
            relations.set_state(
                "m1",
                0,
                status=RelationStatus.ERROR,
                message="boom",
                suspended=True,
                suspended_reason="",
                suspend_cause=SuspendCause.USER,
            )
            relations.put_unit(unit("m1", "mysql/0"))
            relations.set_cursor("placement", 4)
            relations.append_event("relation-added", model_uuid="m1", entity=str(rid))
            raise Boom

    with pytest.raises(Boom):
        fail()
    assert relations.list_relations("m1") == [relation("m1", 0)]
    assert relations.in_scope("m1", 0) == []
    assert relations.units_of("m1", ["mysql"]) == []
    assert relations.cursor("placement") == 0
    assert relations.last_sequence() == 0
    with relations.transaction():
        assert relations.next_relation_id("m1") == 1
