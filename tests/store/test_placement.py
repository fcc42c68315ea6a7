"""The placement store contract: `SqlitePlacement` and `InMemoryPlacement` answer alike."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kernel.relation import Role, Scope
from services.placement.charm import CharmMeta, Endpoint
from services.placement.domain import Application, Machine, Model, Unit
from tests.store.conftest import REFUSED, Boom, PlacementStore

MYSQL = CharmMeta(
    name="mysql",
    subordinate=False,
    summary="a database",
    endpoints=(
        Endpoint(name="db", role=Role.PROVIDER, interface="mysql", limit=3, optional=True),
        Endpoint(name="cluster", role=Role.PEER, interface="mysql-ha"),
        Endpoint(name="juju-info", role=Role.PROVIDER, interface="juju-info", implicit=True),
    ),
)
LOGGING = CharmMeta(
    name="logging",
    subordinate=True,
    endpoints=(
        Endpoint(name="info", role=Role.REQUIRER, interface="juju-info", scope=Scope.CONTAINER),
    ),
)


def new_model(uuid: str, name: str = "", owner: str = "admin", pool: int = 0) -> Model:
    return Model(
        uuid=uuid,
        name=name or f"m-{uuid}",
        owner=owner,
        pool_index=pool or int(uuid.removeprefix("u")),
        created_at="2024-05-01T12:00:00.000000Z",
    )


def add_model(store: PlacementStore, model: Model) -> Model:
    with store.transaction():
        store.add_model(model)
    return model


def deploy(store: PlacementStore, uuid: str, name: str, meta: CharmMeta = MYSQL) -> Application:
    with store.transaction():
        revision = store.charm_revision(uuid, meta, f"name: {meta.name}\n")
        app = Application(model_uuid=uuid, name=name, charm=meta, charm_revision=revision)
        store.add_application(app)
    return app


def machine(store: PlacementStore, uuid: str, number: int, *, auto: bool = False) -> Machine:
    made = Machine(id=str(number), address=f"10.1.0.{number + 1}", auto=auto)
    with store.transaction():
        store.add_machine(uuid, made)
    return made


def unit(
    store: PlacementStore, uuid: str, app: str, number: int, on: Machine, principal: str = ""
) -> Unit:
    made = Unit(
        name=f"{app}/{number}",
        application=app,
        number=number,
        machine=on.id,
        address=on.address,
        principal=principal,
    )
    with store.transaction():
        store.add_unit(uuid, made)
    return made


# -- models --------------------------------------------------------------------------------------


def test_a_model_reads_back_by_uuid_and_by_owner_and_name(placement: PlacementStore) -> None:
    model = add_model(placement, new_model("u1", "prod", "bob"))
    assert placement.model("u1") == model
    assert placement.model_named("bob", "prod") == model
    assert placement.model("u2") is None
    assert placement.model_named("admin", "prod") is None
    assert placement.model_named("bob", "dev") is None


@pytest.mark.parametrize(
    "clash",
    [
        new_model("u1", "other", "admin", pool=9),
        new_model("u9", "prod", "bob", pool=9),
        new_model("u9", "other", "admin", pool=1),
    ],
    ids=["uuid", "owner-and-name", "pool"],
)
def test_a_model_uuid_name_per_owner_and_address_pool_are_unique(
    placement: PlacementStore, clash: Model
) -> None:
    first = add_model(placement, new_model("u1", "prod", "bob", pool=1))
    with pytest.raises(REFUSED):
        add_model(placement, clash)
    assert placement.models("", None, 10) == [first]
    assert placement.pool_indexes() == {1}


def test_models_page_by_owner_then_name(placement: PlacementStore) -> None:
    for uuid, name, owner in (
        ("u1", "b", "bob"),
        ("u2", "a", "carol"),
        ("u3", "z", "alice"),
        ("u4", "a", "bob"),
    ):
        add_model(placement, new_model(uuid, name, owner))

    def keys(owner: str, after: tuple[str, str] | None, limit: int) -> list[tuple[str, str]]:
        return [(m.owner, m.name) for m in placement.models(owner, after, limit)]

    assert keys("", None, 10) == [("alice", "z"), ("bob", "a"), ("bob", "b"), ("carol", "a")]
    assert keys("", ("bob", "a"), 2) == [("bob", "b"), ("carol", "a")]
    assert keys("bob", None, 10) == [("bob", "a"), ("bob", "b")]
    assert keys("bob", ("bob", "a"), 10) == [("bob", "b")]
    assert placement.pool_indexes() == {1, 2, 3, 4}


def test_removing_a_model_removes_everything_in_it_and_frees_its_pool(
    placement: PlacementStore,
) -> None:
    for uuid in ("u1", "u2"):
        add_model(placement, new_model(uuid))
        deploy(placement, uuid, "db")
        unit(placement, uuid, "db", 0, machine(placement, uuid, 0))
        with placement.transaction():
            placement.set_config(uuid, {"egress-subnets": "10.0.0.0/8"})
            placement.add_container_relation(uuid, 0, "db", "logging")
    with placement.transaction():
        placement.remove_model("u1")

    assert placement.model("u1") is None
    assert placement.model_named("admin", "m-u1") is None
    assert placement.pool_indexes() == {2}
    assert placement.application("u1", "db") is None
    assert placement.machine("u1", "0") is None
    assert placement.unit("u1", "db/0") is None
    assert placement.config("u1") == {}
    assert placement.container_partners("u1", "db") == set()
    assert placement.status("u1") == ([], [], [])

    assert placement.application("u2", "db") is not None
    assert placement.unit("u2", "db/0") is not None
    assert placement.config("u2") == {"egress-subnets": "10.0.0.0/8"}
    assert placement.container_partners("u2", "db") == {"logging"}


def test_model_config_merges_keys_per_model(placement: PlacementStore) -> None:
    add_model(placement, new_model("u1"))
    add_model(placement, new_model("u2"))
    assert placement.config("u1") == {}
    with placement.transaction():
        placement.set_config("u1", {"a": "1", "b": "2"})
        placement.set_config("u1", {"b": "3", "c": ""})
    assert placement.config("u1") == {"a": "1", "b": "3", "c": ""}
    assert placement.config("u2") == {}


# -- charms and applications ---------------------------------------------------------------------


def test_a_charm_text_keeps_its_revision_and_a_new_text_takes_the_next(
    placement: PlacementStore,
) -> None:
    add_model(placement, new_model("u1"))
    add_model(placement, new_model("u2"))
    with placement.transaction():
        assert placement.charm_revision("u1", MYSQL, "v1") == 1
        assert placement.charm_revision("u1", MYSQL, "v2") == 2
        assert placement.charm_revision("u1", MYSQL, "v1") == 1
        assert placement.charm_revision("u1", LOGGING, "v2") == 1
        assert placement.charm_revision("u2", MYSQL, "v2") == 1
        assert placement.charm_revision("u1", MYSQL, "v3") == 3


def test_an_application_reads_back_with_its_charm_and_live_unit_count(
    placement: PlacementStore,
) -> None:
    add_model(placement, new_model("u1"))
    app = deploy(placement, "u1", "db")
    assert placement.application("u1", "db") == app
    assert placement.application("u1", "web") is None
    assert placement.application("u2", "db") is None

    host = machine(placement, "u1", 0)
    unit(placement, "u1", "db", 0, host)
    unit(placement, "u1", "db", 1, host)
    found = placement.application("u1", "db")
    assert found is not None
    assert found.unit_count == 2
    assert found.charm == MYSQL


def test_an_application_name_is_unique_in_its_model(placement: PlacementStore) -> None:
    add_model(placement, new_model("u1"))
    add_model(placement, new_model("u2"))
    deploy(placement, "u1", "db")
    deploy(placement, "u2", "db")
    with pytest.raises(REFUSED):
        deploy(placement, "u1", "db", LOGGING)
    found = placement.application("u1", "db")
    assert found is not None
    assert found.charm == MYSQL


def test_a_removed_application_is_gone(placement: PlacementStore) -> None:
    add_model(placement, new_model("u1"))
    deploy(placement, "u1", "db")
    with placement.transaction():
        placement.remove_application("u1", "db")
    assert placement.application("u1", "db") is None
    assert placement.status("u1")[1] == []


def test_unit_numbers_count_from_zero_per_application_and_outlive_it(
    placement: PlacementStore,
) -> None:
    add_model(placement, new_model("u1"))
    add_model(placement, new_model("u2"))
    deploy(placement, "u1", "db")
    with placement.transaction():
        assert [placement.next_unit_number("u1", "db") for _ in range(3)] == [0, 1, 2]
        assert placement.next_unit_number("u1", "web") == 0
        assert placement.next_unit_number("u2", "db") == 0
        placement.remove_application("u1", "db")
    deploy(placement, "u1", "db")
    with placement.transaction():
        assert placement.next_unit_number("u1", "db") == 3


# -- machines and units --------------------------------------------------------------------------


def test_machine_numbers_count_from_zero_per_model_one_or_many_at_a_time(
    placement: PlacementStore,
) -> None:
    model = add_model(placement, new_model("u1"))
    add_model(placement, new_model("u2"))
    with placement.transaction():
        assert placement.next_machine_number("u1") == 0
        assert placement.take_machine_numbers("u1", 3) == (model, 1)
        assert placement.next_machine_number("u1") == 4
        assert placement.next_machine_number("u2") == 0
        assert placement.take_machine_numbers("u9", 2) is None


def test_a_machine_reads_back_until_removed(placement: PlacementStore) -> None:
    add_model(placement, new_model("u1"))
    made = machine(placement, "u1", 3, auto=True)
    assert placement.machine("u1", "3") == made
    assert placement.machine("u1", "4") is None
    assert placement.machine("u2", "3") is None
    assert placement.machine("u1", str(2**64)) is None
    with placement.transaction():
        placement.remove_machine("u1", "3")
    assert placement.machine("u1", "3") is None


def test_a_machine_number_is_unique_in_its_model(placement: PlacementStore) -> None:
    add_model(placement, new_model("u1"))
    first = machine(placement, "u1", 0)
    with pytest.raises(REFUSED), placement.transaction():
        placement.add_machine("u1", Machine(id="0", address="10.9.9.9"))
    assert placement.machine("u1", "0") == first


def test_a_unit_reads_back_with_its_machines_address(placement: PlacementStore) -> None:
    add_model(placement, new_model("u1"))
    deploy(placement, "u1", "db")
    host = machine(placement, "u1", 0)
    with placement.transaction():
        placement.add_unit(
            "u1", Unit(name="db/0", application="db", number=0, machine="0", address="")
        )
    assert placement.unit("u1", "db/0") == Unit(
        name="db/0", application="db", number=0, machine="0", address=host.address
    )
    assert placement.unit("u1", "db/1") is None
    assert placement.unit("u2", "db/0") is None


def test_a_unit_name_is_unique_in_its_model(placement: PlacementStore) -> None:
    add_model(placement, new_model("u1"))
    deploy(placement, "u1", "db")
    first = unit(placement, "u1", "db", 0, machine(placement, "u1", 0))
    other = machine(placement, "u1", 1)
    with pytest.raises(REFUSED):
        unit(placement, "u1", "db", 0, other)
    assert placement.unit("u1", "db/0") == first


def test_units_list_by_application_then_number_and_go_when_removed(
    placement: PlacementStore,
) -> None:
    add_model(placement, new_model("u1"))
    deploy(placement, "u1", "web")
    deploy(placement, "u1", "db")
    deploy(placement, "u1", "logging", LOGGING)
    one, two = machine(placement, "u1", 1), machine(placement, "u1", 2)
    web10 = unit(placement, "u1", "web", 10, one)
    web2 = unit(placement, "u1", "web", 2, two)
    db0 = unit(placement, "u1", "db", 0, one)
    log0 = unit(placement, "u1", "logging", 0, one, principal="web/10")
    log1 = unit(placement, "u1", "logging", 1, one, principal="db/0")

    assert placement.units_of("u1", "web") == [web2, web10]
    assert placement.units_of("u1", "nothing") == []
    assert placement.units_on("u1", "1") == [db0, log0, log1, web10]
    assert placement.units_on("u1", "2") == [web2]
    assert placement.subordinates_of("u1", "web/10") == [log0]
    assert placement.subordinates_of("u1", "web/2") == []

    with placement.transaction():
        placement.remove_unit("u1", "logging/0")
    assert placement.unit("u1", "logging/0") is None
    assert placement.subordinates_of("u1", "web/10") == []


def test_status_reads_a_model_in_the_order_status_shows_it(placement: PlacementStore) -> None:
    add_model(placement, new_model("u1"))
    add_model(placement, new_model("u2"))
    web = deploy(placement, "u1", "web")
    db = deploy(placement, "u1", "db")
    deploy(placement, "u2", "other")
    ten, two = machine(placement, "u1", 10), machine(placement, "u1", 2)
    web10 = unit(placement, "u1", "web", 10, ten)
    web2 = unit(placement, "u1", "web", 2, two)
    db0 = unit(placement, "u1", "db", 0, ten)

    machines, apps, units = placement.status("u1")
    assert machines == [two, ten]
    assert apps == [replace(db, unit_count=1), replace(web, unit_count=2)]
    assert units == [db0, web2, web10]

    machine_rows, row_apps, unit_rows = placement.status_rows("u1")
    assert [tuple(r) for r in machine_rows] == [(m.id, m.address) for m in machines]
    assert row_apps == apps
    assert [tuple(r) for r in unit_rows] == [
        (u.name, u.application, u.number, u.machine, u.address, u.principal) for u in units
    ]
    assert placement.status("u9") == ([], [], [])


# -- what placement learns from the relations feed -----------------------------------------------


def test_a_container_relation_is_recorded_once_and_forgotten_once(
    placement: PlacementStore,
) -> None:
    add_model(placement, new_model("u1"))
    with placement.transaction():
        placement.add_container_relation("u1", 4, "web", "logging")
        placement.add_container_relation("u1", 4, "db", "logging")
        placement.add_container_relation("u1", 5, "logging", "db")
        placement.add_container_relation("u2", 4, "web", "metrics")
    assert placement.container_partners("u1", "logging") == {"web", "db"}
    assert placement.container_partners("u1", "web") == {"logging"}
    assert placement.container_partners("u1", "metrics") == set()

    with placement.transaction():
        assert placement.remove_container_relation("u1", 4) == ("web", "logging")
        assert placement.remove_container_relation("u1", 4) is None
    assert placement.container_partners("u1", "web") == set()
    assert placement.container_partners("u1", "logging") == {"db"}


def test_a_feed_cursor_starts_at_zero_and_keeps_the_last_value(placement: PlacementStore) -> None:
    assert placement.cursor("relations") == 0
    with placement.transaction():
        placement.set_cursor("relations", 7)
        placement.set_cursor("relations", 9)
        placement.set_cursor("access", 1)
    assert placement.cursor("relations") == 9
    assert placement.cursor("access") == 1


def test_a_failed_transaction_takes_no_numbers_and_leaves_no_rows(
    placement: PlacementStore,
) -> None:
    add_model(placement, new_model("u1"))

    def fail() -> None:
        with placement.transaction():
            placement.charm_revision("u1", MYSQL, "v1")
            placement.add_application(
                Application(model_uuid="u1", name="db", charm=MYSQL, charm_revision=1)
            )
            placement.next_unit_number("u1", "db")
            placement.take_machine_numbers("u1", 2)
            placement.add_machine("u1", Machine(id="0", address="10.1.0.1"))
            placement.set_config("u1", {"a": "1"})
            placement.set_cursor("relations", 3)
            placement.append_event("application-added", model_uuid="u1", entity="db")
            raise Boom

    with pytest.raises(Boom):
        fail()
    assert placement.status("u1") == ([], [], [])
    assert placement.config("u1") == {}
    assert placement.cursor("relations") == 0
    assert placement.last_sequence() == 0
    with placement.transaction():
        assert placement.charm_revision("u1", MYSQL, "v2") == 1
        assert placement.next_unit_number("u1", "db") == 0
        assert placement.next_machine_number("u1") == 0
