"""Local calls (`services.common.local`): the contract of a call over gRPC, without the wire.

Each check makes the same call both ways, to the same running placement server, and compares.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from cmr.placement.v1 import placement_pb2, placement_pb2_grpc
from kernel.errors import Reason
from services.common.config import DEFAULT_PORTS, Config
from services.common.server import Built, new_server
from services.common.status import reason_of
from services.placement import server as placement_server
from tests.service.streams import Follower

TIMEOUT = 10


@dataclass
class Both:
    built: Built
    remote: placement_pb2_grpc.PlacementServiceStub
    local: placement_pb2_grpc.PlacementServiceStub  # on a LocalChannel


@pytest.fixture
def both(tmp_path: Path) -> Iterator[Both]:
    cfg = Config(data_dir=tmp_path, ports=dict.fromkeys(DEFAULT_PORTS, 0))
    built = placement_server.build_server(cfg)
    built.start()
    assert built.local is not None
    try:
        with grpc.insecure_channel(f"127.0.0.1:{built.port}") as channel:
            yield Both(
                built,
                placement_pb2_grpc.PlacementServiceStub(channel),
                placement_pb2_grpc.PlacementServiceStub(built.local.channel()),
            )
    finally:
        built.stop(None)


def _failure(call: Any) -> tuple[grpc.StatusCode, str, str]:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    assert isinstance(raised.value, grpc.Call)
    return raised.value.code(), raised.value.details() or "", reason_of(raised.value)


def test_a_local_call_answers_as_the_server_does_with_its_own_copies(both: Both) -> None:
    request = placement_pb2.AddModelRequest(name="m", owner="admin")
    made = both.local.AddModel(request, timeout=TIMEOUT).model
    request.name = "changed after the call"
    seen = both.remote.GetModel(
        placement_pb2.GetModelRequest(owner="admin", name="m"), timeout=TIMEOUT
    ).model
    assert seen == made
    again = both.local.GetModel(
        placement_pb2.GetModelRequest(owner="admin", name="m"), timeout=TIMEOUT
    ).model
    assert again == made
    again.name = "mine"  # the caller's copy: the next reply is unchanged
    assert (
        both.local.GetModel(
            placement_pb2.GetModelRequest(owner="admin", name="m"), timeout=TIMEOUT
        ).model.name
        == "m"
    )
    future = both.local.GetModel.future(
        placement_pb2.GetModelRequest(owner="admin", name="m"), timeout=TIMEOUT
    )
    assert future.result().model == made


@pytest.mark.parametrize(
    ("method", "request_"),
    [
        ("GetModel", placement_pb2.GetModelRequest(owner="admin", name="nope")),
        ("AddModel", placement_pb2.AddModelRequest(name="Bad Name!", owner="admin")),
        ("AddMachine", placement_pb2.AddMachineRequest(model_uuid="", count=1)),
        ("Sync", placement_pb2.SyncRequest(source="nowhere", sequence=1)),
    ],
)
def test_a_local_failure_has_the_servers_code_and_message(
    both: Both, method: str, request_: Any
) -> None:
    remote = _failure(lambda: getattr(both.remote, method)(request_, timeout=TIMEOUT))
    local = _failure(lambda: getattr(both.local, method)(request_, timeout=TIMEOUT))
    assert local == remote
    assert remote[0] != grpc.StatusCode.OK
    assert remote[2]  # every refusal carries its reason


def test_a_refusal_carries_its_machine_readable_reason_both_ways(both: Both) -> None:
    request = placement_pb2.GetModelRequest(owner="admin", name="missing")
    for stub in (both.remote, both.local):
        code, _, reason = _failure(lambda s=stub: s.GetModel(request, timeout=TIMEOUT))
        assert (code, reason) == (grpc.StatusCode.NOT_FOUND, Reason.NOT_FOUND)


def test_a_local_call_has_the_callers_deadline(both: Both) -> None:
    # placement's reactor on relations never gets that far (no relations service here): the
    # wait ends just inside the deadline, both ways
    ahead = placement_pb2.SyncRequest(source="relations", sequence=10**6)
    remote = _failure(lambda: both.remote.Sync(ahead, timeout=0.5))
    local = _failure(lambda: both.local.Sync(ahead, timeout=0.5))
    assert local == remote
    assert remote[0] == grpc.StatusCode.UNAVAILABLE


def test_a_future_carries_the_failure(both: Both) -> None:
    future = both.local.GetModel.future(
        placement_pb2.GetModelRequest(owner="admin", name="nope"), timeout=TIMEOUT
    )
    with pytest.raises(grpc.RpcError) as raised:
        future.result()
    assert isinstance(raised.value, grpc.Call)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_stopped_service_is_unavailable_locally(tmp_path: Path) -> None:
    cfg = Config(data_dir=tmp_path, ports=dict.fromkeys(DEFAULT_PORTS, 0))
    built = placement_server.build_server(cfg)
    assert built.local is not None
    stub = placement_pb2_grpc.PlacementServiceStub(built.local.channel())
    # not started yet: nothing answers, as with a server not yet listening
    assert _failure(lambda: stub.Ping(placement_pb2.PingRequest(), timeout=TIMEOUT))[0] == (
        grpc.StatusCode.UNAVAILABLE
    )
    built.start()
    stub.Ping(placement_pb2.PingRequest(), timeout=TIMEOUT)
    built.stop(None)
    assert _failure(lambda: stub.Ping(placement_pb2.PingRequest(), timeout=TIMEOUT))[0] == (
        grpc.StatusCode.UNAVAILABLE
    )


def test_unknown_methods_are_refused(both: Both) -> None:
    assert both.built.local is not None
    channel = both.built.local.channel()
    assert isinstance(channel, grpc.Channel)
    with pytest.raises(
        ValueError, match=re.escape("no method '/cmr.placement.v1.PlacementService/Nope'")
    ):
        channel.unary_unary("/cmr.placement.v1.PlacementService/Nope")
    refused = channel.stream_unary("/cmr.placement.v1.PlacementService/Ping")
    assert _failure(lambda: refused(iter(()))) == (
        grpc.StatusCode.UNIMPLEMENTED,
        "/cmr.placement.v1.PlacementService/Ping cannot be called locally",
        "",
    )


def test_a_local_watch_streams_what_the_server_streams_until_cancelled(both: Both) -> None:
    both.local.AddModel(placement_pb2.AddModelRequest(name="w", owner="admin"), timeout=TIMEOUT)
    request = placement_pb2.WatchRequest(after_sequence=0)
    remote = both.remote.Watch(request, timeout=TIMEOUT)
    local = both.local.Watch(request)
    try:
        assert next(iter(local)) == next(iter(remote))
    finally:
        remote.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs
    follower = Follower(local)
    both.remote.AddMachine(
        placement_pb2.AddMachineRequest(model_uuid=_uuid(both, "w"), count=1), timeout=TIMEOUT
    )
    assert follower.wait_for(1) == ["machine-added"]  # through the store's tail
    local.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs
    assert follower.join()
    assert follower.ended == [grpc.StatusCode.CANCELLED]


def test_a_local_watch_ends_when_the_service_stops(tmp_path: Path) -> None:
    cfg = Config(data_dir=tmp_path, ports=dict.fromkeys(DEFAULT_PORTS, 0))
    built = placement_server.build_server(cfg)
    built.start()
    assert built.local is not None
    stub = placement_pb2_grpc.PlacementServiceStub(built.local.channel())
    stream = iter(stub.Watch(placement_pb2.WatchRequest(from_latest=True)))
    assert next(stream).head == 0
    built.stop(None)
    with pytest.raises(grpc.RpcError) as raised:
        next(stream)
    assert isinstance(raised.value, grpc.Call)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE


def _uuid(both: Both, name: str) -> str:
    reply = both.local.GetModel(
        placement_pb2.GetModelRequest(owner="admin", name=name), timeout=TIMEOUT
    )
    return str(reply.model.uuid)


def test_a_local_servicer_cannot_skip_the_servers_interceptors() -> None:
    class Nothing(grpc.ServerInterceptor):  # type: ignore[type-arg]
        def intercept_service(self, continuation: Any, details: Any) -> Any:
            return continuation(details)

    with pytest.raises(ValueError, match="bypass"):
        new_server(
            ("cmr.placement.v1.PlacementService",),
            lambda server: None,
            "127.0.0.1:0",
            interceptors=(Nothing(),),
            servicer=object(),
        )


def test_a_local_servicer_answers_for_one_service_only() -> None:
    with pytest.raises(ValueError, match="exactly one service"):
        new_server(
            ("cmr.placement.v1.PlacementService", "cmr.access.v1.AccessService"),
            lambda server: None,
            "127.0.0.1:0",
            servicer=object(),
        )
    with pytest.raises(ValueError, match="at least one service"):
        new_server((), lambda server: None, "127.0.0.1:0")
