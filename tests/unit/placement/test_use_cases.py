"""Placement use cases, run on the SQLite store and on the in-memory fake alike."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kernel import errors
from services.placement import domain
from services.placement.store import SqlitePlacement
from tests.unit.placement.conftest import Store

NOW = "2026-01-01T00:00:00.000000Z"
MYSQL = "name: mysql\nprovides:\n  db: mysql\n"
WORDPRESS = "name: wordpress\nrequires:\n  db: mysql\n"
LOGGING = (
    "name: logging\nsubordinate: true\n"
    "requires:\n  info: {interface: juju-info, scope: container}\n"
)


def _uuids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"uuid-{next(counter)}"


def _model(store: Store, name: str = "prod", owner: str = "admin") -> domain.Model:
    model, _ = domain.add_model(store, name, owner, now=NOW)
    return model


def _kinds(store: Store, after: int = 0) -> list[tuple[str, str]]:
    return [(e.kind, e.entity) for e in store.events_after(after)]


def _last(store: Store) -> int:
    events = store.events_after(0)
    return events[-1].sequence if events else 0


def _deploy(
    store: Store,
    uuid: str,
    text: str = MYSQL,
    name: str = "",
    n: int = 0,
    to: list[str] | None = None,
) -> domain.Placed:
    return domain.deploy(store, uuid, text, name, n, to or [])


def _names(units: Any) -> list[str]:
    return [u.name for u in units]


def _refused(call: Callable[[], object], kind: type[errors.CmrError], message: str) -> None:
    with pytest.raises(kind) as caught:
        call()
    assert str(caught.value) == message


# -- models ------------------------------------------------------------------------------------


def test_add_model_takes_a_uuid_and_the_lowest_free_pool(store: Store) -> None:
    new_uuid = _uuids()
    first, seq = domain.add_model(store, "prod", "admin", now=NOW, new_uuid=new_uuid)
    second, _ = domain.add_model(store, "prod", "bob", now=NOW, new_uuid=new_uuid)
    assert (first.uuid, first.address_pool, first.created_at) == ("uuid-1", "10.1.0.0/16", NOW)
    assert (second.uuid, second.address_pool) == ("uuid-2", "10.2.0.0/16")
    event = store.events_after(0)[0]
    assert event.sequence == seq
    assert (event.kind, event.model_uuid, event.entity) == ("model-added", "uuid-1", "prod")
    assert event.attributes == {"owner": "admin", "address-pool": "10.1.0.0/16"}


def test_a_model_name_is_unique_per_owner(store: Store) -> None:
    _model(store)
    before = _last(store)
    _refused(lambda: _model(store), errors.AlreadyExists, 'model "admin/prod" already exists')
    assert _last(store) == before


def test_pools_run_out_and_come_back_when_a_model_is_destroyed(store: Store) -> None:
    models = [_model(store, f"m{k}") for k in range(1, 256)]
    assert models[-1].address_pool == "10.255.0.0/16"
    _refused(
        lambda: _model(store, "one-more"),
        errors.Refused,
        "no free address pool: 255 models exist; destroy one to add another",
    )
    domain.destroy_model(store, models[6].uuid)
    assert _model(store, "one-more").address_pool == "10.7.0.0/16"


def test_models_list_by_owner_then_name_in_pages(store: Store) -> None:
    for owner, name in [
        ("bob", "b"),
        ("admin", "z"),
        ("bob", "a"),
        ("admin", "a"),
        ("carol", "x"),
    ]:
        _model(store, name, owner)
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page, token = domain.list_models(store, "", 2, token)
        seen.extend(f"{m.owner}/{m.name}" for m in page)
        pages += 1
        if not token:
            break
    assert seen == ["admin/a", "admin/z", "bob/a", "bob/b", "carol/x"]
    assert pages == 3
    bobs, token = domain.list_models(store, "bob", 0, "")
    assert ([m.name for m in bobs], token) == (["a", "b"], "")
    exact, token = domain.list_models(store, "admin", 2, "")
    assert (len(exact), token) == (2, "")  # a full last page has no next token


def test_get_model_by_uuid_or_by_owner_and_name(store: Store) -> None:
    model = _model(store)
    assert domain.get_model(store, model.uuid, "", "") == model
    assert domain.get_model(store, "", "admin", "prod") == model
    _refused(
        lambda: domain.get_model(store, "", "admin", "nope"),
        errors.NotFound,
        'model "admin/nope" not found',
    )
    _refused(
        lambda: domain.get_model(store, "nope", "", ""), errors.NotFound, 'model "nope" not found'
    )
    _refused(
        lambda: domain.get_model(store, "", "admin", ""),
        errors.Invalid,
        "give a model uuid, or an owner and a name",
    )


def test_destroy_model_removes_everything_in_it(store: Store) -> None:
    model = _model(store)
    _deploy(store, model.uuid, n=2)
    domain.add_machines(store, model.uuid, 1)
    domain.set_config(store, model.uuid, {"egress-subnets": "10.0.0.0/8"})
    seq = domain.destroy_model(store, model.uuid)
    event = store.events_after(seq - 1)[0]
    assert (event.kind, event.model_uuid, event.entity) == ("model-removed", model.uuid, "prod")
    assert event.attributes == {"owner": "admin"}
    assert store.model(model.uuid) is None
    assert store.status(model.uuid) == ([], [], [])
    _refused(
        lambda: domain.model_status(store, model.uuid),
        errors.NotFound,
        f'model "{model.uuid}" not found',
    )
    # A model of the same name starts from scratch: pool, revisions, numbers, config.
    again = _model(store)
    assert again.address_pool == model.address_pool
    placed = _deploy(store, again.uuid)
    assert (placed.application.charm_revision, _names(placed.units)) == (1, ["mysql/0"])
    assert placed.machines[0].id == "0"
    assert domain.get_config(store, again.uuid) == {"egress-subnets": ""}


def test_destroy_model_leaves_no_rows_behind(tmp_path: Path) -> None:
    store = SqlitePlacement(tmp_path / "placement.db")
    try:
        model = _model(store)
        _deploy(store, model.uuid, n=2)
        domain.set_config(store, model.uuid, {"egress-subnets": "10.0.0.0/8"})
        domain.destroy_model(store, model.uuid)
        for table in (
            "models",
            "model_config",
            "charms",
            "applications",
            "unit_sequences",
            "machines",
            "units",
        ):
            assert store.engine.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"] == 0, table  # noqa: S608
    finally:
        store.close()


def test_every_model_use_case_wants_a_known_model(store: Store) -> None:
    calls: list[Callable[[str], object]] = [
        lambda u: domain.destroy_model(store, u),
        lambda u: domain.get_config(store, u),
        lambda u: domain.set_config(store, u, {}),
        lambda u: _deploy(store, u),
        lambda u: domain.get_application(store, u, "mysql"),
        lambda u: domain.remove_application(store, u, "mysql"),
        lambda u: domain.add_unit(store, u, "mysql", 1, []),
        lambda u: domain.remove_units(store, u, ["mysql/0"]),
        lambda u: domain.add_machines(store, u, 1),
        lambda u: domain.remove_machines(store, u, ["0"], force=False),
        lambda u: domain.model_status(store, u),
    ]
    for call in calls:
        _refused(lambda c=call: c(""), errors.Invalid, "model_uuid is required")  # type: ignore[misc]
        _refused(lambda c=call: c("x"), errors.NotFound, 'model "x" not found')  # type: ignore[misc]
    assert _last(store) == 0


# -- config ------------------------------------------------------------------------------------


def test_config_is_set_with_an_event_and_read_with_defaults(store: Store) -> None:
    model = _model(store)
    assert domain.get_config(store, model.uuid) == {"egress-subnets": ""}
    config, seq = domain.set_config(
        store, model.uuid, {"egress-subnets": "10.0.0.0/8, 1.2.3.4/32"}
    )
    assert config == {"egress-subnets": "10.0.0.0/8,1.2.3.4/32"}
    event = store.events_after(seq - 1)[0]
    assert (event.kind, event.attributes) == (
        "model-config-changed",
        {"egress-subnets": "10.0.0.0/8,1.2.3.4/32"},
    )
    domain.set_config(store, model.uuid, {"egress-subnets": ""})
    assert domain.get_config(store, model.uuid) == {"egress-subnets": ""}


def test_bad_config_changes_nothing(store: Store) -> None:
    model = _model(store)
    domain.set_config(store, model.uuid, {"egress-subnets": "10.0.0.0/8"})
    before = _last(store)
    _refused(
        lambda: domain.set_config(store, model.uuid, {"egress-subnets": "nope"}),
        errors.Invalid,
        'invalid egress-subnets value "nope": not a CIDR',
    )
    _refused(
        lambda: domain.set_config(store, model.uuid, {"egress-subnets": "", "foo": "1"}),
        errors.Invalid,
        'unknown model config key "foo"',
    )
    assert domain.get_config(store, model.uuid) == {"egress-subnets": "10.0.0.0/8"}
    assert _last(store) == before


# -- charms and applications -------------------------------------------------------------------


def test_charm_revisions_count_per_model_and_text(store: Store) -> None:
    prod = _model(store)
    dev = _model(store, "dev")
    assert _deploy(store, prod.uuid).application.charm_revision == 1
    assert _deploy(store, prod.uuid, name="db2").application.charm_revision == 1
    changed = MYSQL + "summary: v2\n"
    assert _deploy(store, prod.uuid, changed, name="db3").application.charm_revision == 2
    assert _deploy(store, prod.uuid, name="db4").application.charm_revision == 1
    assert _deploy(store, dev.uuid, changed).application.charm_revision == 1
    app = domain.get_application(store, prod.uuid, "db3")
    assert (app.charm.summary, app.charm_revision) == ("v2", 2)


def test_deploy_defaults_and_events(store: Store) -> None:
    model = _model(store)
    start = _last(store)
    placed = _deploy(store, model.uuid)
    app = placed.application
    assert (app.name, app.unit_count, app.status, app.life, app.subordinate) == (
        "mysql",
        1,
        "unknown",
        "alive",
        False,
    )
    assert [(e.name, e.implicit) for e in app.charm.endpoints] == [
        ("db", False),
        ("juju-info", True),
    ]
    (unit,) = placed.units
    assert (unit.name, unit.machine, unit.address, unit.leader) == (
        "mysql/0",
        "0",
        "10.1.0.1",
        True,
    )
    assert [(m.id, m.address, m.auto) for m in placed.machines] == [("0", "10.1.0.1", True)]
    events = store.events_after(start)
    assert [(e.kind, e.entity) for e in events] == [
        ("application-added", "mysql"),
        ("machine-added", "0"),
        ("unit-added", "mysql/0"),
    ]
    assert placed.sequence == events[-1].sequence
    assert events[0].attributes == {"charm": "mysql", "subordinate": "false"}
    assert events[2].attributes == {"application": "mysql", "machine": "0", "principal": ""}
    assert {e.model_uuid for e in events} == {model.uuid}


def test_deploy_a_subordinate_gets_no_units(store: Store) -> None:
    model = _model(store)
    placed = _deploy(store, model.uuid, LOGGING)
    assert (placed.application.subordinate, placed.units, placed.machines) == (True, [], [])
    assert placed.sequence == _last(store)
    for n, to in ((1, []), (0, ["0"])):
        _refused(
            lambda n=n, to=to: _deploy(store, model.uuid, LOGGING, "l2", n, to),  # type: ignore[misc]
            errors.Invalid,
            "cannot use --num-units or --to with subordinate application",
        )
    _refused(
        lambda: domain.add_unit(store, model.uuid, "logging", 1, []),
        errors.Refused,
        'cannot add unit to application "logging": application is a subordinate',
    )


def test_deploy_refusals_write_nothing(store: Store) -> None:
    model = _model(store)
    _deploy(store, model.uuid)
    domain.add_machines(store, model.uuid, 1)
    before = (_last(store), store.status(model.uuid))
    cases: list[tuple[Callable[[], object], type[errors.CmrError], str]] = [
        (
            lambda: _deploy(store, model.uuid),
            errors.AlreadyExists,
            'application "mysql" already exists',
        ),
        (
            lambda: _deploy(store, model.uuid, name="My"),
            errors.Invalid,
            'invalid application name "My", unexpected uppercase character',
        ),
        (
            lambda: _deploy(store, model.uuid, name="db", n=-1),
            errors.Invalid,
            "num_units must not be negative, got -1",
        ),
        (
            lambda: _deploy(store, model.uuid, name="db", n=3, to=["1", "7"]),
            errors.NotFound,
            "machine 7 not found",
        ),
        (
            lambda: _deploy(store, model.uuid, name="db", n=1, to=["1", "1"]),
            errors.Invalid,
            "2 placement directives for 1 unit(s): give at most one per unit",
        ),
        (
            lambda: _deploy(store, model.uuid, name="db", to=["lxd:1"]),
            errors.Invalid,
            'machine id "lxd:1" not valid: use a machine number',
        ),
        (
            lambda: _deploy(store, model.uuid, "name: x\nprovides: {juju: y}"),
            errors.Invalid,
            'charm "x" using a reserved relation name: "juju"',
        ),
    ]
    for call, kind, message in cases:
        _refused(call, kind, message)
        assert (_last(store), store.status(model.uuid)) == before, message


def test_get_application_unknown(store: Store) -> None:
    model = _model(store)
    _refused(
        lambda: domain.get_application(store, model.uuid, "wooble"),
        errors.NotFound,
        'application "wooble" not found',
    )


# -- units and machines ------------------------------------------------------------------------


def test_unit_numbers_are_never_reused(store: Store) -> None:
    model = _model(store)
    _deploy(store, model.uuid, n=3)
    domain.remove_units(store, model.uuid, ["mysql/1", "mysql/2"])
    added = domain.add_unit(store, model.uuid, "mysql", 1, [])
    assert _names(added.units) == ["mysql/3"]
    domain.remove_application(store, model.uuid, "mysql")
    redeployed = _deploy(store, model.uuid)
    assert _names(redeployed.units) == ["mysql/4"]  # the counter outlives the application
    assert redeployed.units[0].leader
    other = _deploy(store, model.uuid, WORDPRESS)
    assert _names(other.units) == ["wordpress/0"]  # one counter per application name


def test_machine_numbers_are_never_reused(store: Store) -> None:
    model = _model(store)
    machines, _ = domain.add_machines(store, model.uuid, 3)
    assert [(m.id, m.address) for m in machines] == [
        ("0", "10.1.0.1"),
        ("1", "10.1.0.2"),
        ("2", "10.1.0.3"),
    ]
    domain.remove_machines(store, model.uuid, ["2"], force=False)
    again, _ = domain.add_machines(store, model.uuid, 0)
    assert [m.id for m in again] == ["3"]


def test_a_machine_made_for_a_unit_goes_with_its_last_unit(store: Store) -> None:
    model = _model(store)
    first = _deploy(store, model.uuid)  # mysql/0 on new machine 0
    _deploy(store, model.uuid, WORDPRESS, to=["0"])  # wordpress/0 joins it
    start = _last(store)
    domain.remove_units(store, model.uuid, ["mysql/0"])
    assert store.machine(model.uuid, "0") == first.machines[0]  # wordpress/0 still there
    domain.remove_units(store, model.uuid, ["wordpress/0"])
    assert store.machine(model.uuid, "0") is None
    assert _kinds(store, start) == [
        ("unit-removed", "mysql/0"),
        ("unit-removed", "wordpress/0"),
        ("machine-removed", "0"),
    ]


def test_machines_from_add_machine_stay_when_their_units_go(store: Store) -> None:
    model = _model(store)
    domain.add_machines(store, model.uuid, 1)
    placed = _deploy(store, model.uuid, n=2, to=["0"])
    assert [(u.name, u.machine) for u in placed.units] == [("mysql/0", "0"), ("mysql/1", "1")]
    assert [m.id for m in placed.machines] == ["1"]  # only the unit without a directive got one
    domain.remove_application(store, model.uuid, "mysql")
    machines, apps, units = store.status(model.uuid)
    assert ([m.id for m in machines], apps, units) == (["0"], [], [])


def test_units_placed_on_one_machine_share_its_address(store: Store) -> None:
    model = _model(store)
    domain.add_machines(store, model.uuid, 2)
    placed = _deploy(store, model.uuid, n=2, to=["1", "1"])
    assert [(u.machine, u.address) for u in placed.units] == [("1", "10.1.0.2")] * 2
    assert placed.machines == []


def test_remove_application_removes_units_then_the_application(store: Store) -> None:
    model = _model(store)
    _deploy(store, model.uuid, n=2)
    start = _last(store)
    removed, seq = domain.remove_application(store, model.uuid, "mysql")
    assert removed == ["mysql/0", "mysql/1"]
    assert _kinds(store, start) == [
        ("unit-removed", "mysql/0"),
        ("machine-removed", "0"),
        ("unit-removed", "mysql/1"),
        ("machine-removed", "1"),
        ("application-removed", "mysql"),
    ]
    assert seq == _last(store)
    assert store.application(model.uuid, "mysql") is None


def test_remove_units_checks_every_name_first(store: Store) -> None:
    model = _model(store)
    _deploy(store, model.uuid, n=2)
    before = (_last(store), store.status(model.uuid))
    _refused(
        lambda: domain.remove_units(store, model.uuid, ["mysql/0", "mysql/9"]),
        errors.NotFound,
        'unit "mysql/9" not found',
    )
    _refused(
        lambda: domain.remove_units(store, model.uuid, ["mysql/0", "mysql"]),
        errors.Invalid,
        'unit name "mysql" not valid',
    )
    _refused(
        lambda: domain.remove_units(store, model.uuid, []), errors.Invalid, "no units specified"
    )
    assert (_last(store), store.status(model.uuid)) == before
    start = _last(store)
    domain.remove_units(store, model.uuid, ["mysql/1", "mysql/1"])  # named twice, removed once
    assert _kinds(store, start) == [("unit-removed", "mysql/1"), ("machine-removed", "1")]


def _add_subordinate(store: Store, uuid: str, principal: domain.Unit) -> domain.Unit:
    """Add a subordinate unit by hand, on the principal's machine, as a container relation does."""
    with store.transaction():
        number = store.next_unit_number(uuid, "logging")
        unit = domain.Unit(
            name=f"logging/{number}",
            application="logging",
            number=number,
            machine=principal.machine,
            address=principal.address,
            principal=principal.name,
        )
        store.add_unit(uuid, unit)
    return unit


def test_removing_a_principal_unit_removes_its_subordinates_first(store: Store) -> None:
    model = _model(store)
    wordpress = _deploy(store, model.uuid, WORDPRESS, n=2).units
    _deploy(store, model.uuid, LOGGING)
    subs = [_add_subordinate(store, model.uuid, u) for u in wordpress]
    _refused(
        lambda: domain.remove_units(store, model.uuid, ["logging/1"]),
        errors.Refused,
        'removing unit logging/1 failed: unit "logging/1" is a subordinate, to remove use '
        'remove-relation. Note: this will remove all units of "logging"',
    )
    status = domain.model_status(store, model.uuid)
    assert [(u.name, u.address, u.principal) for u in status.units] == [
        ("logging/0", "10.1.0.1", "wordpress/0"),
        ("logging/1", "10.1.0.2", "wordpress/1"),
        ("wordpress/0", "10.1.0.1", ""),
        ("wordpress/1", "10.1.0.2", ""),
    ]
    start = _last(store)
    domain.remove_units(store, model.uuid, ["wordpress/0"])
    events = store.events_after(start)
    assert [(e.kind, e.entity) for e in events] == [
        ("unit-removed", "logging/0"),
        ("unit-removed", "wordpress/0"),
        ("machine-removed", "0"),
    ]
    assert events[0].attributes == {
        "application": "logging",
        "machine": "0",
        "principal": "wordpress/0",
    }
    # Removing the subordinate application keeps the principal's machine.
    domain.remove_application(store, model.uuid, "logging")
    assert store.machine(model.uuid, subs[1].machine) is not None


def test_remove_machine_refuses_while_units_live_on_it_unless_forced(store: Store) -> None:
    model = _model(store)
    domain.add_machines(store, model.uuid, 2)
    _deploy(store, model.uuid, WORDPRESS, to=["1"])
    before = (_last(store), store.status(model.uuid))
    cases: list[tuple[Callable[[], object], type[errors.CmrError], str]] = [
        (
            lambda: domain.remove_machines(store, model.uuid, ["0", "1"], force=False),
            errors.Refused,
            'machine 1 is hosting units "wordpress/0"; remove them first or pass --force',
        ),
        (
            lambda: domain.remove_machines(store, model.uuid, ["0", "5"], force=True),
            errors.NotFound,
            "machine 5 not found",
        ),
        (
            lambda: domain.remove_machines(store, model.uuid, ["0", "x"], force=True),
            errors.Invalid,
            'machine id "x" not valid: use a machine number',
        ),
        (
            lambda: domain.remove_machines(store, model.uuid, [], force=True),
            errors.Invalid,
            "no machines specified",
        ),
        (
            lambda: domain.add_machines(store, model.uuid, -1),
            errors.Invalid,
            "count must not be negative, got -1",
        ),
    ]
    for call, kind, message in cases:
        _refused(call, kind, message)
        assert (_last(store), store.status(model.uuid)) == before, message
    start = _last(store)
    seq = domain.remove_machines(store, model.uuid, ["0", "1"], force=True)
    assert _kinds(store, start) == [
        ("machine-removed", "0"),
        ("unit-removed", "wordpress/0"),
        ("machine-removed", "1"),
    ]
    assert seq == _last(store)
    assert store.status(model.uuid)[0] == []
    assert domain.get_application(store, model.uuid, "wordpress").unit_count == 0


def test_add_unit_places_and_marks_the_leader(store: Store) -> None:
    model = _model(store)
    _deploy(store, model.uuid)
    added = domain.add_unit(store, model.uuid, "mysql", 2, [])
    assert [(u.name, u.leader, u.machine) for u in added.units] == [
        ("mysql/1", False, "1"),
        ("mysql/2", False, "2"),
    ]
    assert added.application.unit_count == 3
    domain.remove_units(store, model.uuid, ["mysql/0", "mysql/1", "mysql/2"])
    again = domain.add_unit(store, model.uuid, "mysql", 0, [])
    assert [(u.name, u.leader) for u in again.units] == [("mysql/3", True)]
    _refused(
        lambda: domain.add_unit(store, model.uuid, "wooble", 1, []),
        errors.NotFound,
        'application "wooble" not found',
    )


def test_status_orders_units_and_machines_numerically(store: Store) -> None:
    model = _model(store)
    _deploy(store, model.uuid, WORDPRESS, n=11)
    _deploy(store, model.uuid, n=1)
    domain.set_config(store, model.uuid, {"egress-subnets": "10.0.0.0/8"})
    status = domain.model_status(store, model.uuid)
    assert status.model == store.model(model.uuid)
    assert [m.id for m in status.machines] == [str(n) for n in range(12)]
    assert [(a.name, a.unit_count) for a in status.applications] == [
        ("mysql", 1),
        ("wordpress", 11),
    ]
    assert _names(status.units) == ["mysql/0"] + [f"wordpress/{n}" for n in range(11)]
    assert [u.name for u in status.units if u.leader] == ["mysql/0", "wordpress/0"]
    assert status.config == {"egress-subnets": "10.0.0.0/8"}
