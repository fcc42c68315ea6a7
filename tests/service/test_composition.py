"""The composition root (`runtime.build`): bind every server, build each part, start them."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

import runtime
from cmr.offers.v1 import offers_pb2, offers_pb2_grpc
from kernel import errors
from services.common.aio import AioServer
from services.common.config import DEFAULT_PORTS, Config
from services.common.server import bind
from services.offers.server import SERVICE_NAME as OFFERS

TIMEOUT = 10


def _free_port() -> int:
    """A port nothing listens on now (bound, then given back)."""
    bound = bind(OFFERS, "127.0.0.1:0")
    bound.close()
    return bound.port


def test_a_failed_build_gives_every_bound_port_back(tmp_path: Path) -> None:
    ports = {**DEFAULT_PORTS, "access": _free_port(), "gateway": _free_port()}
    # both bind; then access refuses the name while preparing its store
    cfg = Config(data_dir=tmp_path, controller_name="Not Valid!", ports=ports)
    with pytest.raises(errors.Invalid, match="controller name"):
        runtime.build(cfg, ["access", "gateway"])
    for name in ("access", "gateway"):
        again = bind(OFFERS, f"127.0.0.1:{ports[name]}")  # raises if still taken
        again.close()


def test_a_service_alone_is_built_on_an_event_loop_and_calls_its_peers_over_grpc(
    tmp_path: Path,
) -> None:
    nowhere = _free_port()
    cfg = Config(
        data_dir=tmp_path,
        ports={**DEFAULT_PORTS, "offers": 0},
        addresses={"relations": f"127.0.0.1:{nowhere}"},
        event_loop=True,
    )
    [built] = runtime.build(cfg, ["offers"])
    assert isinstance(built.server, AioServer)
    runtime.start_all([built])
    try:
        with grpc.insecure_channel(f"127.0.0.1:{built.port}") as channel:
            stub = offers_pb2_grpc.OfferServiceStub(channel)
            made = stub.CreateOffer(
                offers_pb2.CreateOfferRequest(
                    model_uuid="m1",
                    model_name="prod",
                    model_owner="admin",
                    offer_name="db",
                    application="mysql",
                    endpoints=["server"],
                    application_endpoints=[
                        offers_pb2.ApplicationEndpoint(
                            name="server", interface="mysql", role="provider", scope="global"
                        )
                    ],
                    charm="local:mysql-1",
                    created_by="admin",
                ),
                timeout=TIMEOUT,
            )
            # removing an offer by force removes its relations: relations is not in this
            # process, so it is asked over gRPC at its configured address, where nothing listens
            with pytest.raises(grpc.RpcError) as raised:
                stub.DeleteOffer(
                    offers_pb2.DeleteOfferRequest(offer_uuid=made.offer.uuid, force=True),
                    timeout=TIMEOUT,
                )
    finally:
        built.stop(None)
    assert isinstance(raised.value, grpc.Call)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert raised.value.details() == (f"relations service at 127.0.0.1:{nowhere} is unavailable")


def test_an_embedded_controller_answers_in_process_and_on_every_port(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("pw")
    cfg = Config(
        data_dir=tmp_path,
        bootstrap_password_file=tmp_path / "pw",
        ports=dict.fromkeys(DEFAULT_PORTS, 0),
    )
    built = runtime.build_embedded(cfg)
    assert [b.service_name.split(".")[1] for b in built] == [
        "placement",
        "access",
        "relations",
        "offers",
        "gateway",
    ]
    assert len({b.port for b in built}) == 5
    runtime.start_all(built)
    try:
        for b in built:
            assert b.local.serving
    finally:
        for b in reversed(built):
            b.stop(None)
    assert not any(b.local.serving for b in built)
