"""Every offer RPC over gRPC on port 0, and DeleteOffer against a real relations server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from cmr.offers.v1 import offers_pb2 as pb
from cmr.offers.v1 import offers_pb2_grpc
from kernel.relation import Role
from services.common import config
from services.common.server import Built
from services.offers.server import build_server
from services.offers.store import SqliteOffers
from services.relations import server as relations_server
from services.relations.domain import Endpoint, Relation, RelationStatus, relation_key
from services.relations.store import SqliteRelations

TIMEOUT = 10


@dataclass
class Controller:
    offers: offers_pb2_grpc.OfferServiceStub
    offers_db: Path
    relations: Built
    relations_db: Path
    relations_address: str


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[Controller]:
    ports = {**config.DEFAULT_PORTS, "offers": 0, "relations": 0}
    rel_cfg = config.Config(data_dir=tmp_path / "relations", ports=ports)
    rel = relations_server.build_server(rel_cfg)
    rel.start()
    address = f"127.0.0.1:{rel.port}"
    cfg = config.Config(
        data_dir=tmp_path / "offers", ports=ports, addresses={"relations": address}
    )
    built = build_server(cfg)
    built.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{built.port}") as channel:
            yield Controller(
                offers=offers_pb2_grpc.OfferServiceStub(channel),
                offers_db=cfg.db_path("offers"),
                relations=rel,
                relations_db=rel_cfg.db_path("relations"),
                relations_address=address,
            )
    finally:
        built.stop(None)
        rel.stop(None)


@pytest.fixture
def relations_store(controller: Controller) -> Iterator[SqliteRelations]:
    opened = SqliteRelations(controller.relations_db)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def offers_store(controller: Controller) -> Iterator[SqliteOffers]:
    opened = SqliteOffers(controller.offers_db)
    try:
        yield opened
    finally:
        opened.close()


MYSQL = [
    pb.ApplicationEndpoint(name="server", interface="mysql", role="provider", scope="global"),
    pb.ApplicationEndpoint(name="server-admin", interface="mysql-root", role="provider"),
    pb.ApplicationEndpoint(
        name="juju-info", interface="juju-info", role="provider", scope="container"
    ),
]


def _create(
    stub: offers_pb2_grpc.OfferServiceStub,
    *endpoints: str,
    name: str = "hosted-mysql",
    model_uuid: str = "m1",
    owner: str = "admin",
    model: str = "prod",
    application: str = "mysql",
    app_endpoints: list[pb.ApplicationEndpoint] | None = None,
) -> pb.CreateOfferResponse:
    return stub.CreateOffer(
        pb.CreateOfferRequest(
            model_uuid=model_uuid,
            model_name=model,
            model_owner=owner,
            offer_name=name,
            application=application,
            endpoints=endpoints,
            application_endpoints=MYSQL if app_endpoints is None else app_endpoints,
            charm="local:mysql-1",
            charm_summary="MySQL database",
            created_by="admin",
        ),
        timeout=TIMEOUT,
    )


def _relate(
    store: SqliteRelations, offer_uuid: str, consumer: str, subnets: tuple[str, ...] = ()
) -> Relation:
    """An offerer's half: `consumer` stands for the consumer proxy."""
    endpoints = (
        Endpoint(
            application=consumer, name="db", role=Role.REQUIRER, interface="mysql", remote=True
        ),
        Endpoint(application="mysql", name="server", role=Role.PROVIDER, interface="mysql"),
    )
    with store.transaction():
        relation = Relation(
            model_uuid="m1",
            id=store.next_relation_id("m1"),
            key=relation_key(endpoints),
            endpoints=endpoints,
            status=RelationStatus.JOINED,
            offer_uuid=offer_uuid,
            token=f"token-{consumer}",
            side="offerer",
            username="bob",
            source_model_uuid="m2",
            subnets=subnets,
        )
        store.add_relation(relation)
        store.append_event("relation-added", model_uuid="m1", entity=str(relation.id))
    return relation


def _code(call: object) -> tuple[grpc.StatusCode, str]:
    assert isinstance(call, grpc.Call)
    return call.code(), call.details() or ""


def test_create_offer_returns_the_offer(controller: Controller) -> None:
    reply = _create(controller.offers, "server", "server-admin")
    assert reply.created
    assert list(reply.previous_endpoints) == []
    offer = reply.offer
    assert (offer.name, offer.application, offer.url) == (
        "hosted-mysql",
        "mysql",
        "admin/prod.hosted-mysql",
    )
    assert (offer.model_uuid, offer.model_name, offer.model_owner) == ("m1", "prod", "admin")
    assert (offer.charm, offer.description, offer.created_by) == (
        "local:mysql-1",
        "MySQL database",
        "admin",
    )
    assert [(e.name, e.interface, e.role) for e in offer.endpoints] == [
        ("server", "mysql", "provider"),
        ("server-admin", "mysql-root", "provider"),
    ]
    assert offer.created_at.endswith("Z")
    assert reply.sequence == 1


def test_create_offer_upserts(controller: Controller) -> None:
    first = _create(controller.offers, "server", "server-admin")
    second = _create(controller.offers, "server")
    assert not second.created
    assert list(second.previous_endpoints) == ["server", "server-admin"]
    assert second.offer.uuid == first.offer.uuid
    assert [e.name for e in second.offer.endpoints] == ["server"]


@pytest.mark.parametrize(
    ("kwargs", "code", "message"),
    [
        (
            {"name": "foo-1"},
            grpc.StatusCode.INVALID_ARGUMENT,
            'offer name "foo-1" not valid',
        ),
        (
            {"application": "invalid", "app_endpoints": []},
            grpc.StatusCode.NOT_FOUND,
            'cannot add application offer "hosted-mysql": application "invalid" not found',
        ),
        (
            {"endpoints": ("admin",)},
            grpc.StatusCode.NOT_FOUND,
            'cannot add application offer "hosted-mysql": application "mysql" has no "admin"'
            " relation",
        ),
        (
            {"endpoints": ("juju-info",)},
            grpc.StatusCode.INVALID_ARGUMENT,
            'can only offer endpoints with global scope, provided scope "container"',
        ),
        (
            {"endpoints": ()},
            grpc.StatusCode.INVALID_ARGUMENT,
            "an offer must at least specify application endpoint",
        ),
    ],
)
def test_create_offer_errors(
    controller: Controller, kwargs: dict[str, object], code: grpc.StatusCode, message: str
) -> None:
    endpoints = kwargs.pop("endpoints", ("server",))
    assert isinstance(endpoints, tuple)
    with pytest.raises(grpc.RpcError) as raised:
        _create(controller.offers, *endpoints, **kwargs)  # type: ignore[arg-type]
    assert _code(raised.value) == (code, message)


def test_create_offer_rejects_an_unknown_role(controller: Controller) -> None:
    bad = [pb.ApplicationEndpoint(name="server", interface="mysql", role="boss")]
    with pytest.raises(grpc.RpcError) as raised:
        _create(controller.offers, "server", app_endpoints=bad)
    assert _code(raised.value) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        'endpoint role "boss" not valid',
    )


def test_update_refuses_to_drop_an_endpoint_in_use(
    controller: Controller, relations_store: SqliteRelations
) -> None:
    offer = _create(controller.offers, "server", "server-admin").offer
    for consumer in ("remote-a", "remote-b", "remote-c", "remote-" + "a" * 32):
        _relate(relations_store, offer.uuid, consumer, ("192.168.0.1/32",))
    with pytest.raises(grpc.RpcError) as raised:
        _create(controller.offers, "server-admin")
    assert _code(raised.value) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        'cannot update application offer "hosted-mysql": updating offer mysql:server-admin'
        ' would remove endpoint "server" which has active consumers',
    )
    got = controller.offers.GetOffer(pb.GetOfferRequest(offer_uuid=offer.uuid), timeout=TIMEOUT)
    assert [e.name for e in got.offer.endpoints] == ["server", "server-admin"]
    conn = got.offer.connections[-1]
    assert (conn.relation_id, conn.username, conn.endpoint, conn.status) == (
        3,
        "bob",
        "server",
        "joined",
    )
    assert list(conn.ingress_subnets) == ["192.168.0.1/32"]
    assert (got.offer.total_connected_count, got.offer.active_connected_count) == (4, 4)


def test_get_offer_by_uuid_or_by_model_and_name(controller: Controller) -> None:
    created = _create(controller.offers, "server").offer
    by_uuid = controller.offers.GetOffer(
        pb.GetOfferRequest(offer_uuid=created.uuid), timeout=TIMEOUT
    )
    by_name = controller.offers.GetOffer(
        pb.GetOfferRequest(model_uuid="m1", name="hosted-mysql"), timeout=TIMEOUT
    )
    assert by_uuid.offer == by_name.offer == created


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (
            pb.GetOfferRequest(model_uuid="m1", name="mysql"),
            grpc.StatusCode.NOT_FOUND,
            'application offer "admin/prod.mysql" not found',
        ),
        (
            pb.GetOfferRequest(offer_uuid="u-1"),
            grpc.StatusCode.NOT_FOUND,
            'application offer "u-1" not found',
        ),
        (
            pb.GetOfferRequest(),
            grpc.StatusCode.INVALID_ARGUMENT,
            "specify offer_uuid, or model_uuid and name",
        ),
    ],
)
def test_get_offer_errors(
    controller: Controller, request_: pb.GetOfferRequest, code: grpc.StatusCode, message: str
) -> None:
    _create(controller.offers, "server")
    with pytest.raises(grpc.RpcError) as raised:
        controller.offers.GetOffer(request_, timeout=TIMEOUT)
    assert _code(raised.value) == (code, message)


def test_list_offers_filters_and_pages(controller: Controller) -> None:
    for name in ("c", "a", "b"):
        _create(controller.offers, "server", name=name)
    _create(controller.offers, "server-admin", name="d")
    _create(controller.offers, "server", name="z", model_uuid="m2")
    first = controller.offers.ListOffers(
        pb.ListOffersRequest(model_uuid="m1", page_size=2), timeout=TIMEOUT
    )
    assert [o.name for o in first.offers] == ["a", "b"]
    rest = controller.offers.ListOffers(
        pb.ListOffersRequest(model_uuid="m1", page_size=2, page_token=first.next_page_token),
        timeout=TIMEOUT,
    )
    assert [o.name for o in rest.offers] == ["c", "d"]
    assert rest.next_page_token == ""
    root = controller.offers.ListOffers(
        pb.ListOffersRequest(model_uuid="m1", interface="mysql-root"), timeout=TIMEOUT
    )
    assert [o.name for o in root.offers] == ["d"]
    named = controller.offers.ListOffers(
        pb.ListOffersRequest(model_uuid="m1", name="b", application="mysql"), timeout=TIMEOUT
    )
    assert [o.name for o in named.offers] == ["b"]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            pb.ListOffersRequest(model_uuid="m1", page_size=-1),
            "page_size must not be negative, got -1",
        ),
        (
            pb.ListOffersRequest(model_uuid="m1", page_token="nope"),
            "page_token not valid: pass the next_page_token of a previous page",
        ),
        (pb.ListOffersRequest(), "model_uuid is required"),
    ],
)
def test_list_offers_rejects_bad_requests(
    controller: Controller, request_: pb.ListOffersRequest, message: str
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        controller.offers.ListOffers(request_, timeout=TIMEOUT)
    assert _code(raised.value) == (grpc.StatusCode.INVALID_ARGUMENT, message)


def test_find_offers_searches_every_model_by_url(controller: Controller) -> None:
    _create(controller.offers, "server", name="b", model_uuid="m2", owner="bob", model="dev")
    _create(controller.offers, "server", name="a")
    _create(controller.offers, "server-admin", name="c", model="alpha", model_uuid="m3")
    every = controller.offers.FindOffers(pb.FindOffersRequest(), timeout=TIMEOUT)
    assert [o.url for o in every.offers] == ["admin/alpha.c", "admin/prod.a", "bob/dev.b"]
    first = controller.offers.FindOffers(pb.FindOffersRequest(page_size=2), timeout=TIMEOUT)
    rest = controller.offers.FindOffers(
        pb.FindOffersRequest(page_size=2, page_token=first.next_page_token), timeout=TIMEOUT
    )
    assert [o.url for o in [*first.offers, *rest.offers]] == [o.url for o in every.offers]
    assert rest.next_page_token == ""
    admin_mysql = controller.offers.FindOffers(
        pb.FindOffersRequest(model_owner="admin", interface="mysql"), timeout=TIMEOUT
    )
    assert [o.url for o in admin_mysql.offers] == ["admin/prod.a"]
    by_endpoint = controller.offers.FindOffers(
        pb.FindOffersRequest(endpoint="server-admin", model_name="alpha", offer_name="c"),
        timeout=TIMEOUT,
    )
    assert [o.url for o in by_endpoint.offers] == ["admin/alpha.c"]
    with pytest.raises(grpc.RpcError) as raised:
        controller.offers.FindOffers(pb.FindOffersRequest(page_size=-5), timeout=TIMEOUT)
    assert _code(raised.value)[0] == grpc.StatusCode.INVALID_ARGUMENT


def test_delete_offer_is_refused_while_a_relation_uses_it_then_forced(
    controller: Controller, relations_store: SqliteRelations, offers_store: SqliteOffers
) -> None:
    offer = _create(controller.offers, "server").offer
    other = _create(controller.offers, "server", name="other").offer
    _relate(relations_store, offer.uuid, "wordpress")
    kept = _relate(relations_store, other.uuid, "mediawiki")
    with pytest.raises(grpc.RpcError) as raised:
        controller.offers.DeleteOffer(
            pb.DeleteOfferRequest(offer_uuid=offer.uuid), timeout=TIMEOUT
        )
    assert _code(raised.value) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        'cannot delete application offer "hosted-mysql": offer has 1 relation',
    )
    _relate_second = _relate(relations_store, offer.uuid, "ghost")
    with pytest.raises(grpc.RpcError) as raised:
        controller.offers.DeleteOffer(
            pb.DeleteOfferRequest(offer_uuid=offer.uuid), timeout=TIMEOUT
        )
    assert _code(raised.value)[1].endswith("offer has 2 relations")
    assert _relate_second.offer_uuid == offer.uuid

    reply = controller.offers.DeleteOffer(
        pb.DeleteOfferRequest(offer_uuid=offer.uuid, force=True), timeout=TIMEOUT
    )
    assert reply.removed_relations == 2
    assert [r["id"] for r in relations_store.engine.query("SELECT id FROM relations")] == [kept.id]
    with pytest.raises(grpc.RpcError) as raised:
        controller.offers.GetOffer(pb.GetOfferRequest(offer_uuid=offer.uuid), timeout=TIMEOUT)
    assert _code(raised.value)[0] == grpc.StatusCode.NOT_FOUND
    event = offers_store.events_after(0)[-1]
    assert (event.sequence, event.kind, event.entity) == (
        reply.sequence,
        "offer-removed",
        "hosted-mysql",
    )
    assert dict(event.attributes) == {
        "offer-uuid": offer.uuid,
        "application": "mysql",
        "url": "admin/prod.hosted-mysql",
    }


def test_delete_offer_without_relations(controller: Controller) -> None:
    offer = _create(controller.offers, "server").offer
    reply = controller.offers.DeleteOffer(
        pb.DeleteOfferRequest(offer_uuid=offer.uuid), timeout=TIMEOUT
    )
    assert reply.removed_relations == 0
    assert (
        controller.offers.ListOffers(pb.ListOffersRequest(model_uuid="m1"), timeout=TIMEOUT).offers
        == []
    )


def test_delete_unknown_offer(controller: Controller) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        controller.offers.DeleteOffer(pb.DeleteOfferRequest(offer_uuid="u-1"), timeout=TIMEOUT)
    assert _code(raised.value) == (grpc.StatusCode.NOT_FOUND, 'application offer "u-1" not found')


def test_delete_offer_with_relations_down_is_unavailable(
    controller: Controller, offers_store: SqliteOffers
) -> None:
    offer = _create(controller.offers, "server").offer
    controller.relations.stop(None)
    with pytest.raises(grpc.RpcError) as raised:
        controller.offers.DeleteOffer(
            pb.DeleteOfferRequest(offer_uuid=offer.uuid, force=True), timeout=TIMEOUT
        )
    assert _code(raised.value) == (
        grpc.StatusCode.UNAVAILABLE,
        f"relations service at {controller.relations_address} is unavailable",
    )
    assert offers_store.offer(offer.uuid) is not None
