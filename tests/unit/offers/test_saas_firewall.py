"""Consume and SAAS records, firewall rules and the ingress check, on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from kernel import errors
from kernel.relation import Role
from services.offers import domain
from services.offers.domain import OfferConnection, OfferEndpoint, RemoteApplication
from services.offers.store import SqliteOffers

DB = OfferEndpoint(name="db", interface="mysql", role=Role.PROVIDER)
ADMIN = OfferEndpoint(name="db-admin", interface="mysql-root", role=Role.PROVIDER)
SAAS = RemoteApplication(
    model_uuid="consumer",
    name="mysql",
    offer_uuid="offer-1",
    offer_url="ctrl:admin/prod.mysql",
    source_model_uuid="prod",
    endpoints=(DB,),
    created_at="2026-01-01T00:00:00Z",
)


class NoRelations:
    def connections(self, offer_uuids: Sequence[str]) -> dict[str, tuple[OfferConnection, ...]]:
        return {}

    def remove_offer_relations(self, offer_uuid: str) -> int:
        return 0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteOffers]:
    opened = SqliteOffers(tmp_path / "offers.db")
    try:
        yield opened
    finally:
        opened.close()


def _kinds(store: SqliteOffers) -> list[str]:
    return [e.kind for e in store.events_after(0)]


def test_consume_creates_the_saas_once(store: SqliteOffers) -> None:
    first = domain.consume(store, SAAS)
    assert first.created
    assert first.saas.status == "unknown"
    again = domain.consume(store, SAAS)
    assert (again.created, again.sequence) == (False, 0)
    assert store.list_saas("consumer") == [first.saas]
    assert _kinds(store) == ["saas-added"]


def test_consume_again_merges_new_endpoints(store: SqliteOffers) -> None:
    domain.consume(store, SAAS)
    merged = domain.consume(store, replace(SAAS, endpoints=(ADMIN,)))
    assert [e.name for e in merged.saas.endpoints] == ["db", "db-admin"]
    assert _kinds(store) == ["saas-added", "saas-updated"]


def test_a_changed_endpoint_conflicts(store: SqliteOffers) -> None:
    domain.consume(store, SAAS)
    changed = replace(DB, interface="pgsql")
    with pytest.raises(errors.Refused, match=r"^conflicting endpoint db$"):
        domain.consume(store, replace(SAAS, endpoints=(changed,)))


def test_a_name_from_another_model_or_offer_is_taken(store: SqliteOffers) -> None:
    domain.consume(store, SAAS)
    with pytest.raises(errors.AlreadyExists) as other_model:
        domain.consume(store, replace(SAAS, source_model_uuid="dev", offer_uuid="offer-2"))
    assert str(other_model.value) == (
        'saas application called "mysql" from a different model already exists'
    )
    with pytest.raises(errors.AlreadyExists) as other_offer:
        domain.consume(store, replace(SAAS, offer_uuid="offer-2"))
    assert str(other_offer.value) == (
        'cannot add saas application "mysql": saas application already exists'
    )
    assert _kinds(store) == ["saas-added"]


@pytest.mark.parametrize("name", ["haha/borken", "Mysql", "db-1", ""])
def test_a_bad_saas_name_is_invalid(store: SqliteOffers, name: str) -> None:
    with pytest.raises(errors.Invalid, match=f'name "{name}" not valid'):
        domain.consume(store, replace(SAAS, name=name))
    assert store.list_saas("consumer") == []


def test_removing_the_offer_terminates_its_saas_and_consume_replaces_it(
    store: SqliteOffers,
) -> None:
    offer = domain.Offer(
        uuid="offer-1",
        model_uuid="prod",
        owner="admin",
        model_name="prod",
        name="mysql",
        application="mysql",
        endpoints=(DB,),
    )
    store.add_offer(offer)
    domain.consume(store, SAAS)
    domain.delete_offer(store, NoRelations(), "offer-1", force=False)
    saas = domain.get_saas(store, "consumer", "mysql")
    assert (saas.status, saas.status_message, saas.terminated) == (
        "terminated",
        "offer has been removed",
        True,
    )
    assert "saas-terminated" in _kinds(store)
    # a terminated SAAS is replaced by a new consume, whatever the offer
    again = domain.consume(store, replace(SAAS, offer_uuid="offer-9", source_model_uuid="dev"))
    assert again.created
    assert again.saas.status == "unknown"


def test_remove_saas(store: SqliteOffers) -> None:
    domain.consume(store, SAAS)
    seq = domain.remove_saas(store, "consumer", "mysql")
    assert store.events_after(0)[-1].sequence == seq
    assert store.engine.query("SELECT * FROM remote_application_endpoints") == []
    with pytest.raises(errors.NotFound, match=r'^saas application "mysql" not found$'):
        domain.remove_saas(store, "consumer", "mysql")


def test_firewall_rules_default_to_allow_all(store: SqliteOffers) -> None:
    rules = domain.firewall_rules(store, "prod")
    assert [(str(r.service), r.cidrs) for r in rules] == [
        ("juju-application-offer", ("0.0.0.0/0", "::/0")),
        ("ssh", ("0.0.0.0/0", "::/0")),
    ]
    assert domain.check_ingress(store, "prod", ["69.32.56.0/24", "2001:db8::1/128"]) == ""


@pytest.mark.parametrize(
    ("service", "cidrs", "message"),
    [
        ("", ["10.0.0.0/8"], "no well known service specified"),
        ("juju-controller", ["10.0.0.0/8"], 'service "juju-controller" not supported'),
        ("http", ["10.0.0.0/8"], 'well known service type "http" not valid'),
        ("ssh", [], "no allowlist subnets specified"),
        ("ssh", [" "], "no allowlist subnets specified"),
        ("ssh", ["10.0.0.0"], '"10.0.0.0" not valid'),
        ("ssh", ["10.0.0.0/33"], '"10.0.0.0/33" not valid'),
        ("ssh", ["nonsense/8"], '"nonsense/8" not valid'),
    ],
)
def test_bad_firewall_rules_are_invalid_and_change_nothing(
    store: SqliteOffers, service: str, cidrs: list[str], message: str
) -> None:
    with pytest.raises(errors.Invalid, match=message):
        domain.set_firewall_rule(store, "prod", service, cidrs)
    assert store.firewall_rules("prod") == {}
    assert _kinds(store) == []


def test_the_allow_list_checks_every_ingress_subnet(store: SqliteOffers) -> None:
    rule = domain.set_firewall_rule(
        store,
        "prod",
        "juju-application-offer",
        ["103.37.0.0/16", "2001:db8::/32", "103.37.0.0/16"],
    )
    assert rule.cidrs == ("103.37.0.0/16", "2001:db8::/32")
    assert domain.check_ingress(store, "prod", ["103.37.1.0/24", "103.37.9.9/32"]) == ""
    assert domain.check_ingress(store, "prod", ["2001:db8:1::/48"]) == ""
    assert domain.check_ingress(store, "prod", ["103.37.1.0/24", "69.32.56.0/24"]) == (
        "subnet 69.32.56.0/24 not in firewall whitelist"
    )
    # wider than the allowed subnet: outside
    assert domain.check_ingress(store, "prod", ["103.0.0.0/8"]) == (
        "subnet 103.0.0.0/8 not in firewall whitelist"
    )
    # the ssh rule does not guard offers
    domain.set_firewall_rule(store, "prod", "ssh", ["192.168.0.0/16"])
    assert domain.check_ingress(store, "prod", ["103.37.1.0/24"]) == ""
    assert _kinds(store) == ["firewall-rule-set", "firewall-rule-set"]
