"""A service on `grpc.aio` (`services.common.aio`): what `cmr serve --service` runs.

The same placement servicer as in the embedded controller, served on an event loop: replies,
status codes, health, reflection, Watch with cancel, and a waiting method off the loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from cmr.placement.v1 import placement_pb2, placement_pb2_grpc
from kernel.errors import Reason
from services.common.aio import AioServer
from services.common.config import DEFAULT_PORTS, Config
from services.common.server import Built
from services.common.status import reason_of
from services.placement import server as placement_server
from tests.service.streams import Follower

T = 10


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Built, placement_pb2_grpc.PlacementServiceStub]]:
    cfg = Config(data_dir=tmp_path, ports=dict.fromkeys(DEFAULT_PORTS, 0), event_loop=True)
    built = placement_server.build_server(cfg)
    assert isinstance(built.server, AioServer)
    built.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{built.port}") as channel:
            yield built, placement_pb2_grpc.PlacementServiceStub(channel)
    finally:
        built.stop(0.5)


def _code(call: object) -> tuple[grpc.StatusCode, str]:
    assert callable(call)
    with pytest.raises(grpc.RpcError) as raised:
        call()
    assert isinstance(raised.value, grpc.Call)
    return raised.value.code(), raised.value.details() or ""


def test_replies_and_refusals_are_the_servicers(
    served: tuple[Built, placement_pb2_grpc.PlacementServiceStub],
) -> None:
    _, stub = served
    made = stub.AddModel(placement_pb2.AddModelRequest(name="m", owner="admin"), timeout=T)
    assert made.model.name == "m"
    assert _code(
        lambda: stub.AddModel(placement_pb2.AddModelRequest(name="m", owner="admin"), timeout=T)
    ) == (grpc.StatusCode.ALREADY_EXISTS, 'model "admin/m" already exists')
    assert _code(
        lambda: stub.GetModel(placement_pb2.GetModelRequest(owner="admin", name="x"), timeout=T)
    ) == (grpc.StatusCode.NOT_FOUND, 'model "admin/x" not found')
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetModel(placement_pb2.GetModelRequest(owner="admin", name="x"), timeout=T)
    assert reason_of(raised.value) == Reason.NOT_FOUND
    machines = stub.AddMachine(
        placement_pb2.AddMachineRequest(model_uuid=made.model.uuid, count=2), timeout=T
    )
    assert [m.id for m in machines.machines] == ["0", "1"]


def test_health_and_reflection_answer(
    served: tuple[Built, placement_pb2_grpc.PlacementServiceStub],
) -> None:
    built, _ = served
    with grpc.insecure_channel(f"127.0.0.1:{built.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", *built.service_names):
            reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=T)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        [reply] = list(stub.ServerReflectionInfo(iter([request]), timeout=T))
        names = {s.name for s in reply.list_services_response.service}
        assert set(built.service_names) <= names


def test_a_waiting_method_runs_off_the_loop(
    served: tuple[Built, placement_pb2_grpc.PlacementServiceStub],
) -> None:
    _, stub = served
    waited: list[grpc.StatusCode] = []

    def wait() -> None:
        request = placement_pb2.SyncRequest(source="relations", sequence=10**6)
        try:
            stub.Sync(request, timeout=3.0)
        except grpc.RpcError as err:
            waited.append(err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.UNKNOWN)

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.2)  # Sync is waiting now
    start = time.monotonic()
    stub.Ping(placement_pb2.PingRequest(), timeout=T)
    assert time.monotonic() - start < 1.5, "the loop was blocked by Sync (2.8 s more)"
    thread.join(timeout=10)
    assert waited == [grpc.StatusCode.UNAVAILABLE]


def test_watch_streams_and_a_cancel_ends_it(
    served: tuple[Built, placement_pb2_grpc.PlacementServiceStub],
) -> None:
    _, stub = served
    watch = stub.Watch(placement_pb2.WatchRequest(after_sequence=0))
    follower = Follower(watch)
    stub.AddModel(placement_pb2.AddModelRequest(name="w", owner="admin"), timeout=T)
    assert follower.wait_for(1) == ["model-added"]  # across the loop and the pool
    watch.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs
    assert follower.join()
    assert follower.ended == [grpc.StatusCode.CANCELLED]


def test_stopping_ends_an_open_watch_at_once(tmp_path: Path) -> None:
    cfg = Config(data_dir=tmp_path, ports=dict.fromkeys(DEFAULT_PORTS, 0), event_loop=True)
    built = placement_server.build_server(cfg)
    built.start()
    with grpc.insecure_channel(f"127.0.0.1:{built.port}") as channel:
        stub = placement_pb2_grpc.PlacementServiceStub(channel)
        follower = Follower(stub.Watch(placement_pb2.WatchRequest(from_latest=True)))
        stub.Ping(placement_pb2.PingRequest(), timeout=T)
        time.sleep(0.2)  # the stream is open and waiting
        start = time.monotonic()
        built.stop(10.0)
        assert time.monotonic() - start < 5.0, "the open Watch held the whole grace"
        assert follower.join()
        assert follower.ended == [grpc.StatusCode.UNAVAILABLE]
