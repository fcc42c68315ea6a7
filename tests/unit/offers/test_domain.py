"""Offer use cases against the real store on a tmp_path file, with a fake relations port."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kernel import errors
from kernel.relation import Role, Scope
from services.offers import domain
from services.offers.domain import ApplicationEndpoint, OfferConnection
from services.offers.store import SqliteOffers


@dataclass
class FakeRelations:
    """The relations context in memory: offer uuid -> its connections."""

    links: dict[str, list[OfferConnection]] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    down: bool = False

    def connections(self, offer_uuids: Sequence[str]) -> dict[str, tuple[OfferConnection, ...]]:
        if self.down:
            raise errors.Unavailable("relations service at fake is unavailable")
        return {u: tuple(self.links[u]) for u in offer_uuids if self.links.get(u)}

    def remove_offer_relations(self, offer_uuid: str) -> int:
        if self.down:
            raise errors.Unavailable("relations service at fake is unavailable")
        self.removed.append(offer_uuid)
        return len(self.links.pop(offer_uuid, []))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteOffers]:
    opened = SqliteOffers(tmp_path / "offers.db")
    try:
        yield opened
    finally:
        opened.close()


MYSQL_ENDPOINTS = (
    ApplicationEndpoint(name="server", interface="mysql", role=Role.PROVIDER),
    ApplicationEndpoint(name="server-admin", interface="mysql-root", role=Role.PROVIDER),
    ApplicationEndpoint(name="db-router", interface="mysql-router", role=Role.PROVIDER),
    ApplicationEndpoint(name="ha", interface="mysql-ha", role=Role.PEER),
    ApplicationEndpoint(
        name="juju-info", interface="juju-info", role=Role.PROVIDER, scope=Scope.CONTAINER
    ),
    ApplicationEndpoint(name="source", interface="dummy-token", role=Role.REQUIRER),
)


def _request(*endpoints: str, name: str = "hosted-mysql", **changes: Any) -> domain.OfferRequest:
    req = domain.OfferRequest(
        model_uuid="m1",
        model_name="prod",
        model_owner="admin",
        offer_name=name,
        application="mysql",
        endpoints=endpoints,
        application_endpoints=MYSQL_ENDPOINTS,
        charm="local:mysql-1",
        charm_summary="MySQL database",
        created_by="admin",
    )
    return dataclasses.replace(req, **changes)


def _offer(
    store: SqliteOffers,
    *endpoints: str,
    relations: FakeRelations | None = None,
    **changes: Any,
) -> domain.OfferResult:
    return domain.create_offer(
        store,
        _request(*endpoints, **changes),
        now="2024-01-01T00:00:00Z",
        relations=relations,
    )


def _connect(relations: FakeRelations, offer_uuid: str, relation_id: int, endpoint: str) -> None:
    relations.links.setdefault(offer_uuid, []).append(
        OfferConnection(
            offer_uuid=offer_uuid,
            relation_id=relation_id,
            source_model_uuid="m2",
            username="bob",
            endpoint=endpoint,
            consumer_application="remote-" + "0" * 32,
            status="joined" if relation_id % 2 == 0 else "suspended",
        )
    )


def _kinds(store: SqliteOffers) -> list[str]:
    return [e.kind for e in store.events_after(0)]


def test_create_offer_stores_endpoints_url_and_description(store: SqliteOffers) -> None:
    result = _offer(store, "server", "source")
    offer = result.offer
    assert result.created
    assert result.previous_endpoints == ()
    assert offer.url == "admin/prod.hosted-mysql"
    assert offer.description == "MySQL database"
    assert offer.endpoint_names == ["server", "source"]
    assert store.offer(offer.uuid) == offer
    [event] = store.events_after(0)
    assert (event.sequence, event.kind, event.model_uuid, event.entity) == (
        result.sequence,
        "offer-added",
        "m1",
        "hosted-mysql",
    )
    assert event.attributes == {
        "offer-uuid": offer.uuid,
        "application": "mysql",
        "url": "admin/prod.hosted-mysql",
    }


def test_offer_name_defaults_to_the_application(store: SqliteOffers) -> None:
    assert _offer(store, "server", name="").offer.name == "mysql"


def test_an_explicit_description_wins(store: SqliteOffers) -> None:
    assert _offer(store, "server", description="mine").offer.description == "mine"


@pytest.mark.parametrize(
    ("request_", "kind", "message"),
    [
        (_request("server", name="foo-1"), errors.Invalid, 'offer name "foo-1" not valid'),
        (_request(), errors.Invalid, "an offer must at least specify application endpoint"),
        (
            _request("server", application="invalid", application_endpoints=()),
            errors.NotFound,
            'cannot add application offer "hosted-mysql": application "invalid" not found',
        ),
        (
            _request("server", "admin"),
            errors.NotFound,
            'cannot add application offer "hosted-mysql": application "mysql" has no "admin"'
            " relation",
        ),
        (
            _request("server", "juju-info"),
            errors.Invalid,
            'can only offer endpoints with global scope, provided scope "container"',
        ),
    ],
)
def test_create_offer_errors_change_nothing(
    store: SqliteOffers, request_: domain.OfferRequest, kind: type[Exception], message: str
) -> None:
    with pytest.raises(kind) as raised:
        domain.create_offer(store, request_, now="t")
    assert str(raised.value) == message
    assert store.engine.query("SELECT * FROM offers") == []
    assert _kinds(store) == []


def test_offering_an_existing_name_replaces_its_endpoints(store: SqliteOffers) -> None:
    first = _offer(store, "server", "server-admin")
    second = _offer(store, "db-router", "server")
    assert not second.created
    assert second.previous_endpoints == ("server", "server-admin")
    assert second.offer.uuid == first.offer.uuid
    assert second.offer.endpoint_names == ["db-router", "server"]
    assert store.offer(first.offer.uuid) == second.offer
    assert _kinds(store) == ["offer-added", "offer-updated"]


def test_an_update_may_point_the_offer_at_another_application(store: SqliteOffers) -> None:
    first = _offer(store, "server")
    moved = _offer(
        store,
        "db",
        application="postgresql",
        application_endpoints=(
            ApplicationEndpoint(name="db", interface="pgsql", role=Role.PROVIDER),
        ),
    )
    assert moved.offer.uuid == first.offer.uuid
    assert (moved.offer.application, moved.offer.endpoint_names) == ("postgresql", ["db"])
    assert store.offers_of_application("m1", "mysql") == []


def test_an_update_naming_an_unknown_endpoint_uses_the_update_message(
    store: SqliteOffers,
) -> None:
    _offer(store, "server", name="myoffer")
    with pytest.raises(errors.NotFound) as raised:
        _offer(store, "invalid-endpoint", name="myoffer")
    assert str(raised.value) == (
        'cannot update application offer "myoffer": getting relation endpoint for relation'
        ' "invalid-endpoint" and application "mysql": application "mysql" has no'
        ' "invalid-endpoint" relation'
    )


def test_an_update_refuses_to_drop_an_endpoint_in_use(store: SqliteOffers) -> None:
    offer = _offer(store, "server", "server-admin").offer
    relations = FakeRelations()
    _connect(relations, offer.uuid, 0, "server")
    with pytest.raises(errors.Refused) as raised:
        _offer(store, "server-admin", relations=relations)
    assert str(raised.value) == (
        'cannot update application offer "hosted-mysql": updating offer mysql:server-admin'
        ' would remove endpoint "server" which has active consumers'
    )
    after = store.offer(offer.uuid)
    assert after is not None
    assert after.endpoint_names == ["server", "server-admin"]
    assert _kinds(store) == ["offer-added"]


def test_an_update_dropping_several_endpoints_in_use_names_them_all(store: SqliteOffers) -> None:
    offer = _offer(store, "server", "db-router", "server-admin").offer
    relations = FakeRelations()
    _connect(relations, offer.uuid, 0, "server")
    _connect(relations, offer.uuid, 1, "db-router")
    with pytest.raises(errors.Refused) as raised:
        _offer(store, "server-admin", relations=relations)
    assert str(raised.value).endswith(
        'would remove endpoints "db-router, server" which have active consumers'
    )


def test_an_update_keeping_endpoints_in_use_keeps_the_connections(store: SqliteOffers) -> None:
    offer = _offer(store, "server").offer
    relations = FakeRelations()
    _connect(relations, offer.uuid, 0, "server")
    updated = _offer(store, "server", "server-admin", relations=relations).offer
    assert [c.relation_id for c in updated.connections] == [0]


def test_offers_carry_connections_and_counts(store: SqliteOffers) -> None:
    offer = _offer(store, "server").offer
    relations = FakeRelations()
    for rid in (0, 1, 2):
        _connect(relations, offer.uuid, rid, "server")
    [got] = domain.with_connections(relations, [domain.get_offer(store, "", "m1", "hosted-mysql")])
    assert [c.relation_id for c in got.connections] == [0, 1, 2]
    assert (got.total_connected_count, got.active_connected_count) == (3, 2)


def test_get_offer_not_found_names_the_url_or_the_uuid(store: SqliteOffers) -> None:
    with pytest.raises(errors.NotFound, match=r'^application offer "nope" not found$'):
        domain.get_offer(store, "", "m1", "nope")
    _offer(store, "server")
    with pytest.raises(errors.NotFound, match=r'^application offer "admin/prod.nope" not found$'):
        domain.get_offer(store, "", "m1", "nope")
    with pytest.raises(errors.NotFound, match=r'^application offer "u-1" not found$'):
        domain.get_offer(store, "u-1", "", "")
    with pytest.raises(errors.Invalid):
        domain.get_offer(store, "", "m1", "")


def test_list_offers_filters_and_pages(store: SqliteOffers) -> None:
    for name in ("c", "a", "b"):
        _offer(store, "server", name=name)
    _offer(store, "server-admin", name="d")
    _offer(store, "server", name="x", model_uuid="m2")
    every = domain.list_offers(store, domain.OfferFilter(model_uuid="m1"), 0, "")
    assert [o.name for o in every.offers] == ["a", "b", "c", "d"]
    assert every.next_page_token == ""
    first = domain.list_offers(store, domain.OfferFilter(model_uuid="m1"), 3, "")
    assert [o.name for o in first.offers] == ["a", "b", "c"]
    rest = domain.list_offers(store, domain.OfferFilter(model_uuid="m1"), 3, first.next_page_token)
    assert ([o.name for o in rest.offers], rest.next_page_token) == (["d"], "")
    by_interface = domain.list_offers(
        store, domain.OfferFilter(model_uuid="m1", interface="mysql-root"), 0, ""
    )
    assert [o.name for o in by_interface.offers] == ["d"]
    by_name = domain.list_offers(store, domain.OfferFilter(model_uuid="m1", name="b"), 0, "")
    assert [o.name for o in by_name.offers] == ["b"]
    by_app = domain.list_offers(
        store, domain.OfferFilter(model_uuid="m1", application="pg"), 0, ""
    )
    assert by_app.offers == []


@pytest.mark.parametrize(
    ("size", "token", "message"),
    [
        (-1, "", "page_size must not be negative, got -1"),
        (0, "garbage", "page_token not valid: pass the next_page_token of a previous page"),
    ],
)
def test_list_offers_rejects_bad_paging(
    store: SqliteOffers, size: int, token: str, message: str
) -> None:
    with pytest.raises(errors.Invalid) as raised:
        domain.list_offers(store, domain.OfferFilter(model_uuid="m1"), size, token)
    assert str(raised.value) == message


def test_find_offers_searches_every_model_by_url(store: SqliteOffers) -> None:
    _offer(store, "server", name="b", model_uuid="m2", model_owner="bob", model_name="dev")
    _offer(store, "server", name="a")
    _offer(store, "source", name="c", model_uuid="m3", model_owner="admin", model_name="alpha")
    found = domain.find_offers(store, domain.OfferFilter(), 0, "")
    assert [o.url for o in found.offers] == ["admin/alpha.c", "admin/prod.a", "bob/dev.b"]
    page = domain.find_offers(store, domain.OfferFilter(), 2, "")
    rest = domain.find_offers(store, domain.OfferFilter(), 2, page.next_page_token)
    assert [o.url for o in page.offers + rest.offers] == [o.url for o in found.offers]
    assert rest.next_page_token == ""
    assert [
        o.url
        for o in domain.find_offers(
            store, domain.OfferFilter(model_owner="admin", endpoint="source"), 0, ""
        ).offers
    ] == ["admin/alpha.c"]
    assert [
        o.url
        for o in domain.find_offers(
            store, domain.OfferFilter(model_name="dev", interface="mysql"), 0, ""
        ).offers
    ] == ["bob/dev.b"]


def test_delete_offer_refuses_while_relations_exist(store: SqliteOffers) -> None:
    offer = _offer(store, "server").offer
    relations = FakeRelations()
    _connect(relations, offer.uuid, 0, "server")
    with pytest.raises(errors.Refused) as raised:
        domain.delete_offer(store, relations, offer.uuid, force=False)
    assert (
        str(raised.value) == 'cannot delete application offer "hosted-mysql": offer has 1 relation'
    )
    _connect(relations, offer.uuid, 1, "server")
    with pytest.raises(errors.Refused, match=r"offer has 2 relations$"):
        domain.delete_offer(store, relations, offer.uuid, force=False)
    assert store.offer(offer.uuid) is not None
    assert relations.removed == []
    assert _kinds(store) == ["offer-added"]


def test_delete_offer_with_force_removes_relations_then_the_offer(store: SqliteOffers) -> None:
    offer = _offer(store, "server").offer
    relations = FakeRelations()
    _connect(relations, offer.uuid, 0, "server")
    _connect(relations, offer.uuid, 1, "server")
    deleted = domain.delete_offer(store, relations, offer.uuid, force=True)
    assert deleted.removed_relations == 2
    assert relations.removed == [offer.uuid]
    assert store.offer(offer.uuid) is None
    for table in ("offers", "offer_endpoints"):
        assert store.engine.query(f"SELECT * FROM {table}") == []  # noqa: S608
    event = store.events_after(0)[-1]
    assert (event.sequence, event.kind, event.entity) == (
        deleted.sequence,
        "offer-removed",
        "hosted-mysql",
    )
    assert event.attributes["offer-uuid"] == offer.uuid


def test_delete_unused_offer_needs_no_force(store: SqliteOffers) -> None:
    offer = _offer(store, "server").offer
    other = _offer(store, "server", name="other").offer
    deleted = domain.delete_offer(store, FakeRelations(), offer.uuid, force=False)
    assert deleted.removed_relations == 0
    assert store.offer(offer.uuid) is None
    assert store.offer(other.uuid) is not None


def test_delete_offer_when_relations_are_unreachable_changes_nothing(store: SqliteOffers) -> None:
    offer = _offer(store, "server").offer
    with pytest.raises(errors.Unavailable):
        domain.delete_offer(store, FakeRelations(down=True), offer.uuid, force=True)
    assert store.offer(offer.uuid) is not None


def test_delete_unknown_offer(store: SqliteOffers) -> None:
    with pytest.raises(errors.NotFound, match=r'^application offer "u-9" not found$'):
        domain.delete_offer(store, FakeRelations(), "u-9", force=True)
