"""Relations' contract, read-only, on pytest-grpc's fixtures: the real servicer and store.

One servicer and store serve the whole module (pytest-grpc's fixtures are module-scoped), so
every check here needs an empty store and leaves it empty. Relations has no `Get`: what is
missing is checked with a `RemoveRelation` the store refuses, which writes nothing. The
servicer runs without its reactors, which follow the access and placement feeds: `Sync` is
checked where they run (`build_server`, in `test_reactors.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest

from cmr.relations.v1 import relations_pb2 as pb
from cmr.relations.v1 import relations_pb2_grpc
from kernel.errors import Reason
from services.relations.server import RelationServicer
from services.relations.store import SqliteRelations
from tests.service.smoke import TIMEOUT, empty_feed_watched, failure

Code = grpc.StatusCode
Stub = relations_pb2_grpc.RelationServiceStub
AddToServer = Callable[[relations_pb2_grpc.RelationServiceServicer, grpc.Server], None]

grpc_max_workers = 8
"""pytest-grpc serves on one thread unless told: an open `Watch` would hold it."""


@pytest.fixture(scope="module")
def grpc_add_to_server() -> AddToServer:
    return relations_pb2_grpc.add_RelationServiceServicer_to_server


@pytest.fixture(scope="module")
def grpc_servicer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelationServicer]:
    store = SqliteRelations(tmp_path_factory.mktemp("relations") / "relations.db")
    try:
        yield RelationServicer(store)
    finally:
        store.close()


@pytest.fixture(scope="module")
def grpc_stub_cls() -> type[Stub]:
    return Stub


def test_ping_answers(grpc_stub: Stub) -> None:
    assert grpc_stub.Ping(pb.PingRequest(), timeout=TIMEOUT) == pb.PingResponse()


def test_removing_a_missing_relation_is_not_found_with_its_reason(grpc_stub: Stub) -> None:
    request = pb.RemoveRelationRequest(model_uuid="m-1", by_id=True, id=7)
    assert failure(lambda: grpc_stub.RemoveRelation(request, timeout=TIMEOUT)) == (
        Code.NOT_FOUND,
        "relation 7 not found",
        Reason.NOT_FOUND,
    )


def test_list_relations_without_a_model_is_invalid(grpc_stub: Stub) -> None:
    request = pb.ListRelationsRequest()
    assert failure(lambda: grpc_stub.ListRelations(request, timeout=TIMEOUT)) == (
        Code.INVALID_ARGUMENT,
        "model_uuid is required",
        Reason.INVALID,
    )


def test_list_offer_relations_without_an_offer_is_invalid(grpc_stub: Stub) -> None:
    request = pb.ListOfferRelationsRequest()
    assert failure(lambda: grpc_stub.ListOfferRelations(request, timeout=TIMEOUT)) == (
        Code.INVALID_ARGUMENT,
        "offer_uuid is required",
        Reason.INVALID,
    )


def test_lists_on_an_empty_store_are_empty(grpc_stub: Stub) -> None:
    listed = grpc_stub.ListRelations(pb.ListRelationsRequest(model_uuid="m-1"), timeout=TIMEOUT)
    assert listed == pb.ListRelationsResponse()
    of_offer = pb.ListOfferRelationsRequest(offer_uuid="o-1")
    assert grpc_stub.ListOfferRelations(of_offer, timeout=TIMEOUT) == (
        pb.ListOfferRelationsResponse()
    )
    halves = grpc_stub.ListRemoteHalves(pb.ListRemoteHalvesRequest(), timeout=TIMEOUT)
    assert halves == pb.ListRemoteHalvesResponse()


def test_an_empty_feed_watched_three_ways(grpc_stub: Stub) -> None:
    empty_feed_watched(grpc_stub, pb.WatchRequest, pb.WatchResponse)
