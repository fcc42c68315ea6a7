"""Placement's pure rules: charm metadata, names, addresses, pools, leaders."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common import errors
from services.placement import domain
from services.placement.charm import Role, Scope, check_application_name, parse_metadata

CHARMS = Path(__file__).resolve().parents[3] / "charms"


@pytest.mark.parametrize(
    "path", sorted(CHARMS.glob("*/metadata.yaml")), ids=lambda p: p.parent.name
)
def test_every_sample_charm_is_valid(path: Path) -> None:
    meta = parse_metadata(path.read_text())
    assert meta.name == path.parent.name
    assert meta.endpoints[-1].name == "juju-info"
    assert meta.endpoints[-1].implicit


def test_shorthand_and_full_endpoints() -> None:
    meta = parse_metadata(
        "name: wp\nrequires:\n  db: mysql\n"
        "provides:\n  logs: {interface: logging, scope: container, limit: 2}\n"
    )
    logs, db, info = meta.endpoints  # provides, then requires, then peers
    assert (db.role, db.interface, db.scope, db.limit) == (Role.REQUIRER, "mysql", Scope.GLOBAL, 0)
    assert (logs.role, logs.scope, logs.limit) == (Role.PROVIDER, Scope.CONTAINER, 2)
    assert (info.name, info.role, info.scope) == ("juju-info", Role.PROVIDER, Scope.GLOBAL)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nsubordinate: yes-please", 'charm "x": "subordinate" must be true or false'),
        ("name: x\nprovides: [a]", 'charm "x": "provides" must be a mapping of endpoints'),
        ("name: x\nprovides: {Bad: a}", 'charm "x": endpoint name "Bad" in provides not valid'),
        (
            "name: x\nprovides: {a: {interface: i, colour: red}}",
            'charm "x": unknown key "colour" in provides.a',
        ),
        (
            "name: x\nprovides: {a: {interface: i, scope: wide}}",
            'charm "x": provides.a scope "wide" not valid',
        ),
        (
            "name: x\nprovides: {a: {interface: i, limit: -1}}",
            'charm "x": provides.a limit "-1" must be',
        ),
        (
            "name: x\nprovides: {a: {interface: i, limit: true}}",
            'charm "x": provides.a limit "True" must be',
        ),
        (
            "name: x\nprovides: {a: {interface: i, optional: 3}}",
            'charm "x": provides.a optional must be',
        ),
        (
            "name: x\nprovides: {a: i}\nrequires: {a: j}",
            'charm "x": endpoint "a" is declared more than once',
        ),
        ("name: x\nprovides: {juju: i}", 'charm "x" using a reserved relation name: "juju"'),
        (
            "name: x\nprovides: {a: juju-thing}",
            'charm "x" using a reserved relation name: "juju-thing"',
        ),
        (
            "name: x\nrequires: {juju-info: juju-info}",
            'charm "x" using a reserved relation name: "juju-info"',
        ),
    ],
)
def test_bad_metadata_names_the_charm_and_field(text: str, message: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        parse_metadata(text)
    assert str(caught.value).startswith(message)


def test_reserved_name_exceptions() -> None:
    sub = parse_metadata(
        "name: x\nsubordinate: true\n"
        "requires: {juju-info: {interface: juju-info, scope: container}}"
    )
    assert [e.name for e in sub.endpoints] == ["juju-info"]  # declared, so no implicit twin
    assert parse_metadata("name: juju-x\nprovides: {juju-a: juju-b}").name == "juju-x"


def test_metadata_over_one_mebibyte_is_refused() -> None:
    with pytest.raises(errors.Invalid, match="larger than 1 MiB"):
        parse_metadata("name: x\n#" + "a" * (1024 * 1024))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Foo", 'invalid application name "Foo", unexpected uppercase character'),
        (
            "foo-1",
            'invalid application name "foo-1", unexpected number(s) found after last hyphen',
        ),
        ("a_b", 'invalid application name "a_b", unexpected character _'),
        ("1db", 'application name "1db" not valid'),
    ],
)
def test_application_names_follow_juju(name: str, message: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        check_application_name(name)
    assert str(caught.value) == message


@pytest.mark.parametrize("name", ["foo-1a", "mysql-k8s", "a"])
def test_valid_application_names(name: str) -> None:
    assert check_application_name(name) == name


def test_addresses_pools_and_leaders() -> None:
    assert domain.machine_address(3, 0) == "10.3.0.1"
    assert domain.machine_address(3, 300) == "10.3.1.45"
    assert domain.free_pool_index({1, 2, 4}) == 3
    with pytest.raises(errors.Refused, match="no free address pool"):
        domain.free_pool_index(set(range(1, 256)))
    with pytest.raises(errors.Refused, match="exhausted"):
        domain.machine_address(1, domain.MAX_HOSTS)
    units = [
        domain.Unit(name=f"a/{n}", application="a", number=n, machine="0", address="")
        for n in (5, 2, 9)
    ]
    assert [u.leader for u in domain.mark_leaders(units)] == [False, True, False]


def test_config_and_paging_rules() -> None:
    assert domain.check_config({"egress-subnets": " 10.0.0.0/8 , 192.168.0.0/16 "}) == {
        "egress-subnets": "10.0.0.0/8,192.168.0.0/16"
    }
    assert domain.page_size(0) == domain.DEFAULT_PAGE
    assert domain.page_size(5000) == domain.MAX_PAGE
    assert domain.decode_token(domain.encode_token(("admin", "prod"))) == ("admin", "prod")
