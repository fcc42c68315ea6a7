"""A small world for the cross-model use cases' unit tests: two models, an offer, a consumer."""

from __future__ import annotations

from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from gateway.auth import Caller
from services.common.deadline import Deadline
from tests.unit.gateway.fakes import Fakes

BOB = Caller(user="bob", superuser=False, token="t-bob")
SOON = Deadline.after(10)
PEER = "peer.example:17070"
HERE = "ctrl.example:17070"


def endpoint(
    name: str, role: placement_pb2.Role.ValueType, interface: str
) -> placement_pb2.Endpoint:
    return placement_pb2.Endpoint(name=name, role=role, interface=interface)


JUJU_INFO = placement_pb2.Endpoint(
    name="juju-info", role=placement_pb2.ROLE_PROVIDER, interface="juju-info", implicit=True
)


def offering_world() -> Fakes:
    """`admin/prod` offers `mysql` (its `db` endpoint); bob's `site` runs `wiki` on two units."""
    made = Fakes.new()
    prod = made.placement.model("prod")
    site = made.placement.model("site", owner="bob")
    made.placement.applications[(prod.uuid, "mysql")] = placement_pb2.Application(
        model_uuid=prod.uuid,
        name="mysql",
        charm=placement_pb2.Charm(
            name="mysql",
            endpoints=[endpoint("db", placement_pb2.ROLE_PROVIDER, "mysql"), JUJU_INFO],
        ),
    )
    made.placement.applications[(site.uuid, "wiki")] = placement_pb2.Application(
        model_uuid=site.uuid,
        name="wiki",
        charm=placement_pb2.Charm(
            name="wiki",
            endpoints=[endpoint("db", placement_pb2.ROLE_REQUIRER, "mysql"), JUJU_INFO],
        ),
    )
    made.placement.units[site.uuid] = [
        placement_pb2.Unit(name="wiki/1", application="wiki", address="10.2.0.6"),
        placement_pb2.Unit(name="wiki/0", application="wiki", address="10.2.0.5"),
        placement_pb2.Unit(name="logs/0", application="logs", address="10.2.0.9"),
    ]
    made.offers.offers["o1"] = offers_pb2.Offer(
        uuid="o1",
        model_uuid=prod.uuid,
        name="mysql",
        application="mysql",
        url="admin/prod.mysql",
        endpoints=[offers_pb2.OfferEndpoint(name="db", role="provider", interface="mysql")],
    )
    made.access.levels[("admin", "o1")] = "admin"
    made.access.levels[("bob", "o1")] = "consume"
    made.access.levels[("bob", site.uuid)] = "admin"
    return made


def model(fakes: Fakes, name: str) -> placement_pb2.Model:
    return next(m for m in fakes.placement.models.values() if m.name == name)


def consumed(fakes: Fakes, **remote: str) -> offers_pb2.Saas:
    """The SAAS `mysql` in `site`, as consume made it (from another controller with `remote`)."""
    site = model(fakes, "site")
    saas = offers_pb2.Saas(
        model_uuid=site.uuid,
        name="mysql",
        offer_uuid="o1",
        offer_url="ctrl:admin/prod.mysql",
        source_model_uuid=model(fakes, "prod").uuid,
        endpoints=fakes.offers.offers["o1"].endpoints,
        status="unknown",
        **remote,
    )
    fakes.offers.saas[(site.uuid, "mysql")] = saas
    return saas
