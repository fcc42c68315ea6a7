"""The offers service skeleton over gRPC on port 0: schema, Watch, health, reflection."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from cmr.offers.v1 import offers_pb2, offers_pb2_grpc
from kernel import errors
from kernel.relation import Role
from services.common import config
from services.offers.domain import Offer, OfferEndpoint
from services.offers.server import build_server
from services.offers.store import SqliteOffers


@dataclass
class Offers:
    stub: offers_pb2_grpc.OfferServiceStub
    channel: grpc.Channel
    db_path: Path


@pytest.fixture
def offers(tmp_path: Path) -> Iterator[Offers]:
    cfg = config.Config(data_dir=tmp_path, ports={**config.DEFAULT_PORTS, "offers": 0})
    built = build_server(cfg)
    built.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{built.port}") as channel:
            yield Offers(offers_pb2_grpc.OfferServiceStub(channel), channel, cfg.db_path("offers"))
    finally:
        built.stop(None)


@pytest.fixture
def store(offers: Offers) -> Iterator[SqliteOffers]:
    # A second connection to the server's file, as another writer would have.
    opened = SqliteOffers(offers.db_path)
    try:
        yield opened
    finally:
        opened.close()


def _mysql(name: str, *endpoints: str) -> Offer:
    return Offer(
        uuid=f"uuid-{name}",
        model_uuid="m1",
        owner="admin",
        name=name,
        application="mysql",
        endpoints=tuple(
            OfferEndpoint(name=e, interface="mysql", role=Role.PROVIDER) for e in endpoints
        ),
    )


def test_offers_of_an_application_are_listed_by_name(store: SqliteOffers) -> None:
    store.add_offer(_mysql("hosted-mysql", "db"))
    store.add_offer(_mysql("admin-mysql", "db", "admin"))
    assert store.offers_of_application("m1", "mysql") == ["admin-mysql", "hosted-mysql"]
    assert store.offers_of_application("m2", "mysql") == []
    rows = store.engine.query(
        "SELECT name FROM offer_endpoints WHERE offer_uuid = 'uuid-admin-mysql'"
    )
    assert sorted(r["name"] for r in rows) == ["admin", "db"]


def test_offer_names_are_unique_per_model(store: SqliteOffers) -> None:
    store.add_offer(_mysql("hosted-mysql", "db"))
    with pytest.raises(errors.AlreadyExists, match='"hosted-mysql": application offer already'):
        store.add_offer(dataclasses.replace(_mysql("hosted-mysql", "db"), uuid="other"))
    assert store.offers_of_application("m1", "mysql") == ["hosted-mysql"]


def test_watch_replays_events_committed_by_the_store(offers: Offers, store: SqliteOffers) -> None:
    with store.transaction():
        seq = store.append_event("offer-added", model_uuid="m1", entity="hosted-mysql")
    stream = offers.stub.Watch(offers_pb2.WatchRequest(after_sequence=0), timeout=30)
    try:
        event = next(iter(stream)).event
        assert (event.sequence, event.kind, event.model_uuid, event.entity) == (
            seq,
            "offer-added",
            "m1",
            "hosted-mysql",
        )
        assert event.time.endswith("Z")
    finally:
        stream.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs


def test_watch_after_a_sequence_skips_earlier_events(offers: Offers, store: SqliteOffers) -> None:
    with store.transaction():
        first = store.append_event("offer-added", entity="a")
        store.append_event("offer-added", entity="b")
    stream = offers.stub.Watch(offers_pb2.WatchRequest(after_sequence=first), timeout=30)
    try:
        assert next(iter(stream)).event.entity == "b"
    finally:
        stream.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs
