"""The offer use cases over fake ports: who sees what of an offer, and removal's refusals."""

from __future__ import annotations

import pytest

from gateway.app.offers import Offers
from gateway.auth import Caller
from gateway.resolve import Resolver
from kernel import errors
from tests.unit.gateway.fakes import Fakes
from tests.unit.gateway.world import BOB, SOON, model, offering_world

ADMIN = Caller(user="admin", superuser=True, token="t-admin")


@pytest.fixture
def fakes() -> Fakes:
    made = offering_world()
    made.access.levels[("admin", model(made, "prod").uuid)] = "admin"
    return made


@pytest.fixture
def offers(fakes: Fakes) -> Offers:
    return Offers(fakes.ports, Resolver(fakes.ports))


def test_an_admin_sees_every_user_of_an_offer_others_only_themselves(offers: Offers) -> None:
    shown = offers.show(ADMIN, "admin/prod.mysql", "", SOON)
    assert {(u.user, u.level) for u in shown.users} == {("admin", "admin"), ("bob", "consume")}
    assert shown.url == "ctrl:admin/prod.mysql"
    mine = offers.show(BOB, "admin/prod.mysql", "", SOON)
    assert [(u.user, u.level) for u in mine.users] == [("bob", "consume")]
    assert mine.access == "consume"


def test_show_needs_a_url(offers: Offers) -> None:
    with pytest.raises(errors.Invalid, match="must specify endpoint URL"):
        offers.show(BOB, "", "", SOON)


def test_offers_named_with_an_endpoint_are_refused_before_any_is_removed(
    offers: Offers, fakes: Fakes
) -> None:
    with pytest.raises(errors.Invalid, match="These offers contain endpoints") as raised:
        offers.remove(ADMIN, ["admin/prod.mysql", "admin/prod.mysql:db"], "", False, SOON)
    assert "\n -ctrl:admin/prod.mysql:db" in str(raised.value)
    assert fakes.journal.writes() == []


def test_every_offer_is_authorised_before_any_is_removed(offers: Offers, fakes: Fakes) -> None:
    with pytest.raises(errors.Forbidden):
        offers.remove(BOB, ["admin/prod.mysql"], "", False, SOON)
    with pytest.raises(errors.NotFound):
        offers.remove(ADMIN, ["admin/prod.mysql", "admin/prod.nope"], "", False, SOON)
    assert fakes.journal.writes() == []
    assert offers.remove(ADMIN, ["admin/prod.mysql"], "", True, SOON) == 1
    assert fakes.journal.writes() == [("offers", "delete_offer"), ("access", "drop_target")]


def test_an_offer_admin_lists_their_offers_in_a_model_they_cannot_read(
    offers: Offers, fakes: Fakes
) -> None:
    with pytest.raises(errors.NotFound, match='model "admin/prod" not found'):
        offers.administered(BOB, "admin/prod", SOON)
    fakes.access.levels[("bob", "o1")] = "admin"
    assert [o.offer.name for o in offers.administered(BOB, "admin/prod", SOON)] == ["mysql"]
