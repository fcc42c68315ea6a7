"""Local calls (`services.common.local`): the contract of a call over gRPC, without the wire.

Each check makes the same call both ways, to the same running placement server, and compares;
server interceptors included, on a thread-pool server and on an event loop.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from cmr.access.v1 import access_pb2_grpc
from cmr.placement.v1 import placement_pb2, placement_pb2_grpc
from kernel.errors import Reason
from services.common.config import DEFAULT_PORTS, Config
from services.common.local import LocalTarget
from services.common.server import Built, bind
from services.common.status import reason_of
from services.placement import server as placement_server
from services.placement.server import SERVICE_NAME, PlacementServicer
from services.placement.store import SqlitePlacement
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


def test_a_local_watch_ends_at_the_callers_deadline(both: Both) -> None:
    request = placement_pb2.WatchRequest(from_latest=True)
    ended = []
    for stub in (both.remote, both.local):
        stream = iter(stub.Watch(request, timeout=0.5))
        assert next(stream).head == 0
        ended.append(_failure(lambda s=stream: next(s))[0])
    assert ended == [grpc.StatusCode.DEADLINE_EXCEEDED] * 2


def test_a_local_watch_ends_when_the_service_stops(tmp_path: Path) -> None:
    cfg = Config(data_dir=tmp_path, ports=dict.fromkeys(DEFAULT_PORTS, 0))
    built = placement_server.build_server(cfg)
    built.start()
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


class Recorder(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Records what it learns of each call (its own `x-` metadata), and lets it through."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[tuple[str, str | bytes], ...]]] = []

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        sent = tuple(
            (key, value) for key, value in details.invocation_metadata if key.startswith("x-")
        )
        self.seen.append((details.method, sent))
        return continuation(details)


class Guard(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Denies a call without `x-key: open`; wraps the handler of any other."""

    def __init__(self) -> None:
        self.ran: list[str] = []  # the wrapped handlers that ran, by method

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        if ("x-key", "open") not in [(key, value) for key, value in details.invocation_metadata]:
            return grpc.unary_unary_rpc_method_handler(_deny)
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner, ran, method = handler.unary_unary, self.ran, details.method

        def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
            ran.append(method)
            return inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _deny(request: bytes, context: grpc.ServicerContext) -> None:
    context.abort(grpc.StatusCode.UNAUTHENTICATED, "no key")


class Hider(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Finds no handler for `GetModel`."""

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        return None if details.method.endswith("/GetModel") else continuation(details)


@dataclass
class Guarded:
    recorder: Recorder
    guard: Guard
    remote: placement_pb2_grpc.PlacementServiceStub
    local: placement_pb2_grpc.PlacementServiceStub


KEY = (("x-key", "open"),)
GET = placement_pb2.GetModelRequest(owner="admin", name="m")


@pytest.fixture(params=["threads", "event-loop"])
def guarded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Guarded]:
    """Placement behind a recorder (outermost), a guard and a hider, on either kind of server."""
    recorder, guard = Recorder(), Guard()
    bound = bind(SERVICE_NAME, "127.0.0.1:0", on_loop=request.param == "event-loop")
    store = SqlitePlacement(tmp_path / "placement.db")
    built = bound.build(
        PlacementServicer(store),
        interceptors=(recorder, guard, Hider()),
        closers=(store.close,),
    )
    built.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{built.port}") as channel:
            yield Guarded(
                recorder,
                guard,
                placement_pb2_grpc.PlacementServiceStub(channel),
                placement_pb2_grpc.PlacementServiceStub(built.local.channel()),
            )
    finally:
        built.stop(None)


def test_an_interceptor_sees_local_calls_and_their_metadata_as_it_sees_wire_calls(
    guarded: Guarded,
) -> None:
    sent = (*KEY, ("x-trace", "t1"), ("x-blob-bin", b"\x00\x01"))
    for stub in (guarded.remote, guarded.local):
        stub.Ping(placement_pb2.PingRequest(), metadata=sent, timeout=TIMEOUT)
        stream = stub.Watch(placement_pb2.WatchRequest(from_latest=True), metadata=sent)
        assert next(iter(stream)).head == 0
        stream.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs
    ping = ("/cmr.placement.v1.PlacementService/Ping", sent)
    watch = ("/cmr.placement.v1.PlacementService/Watch", sent)
    assert guarded.recorder.seen == [ping, watch, ping, watch]
    future = guarded.local.Ping.future(placement_pb2.PingRequest(), metadata=KEY)
    future.result(TIMEOUT)
    assert guarded.recorder.seen[-1] == ("/cmr.placement.v1.PlacementService/Ping", KEY)


def test_the_handler_an_interceptor_returns_is_what_runs(guarded: Guarded) -> None:
    for name, stub in (("m1", guarded.remote), ("m2", guarded.local)):
        made = stub.AddModel(
            placement_pb2.AddModelRequest(name=name, owner="admin"), metadata=KEY, timeout=TIMEOUT
        )
        assert made.model.name == name
        stub.ListModels(placement_pb2.ListModelsRequest(), metadata=KEY, timeout=TIMEOUT)
    add = "/cmr.placement.v1.PlacementService/AddModel"
    listed = "/cmr.placement.v1.PlacementService/ListModels"
    assert guarded.guard.ran == [add, listed, add, listed]


def test_an_interceptor_that_denies_a_call_denies_it_locally_too(guarded: Guarded) -> None:
    denied = (grpc.StatusCode.UNAUTHENTICATED, "no key", "")
    for stub in (guarded.remote, guarded.local):
        for metadata in ((), (("x-key", "forged"),)):
            assert (
                _failure(
                    lambda s=stub, m=metadata: s.AddModel(
                        placement_pb2.AddModelRequest(name="x", owner="admin"),
                        metadata=m,
                        timeout=TIMEOUT,
                    )
                )
                == denied
            )
            stream = stub.Watch(placement_pb2.WatchRequest(from_latest=True), metadata=metadata)
            assert _failure(lambda st=stream: next(iter(st))) == denied
    assert guarded.guard.ran == []  # the servicer never ran
    # nothing was made either way
    for stub in (guarded.remote, guarded.local):
        models = stub.ListModels(placement_pb2.ListModelsRequest(), metadata=KEY, timeout=TIMEOUT)
        assert list(models.models) == []


def test_a_method_an_interceptor_hides_is_unimplemented_both_ways(guarded: Guarded) -> None:
    remote = _failure(lambda: guarded.remote.GetModel(GET, metadata=KEY, timeout=TIMEOUT))
    local = _failure(lambda: guarded.local.GetModel(GET, metadata=KEY, timeout=TIMEOUT))
    assert local == remote
    assert remote[0] == grpc.StatusCode.UNIMPLEMENTED


def test_a_servicer_sees_the_callers_metadata_locally(tmp_path: Path) -> None:
    seen: list[tuple[tuple[str, str | bytes], ...]] = []

    class Echo(placement_pb2_grpc.PlacementServiceServicer):
        def Ping(  # noqa: N802 - the proto's name
            self, request: placement_pb2.PingRequest, context: grpc.ServicerContext
        ) -> placement_pb2.PingResponse:
            seen.append(
                tuple((k, v) for k, v in context.invocation_metadata() if k.startswith("x-"))
            )
            return placement_pb2.PingResponse()

    built = bind(SERVICE_NAME, "127.0.0.1:0").build(Echo())  # type: ignore[abstract]
    built.start()
    try:
        stub = placement_pb2_grpc.PlacementServiceStub(built.local.channel())
        stub.Ping(placement_pb2.PingRequest(), metadata=(("x-who", "me"),), timeout=TIMEOUT)
        stub.Ping(placement_pb2.PingRequest(), timeout=TIMEOUT)
    finally:
        built.stop(None)
    assert seen == [(("x-who", "me"),), ()]


def test_a_target_of_several_services_takes_a_servicer_for_each() -> None:
    target = LocalTarget("cmr.placement.v1.PlacementService", "cmr.access.v1.AccessService")
    placement = placement_pb2_grpc.PlacementServiceServicer()  # type: ignore[abstract]
    with pytest.raises(ValueError, match="servicers for"):
        target.serve(placement)
    access = access_pb2_grpc.AccessServiceServicer()  # type: ignore[abstract]
    target.serve(placement, others={"cmr.access.v1.AccessService": access})
    assert {p.rpartition("/")[0] for p in target.method_handlers()} == {
        "/cmr.placement.v1.PlacementService",
        "/cmr.access.v1.AccessService",
    }
