"""Placement's pure rules: names, addresses, pools, leaders, config values, page tokens."""

from __future__ import annotations

import base64

import pytest

from kernel import errors
from services.placement import domain
from services.placement.charm import check_application_name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Foo", 'invalid application name "Foo", unexpected uppercase character'),
        ("mySQL", 'invalid application name "mySQL", unexpected uppercase character'),
        (
            "foo-1",
            'invalid application name "foo-1", unexpected number(s) found after last hyphen',
        ),
        (
            "foo-bar-22",
            'invalid application name "foo-bar-22", unexpected number(s) found after last hyphen',
        ),
        ("a_b", 'invalid application name "a_b", unexpected character _'),
        ("my.sql", 'invalid application name "my.sql", unexpected character .'),
        ("1db", 'application name "1db" not valid'),
        ("", 'application name "" not valid'),
        ("-db", 'application name "-db" not valid'),
        ("db-", 'application name "db-" not valid'),
        ("db--x", 'application name "db--x" not valid'),
    ],
)
def test_application_names_follow_juju(name: str, message: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        check_application_name(name)
    assert str(caught.value) == message


@pytest.mark.parametrize("name", ["foo-1a", "mysql-k8s", "a", "a1", "x-y-z"])
def test_valid_application_names(name: str) -> None:
    assert check_application_name(name) == name


@pytest.mark.parametrize("name", ["prod", "0", "a-b-", "x" * 128, "9lives"])
def test_valid_model_names(name: str) -> None:
    assert domain.check_model_name(name) == name


@pytest.mark.parametrize("name", ["", "Prod", "-prod", "a_b", "a.b", "x" * 129])
def test_bad_model_names(name: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        domain.check_model_name(name)
    assert str(caught.value).startswith(f'model name "{name}" not valid')


@pytest.mark.parametrize("owner", ["admin", "bo", "bob@external", "Bob.Smith+1", "a-b"])
def test_valid_owners(owner: str) -> None:
    assert domain.check_owner(owner) == owner


@pytest.mark.parametrize("owner", ["", "b", "bob-", "bob@", "@ext", "bo b", "bob/x"])
def test_bad_owners(owner: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        domain.check_owner(owner)
    assert str(caught.value) == f'user name "{owner}" not valid'


@pytest.mark.parametrize(
    ("name", "parsed"), [("wordpress/0", ("wordpress", 0)), ("my-app/12", ("my-app", 12))]
)
def test_unit_names(name: str, parsed: tuple[str, int]) -> None:
    assert domain.parse_unit_name(name) == parsed


@pytest.mark.parametrize("name", ["x", "wordpress", "wordpress/", "wordpress/01", "wp/-1", "/0"])
def test_bad_unit_names(name: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        domain.parse_unit_name(name)
    assert str(caught.value) == f'unit name "{name}" not valid'


@pytest.mark.parametrize("directive", ["lxd:0", "-1", "01", "", "zone=a", "0/lxd/0"])
def test_placement_directives_are_machine_numbers(directive: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        domain.parse_placements([directive], 1)
    assert str(caught.value) == f'machine id "{directive}" not valid: use a machine number'


def test_more_directives_than_units_is_refused() -> None:
    assert domain.parse_placements(["3", " 4 "], 3) == ["3", "4"]
    with pytest.raises(errors.Invalid) as caught:
        domain.parse_placements(["1", "2"], 1)
    assert str(caught.value) == "2 placement directives for 1 unit(s): give at most one per unit"


def test_machine_addresses_come_from_the_model_pool() -> None:
    assert domain.machine_address(1, 0) == "10.1.0.1"
    assert domain.machine_address(3, 254) == "10.3.0.255"
    assert domain.machine_address(3, 300) == "10.3.1.45"
    assert domain.machine_address(255, domain.MAX_HOSTS - 1) == "10.255.255.253"
    with pytest.raises(errors.Refused) as caught:
        domain.machine_address(1, domain.MAX_HOSTS)
    assert str(caught.value) == "the model's address pool is exhausted (65533 machines)"


def test_pools_are_the_lowest_free_index_from_one() -> None:
    assert domain.free_pool_index(set()) == 1
    assert domain.free_pool_index({1, 2, 4}) == 3
    assert domain.free_pool_index(set(range(1, 255))) == 255
    with pytest.raises(errors.Refused) as caught:
        domain.free_pool_index(set(range(1, 256)))
    assert str(caught.value) == (
        "no free address pool: 255 models exist; destroy one to add another"
    )


def test_leader_is_the_lowest_numbered_unit_of_each_application() -> None:
    units = [
        domain.Unit(name=f"{app}/{n}", application=app, number=n, machine="0", address="")
        for app, n in (("a", 5), ("a", 2), ("b", 10), ("a", 9), ("b", 3))
    ]
    leaders = [u.name for u in domain.mark_leaders(units) if u.leader]
    assert leaders == ["a/2", "b/3"]


def test_egress_subnets_are_normalised_and_checked() -> None:
    assert domain.check_config({"egress-subnets": " 10.0.0.0/8 , 192.168.0.0/16 "}) == {
        "egress-subnets": "10.0.0.0/8,192.168.0.0/16"
    }
    assert domain.check_config({"egress-subnets": ""}) == {"egress-subnets": ""}
    assert domain.check_config({"egress-subnets": "2001:db8::/32,1.2.3.4"}) == {
        "egress-subnets": "2001:db8::/32,1.2.3.4"
    }
    with pytest.raises(errors.Invalid) as caught:
        domain.check_config({"egress-subnets": "10.0.0.0/8,10.0.0.0/33"})
    assert str(caught.value) == 'invalid egress-subnets value "10.0.0.0/33": not a CIDR'
    with pytest.raises(errors.Invalid) as caught:
        domain.check_config({"egress-subnets": "", "foo": "1"})
    assert str(caught.value) == 'unknown model config key "foo"'


def test_page_sizes() -> None:
    assert domain.page_size(0) == domain.DEFAULT_PAGE == 100
    assert domain.page_size(7) == 7
    assert domain.page_size(5000) == domain.MAX_PAGE == 1000
    with pytest.raises(errors.Invalid) as caught:
        domain.page_size(-1)
    assert str(caught.value) == "page_size must not be negative, got -1"


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def test_page_tokens_round_trip_and_reject_anything_else() -> None:
    assert domain.decode_token("") is None
    assert domain.decode_token(domain.encode_token(("admin", "prod"))) == ("admin", "prod")
    for token in ("!!", "abc", _b64("5"), _b64('{"a": 1, "b": 2}'), _b64('["a"]'), _b64("[1,2]")):
        with pytest.raises(errors.Invalid) as caught:
            domain.decode_token(token)
        assert str(caught.value) == (
            "page_token not valid: pass the next_page_token of a previous page"
        )
