"""Application use cases over fake ports: SAAS clashes, peer relations, offered applications."""

from __future__ import annotations

import pytest

from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from gateway.app.applications import Applications, charm_name
from gateway.app.offers import Offers
from gateway.auth import Caller
from gateway.resolve import Resolver
from kernel import errors
from services.common.deadline import Deadline
from tests.unit.gateway.fakes import Fakes
from tests.unit.gateway.test_app_models import Egress

ADMIN = Caller(user="admin", superuser=True, token="t")
SOON = Deadline.after(10)
PEERS = "name: cluster\npeers:\n  ring:\n    interface: ring\n"


@pytest.fixture
def fakes() -> Fakes:
    made = Fakes.new()
    prod = made.placement.model("prod")
    made.access.levels[("admin", prod.uuid)] = "admin"
    made.placement.charms[PEERS] = placement_pb2.Charm(
        name="cluster",
        endpoints=[
            placement_pb2.Endpoint(name="ring", role=placement_pb2.ROLE_PEER, interface="ring"),
            placement_pb2.Endpoint(name="db", role=placement_pb2.ROLE_PROVIDER, interface="mysql"),
        ],
    )
    return made


@pytest.fixture
def egress() -> Egress:
    return Egress()


@pytest.fixture
def apps(fakes: Fakes, egress: Egress) -> Applications:
    resolve = Resolver(fakes.ports)
    return Applications(fakes.ports, resolve, Offers(fakes.ports, resolve), egress)


def _uuid(fakes: Fakes) -> str:
    return next(iter(fakes.placement.models))


def test_the_application_name_defaults_to_the_charms() -> None:
    assert charm_name(PEERS) == "cluster"
    assert charm_name("::not yaml") == ""
    assert charm_name("- a list") == ""


def test_a_name_a_saas_holds_is_refused_before_anything_is_deployed(
    apps: Applications, fakes: Fakes
) -> None:
    uuid = _uuid(fakes)
    fakes.offers.saas[(uuid, "cluster")] = offers_pb2.Saas(model_uuid=uuid, name="cluster")
    with pytest.raises(errors.AlreadyExists, match="saas application with same name"):
        apps.deploy(ADMIN, "prod", PEERS, "", 1, [], SOON)
    assert fakes.journal.writes() == []


def test_each_peers_endpoint_gets_its_relation_at_deploy(apps: Applications, fakes: Fakes) -> None:
    apps.deploy(ADMIN, "prod", PEERS, "", 1, [], SOON)
    apps.deploy(ADMIN, "prod", "name: plain\n", "plain", 1, [], SOON)
    assert fakes.relations.peer_relations == ["cluster"]


def test_units_added_or_removed_publish_egress_again(
    apps: Applications, fakes: Fakes, egress: Egress
) -> None:
    units = apps.add_unit(ADMIN, "prod", "mysql", 2, [], SOON)
    assert [u.name for u in units] == ["mysql/0", "mysql/1"]
    apps.remove_unit(ADMIN, "prod", ["mysql/0"], SOON)
    assert egress.republished == ["prod", "prod"]


def test_an_offered_application_is_removed_only_with_force(
    apps: Applications, fakes: Fakes
) -> None:
    uuid = _uuid(fakes)
    fakes.offers.offers["o1"] = offers_pb2.Offer(uuid="o1", model_uuid=uuid, application="mysql")
    with pytest.raises(
        errors.Refused,
        match='cannot destroy application "mysql": application is used by 1 offer',
    ):
        apps.remove(ADMIN, "prod", "mysql", False, SOON)
    assert fakes.journal.writes() == []
    assert apps.remove(ADMIN, "prod", "mysql", True, SOON) == ["mysql/0"]
    assert fakes.journal.writes() == [
        ("offers", "delete_offer"),
        ("access", "drop_target"),
        ("relations", "remove_application_relations"),
        ("placement", "remove_application"),
    ]
