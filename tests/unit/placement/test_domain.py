"""Placement use cases on the real SQLite store: numbering, machines, addresses, pages, events,
and refusals that leave the store exactly as it was."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kernel import errors
from services.placement import domain
from services.placement.store import SqlitePlacement

NOW = "2026-01-01T00:00:00.000000Z"
MYSQL = "name: mysql\nsummary: a database\nprovides:\n  db: mysql\n"
WORDPRESS = "name: wordpress\nrequires:\n  db: mysql\n"
LOGGING = (
    "name: logging\nsubordinate: true\n"
    "requires:\n  info: {interface: juju-info, scope: container}\n"
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlitePlacement]:
    made = SqlitePlacement(tmp_path / "p.db")
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def uuid(store: SqlitePlacement) -> str:
    model, _ = domain.add_model(store, "prod", "admin", now=NOW)
    return model.uuid


def _deploy(
    store: SqlitePlacement,
    uuid: str,
    text: str = MYSQL,
    *,
    name: str = "",
    n: int = 0,
    to: tuple[str, ...] = (),
) -> domain.Placed:
    return domain.deploy(store, uuid, text, name, n, list(to))


def _events(store: SqlitePlacement, after: int = 0) -> list[tuple[str, str]]:
    return [(e.kind, e.entity) for e in store.events_after(after)]


def _units(store: SqlitePlacement, uuid: str) -> list[tuple[str, str, str, bool]]:
    status = domain.model_status(store, uuid)
    return [(u.name, u.machine, u.address, u.leader) for u in status.units]


def _machines(store: SqlitePlacement, uuid: str) -> list[tuple[str, bool]]:
    return [(m.id, m.auto) for m in store.status(uuid)[0]]


def _snapshot(store: SqlitePlacement, uuid: str) -> tuple[Any, ...]:
    return (
        store.status(uuid),
        store.last_sequence(),
        store.config(uuid),
        store.pool_indexes(),
        store.models("", None, 1000),
    )


def _refused(
    store: SqlitePlacement,
    uuid: str,
    call: Callable[[], object],
    kind: type[errors.CmrError],
    message: str,
) -> None:
    before = _snapshot(store, uuid)
    with pytest.raises(kind) as caught:
        call()
    assert str(caught.value) == message
    assert _snapshot(store, uuid) == before


# -- unit and machine numbers ---------------------------------------------------------------


def test_unit_numbers_are_never_reused_within_an_application(
    store: SqlitePlacement, uuid: str
) -> None:
    _deploy(store, uuid, n=3)
    domain.remove_units(store, uuid, ["mysql/1"])
    added = domain.add_unit(store, uuid, "mysql", 1, [])
    assert [u.name for u in added.units] == ["mysql/3"]
    domain.remove_units(store, uuid, ["mysql/3", "mysql/2"])
    added = domain.add_unit(store, uuid, "mysql", 2, [])
    assert [u.name for u in added.units] == ["mysql/4", "mysql/5"]
    assert [u[0] for u in _units(store, uuid)] == ["mysql/0", "mysql/4", "mysql/5"]


def test_unit_numbers_continue_after_remove_application_and_redeploy(
    store: SqlitePlacement, uuid: str
) -> None:
    # The counter belongs to the model and the name: a redeploy does not restart it.
    _deploy(store, uuid, n=2)
    removed, _ = domain.remove_application(store, uuid, "mysql")
    assert removed == ["mysql/0", "mysql/1"]
    again = _deploy(store, uuid, n=2)
    assert [u.name for u in again.units] == ["mysql/2", "mysql/3"]
    assert [u.leader for u in again.units] == [True, False]
    # Another application name has its own counter.
    other = _deploy(store, uuid, name="db2")
    assert [u.name for u in other.units] == ["db2/0"]


def test_a_new_model_of_the_same_name_starts_its_counters_again(
    store: SqlitePlacement, uuid: str
) -> None:
    _deploy(store, uuid, n=2)
    domain.destroy_model(store, uuid)
    fresh, _ = domain.add_model(store, "prod", "admin", now=NOW)
    assert fresh.uuid != uuid
    placed = _deploy(store, fresh.uuid)
    assert [(u.name, u.machine) for u in placed.units] == [("mysql/0", "0")]


def test_machine_numbers_are_never_reused(store: SqlitePlacement, uuid: str) -> None:
    machines, _ = domain.add_machines(store, uuid, 2)
    assert [m.id for m in machines] == ["0", "1"]
    domain.remove_machines(store, uuid, ["1"], force=False)
    placed = _deploy(store, uuid)
    assert [m.id for m in placed.machines] == ["2"]
    domain.remove_application(store, uuid, "mysql")
    domain.remove_machines(store, uuid, ["0"], force=False)
    machines, _ = domain.add_machines(store, uuid, 0)  # 0 means 1
    assert [m.id for m in machines] == ["3"]
    assert _machines(store, uuid) == [("3", False)]


def test_machines_made_for_units_go_with_their_last_unit(
    store: SqlitePlacement, uuid: str
) -> None:
    _deploy(store, uuid, n=2)  # machines 0 and 1, auto
    _deploy(store, uuid, WORDPRESS, to=("0",))  # shares machine 0
    assert _machines(store, uuid) == [("0", True), ("1", True)]
    domain.remove_units(store, uuid, ["mysql/0"])
    assert _machines(store, uuid) == [("0", True), ("1", True)]  # wordpress/0 is still on 0
    domain.remove_units(store, uuid, ["wordpress/0"])
    assert _machines(store, uuid) == [("1", True)]
    domain.remove_application(store, uuid, "mysql")
    assert _machines(store, uuid) == []


def test_machines_from_add_machine_stay_when_their_units_go(
    store: SqlitePlacement, uuid: str
) -> None:
    domain.add_machines(store, uuid, 2)
    _deploy(store, uuid, n=3, to=("1", "0"))  # the third unit gets a new machine
    assert _units(store, uuid) == [
        ("mysql/0", "1", "10.1.0.2", True),
        ("mysql/1", "0", "10.1.0.1", False),
        ("mysql/2", "2", "10.1.0.3", False),
    ]
    domain.remove_application(store, uuid, "mysql")
    assert _machines(store, uuid) == [("0", False), ("1", False)]


# -- addresses, pools, leaders ----------------------------------------------------------------


def test_addresses_come_from_the_lowest_free_pool(store: SqlitePlacement, uuid: str) -> None:
    first = store.model(uuid)
    assert first is not None
    assert first.address_pool == "10.1.0.0/16"
    placed = _deploy(store, uuid, n=2)
    assert [(m.id, m.address) for m in placed.machines] == [("0", "10.1.0.1"), ("1", "10.1.0.2")]
    assert [u.address for u in placed.units] == ["10.1.0.1", "10.1.0.2"]
    second, _ = domain.add_model(store, "staging", "admin", now=NOW)
    third, _ = domain.add_model(store, "dev", "admin", now=NOW)
    assert (second.pool_index, third.pool_index) == (2, 3)
    machines, _ = domain.add_machines(store, second.uuid, 1)
    assert machines[0].address == "10.2.0.1"
    domain.destroy_model(store, uuid)
    reused, _ = domain.add_model(store, "again", "bob", now=NOW)
    assert reused.address_pool == "10.1.0.0/16"
    machines, _ = domain.add_machines(store, reused.uuid, 1)
    assert (machines[0].id, machines[0].address) == ("0", "10.1.0.1")


def test_pure_address_and_pool_rules() -> None:
    assert domain.machine_address(1, 0) == "10.1.0.1"
    assert domain.machine_address(7, 255) == "10.7.1.0"
    assert domain.free_pool_index(set()) == 1
    assert domain.free_pool_index({1, 2, 4}) == 3
    with pytest.raises(errors.Refused) as caught:
        domain.free_pool_index(set(range(1, 256)))
    assert (
        str(caught.value) == "no free address pool: 255 models exist; destroy one to add another"
    )


def test_the_leader_is_the_lowest_numbered_live_unit(store: SqlitePlacement, uuid: str) -> None:
    placed = _deploy(store, uuid, n=3)
    assert [u.leader for u in placed.units] == [True, False, False]
    _deploy(store, uuid, WORDPRESS)
    domain.remove_units(store, uuid, ["mysql/0"])
    assert [(name, leader) for name, _, _, leader in _units(store, uuid)] == [
        ("mysql/1", True),
        ("mysql/2", False),
        ("wordpress/0", True),
    ]
    added = domain.add_unit(store, uuid, "mysql", 1, [])
    assert [(u.name, u.leader) for u in added.units] == [("mysql/3", False)]


# -- models: pages, config -------------------------------------------------------------------


def test_list_models_pages_by_owner_then_name(store: SqlitePlacement) -> None:
    for owner, name in [
        ("bob", "b"),
        ("admin", "z"),
        ("admin", "a"),
        ("bob", "a"),
        ("carol", "m"),
    ]:
        domain.add_model(store, name, owner, now=NOW)
    everything, token = domain.list_models(store, "", 0, "")
    assert [(m.owner, m.name) for m in everything] == [
        ("admin", "a"),
        ("admin", "z"),
        ("bob", "a"),
        ("bob", "b"),
        ("carol", "m"),
    ]
    assert token == ""
    seen: list[tuple[str, str]] = []
    token = ""
    pages = 0
    while True:
        page, token = domain.list_models(store, "", 2, token)
        seen.extend((m.owner, m.name) for m in page)
        pages += 1
        if not token:
            break
    assert pages == 3
    assert seen == [(m.owner, m.name) for m in everything]
    # An exact fit leaves no token for an empty page.
    page, token = domain.list_models(store, "bob", 2, "")
    assert ([m.name for m in page], token) == (["a", "b"], "")
    page, token = domain.list_models(store, "admin", 1, "")
    assert [m.name for m in page] == ["a"]
    page, token = domain.list_models(store, "admin", 1, token)
    assert ([m.name for m in page], token) == (["z"], "")
    assert domain.list_models(store, "nobody", 0, "") == ([], "")


@pytest.mark.parametrize(
    ("size", "token", "message"),
    [
        (-1, "", "page_size must not be negative, got -1"),
        (0, "not-a-token", "page_token not valid: pass the next_page_token of a previous page"),
        (0, "WzFd", "page_token not valid: pass the next_page_token of a previous page"),  # [1]
        (0, "eyJhIjogMX0=", "page_token not valid: pass the next_page_token of a previous page"),
    ],
)
def test_list_models_refuses_bad_pages(
    store: SqlitePlacement, uuid: str, size: int, token: str, message: str
) -> None:
    _refused(
        store, uuid, lambda: domain.list_models(store, "", size, token), errors.Invalid, message
    )


def test_page_sizes_default_and_cap() -> None:
    assert [domain.page_size(n) for n in (0, 1, 100, 1000, 1001, 2**31 - 1)] == [
        100,
        1,
        100,
        1000,
        1000,
        1000,
    ]
    assert domain.decode_token(domain.encode_token(("admin", "prod"))) == ("admin", "prod")
    assert domain.decode_token("") is None


def test_config_is_validated_normalised_and_evented(store: SqlitePlacement, uuid: str) -> None:
    assert domain.get_config(store, uuid) == {"egress-subnets": ""}
    start = store.last_sequence()
    config, seq = domain.set_config(
        store, uuid, {"egress-subnets": " 10.0.0.0/8 , ,192.168.1.0/24"}
    )
    assert config == {"egress-subnets": "10.0.0.0/8,192.168.1.0/24"}
    assert seq == store.last_sequence() == start + 1
    event = store.events_after(start)[0]
    assert (event.kind, event.model_uuid, event.attributes) == (
        "model-config-changed",
        uuid,
        {"egress-subnets": "10.0.0.0/8,192.168.1.0/24"},
    )
    config, _ = domain.set_config(store, uuid, {"egress-subnets": ""})
    assert domain.get_config(store, uuid) == config == {"egress-subnets": ""}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"colour": "red"}, 'unknown model config key "colour"'),
        ({"egress-subnets": "10.0.0.0/8,nope"}, 'invalid egress-subnets value "nope": not a CIDR'),
        (
            {"egress-subnets": "10.0.0.0/33"},
            'invalid egress-subnets value "10.0.0.0/33": not a CIDR',
        ),
        (
            {"egress-subnets": "10.0.0.0/8", "logging": "x"},
            'unknown model config key "logging"',
        ),
    ],
)
def test_bad_config_changes_nothing(
    store: SqlitePlacement, uuid: str, values: dict[str, str], message: str
) -> None:
    domain.set_config(store, uuid, {"egress-subnets": "10.1.0.0/16"})
    _refused(store, uuid, lambda: domain.set_config(store, uuid, values), errors.Invalid, message)
    assert domain.get_config(store, uuid) == {"egress-subnets": "10.1.0.0/16"}


# -- charms ---------------------------------------------------------------------------------


def test_charm_revisions_reuse_same_text_and_bump_for_new_text(
    store: SqlitePlacement, uuid: str
) -> None:
    assert _deploy(store, uuid).application.charm_revision == 1
    assert _deploy(store, uuid, name="db2").application.charm_revision == 1
    changed = MYSQL + "peers:\n  cluster: mysql-ha\n"
    third = _deploy(store, uuid, changed, name="db3").application
    assert third.charm_revision == 2
    assert [e.name for e in third.charm.endpoints] == ["db", "cluster", "juju-info"]
    assert _deploy(store, uuid, name="db4").application.charm_revision == 1
    # Revisions are per model.
    other, _ = domain.add_model(store, "other", "admin", now=NOW)
    assert _deploy(store, other.uuid, changed).application.charm_revision == 1
    got = domain.get_application(store, uuid, "db3")
    assert (got.charm.name, got.charm_revision, got.unit_count) == ("mysql", 2, 1)


# -- events ---------------------------------------------------------------------------------


def test_every_use_case_appends_its_events_in_order(store: SqlitePlacement, uuid: str) -> None:
    assert _events(store) == [("model-added", "prod")]
    added = store.events_after(0)[0]
    assert added.attributes == {"owner": "admin", "address-pool": "10.1.0.0/16"}
    start = store.last_sequence()
    placed = _deploy(store, uuid, n=2)
    assert _events(store, start) == [
        ("application-added", "mysql"),
        ("machine-added", "0"),
        ("unit-added", "mysql/0"),
        ("machine-added", "1"),
        ("unit-added", "mysql/1"),
    ]
    assert placed.sequence == store.last_sequence() == start + 5
    first = store.events_after(start)
    assert first[0].attributes == {"charm": "mysql", "subordinate": "false"}
    assert first[1].attributes == {"address": "10.1.0.1"}
    assert first[2].attributes == {"application": "mysql", "machine": "0", "principal": ""}
    assert {e.model_uuid for e in first} == {uuid}

    start = store.last_sequence()
    sub = _deploy(store, uuid, LOGGING)
    assert _events(store, start) == [("application-added", "logging")]
    assert store.events_after(start)[0].attributes == {"charm": "logging", "subordinate": "true"}
    assert (sub.units, sub.machines, sub.sequence) == ([], [], start + 1)

    start = store.last_sequence()
    _, seq = domain.add_machines(store, uuid, 2)
    assert _events(store, start) == [("machine-added", "2"), ("machine-added", "3")]
    assert seq == start + 2

    start = store.last_sequence()
    domain.add_unit(store, uuid, "mysql", 2, ["3"])
    assert _events(store, start) == [
        ("unit-added", "mysql/2"),
        ("machine-added", "4"),
        ("unit-added", "mysql/3"),
    ]

    start = store.last_sequence()
    seq = domain.remove_units(store, uuid, ["mysql/0", "mysql/2"])
    assert _events(store, start) == [
        ("unit-removed", "mysql/0"),
        ("machine-removed", "0"),
        ("unit-removed", "mysql/2"),  # machine 3 came from add-machine: it stays
    ]
    assert seq == store.last_sequence()

    start = store.last_sequence()
    seq = domain.remove_machines(store, uuid, ["2", "4"], force=True)
    assert _events(store, start) == [
        ("machine-removed", "2"),
        ("unit-removed", "mysql/3"),
        ("machine-removed", "4"),
    ]
    assert seq == store.last_sequence()

    start = store.last_sequence()
    removed, seq = domain.remove_application(store, uuid, "mysql")
    assert removed == ["mysql/1"]
    assert _events(store, start) == [
        ("unit-removed", "mysql/1"),
        ("machine-removed", "1"),
        ("application-removed", "mysql"),
    ]
    assert seq == store.last_sequence()

    start = store.last_sequence()
    assert domain.destroy_model(store, uuid) == start + 1
    assert _events(store, start) == [("model-removed", "prod")]
    assert store.events_after(start)[0].attributes == {"owner": "admin"}


# -- refusals change nothing ----------------------------------------------------------------


def test_remove_units_checks_every_name_before_removing_any(
    store: SqlitePlacement, uuid: str
) -> None:
    _deploy(store, uuid, n=2)
    _refused(
        store,
        uuid,
        lambda: domain.remove_units(store, uuid, ["mysql/0", "mysql/7"]),
        errors.NotFound,
        'unit "mysql/7" not found',
    )
    _refused(
        store,
        uuid,
        lambda: domain.remove_units(store, uuid, ["mysql/0", "mysql/01"]),
        errors.Invalid,
        'unit name "mysql/01" not valid',
    )
    _refused(
        store,
        uuid,
        lambda: domain.remove_units(store, uuid, []),
        errors.Invalid,
        "no units specified",
    )
    # Names given twice count once.
    domain.remove_units(store, uuid, ["mysql/1", "mysql/1"])
    assert [u[0] for u in _units(store, uuid)] == ["mysql/0"]


def test_deploy_refusals_change_nothing(store: SqlitePlacement, uuid: str) -> None:
    _deploy(store, uuid, n=1)
    domain.add_machines(store, uuid, 1)  # machine 1
    cases: list[tuple[Callable[[], object], type[errors.CmrError], str]] = [
        (
            lambda: _deploy(store, uuid, WORDPRESS, n=2, to=("1", "9")),
            errors.NotFound,
            "machine 9 not found",
        ),
        (lambda: _deploy(store, uuid), errors.AlreadyExists, 'application "mysql" already exists'),
        (
            lambda: _deploy(store, uuid, WORDPRESS, n=1, to=("0", "1")),
            errors.Invalid,
            "2 placement directives for 1 unit(s): give at most one per unit",
        ),
        (
            lambda: _deploy(store, uuid, WORDPRESS, to=("lxd:0",)),
            errors.Invalid,
            'machine id "lxd:0" not valid: use a machine number',
        ),
        (
            lambda: _deploy(store, uuid, WORDPRESS, n=-1),
            errors.Invalid,
            "num_units must not be negative, got -1",
        ),
        (
            lambda: _deploy(store, uuid, LOGGING, n=1),
            errors.Invalid,
            "cannot use --num-units or --to with subordinate application",
        ),
        (
            lambda: _deploy(store, uuid, LOGGING, to=("0",)),
            errors.Invalid,
            "cannot use --num-units or --to with subordinate application",
        ),
        (
            lambda: _deploy(store, uuid, WORDPRESS, name="Wordpress"),
            errors.Invalid,
            'invalid application name "Wordpress", unexpected uppercase character',
        ),
        (
            lambda: _deploy(store, uuid, "name: x\nprovides: {a: {interface: i, scope: far}}"),
            errors.Invalid,
            'charm "x": provides.a scope "far" not valid: use global or container',
        ),
        (
            lambda: _deploy(store, "nope", WORDPRESS),
            errors.NotFound,
            'model "nope" not found',
        ),
        (lambda: _deploy(store, "", WORDPRESS), errors.Invalid, "model_uuid is required"),
    ]
    for call, kind, message in cases:
        _refused(store, uuid, call, kind, message)
    # The refused deploys took no charm revision and no unit or machine number.
    placed = _deploy(store, uuid, WORDPRESS, n=2)
    assert placed.application.charm_revision == 1
    assert [(u.name, u.machine) for u in placed.units] == [
        ("wordpress/0", "2"),
        ("wordpress/1", "3"),
    ]


def test_remove_machines_refusals_change_nothing(store: SqlitePlacement, uuid: str) -> None:
    domain.add_machines(store, uuid, 2)
    _deploy(store, uuid, n=2, to=("1",))  # mysql/0 on 1, mysql/1 on a new machine 2
    cases: list[tuple[Callable[[], object], type[errors.CmrError], str]] = [
        (
            lambda: domain.remove_machines(store, uuid, ["0", "1"], force=False),
            errors.Refused,
            'machine 1 is hosting units "mysql/0"; remove them first or pass --force',
        ),
        (
            lambda: domain.remove_machines(store, uuid, ["0", "5"], force=True),
            errors.NotFound,
            "machine 5 not found",
        ),
        (
            lambda: domain.remove_machines(store, uuid, ["0", "x"], force=True),
            errors.Invalid,
            'machine id "x" not valid: use a machine number',
        ),
        (
            lambda: domain.remove_machines(store, uuid, [], force=True),
            errors.Invalid,
            "no machines specified",
        ),
    ]
    for call, kind, message in cases:
        _refused(store, uuid, call, kind, message)
    domain.remove_machines(store, uuid, ["1", "1", "0"], force=True)
    assert _machines(store, uuid) == [("2", True)]
    assert [u[0] for u in _units(store, uuid)] == ["mysql/1"]


def test_other_refusals_change_nothing(store: SqlitePlacement, uuid: str) -> None:
    _deploy(store, uuid)
    _deploy(store, uuid, LOGGING)
    cases: list[tuple[Callable[[], object], type[errors.CmrError], str]] = [
        (
            lambda: domain.add_unit(store, uuid, "logging", 1, []),
            errors.Refused,
            'cannot add unit to application "logging": application is a subordinate',
        ),
        (
            lambda: domain.add_unit(store, uuid, "ghost", 1, []),
            errors.NotFound,
            'application "ghost" not found',
        ),
        (
            lambda: domain.add_unit(store, uuid, "mysql", -2, []),
            errors.Invalid,
            "num_units must not be negative, got -2",
        ),
        (
            lambda: domain.add_unit(store, uuid, "mysql", 2, ["0", "8"]),
            errors.NotFound,
            "machine 8 not found",
        ),
        (
            lambda: domain.remove_application(store, uuid, "ghost"),
            errors.NotFound,
            'application "ghost" not found',
        ),
        (
            lambda: domain.add_machines(store, uuid, -1),
            errors.Invalid,
            "count must not be negative, got -1",
        ),
        (
            lambda: domain.add_model(store, "prod", "admin", now=NOW),
            errors.AlreadyExists,
            'model "admin/prod" already exists',
        ),
        (
            lambda: domain.add_model(store, "Prod", "admin", now=NOW),
            errors.Invalid,
            'model name "Prod" not valid: use lower-case letters, digits and hyphens, '
            "at most 128 characters",
        ),
        (
            lambda: domain.add_model(store, "p", "a", now=NOW),
            errors.Invalid,
            'user name "a" not valid',
        ),
        (lambda: domain.destroy_model(store, "nope"), errors.NotFound, 'model "nope" not found'),
        (lambda: domain.destroy_model(store, ""), errors.Invalid, "model_uuid is required"),
    ]
    for call, kind, message in cases:
        _refused(store, uuid, call, kind, message)


def test_get_model_by_uuid_or_owner_and_name(store: SqlitePlacement, uuid: str) -> None:
    by_uuid = domain.get_model(store, uuid, "", "")
    assert domain.get_model(store, "", "admin", "prod") == by_uuid
    with pytest.raises(errors.NotFound, match=r'^model "admin/nope" not found$'):
        domain.get_model(store, "", "admin", "nope")
    with pytest.raises(errors.Invalid, match=r"^give a model uuid, or an owner and a name$"):
        domain.get_model(store, "", "admin", "")


def test_a_huge_to_machine_number_is_not_found(store: SqlitePlacement, uuid: str) -> None:
    _refused(
        store,
        uuid,
        lambda: _deploy(store, uuid, to=("99999999999999999999",)),
        errors.NotFound,
        "machine 99999999999999999999 not found",
    )


def test_removing_a_huge_machine_number_is_not_found(store: SqlitePlacement, uuid: str) -> None:
    _refused(
        store,
        uuid,
        lambda: domain.remove_machines(store, uuid, ["99999999999999999999"], force=False),
        errors.NotFound,
        "machine 99999999999999999999 not found",
    )
