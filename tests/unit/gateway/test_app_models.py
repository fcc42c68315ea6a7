"""The model use cases over fake ports: who may, what is asked, and what a refusal writes."""

from __future__ import annotations

import pytest

from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from cmr.relations.v1 import relations_pb2
from gateway.app.models import Models
from gateway.app.offers import Offers
from gateway.auth import Caller
from gateway.resolve import Resolver
from kernel import errors
from services.common.deadline import Deadline
from tests.unit.gateway.fakes import Fakes

ADMIN = Caller(user="admin", superuser=True, token="t-admin")
BOB = Caller(user="bob", superuser=False, token="t-bob")
SOON = Deadline.after(10)


class Egress:
    def __init__(self) -> None:
        self.republished: list[str] = []

    def republish_egress(self, model: placement_pb2.Model, deadline: Deadline) -> None:
        self.republished.append(model.name)


@pytest.fixture
def fakes() -> Fakes:
    made = Fakes.new()
    made.access.levels[("admin", "controller")] = "superuser"
    made.access.levels[("bob", "controller")] = "login"
    return made


@pytest.fixture
def egress() -> Egress:
    return Egress()


@pytest.fixture
def models(fakes: Fakes, egress: Egress) -> Models:
    resolve = Resolver(fakes.ports)
    return Models(fakes.ports, resolve, Offers(fakes.ports, resolve), egress)


def test_a_new_model_makes_its_owner_its_admin(models: Models, fakes: Fakes) -> None:
    made = models.add(ADMIN, "prod", SOON)
    assert (made.owner, made.name) == ("admin", "prod")
    assert fakes.access.levels[("admin", made.uuid)] == "admin"
    assert fakes.journal.writes() == [("placement", "add_model"), ("access", "init_target")]


def test_add_model_without_add_model_access_is_refused_and_writes_nothing(
    models: Models, fakes: Fakes
) -> None:
    with pytest.raises(errors.Forbidden, match="permission denied"):
        models.add(BOB, "mine", SOON)
    assert fakes.journal.writes() == []
    fakes.access.levels[("bob", "controller")] = "add-model"
    assert models.add(BOB, "mine", SOON).owner == "bob"


def test_a_user_sees_only_the_models_they_can_read(models: Models, fakes: Fakes) -> None:
    prod = fakes.placement.model("prod")
    fakes.placement.model("secret")
    fakes.access.levels[("bob", prod.uuid)] = "read"
    seen, token = models.visible(BOB, 0, "", SOON)
    assert ([m.name for m in seen], token) == (["prod"], "")


def test_a_superuser_pages_through_every_model(models: Models, fakes: Fakes) -> None:
    for name in ("a", "b", "c"):
        fakes.placement.model(name)
    first, token = models.visible(ADMIN, 2, "", SOON)
    rest, last = models.visible(ADMIN, 2, token, SOON)
    assert [m.name for m in first + rest] == ["a", "b", "c"]
    assert token
    assert not last


def test_an_unknown_config_key_is_named(models: Models, fakes: Fakes) -> None:
    prod = fakes.placement.model("prod")
    fakes.access.levels[("admin", prod.uuid)] = "admin"
    assert models.config(ADMIN, "prod", ["egress-subnets"], SOON) == {"egress-subnets": ""}
    with pytest.raises(errors.NotFound, match='key "nope" not found in model "prod"'):
        models.config(ADMIN, "prod", ["egress-subnets", "nope"], SOON)


def test_a_model_another_user_cannot_read_does_not_exist_for_them(
    models: Models, fakes: Fakes
) -> None:
    fakes.placement.model("prod")
    with pytest.raises(errors.NotFound, match='model "bob/prod" not found'):
        models.config(BOB, "prod", [], SOON)
    with pytest.raises(errors.NotFound, match='model "admin/prod" not found'):
        models.config(BOB, "admin/prod", [], SOON)


def test_new_egress_subnets_are_published_again_other_keys_are_not(
    models: Models, fakes: Fakes, egress: Egress
) -> None:
    prod = fakes.placement.model("prod")
    fakes.access.levels[("admin", prod.uuid)] = "admin"
    models.set_config(ADMIN, "prod", {"other": "x"}, SOON)
    assert egress.republished == []
    models.set_config(ADMIN, "prod", {"egress-subnets": "10.0.0.0/8"}, SOON)
    assert egress.republished == ["prod"]


def test_destroying_a_model_takes_offers_saas_relations_the_model_and_its_permissions(
    models: Models, fakes: Fakes
) -> None:
    prod = fakes.placement.model("prod")
    fakes.access.levels[("admin", prod.uuid)] = "admin"
    fakes.access.levels[("bob", prod.uuid)] = "read"
    fakes.offers.offers["o1"] = offers_pb2.Offer(uuid="o1", model_uuid=prod.uuid, name="db")
    fakes.access.levels[("admin", "o1")] = "admin"
    fakes.offers.saas[(prod.uuid, "logs")] = offers_pb2.Saas(model_uuid=prod.uuid, name="logs")
    fakes.relations.relations[prod.uuid] = [
        relations_pb2.Relation(
            endpoints=[
                relations_pb2.RelationEndpoint(application="wiki"),
                relations_pb2.RelationEndpoint(application="mysql"),
            ]
        ),
        relations_pb2.Relation(
            endpoints=[
                relations_pb2.RelationEndpoint(application="wiki"),
                relations_pb2.RelationEndpoint(application="db", remote=True),
            ]
        ),
    ]
    models.destroy(ADMIN, "prod", SOON)
    assert fakes.journal.writes() == [
        ("offers", "delete_offer"),
        ("access", "drop_target"),
        ("relations", "remove_application_relations"),  # the SAAS's
        ("offers", "remove_saas"),
        ("relations", "remove_application_relations"),
        ("relations", "remove_application_relations"),
        ("placement", "destroy_model"),
        ("access", "drop_target"),
    ]
    assert fakes.relations.removed_applications == ["logs", "mysql", "wiki"]
    assert prod.uuid not in fakes.placement.models
    assert not [k for k in fakes.access.levels if k[1] in (prod.uuid, "o1")]


def test_only_a_model_admin_destroys_it(models: Models, fakes: Fakes) -> None:
    prod = fakes.placement.model("prod")
    fakes.access.levels[("bob", prod.uuid)] = "write"
    with pytest.raises(errors.Forbidden):
        models.destroy(BOB, "admin/prod", SOON)
    assert fakes.journal.writes() == []
