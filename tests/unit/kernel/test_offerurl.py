"""Offer URLs: Juju 3.6's test vectors and exact errors, and cmr's endpoint-split fix."""

from __future__ import annotations

import pytest

from kernel import errors
from kernel.names import is_application_name, is_endpoint_name, is_model_name, is_user_name
from kernel.offerurl import OfferURL


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "controller:user/modelname.applicationname",
            OfferURL("controller", "user", "modelname", "applicationname", ""),
        ),
        (
            "controller:user/modelname.applicationname:rel",
            OfferURL("controller", "user", "modelname", "applicationname", "rel"),
        ),
        ("modelname.applicationname", OfferURL("", "", "modelname", "applicationname", "")),
        ("modelname.applicationname:rel", OfferURL("", "", "modelname", "applicationname", "rel")),
        ("user/modelname.applicationname", OfferURL("", "user", "modelname", "applicationname")),
        (
            "user/modelname.applicationname:rel",
            OfferURL("", "user", "modelname", "applicationname", "rel"),
        ),
        ("ctrl2:admin/prod.mysql", OfferURL("ctrl2", "admin", "prod", "mysql", "")),
        ("fred@external/prod.hosted-db2", OfferURL("", "fred@external", "prod", "hosted-db2")),
    ],
)
def test_valid_urls_parse_and_round_trip(text: str, expected: OfferURL) -> None:
    url = OfferURL.parse(text)
    assert url == expected
    assert str(url) == text
    assert OfferURL.parse(str(url)) == url


def test_a_leading_slash_is_dropped() -> None:
    url = OfferURL.parse("/modelname.applicationname")
    assert url == OfferURL(model="modelname", offer="applicationname")
    assert str(url) == "modelname.applicationname"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("controller:modelname", "application offer URL is missing application"),
        ("controller:user/modelname", "application offer URL is missing application"),
        ("model", "application offer URL is missing application"),
        ("/user/model", "application offer URL is missing application"),
        ("admin/.mysql", "application offer URL is missing model"),
        (
            "user/prod/applicationname/extra",
            "application offer URL has invalid form, must be [<user/]<model>.<appname>:"
            ' "user/prod/applicationname/extra"',
        ),
        (
            ":m.o",
            'application offer URL has invalid form, must be [<user/]<model>.<appname>: ":m.o"',
        ),
        ("model.application@bad", 'application name "application@bad" not valid'),
        ("user[bad/model.application", 'user name "user[bad" not valid'),
        ("user/[badmodel.application", 'model name "[badmodel" not valid'),
        ("prod.foo-1", 'application name "foo-1" not valid'),
        ("bad.ctrl:admin/prod.mysql", 'controller name "bad.ctrl" not valid'),
        ("c:admin/prod.mysql:Bad", 'endpoint name "Bad" not valid'),
    ],
)
def test_invalid_urls_give_jujus_exact_errors(text: str, message: str) -> None:
    with pytest.raises(errors.Invalid) as raised:
        OfferURL.parse(text)
    assert str(raised.value) == message


def test_an_endpoint_with_a_hyphen_is_not_read_as_a_controller() -> None:
    # Juju 3.6 reads `prod.mysql` as a controller here (`db-admin` is not alphanumeric); cmr
    # reads a tail that is a valid endpoint name after a head with a `.` as the endpoint.
    url = OfferURL.parse("prod.mysql:db-admin")
    assert url == OfferURL(model="prod", offer="mysql", endpoint="db-admin")
    assert str(url) == "prod.mysql:db-admin"
    assert OfferURL.parse("admin/prod.mysql:db_admin").endpoint == "db_admin"


def test_a_head_without_a_dot_is_a_controller() -> None:
    assert OfferURL.parse("ctrl:prod.mysql") == OfferURL("ctrl", "", "prod", "mysql")


def test_defaults_fill_the_controller_and_the_calling_user() -> None:
    url = OfferURL.parse("prod.mysql:db").with_defaults("ctrl", "bob")
    assert str(url) == "ctrl:bob/prod.mysql:db"
    given = OfferURL.parse("c2:admin/prod.mysql").with_defaults("ctrl", "bob")
    assert str(given) == "c2:admin/prod.mysql"
    assert str(given.without_endpoint()) == "c2:admin/prod.mysql"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("controller:", OfferURL(source="controller")),
        ("user/modelname", OfferURL(user="user", model="modelname")),
        ("controller:/modelname", OfferURL(source="controller", model="modelname")),
        ("", OfferURL()),
        ("admin/prod.mysql", OfferURL(user="admin", model="prod", offer="mysql")),
    ],
)
def test_partial_urls_are_find_offers_filters(text: str, expected: OfferURL) -> None:
    assert OfferURL.parse_filter(text) == expected


def test_filters_still_check_names() -> None:
    with pytest.raises(errors.Invalid, match='user name "user\\[bad" not valid'):
        OfferURL.parse_filter("user[bad/model")
    with pytest.raises(errors.Invalid, match="invalid form"):
        OfferURL.parse_filter(":model")


def test_partial_urls_print_what_they_hold() -> None:
    assert str(OfferURL.parse_filter("controller:")) == "controller:"
    assert str(OfferURL.parse_filter("user/modelname")) == "user/modelname"


@pytest.mark.parametrize("name", ["mysql", "foo-1a", "mysql-k8s", "a"])
def test_valid_application_names(name: str) -> None:
    assert is_application_name(name)


@pytest.mark.parametrize("name", ["foo-1", "Foo", "1db", "a_b", "", "foo-"])
def test_invalid_application_names(name: str) -> None:
    assert not is_application_name(name)


def test_other_names() -> None:
    assert is_user_name("bob")
    assert is_user_name("bob@external")
    assert not is_user_name("b")
    assert not is_user_name("user[bad")
    assert is_model_name("prod-1")
    assert not is_model_name("a" * 129)
    assert is_endpoint_name("db-admin")
    assert is_endpoint_name("juju_info")
    assert not is_endpoint_name("Db")
    assert not is_endpoint_name("db-")
