"""Offers' contract, read-only, on pytest-grpc's fixtures: the real servicer and store.

One servicer and store serve the whole module (pytest-grpc's fixtures are module-scoped), so
every check here needs an empty store and leaves it empty; a refusal writes nothing. The
servicer asks the relations service for an offer's connections only once it has found offers;
its relations client here points where nothing listens, so a check that reached it would fail
UNAVAILABLE. The methods that do reach it (an offer's connections, updating or deleting an
offer) need offers, a write: `test_offer_rpcs.py` checks them on `build_server` beside a real
relations server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest

from cmr.offers.v1 import offers_pb2 as pb
from cmr.offers.v1 import offers_pb2_grpc
from kernel.errors import Reason
from services.offers.relations_client import RelationsClient
from services.offers.server import OfferServicer
from services.offers.store import SqliteOffers
from tests.conftest import free_port
from tests.service.smoke import TIMEOUT, empty_feed_watched, failure

Code = grpc.StatusCode
Stub = offers_pb2_grpc.OfferServiceStub

grpc_max_workers = 8
"""pytest-grpc serves on one thread unless told: an open `Watch` would hold it."""


@pytest.fixture(scope="module")
def grpc_add_to_server() -> Callable[[offers_pb2_grpc.OfferServiceServicer, grpc.Server], None]:
    return offers_pb2_grpc.add_OfferServiceServicer_to_server


@pytest.fixture(scope="module")
def grpc_servicer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfferServicer]:
    store = SqliteOffers(tmp_path_factory.mktemp("offers") / "offers.db")
    relations = RelationsClient(f"127.0.0.1:{free_port()}")  # nothing listens there
    try:
        yield OfferServicer(store, relations)
    finally:
        relations.close()
        store.close()


@pytest.fixture(scope="module")
def grpc_stub_cls() -> type[Stub]:
    return Stub


def test_ping_answers(grpc_stub: Stub) -> None:
    assert grpc_stub.Ping(pb.PingRequest(), timeout=TIMEOUT) == pb.PingResponse()


def test_get_offer_of_a_missing_uuid_is_not_found_without_asking_relations(
    grpc_stub: Stub,
) -> None:
    request = pb.GetOfferRequest(offer_uuid="u-1")
    assert failure(lambda: grpc_stub.GetOffer(request, timeout=TIMEOUT)) == (
        Code.NOT_FOUND,
        'application offer "u-1" not found',
        Reason.NOT_FOUND,
    )


def test_get_saas_of_a_missing_name_is_not_found_with_its_reason(grpc_stub: Stub) -> None:
    request = pb.GetSaasRequest(model_uuid="m-1", name="mysql")
    assert failure(lambda: grpc_stub.GetSaas(request, timeout=TIMEOUT)) == (
        Code.NOT_FOUND,
        'saas application "mysql" not found',
        Reason.NOT_FOUND,
    )


def test_get_offer_naming_no_offer_is_invalid(grpc_stub: Stub) -> None:
    assert failure(lambda: grpc_stub.GetOffer(pb.GetOfferRequest(), timeout=TIMEOUT)) == (
        Code.INVALID_ARGUMENT,
        "specify offer_uuid, or model_uuid and name",
        Reason.INVALID,
    )


def test_list_offers_without_a_model_is_invalid(grpc_stub: Stub) -> None:
    assert failure(lambda: grpc_stub.ListOffers(pb.ListOffersRequest(), timeout=TIMEOUT)) == (
        Code.INVALID_ARGUMENT,
        "model_uuid is required",
        Reason.INVALID,
    )


def test_list_and_find_offers_on_an_empty_store_are_empty_last_pages(grpc_stub: Stub) -> None:
    listed = grpc_stub.ListOffers(pb.ListOffersRequest(model_uuid="m-1"), timeout=TIMEOUT)
    assert listed == pb.ListOffersResponse()
    assert grpc_stub.FindOffers(pb.FindOffersRequest(), timeout=TIMEOUT) == pb.FindOffersResponse()


def test_list_saas_on_an_empty_store_is_empty(grpc_stub: Stub) -> None:
    listed = grpc_stub.ListSaas(pb.ListSaasRequest(model_uuid="m-1"), timeout=TIMEOUT)
    assert listed == pb.ListSaasResponse()


def test_an_empty_feed_watched_three_ways(grpc_stub: Stub) -> None:
    empty_feed_watched(grpc_stub, pb.WatchRequest, pb.WatchResponse)
