"""Two controllers and a non-admin user: consume, relate, revoke, resume and removal across them.

Both controllers run in this process on loopback, each with its own stores; the offering one
(`ctrl2`) uses fixed ports so that it can stop and come back where the consumer knows it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

import runtime
from cmr.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from cmr.offers.v1 import offers_pb2, offers_pb2_grpc
from cmr.relations.v1 import relations_pb2, relations_pb2_grpc
from kernel import tokens
from services.common.config import DEFAULT_PORTS, Config
from services.common.server import Built
from tests.e2e.conftest import Cmr

OFFER = "ctrl2:admin/prod.mysql"


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Controller:
    """One embedded controller that can stop and start again on the same ports and files."""

    def __init__(self, data: Path, name: str, ports: dict[str, int]) -> None:
        data.mkdir(parents=True, exist_ok=True)
        (data / "admin-password").write_text("pw-admin\n")
        self.cfg = Config(
            data_dir=data,
            controller_name=name,
            bootstrap_password_file=data / "admin-password",
            ports=ports,
            reconcile_seconds=0.2,
        )
        self.built: list[Built] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.built[-1].port}"

    def start(self) -> None:
        self.built = runtime.build_embedded(self.cfg)
        for one in self.built:
            one.start()

    def stop(self) -> None:
        for one in reversed(self.built):
            one.stop(None)
        self.built = []


@pytest.fixture(scope="module")
def controllers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Controller, Controller]]:
    root = tmp_path_factory.mktemp("two")
    consuming = Controller(root / "ctrl1", "ctrl1", dict.fromkeys(DEFAULT_PORTS, 0))
    fixed = dict(zip(DEFAULT_PORTS, _free_ports(len(DEFAULT_PORTS)), strict=True))
    offering = Controller(root / "ctrl2", "ctrl2", fixed)
    consuming.start()
    offering.start()
    try:
        yield consuming, offering
    finally:
        for one in (offering, consuming):
            one.stop()


def _admin(tmp: Path, name: str, ctrl: Controller) -> Cmr:
    client = Cmr(tmp / f"admin-{name}")
    client.ok("login", ctrl.address, "-c", name, "-u", "admin", input="pw-admin\n")
    return client


def _register(admin: Cmr, user: Cmr, name: str) -> None:
    out = admin.ok("add-user", name)
    line = next(word for word in out.split() if len(word) > 40)
    user.ok("register", line, input=f"pw-{name}\npw-{name}\n")


def _eventually(probe: Callable[[], Any], expected: Any) -> None:
    """Cross-controller changes arrive by nudge or by the 0.2 s reconcile: poll, bounded."""
    got = probe()
    for _ in range(100):
        if got == expected:
            return
        time.sleep(0.05)
        got = probe()
    assert got == expected


def test_a_non_admin_relates_to_an_offer_on_another_controller(
    controllers: tuple[Controller, Controller], tmp_path: Path
) -> None:
    consuming, offering = controllers
    admin2 = _admin(tmp_path, "ctrl2", offering)
    admin1 = _admin(tmp_path, "ctrl1", consuming)
    admin2.ok("add-model", "prod")
    admin2.ok("deploy", "mysql", "-m", "prod")
    admin2.ok("offer", "prod.mysql:db", "-m", "prod")

    bob = Cmr(tmp_path / "bob")
    _register(admin2, bob, "bob")
    _register(admin1, bob, "bob")  # registered last: ctrl1 is bob's current controller
    admin1.ok("grant", "bob", "add-model")
    bob.ok("add-model", "wiki")
    bob.ok("deploy", "mediawiki")

    # no consume access yet: the offer is invisible from the other controller
    assert bob.fails("add-relation", "mediawiki", OFFER) == (
        'ERROR application offer "admin/prod.mysql" not found'
    )
    admin2.ok("grant", "bob", "read", OFFER)
    assert bob.fails("consume", OFFER) == "ERROR permission denied"
    admin2.ok("grant", "bob", "consume", OFFER)
    assert "admin/prod.mysql" in bob.ok("find-offers", "-c", "ctrl2")

    bob.ok("add-relation", "mediawiki", OFFER)
    status = bob.json("status", "--relations")
    assert status["application-endpoints"]["mysql"]["url"] == "admin/prod.mysql"
    assert ["mysql", "unknown", "ctrl2", "admin/prod.mysql"] in [
        line.split() for line in bob.ok("status").splitlines()
    ]
    [relation] = status["relations"]
    assert (relation["key"], relation["status"]) == (
        "mediawiki:db mysql:db",
        {"current": "joined"},
    )
    offers = admin2.json("offers", "-m", "prod")
    [connection] = offers["mysql"]["connections"]
    assert connection["username"] == "bob"
    offer_id = str(connection["relation-id"])
    assert admin2.json("status", "-m", "prod")["offers"]["mysql"]["active-connected-count"] == 1

    def consumer_state() -> dict[str, Any]:
        rel: dict[str, Any] = bob.json("status", "--relations")["relations"][0]["status"]
        return rel

    # revoke suspends on both sides; a re-grant resumes nothing; resume does
    admin2.ok("revoke", "bob", "consume", OFFER)
    _eventually(consumer_state, {"current": "suspended", "message": "offer permission revoked"})
    saas = bob.json("status")["application-endpoints"]["mysql"]["application-status"]
    assert saas == {"current": "error", "message": "offer permission revoked"}
    # the consumer's half knows why from the offering controller, not from the message
    causes = [h.relation.suspend_cause for h in _halves(consuming)]
    assert causes == [relations_pb2.SUSPEND_CAUSE_REVOKED]
    admin2.ok("grant", "bob", "consume", OFFER)
    time.sleep(0.5)
    assert consumer_state()["current"] == "suspended"
    admin2.ok("resume-relation", offer_id, "-m", "prod")
    _eventually(consumer_state, {"current": "joined"})
    _eventually(
        lambda: bob.json("status")["application-endpoints"]["mysql"]["application-status"],
        {"current": "unknown"},
    )

    # suspend from the offering side shows its reason on the consuming side
    admin2.ok("suspend-relation", offer_id, "maintenance", "-m", "prod")
    _eventually(consumer_state, {"current": "suspended", "message": "maintenance"})
    assert [h.relation.suspend_cause for h in _halves(consuming)] == [
        relations_pb2.SUSPEND_CAUSE_USER
    ]
    admin2.ok("resume-relation", offer_id, "-m", "prod")
    _eventually(consumer_state, {"current": "joined"})

    # removal from the consuming side drains the offerer
    bob.ok("remove-relation", "mediawiki", "mysql")
    _eventually(lambda: admin2.json("offers", "-m", "prod")["mysql"].get("connections", []), [])

    # removal from the offering side removes the consumer's half
    bob.ok("add-relation", "mediawiki", "mysql")
    [connection] = admin2.json("offers", "-m", "prod")["mysql"]["connections"]
    admin2.ok("remove-relation", str(connection["relation-id"]), "-m", "prod")
    _eventually(lambda: bob.json("status", "--relations").get("relations", []), [])

    # the offering controller goes away: the SAAS shows it, remove-saas --force still works,
    # and when it comes back the offerer drains the connection the consumer dropped
    bob.ok("add-relation", "mediawiki", "mysql")
    offering.stop()
    _eventually(
        lambda: bob.json("status")["application-endpoints"]["mysql"]["application-status"][
            "current"
        ],
        "error",
    )
    message = bob.json("status")["application-endpoints"]["mysql"]["application-status"]
    assert message["message"].startswith("cannot connect to external controller")
    bob.ok("remove-saas", "mysql", "--force")
    assert "application-endpoints" not in bob.json("status")
    offering.start()
    _eventually(lambda: admin2.json("offers", "-m", "prod")["mysql"].get("connections", []), [])


def test_bad_cross_controller_requests(
    controllers: tuple[Controller, Controller], tmp_path: Path
) -> None:
    consuming, offering = controllers
    admin1 = _admin(tmp_path, "ctrl1", consuming)
    admin1.ok("add-model", "bad")
    admin1.ok("deploy", "mediawiki", "-m", "bad")
    assert admin1.fails("consume", "nowhere:admin/prod.mysql", "-m", "bad") == (
        'ERROR controller "nowhere" not found'
    )
    # a controller that answers with another identity than the one registered
    admin2 = _admin(tmp_path, "ctrl2", offering)
    admin2.ok("add-model", "prod2")
    admin2.ok("deploy", "mysql", "-m", "prod2")
    admin2.ok("offer", "prod2.mysql:db", "-m", "prod2")
    liar = Cmr(tmp_path / "liar")
    liar.ok("login", offering.address, "-c", "ctrl2", "-u", "admin", input="pw-admin\n")
    liar.ok("login", consuming.address, "-c", "ctrl1", "-u", "admin", input="pw-admin\n")
    known = liar.data / "controllers.yaml"
    data = yaml.safe_load(known.read_text())
    data["controllers"]["ctrl2"]["uuid"] = "00000000-0000-4000-8000-000000000000"
    known.write_text(yaml.safe_dump(data))
    refused = liar.fails("consume", "ctrl2:admin/prod2.mysql", "-m", "bad")
    assert "answers as" in refused
    assert "application-endpoints" not in admin1.json("status", "-m", "bad")


def _related_as_admin(
    controllers: tuple[Controller, Controller], tmp_path: Path, n: int
) -> tuple[Cmr, relations_pb2.RemoteHalf, relations_pb2.RemoteHalf]:
    """`prod<n>.mysql` offered on ctrl2, related from `wiki<n>` on ctrl1 by one admin client.

    Returns ctrl2's admin client and the relation's consumer and offerer halves.
    """
    consuming, offering = controllers
    admin2 = _admin(tmp_path, "ctrl2", offering)
    admin2.ok("add-model", f"prod{n}")
    admin2.ok("deploy", "mysql", "-m", f"prod{n}")
    admin2.ok("offer", f"prod{n}.mysql:db", "-m", f"prod{n}")
    both = Cmr(tmp_path / "both")
    both.ok("login", offering.address, "-c", "ctrl2", "-u", "admin", input="pw-admin\n")
    both.ok("login", consuming.address, "-c", "ctrl1", "-u", "admin", input="pw-admin\n")
    both.ok("add-model", f"wiki{n}")
    both.ok("deploy", "mediawiki", "-m", f"wiki{n}")
    both.ok("add-relation", "mediawiki", f"ctrl2:admin/prod{n}.mysql", "-m", f"wiki{n}")
    [half] = [h for h in _halves(consuming) if h.relation.cross_model.side == "consumer"][-1:]
    token = half.relation.cross_model.token
    [offerer] = [h for h in _halves(offering) if h.relation.cross_model.token == token]
    return admin2, half, offerer


def test_forged_expired_and_replayed_tokens_are_refused(
    controllers: tuple[Controller, Controller], tmp_path: Path
) -> None:
    consuming, offering = controllers
    admin2, half, offerer = _related_as_admin(controllers, tmp_path, 3)
    both = Cmr(tmp_path / "both")
    cross = half.relation.cross_model
    offer_uuid = offerer.relation.cross_model.offer_uuid
    with grpc.insecure_channel(offering.address) as channel:
        stub = gateway_pb2_grpc.CrossControllerServiceStub(channel)
        before = admin2.json("offers", "-m", "prod3")["mysql"]["connections"]

        def code(call: Callable[[], object]) -> grpc.StatusCode:
            with pytest.raises(grpc.RpcError) as raised:
                call()
            assert isinstance(raised.value, grpc.Call)
            return raised.value.code()

        forged = cross.peer_token[:-4] + (
            "AAAA" if not cross.peer_token.endswith("AAAA") else "BBBB"
        )
        assert (
            code(
                lambda: stub.GetRemoteRelation(
                    gateway_pb2.GetRemoteRelationRequest(credential=forged, token=cross.token),
                    timeout=5,
                )
            )
            == grpc.StatusCode.UNAUTHENTICATED
        )
        # the relation token is good for its own relation only
        assert (
            code(
                lambda: stub.Nudge(
                    gateway_pb2.NudgeRequest(credential="not-a-token", token=cross.token),
                    timeout=5,
                )
            )
            == grpc.StatusCode.UNAUTHENTICATED
        )
        # a relation token is not a consume token: registering with it is refused
        assert (
            code(
                lambda: stub.RegisterRemoteRelation(
                    gateway_pb2.RegisterRemoteRelationRequest(
                        consume_token=cross.peer_token,
                        offer_uuid=offer_uuid,
                        source_model_uuid=half.model_uuid,
                        token="another-relation",
                        consumer_endpoint=gateway_pb2.RemoteEndpoint(
                            name="db", role="requirer", interface="mysql"
                        ),
                        offer_endpoint="db",
                        consumer_controller_uuid="c",
                        consumer_address="127.0.0.1:1",
                        callback_token="x",
                        proxy_name="remote-" + "a" * 32,
                    ),
                    timeout=5,
                )
            )
            == grpc.StatusCode.PERMISSION_DENIED
        )
        # a relation token replayed for another relation is refused
        both.ok("deploy", "wordpress", "-m", "wiki3")
        both.ok("add-relation", "wordpress", "mysql", "-m", "wiki3")
        other = next(
            h.relation.cross_model.token
            for h in _halves(consuming)
            if h.relation.cross_model.token != cross.token and h.model_uuid == half.model_uuid
        )
        assert (
            code(
                lambda: stub.GetRemoteRelation(
                    gateway_pb2.GetRemoteRelationRequest(credential=cross.peer_token, token=other),
                    timeout=5,
                )
            )
            == grpc.StatusCode.PERMISSION_DENIED
        )
        before = admin2.json("offers", "-m", "prod3")["mysql"]["connections"]
        # the same state is still answered for the genuine credential
        state = stub.GetRemoteRelation(
            gateway_pb2.GetRemoteRelationRequest(credential=cross.peer_token, token=cross.token),
            timeout=5,
        )
        assert state.exists
    # nothing was made on the offering side by the refused calls
    assert admin2.json("offers", "-m", "prod3")["mysql"]["connections"] == before


def _halves(ctrl: Controller) -> list[relations_pb2.RemoteHalf]:
    with grpc.insecure_channel(f"127.0.0.1:{ctrl.built[2].port}") as channel:
        stub = relations_pb2_grpc.RelationServiceStub(channel)
        return list(
            stub.ListRemoteHalves(relations_pb2.ListRemoteHalvesRequest(), timeout=5).halves
        )


def test_a_new_offerer_half_waits_for_its_consumer_until_nudged(
    controllers: tuple[Controller, Controller], tmp_path: Path
) -> None:
    """The offerer registers first; its periodic pass must not drop the half meanwhile."""
    consuming, offering = controllers
    _, half, offerer = _related_as_admin(controllers, tmp_path, 5)
    with grpc.insecure_channel(f"127.0.0.1:{consuming.built[3].port}") as channel:
        saas = (
            offers_pb2_grpc.OfferServiceStub(channel)
            .GetSaas(
                offers_pb2.GetSaasRequest(model_uuid=half.model_uuid, name="mysql"), timeout=5
            )
            .saas
        )
    # a consumer that registers a relation and has not written its own half yet
    token = "relation-not-yet-written"
    with grpc.insecure_channel(offering.address) as channel:
        stub = gateway_pb2_grpc.CrossControllerServiceStub(channel)
        reply = stub.RegisterRemoteRelation(
            gateway_pb2.RegisterRemoteRelationRequest(
                consume_token=saas.consume_token,
                offer_uuid=saas.offer_uuid,
                source_model_uuid=half.model_uuid,
                token=token,
                consumer_endpoint=gateway_pb2.RemoteEndpoint(
                    name="db", role="requirer", interface="mysql"
                ),
                offer_endpoint="db",
                consumer_controller_uuid=offerer.relation.cross_model.peer_controller,
                consumer_address=consuming.address,
                callback_token=offerer.relation.cross_model.peer_token,
                proxy_name="remote-" + "b" * 32,
            ),
            timeout=5,
        )
        time.sleep(1.0)  # five periodic passes of the offerer
        assert token in {h.relation.cross_model.token for h in _halves(offering)}
        # the consumer says it has no half (it failed to write it): dropped at once
        stub.Nudge(
            gateway_pb2.NudgeRequest(credential=reply.relation_token, token=token), timeout=5
        )
        assert token not in {h.relation.cross_model.token for h in _halves(offering)}


def test_expired_tokens_are_renewed_and_still_re_authorised(
    controllers: tuple[Controller, Controller],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # both controllers run in this process: a 1 s token lifetime applies to both
    monkeypatch.setattr(tokens, "LIFETIME_S", 1)
    consuming, offering = controllers
    admin2 = _admin(tmp_path, "ctrl2", offering)
    admin2.ok("add-model", "prod4")
    admin2.ok("deploy", "mysql", "-m", "prod4")
    admin2.ok("offer", "prod4.mysql:db", "-m", "prod4")
    carol = Cmr(tmp_path / "carol")
    _register(admin2, carol, "carol")
    admin1 = _admin(tmp_path, "ctrl1", consuming)
    _register(admin1, carol, "carol")
    admin1.ok("grant", "carol", "add-model")
    admin2.ok("grant", "carol", "consume", "ctrl2:admin/prod4.mysql")
    carol.ok("add-model", "wiki4")
    carol.ok("deploy", "mediawiki")
    carol.ok("consume", "ctrl2:admin/prod4.mysql")
    time.sleep(1.5)  # the consume token has expired: relating renews it
    carol.ok("add-relation", "mediawiki", "mysql")
    [connection] = admin2.json("offers", "-m", "prod4")["mysql"]["connections"]
    time.sleep(1.5)  # so have the relation and callback tokens: the pulls renew them

    def state() -> str:
        found: str = carol.json("status", "--relations")["relations"][0]["status"]["current"]
        return found

    admin2.ok("suspend-relation", str(connection["relation-id"]), "-m", "prod4")
    _eventually(state, "suspended")
    admin2.ok("resume-relation", str(connection["relation-id"]), "-m", "prod4")
    _eventually(state, "joined")
    # a renewal re-checks consume: after a revoke the consumer is refused, not renewed
    time.sleep(1.5)
    admin2.ok("revoke", "carol", "consume", "ctrl2:admin/prod4.mysql")
    _eventually(state, "suspended")
    carol.ok("remove-relation", "mediawiki", "mysql")
    _eventually(lambda: admin2.json("offers", "-m", "prod4")["mysql"].get("connections", []), [])
