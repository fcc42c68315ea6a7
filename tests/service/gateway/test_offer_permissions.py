"""Who may do what to an offer: every principal against every offer and access RPC.

Principals: anonymous, a user with no access, `read`, `consume`, offer
`admin`, admin of the offering model, controller superuser. An offer the caller cannot read
must look missing (NOT_FOUND), never forbidden.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

import runtime
from cli.client import GatewayStubs
from cmr.gateway.v1 import gateway_pb2 as pb
from services.common.config import DEFAULT_PORTS, Config
from services.common.server import Built

ADMIN_PASSWORD = "matrix-admin"
MYSQL = "name: mysql\nprovides:\n  db: mysql\n  admin: mysql-root\n"
OK = "OK"
Code = grpc.StatusCode
Metadata = tuple[tuple[str, str], ...]

PRINCIPALS = ["anonymous", "none", "read", "consume", "offer-admin", "model-admin", "superuser"]


@dataclass
class World:
    stub: GatewayStubs
    auth: dict[str, Metadata]
    counter: Iterator[int]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("matrix")
    (data / "pw").write_text(ADMIN_PASSWORD)
    cfg = Config(
        data_dir=data, bootstrap_password_file=data / "pw", ports=dict.fromkeys(DEFAULT_PORTS, 0)
    )
    built: list[Built] = runtime.build_embedded(cfg)
    for one in built:
        one.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{built[-1].port}") as channel:
            stub = GatewayStubs.over(channel)
            token = stub.session.Login(
                pb.LoginRequest(user="admin", password=ADMIN_PASSWORD)
            ).token
            admin: Metadata = (("authorization", f"Bearer {token}"),)
            auth: dict[str, Metadata] = {"anonymous": (), "superuser": admin}
            for name in [*PRINCIPALS[1:-1], "spare"]:
                added = stub.users.AddUser(
                    pb.AddUserRequest(name=name), metadata=admin, timeout=10
                )
                reply = stub.users.Register(
                    pb.RegisterRequest(user=name, secret=added.secret, password=f"{name}-pw"),
                    timeout=10,
                )
                auth[name] = (("authorization", f"Bearer {reply.token}"),)
            stub.models.AddModel(pb.AddModelRequest(name="prod"), metadata=admin, timeout=10)
            stub.models.Deploy(
                pb.DeployRequest(model="prod", metadata_yaml=MYSQL), metadata=admin, timeout=10
            )
            stub.users.Grant(
                pb.GrantRequest(user="model-admin", level="admin", targets=["prod"]),
                metadata=admin,
                timeout=10,
            )
            yield World(stub=stub, auth=auth, counter=itertools.count())
    finally:
        for one in reversed(built):
            one.stop(None)


def _fresh_offer(world: World) -> str:
    """A new offer of mysql with each principal's level on it; returns its URL."""
    name = f"db{next(world.counter)}"
    admin = world.auth["superuser"]
    world.stub.cross_model.Offer(
        pb.OfferRequest(model="prod", application="mysql", endpoints=["db"], offer_name=name),
        metadata=admin,
        timeout=10,
    )
    url = f"admin/prod.{name}"
    grants = (
        ("read", "read"),
        ("consume", "consume"),
        ("offer-admin", "admin"),
        ("spare", "consume"),
    )
    for user, level in grants:
        world.stub.users.Grant(
            pb.GrantRequest(user=user, level=level, targets=[url]), metadata=admin, timeout=10
        )
    return url


def _outcome(call: Callable[[], Any]) -> str:
    try:
        call()
    except grpc.RpcError as err:
        code = err.code() if isinstance(err, grpc.Call) else Code.UNKNOWN
        return str(code.name)
    return OK


ROWS: dict[str, dict[str, str]] = {
    "show": dict(
        zip(PRINCIPALS, ["UNAUTHENTICATED", "NOT_FOUND", OK, OK, OK, OK, OK], strict=True)
    ),
    "update": dict(
        zip(
            PRINCIPALS,
            ["UNAUTHENTICATED", "NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "NOT_FOUND", OK, OK],
            strict=True,
        )
    ),
    "grant": dict(
        zip(
            PRINCIPALS,
            [
                "UNAUTHENTICATED",
                "NOT_FOUND",
                "PERMISSION_DENIED",
                "PERMISSION_DENIED",
                OK,
                OK,
                OK,
            ],
            strict=True,
        )
    ),
    "revoke": dict(
        zip(
            PRINCIPALS,
            [
                "UNAUTHENTICATED",
                "NOT_FOUND",
                "PERMISSION_DENIED",
                "PERMISSION_DENIED",
                OK,
                OK,
                OK,
            ],
            strict=True,
        )
    ),
    "remove": dict(
        zip(
            PRINCIPALS,
            [
                "UNAUTHENTICATED",
                "NOT_FOUND",
                "PERMISSION_DENIED",
                "PERMISSION_DENIED",
                OK,
                OK,
                OK,
            ],
            strict=True,
        )
    ),
}


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("action", list(ROWS))
def test_offer_rpc_outcome(world: World, principal: str, action: str) -> None:
    url = _fresh_offer(world)
    name = url.rpartition(".")[2]
    md = world.auth[principal]
    stub = world.stub
    calls: dict[str, Callable[[], Any]] = {
        "show": lambda: stub.cross_model.ShowOffer(
            pb.ShowOfferRequest(url=url), metadata=md, timeout=10
        ),
        "update": lambda: stub.cross_model.Offer(
            pb.OfferRequest(
                model="admin/prod", application="mysql", endpoints=["db", "admin"], offer_name=name
            ),
            metadata=md,
            timeout=10,
        ),
        "grant": lambda: stub.users.Grant(
            pb.GrantRequest(user="spare", level="admin", targets=[url]), metadata=md, timeout=10
        ),
        "revoke": lambda: stub.users.Revoke(
            pb.RevokeRequest(user="spare", level="consume", targets=[url]),
            metadata=md,
            timeout=10,
        ),
        "remove": lambda: stub.cross_model.RemoveOffer(
            pb.RemoveOfferRequest(urls=[url]), metadata=md, timeout=10
        ),
    }
    assert _outcome(calls[action]) == ROWS[action][principal]
    # a refused call changed nothing the superuser can see
    if ROWS[action][principal] != OK:
        shown = stub.cross_model.ShowOffer(
            pb.ShowOfferRequest(url=url), metadata=world.auth["superuser"], timeout=10
        ).offer
        assert [e.name for e in shown.offer.endpoints] == ["db"]
        levels = {e.user: e.level for e in shown.users}
        assert levels.get("spare") == "consume"
        assert "none" not in levels


@pytest.mark.parametrize(
    ("principal", "visible", "users_seen"),
    [
        ("none", False, set()),
        ("read", True, {"read"}),
        ("consume", True, {"consume"}),
        (
            "offer-admin",
            True,
            {"admin", "everyone@external", "read", "consume", "offer-admin", "spare"},
        ),
        (
            "model-admin",
            True,
            {"admin", "everyone@external", "read", "consume", "offer-admin", "spare"},
        ),
        (
            "superuser",
            True,
            {"admin", "everyone@external", "read", "consume", "offer-admin", "spare"},
        ),
    ],
)
def test_find_and_list_show_only_what_each_principal_may_see(
    world: World, principal: str, visible: bool, users_seen: set[str]
) -> None:
    url = _fresh_offer(world)
    md = world.auth[principal]
    found = world.stub.cross_model.FindOffers(
        pb.FindOffersRequest(url=url), metadata=md, timeout=10
    ).offers
    assert bool(found) is visible
    if found:
        (details,) = found
        assert {e.user for e in details.users} == users_seen
    admin_like = principal in ("offer-admin", "model-admin", "superuser")
    outcome = _outcome(
        lambda: world.stub.cross_model.ListOffers(
            pb.ListOffersRequest(model="admin/prod", name=url.rpartition(".")[2]),
            metadata=md,
            timeout=10,
        )
    )
    assert outcome == (OK if admin_like else "NOT_FOUND")
