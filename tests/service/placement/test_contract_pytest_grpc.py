"""Placement's contract, read-only, on pytest-grpc's fixtures: the real servicer and store.

One servicer and store serve the whole module (pytest-grpc's fixtures are module-scoped), so
every check here needs an empty store and leaves it empty: nothing is written, and a refusal
writes nothing. The servicer runs without its reactor on the relations feed, which follows
another service: `Sync` is checked where that reactor runs (`build_server`, in
`test_subordinate_reactor.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest

from cmr.placement.v1 import placement_pb2 as pb
from cmr.placement.v1 import placement_pb2_grpc
from kernel.errors import Reason
from services.placement.server import PlacementServicer
from services.placement.store import SqlitePlacement
from tests.service.smoke import TIMEOUT, empty_feed_watched, failure

Code = grpc.StatusCode
Stub = placement_pb2_grpc.PlacementServiceStub

grpc_max_workers = 8
"""pytest-grpc serves on one thread unless told: an open `Watch` would hold it."""


@pytest.fixture(scope="module")
def grpc_add_to_server() -> Callable[
    [placement_pb2_grpc.PlacementServiceServicer, grpc.Server], None
]:
    return placement_pb2_grpc.add_PlacementServiceServicer_to_server


@pytest.fixture(scope="module")
def grpc_servicer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlacementServicer]:
    store = SqlitePlacement(tmp_path_factory.mktemp("placement") / "placement.db")
    try:
        yield PlacementServicer(store)
    finally:
        store.close()


@pytest.fixture(scope="module")
def grpc_stub_cls() -> type[Stub]:
    return Stub


def test_ping_answers(grpc_stub: Stub) -> None:
    assert grpc_stub.Ping(pb.PingRequest(), timeout=TIMEOUT) == pb.PingResponse()


def test_get_model_of_a_missing_uuid_is_not_found_with_its_reason(grpc_stub: Stub) -> None:
    assert failure(
        lambda: grpc_stub.GetModel(pb.GetModelRequest(uuid="nope"), timeout=TIMEOUT)
    ) == (
        Code.NOT_FOUND,
        'model "nope" not found',
        Reason.NOT_FOUND,
    )


def test_get_model_of_a_missing_name_is_not_found(grpc_stub: Stub) -> None:
    request = pb.GetModelRequest(owner="admin", name="nope")
    assert failure(lambda: grpc_stub.GetModel(request, timeout=TIMEOUT)) == (
        Code.NOT_FOUND,
        'model "admin/nope" not found',
        Reason.NOT_FOUND,
    )


def test_get_model_naming_no_model_is_invalid(grpc_stub: Stub) -> None:
    assert failure(lambda: grpc_stub.GetModel(pb.GetModelRequest(), timeout=TIMEOUT)) == (
        Code.INVALID_ARGUMENT,
        "give a model uuid, or an owner and a name",
        Reason.INVALID,
    )


def test_list_models_with_a_page_token_no_page_returned_is_invalid(grpc_stub: Stub) -> None:
    request = pb.ListModelsRequest(page_token="not-a-token")
    assert failure(lambda: grpc_stub.ListModels(request, timeout=TIMEOUT)) == (
        Code.INVALID_ARGUMENT,
        "page_token not valid: pass the next_page_token of a previous page",
        Reason.INVALID,
    )


def test_list_models_on_an_empty_store_is_an_empty_last_page(grpc_stub: Stub) -> None:
    assert grpc_stub.ListModels(pb.ListModelsRequest(), timeout=TIMEOUT) == pb.ListModelsResponse()


def test_an_empty_feed_watched_three_ways(grpc_stub: Stub) -> None:
    empty_feed_watched(grpc_stub, pb.WatchRequest, pb.WatchResponse)
