"""Grant and revoke over fake ports: targets, and waiting for relations after a revoke."""

from __future__ import annotations

import pytest

from cmr.offers.v1 import offers_pb2
from gateway.app.access import Access
from gateway.auth import Caller
from gateway.resolve import Resolver
from kernel import errors
from services.common.deadline import Deadline
from tests.unit.gateway.fakes import Fakes

ADMIN = Caller(user="admin", superuser=True, token="t")
SOON = Deadline.after(10)


@pytest.fixture
def fakes() -> Fakes:
    made = Fakes.new()
    prod = made.placement.model("prod")
    made.access.levels[("admin", prod.uuid)] = "admin"
    made.offers.offers["o1"] = offers_pb2.Offer(
        uuid="o1", model_uuid=prod.uuid, name="mysql", url="admin/prod.mysql"
    )
    made.access.levels[("admin", "o1")] = "admin"
    return made


@pytest.fixture
def access(fakes: Fakes) -> Access:
    return Access(fakes.ports, Resolver(fakes.ports))


def test_no_target_is_the_controller(access: Access, fakes: Fakes) -> None:
    access.grant(ADMIN, "bob", "add-model", [], SOON)
    assert fakes.access.levels[("bob", "controller")] == "add-model"


def test_models_and_offer_urls_cannot_be_mixed(access: Access, fakes: Fakes) -> None:
    with pytest.raises(errors.Invalid, match="either specify model names or offer URLs"):
        access.grant(ADMIN, "bob", "read", ["prod", "admin/prod.mysql"], SOON)
    assert fakes.journal.writes() == []


def test_a_revoke_that_ends_consume_waits_for_the_relations_it_suspends(
    access: Access, fakes: Fakes
) -> None:
    fakes.access.revoked[("bob", "o1")] = ("consume", "read")
    access.revoke(ADMIN, "bob", "consume", ["admin/prod.mysql"], SOON)
    assert fakes.relations.synced == [("access", fakes.access.sequence)]


def test_a_revoke_that_leaves_consume_does_not_wait(access: Access, fakes: Fakes) -> None:
    fakes.access.revoked[("bob", "o1")] = ("admin", "consume")
    access.revoke(ADMIN, "bob", "admin", ["admin/prod.mysql"], SOON)
    fakes.access.revoked[("bob", "controller")] = ("add-model", "login")
    access.revoke(ADMIN, "bob", "add-model", [], SOON)
    assert fakes.relations.synced == []
