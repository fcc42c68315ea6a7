"""The relation use cases over fake ports: add-relation with an offer URL, and its refusals."""

from __future__ import annotations

import pytest

from gateway.app.crossmodel import CrossModel
from gateway.app.offers import Offers
from gateway.app.reconcile import Reconciler
from gateway.app.relations import Relations
from gateway.resolve import Resolver
from kernel import errors
from tests.unit.gateway.fakes import FakePeerControllers, Fakes
from tests.unit.gateway.world import BOB, HERE, SOON, model, offering_world


@pytest.fixture
def fakes() -> Fakes:
    return offering_world()


@pytest.fixture
def relations(fakes: Fakes) -> Relations:
    peers = FakePeerControllers()
    resolve = Resolver(fakes.ports)
    crossmodel = CrossModel(
        fakes.ports, resolve, peers, Reconciler(fakes.ports, peers), lambda: HERE
    )
    return Relations(fakes.ports, resolve, Offers(fakes.ports, resolve), crossmodel)


def test_relating_to_an_offer_url_consumes_it_then_relates(
    relations: Relations, fakes: Fakes
) -> None:
    reply = relations.add(BOB, "site", "wiki", "admin/prod.mysql", [], SOON)
    assert {e.application for e in reply.relation.endpoints} == {"wiki", "mysql"}
    assert (model(fakes, "site").uuid, "mysql") in fakes.offers.saas
    assert [w for w in fakes.journal.writes() if w[0] != "access"] == [
        ("offers", "consume"),
        ("relations", "add_cross_model_relation"),
    ]


def test_a_refused_relation_takes_away_the_saas_it_consumed(
    relations: Relations, fakes: Fakes
) -> None:
    del fakes.placement.applications[(model(fakes, "prod").uuid, "mysql")]
    with pytest.raises(errors.Refused, match='application "mysql" has been removed'):
        relations.add(BOB, "site", "wiki", "admin/prod.mysql", [], SOON)
    assert (model(fakes, "site").uuid, "mysql") not in fakes.offers.saas
    assert ("relations", "add_cross_model_relation") not in fakes.journal.writes()


def test_two_offer_urls_cannot_be_related(relations: Relations, fakes: Fakes) -> None:
    with pytest.raises(errors.Invalid, match="more than one remote endpoints"):
        relations.add(BOB, "site", "admin/prod.mysql", "admin/prod.other", [], SOON)
    assert fakes.journal.writes() == []


def test_via_subnets_need_a_cross_model_relation(relations: Relations, fakes: Fakes) -> None:
    with pytest.raises(errors.Invalid, match="via subnets for non cross model relations"):
        relations.add(BOB, "site", "wiki", "wiki", ["10.0.0.0/8"], SOON)
    assert fakes.journal.writes() == []


def test_removing_an_unknown_saas_is_not_found(relations: Relations, fakes: Fakes) -> None:
    with pytest.raises(errors.NotFound, match='saas application "nope" not found'):
        relations.remove_saas(BOB, "site", "nope", SOON)
    assert fakes.journal.writes() == []
