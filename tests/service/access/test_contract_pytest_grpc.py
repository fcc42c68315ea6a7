"""Access's contract, read-only, on pytest-grpc's fixtures: the real servicer and store.

The store is prepared as `build_server` prepares it (`open_store`: the controller's identity),
without a bootstrap password file, so it holds no user. One servicer and store serve the whole
module (pytest-grpc's fixtures are module-scoped): every check here needs that store as it is
and leaves it so; a refusal writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import grpc
import pytest

from cmr.access.v1 import access_pb2 as pb
from cmr.access.v1 import access_pb2_grpc
from kernel.errors import Reason
from services.access.server import AccessServicer, open_store
from services.common.config import Config
from tests.service.smoke import TIMEOUT, empty_feed_watched, failure

Code = grpc.StatusCode
Stub = access_pb2_grpc.AccessServiceStub

grpc_max_workers = 8
"""pytest-grpc serves on one thread unless told: an open `Watch` would hold it."""


@pytest.fixture(scope="module")
def grpc_add_to_server() -> Callable[[access_pb2_grpc.AccessServiceServicer, grpc.Server], None]:
    return access_pb2_grpc.add_AccessServiceServicer_to_server


@pytest.fixture(scope="module")
def grpc_servicer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AccessServicer]:
    config = Config(data_dir=tmp_path_factory.mktemp("access"), controller_name="smoke")
    store = open_store(config)
    try:
        yield AccessServicer(store)
    finally:
        store.close()


@pytest.fixture(scope="module")
def grpc_stub_cls() -> type[Stub]:
    return Stub


def test_ping_answers(grpc_stub: Stub) -> None:
    assert grpc_stub.Ping(pb.PingRequest(), timeout=TIMEOUT) == pb.PingResponse()


def test_controller_info_is_the_identity_fixed_when_the_store_was_prepared(
    grpc_stub: Stub,
) -> None:
    info = grpc_stub.GetControllerInfo(pb.GetControllerInfoRequest(), timeout=TIMEOUT)
    assert info.name == "smoke"
    assert str(uuid.UUID(info.uuid)) == info.uuid


def test_get_user_of_a_missing_user_is_not_found_with_its_reason(grpc_stub: Stub) -> None:
    assert failure(lambda: grpc_stub.GetUser(pb.GetUserRequest(name="bob"), timeout=TIMEOUT)) == (
        Code.NOT_FOUND,
        'user "bob" not found',
        Reason.NOT_FOUND,
    )


def test_get_user_of_a_malformed_name_is_invalid(grpc_stub: Stub) -> None:
    request = pb.GetUserRequest(name="not a name")
    assert failure(lambda: grpc_stub.GetUser(request, timeout=TIMEOUT)) == (
        Code.INVALID_ARGUMENT,
        'user name "not a name" not valid',
        Reason.INVALID,
    )


def test_list_users_with_a_negative_page_size_is_invalid(grpc_stub: Stub) -> None:
    request = pb.ListUsersRequest(page_size=-1)
    assert failure(lambda: grpc_stub.ListUsers(request, timeout=TIMEOUT)) == (
        Code.INVALID_ARGUMENT,
        "page_size must not be negative, got -1",
        Reason.INVALID,
    )


def test_list_users_without_a_bootstrap_admin_is_an_empty_last_page(grpc_stub: Stub) -> None:
    request = pb.ListUsersRequest(include_disabled=True)
    assert grpc_stub.ListUsers(request, timeout=TIMEOUT) == pb.ListUsersResponse()


def test_an_empty_feed_watched_three_ways(grpc_stub: Stub) -> None:
    empty_feed_watched(grpc_stub, pb.WatchRequest, pb.WatchResponse)
