"""The gateway's read cache against the real services: it follows every feed, serves repeated
reads without internal calls, and never hides a change, made through it or behind its back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest

import runtime
from cli.client import GatewayStubs
from cmr.access.v1 import access_pb2, access_pb2_grpc
from cmr.gateway.v1 import gateway_pb2 as pb
from cmr.placement.v1 import placement_pb2, placement_pb2_grpc
from gateway import peers as gateway_peers
from services.common.config import DEFAULT_PORTS, Config
from services.common.server import Built

PASSWORD = "cache-test-pass"
MYSQL = "name: mysql\nprovides:\n  db: mysql\n"
URL = "admin/offering.mysql"
T = TypeVar("T")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Built]]:
    data: Path = tmp_path_factory.mktemp("cache")
    (data / "pw").write_text(PASSWORD)
    cfg = Config(
        data_dir=data,
        controller_name="cache",
        bootstrap_password_file=data / "pw",
        ports=dict.fromkeys(DEFAULT_PORTS, 0),
    )
    built = runtime.build_embedded(cfg)
    for one in built:
        one.start()
    yield {b.context: b for b in built}
    for one in reversed(built):
        one.stop(None)


@pytest.fixture(scope="module")
def gateway(servers: dict[str, Built]) -> Iterator[GatewayStubs]:
    with grpc.insecure_channel(f"127.0.0.1:{servers['gateway'].port}") as channel:
        yield GatewayStubs.over(channel)


@pytest.fixture(scope="module")
def call(gateway: GatewayStubs) -> Callable[..., Any]:
    token = gateway.session.Login(
        pb.LoginRequest(user="admin", password=PASSWORD), timeout=10
    ).token
    auth = (("authorization", f"Bearer {token}"),)

    def as_admin(method: Callable[..., T], request: object) -> T:
        return method(request, metadata=auth, timeout=30)

    as_admin(gateway.models.AddModel, pb.AddModelRequest(name="offering"))
    as_admin(
        gateway.models.Deploy,
        pb.DeployRequest(model="offering", metadata_yaml=MYSQL, num_units=1),
    )
    as_admin(
        gateway.cross_model.Offer,
        pb.OfferRequest(model="offering", application="mysql", endpoints=["db"]),
    )
    return as_admin


@pytest.fixture
def rpcs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The services the gateway calls, in order."""
    made: list[str] = []
    original = gateway_peers.Peers.call

    def counted(
        self: gateway_peers.Peers, service: str, fn: Callable[[], T], *, changes: bool = True
    ) -> T:
        made.append(service)
        return original(self, service, fn, changes=changes)

    monkeypatch.setattr(gateway_peers.Peers, "call", counted)
    return made


def users_of(call: Callable[..., Any], gateway: GatewayStubs) -> set[str]:
    reply = call(gateway.cross_model.ShowOffer, pb.ShowOfferRequest(url=URL))
    return {u.user for u in reply.offer.users}


def eventually(check: Callable[[], bool], limit_s: float = 10.0) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def test_watch_from_latest_starts_with_the_head(
    servers: dict[str, Built],
    call: Callable[..., Any],
    gateway: GatewayStubs,
) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{servers['placement'].port}") as channel:
        stream = placement_pb2_grpc.PlacementServiceStub(channel).Watch(
            placement_pb2.WatchRequest(after_sequence=1, from_latest=True), timeout=30
        )
        replies = iter(stream)
        first = next(replies)
        assert not first.HasField("event")
        assert first.head > 1  # the model, its application and unit came before
        call(gateway.models.AddModel, pb.AddModelRequest(name="watched"))
        second = next(replies)
        assert second.event.sequence == first.head + 1
        assert second.event.kind == "model-added"
        assert second.head == 0


def test_a_repeated_point_read_makes_no_internal_call(
    call: Callable[..., Any], gateway: GatewayStubs, rpcs: list[str]
) -> None:
    def quiet() -> bool:
        rpcs.clear()
        users_of(call, gateway)
        return not rpcs

    assert eventually(quiet)  # once the gateway follows every feed
    users_of(call, gateway)
    assert rpcs == []


def test_a_write_through_the_gateway_is_read_at_once(
    call: Callable[..., Any], gateway: GatewayStubs
) -> None:
    call(gateway.users.AddUser, pb.AddUserRequest(name="reader"))
    assert "reader" not in users_of(call, gateway)
    call(gateway.users.Grant, pb.GrantRequest(user="reader", level="read", targets=[URL]))
    assert "reader" in users_of(call, gateway)
    call(gateway.users.Revoke, pb.RevokeRequest(user="reader", level="read", targets=[URL]))
    assert "reader" not in users_of(call, gateway)


def test_a_change_behind_the_gateways_back_is_seen(
    servers: dict[str, Built],
    call: Callable[..., Any],
    gateway: GatewayStubs,
) -> None:
    call(gateway.users.AddUser, pb.AddUserRequest(name="sideways"))
    offer = call(gateway.cross_model.ShowOffer, pb.ShowOfferRequest(url=URL)).offer.offer
    assert "sideways" not in users_of(call, gateway)
    users_of(call, gateway)  # kept now
    with grpc.insecure_channel(f"127.0.0.1:{servers['access'].port}") as channel:
        access_pb2_grpc.AccessServiceStub(channel).Grant(
            access_pb2.GrantRequest(
                actor="admin",
                user="sideways",
                level="consume",
                target=access_pb2.Target(
                    kind=access_pb2.TARGET_KIND_OFFER,
                    model_uuid=offer.model_uuid,
                    offer_uuid=offer.uuid,
                    label=offer.url,
                ),
            ),
            timeout=10,
        )
    assert eventually(lambda: "sideways" in users_of(call, gateway), 5.0)
