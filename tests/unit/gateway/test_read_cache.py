"""The gateway's read cache: which replies are kept, and what makes them stale."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from cmr.access.v1 import access_pb2
from cmr.gateway.v1 import gateway_pb2
from cmr.placement.v1 import placement_pb2
from gateway import cache as cache_module
from gateway.cache import CachedCalls, ReadCache, WriteFence, topics_of
from gateway.peers import Peers
from services.common import contract
from services.common.config import Config
from services.common.deadline import Deadline

REQUEST = placement_pb2.GetModelRequest(owner="admin", name="prod")
WRITE = placement_pb2.AddMachineRequest(model_uuid="u1")


class Fetcher:
    """Counts fetches; answers a model named after the count."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> placement_pb2.GetModelResponse:
        self.count += 1
        return placement_pb2.GetModelResponse(
            model=placement_pb2.Model(uuid=f"u{self.count}", name="prod", owner="admin")
        )


@pytest.fixture
def cache() -> ReadCache:
    made = ReadCache({})  # no addresses: no feed threads, the test plays the feeds
    made.opened("placement")
    made.opened("access")
    return made


def test_a_reply_is_kept_while_its_topics_are_quiet(cache: ReadCache) -> None:
    fetch = Fetcher()
    first = cache.get(("models",), REQUEST, fetch)
    second = cache.get(("models",), REQUEST, fetch)
    assert fetch.count == 1
    assert second == first


def test_a_kept_reply_is_copied_out(cache: ReadCache) -> None:
    fetch = Fetcher()
    cache.get(("models",), REQUEST, fetch).model.name = "changed"
    assert cache.get(("models",), REQUEST, fetch).model.name == "prod"


def test_an_event_on_a_topic_makes_its_replies_stale(cache: ReadCache) -> None:
    fetch = Fetcher()
    cache.get(("models",), REQUEST, fetch)
    cache.heard("placement", "model-added")
    assert cache.get(("models",), REQUEST, fetch).model.uuid == "u2"


def test_other_events_leave_replies_alone(cache: ReadCache) -> None:
    fetch = Fetcher()
    cache.get(("models",), REQUEST, fetch)
    cache.heard("placement", "unit-added")  # placement, but not a model event
    cache.heard("access", "access-granted")
    assert cache.get(("models",), REQUEST, fetch).model.uuid == "u1"


def test_a_change_during_the_fetch_is_not_hidden(cache: ReadCache) -> None:
    fetch = Fetcher()

    def racing() -> placement_pb2.GetModelResponse:
        reply = fetch()
        cache.heard("placement", "model-removed")  # commits while the reply is in flight
        return reply

    cache.get(("models",), REQUEST, racing)
    assert cache.get(("models",), REQUEST, fetch).model.uuid == "u2"


def test_nothing_is_kept_for_a_feed_not_followed(cache: ReadCache) -> None:
    fetch = Fetcher()
    cache.get(("offers",), REQUEST, fetch)
    cache.get(("offers",), REQUEST, fetch)
    assert fetch.count == 2
    cache.get(("models", "offers"), REQUEST, fetch)
    assert fetch.count == 3


def test_a_lost_feed_stops_caching_until_it_is_followed_again(cache: ReadCache) -> None:
    fetch = Fetcher()
    cache.get(("models",), REQUEST, fetch)
    cache.lost("placement")
    cache.get(("models",), REQUEST, fetch)
    cache.get(("models",), REQUEST, fetch)
    assert fetch.count == 3
    cache.opened("placement")
    cache.get(("models",), REQUEST, fetch)
    cache.get(("models",), REQUEST, fetch)
    assert fetch.count == 4


def test_invalidate_makes_every_reply_stale(cache: ReadCache) -> None:
    fetch = Fetcher()
    cache.get(("models",), REQUEST, fetch)
    cache.invalidate()
    cache.get(("models",), REQUEST, fetch)
    assert fetch.count == 2


def test_not_found_is_kept_and_errors_are_not(cache: ReadCache) -> None:
    calls = []

    def missing() -> None:
        calls.append(1)

    assert cache.get(("models",), REQUEST, missing, kind="or-none") is None
    assert cache.get(("models",), REQUEST, missing, kind="or-none") is None
    assert len(calls) == 1

    def failing() -> placement_pb2.GetModelResponse:
        calls.append(1)
        raise RuntimeError("unavailable")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            cache.get(("models",), REQUEST, failing, kind="raises")
    assert len(calls) == 3


def test_different_requests_are_different_replies(cache: ReadCache) -> None:
    fetch = Fetcher()
    cache.get(("models",), REQUEST, fetch)
    other = placement_pb2.GetModelRequest(owner="admin", name="dev")
    assert cache.get(("models",), other, fetch).model.uuid == "u2"


def test_topics_of_events() -> None:
    assert topics_of("placement", "model-config-changed") == ("placement", "models")
    assert topics_of("placement", "unit-added") == ("placement",)
    assert topics_of("relations", "relation-suspended") == ("relations",)


def test_only_methods_that_change_nothing_are_reads() -> None:
    assert contract.reads("cmr.gateway.v1.CrossModelService") >= {"ShowOffer", "FindOffers"}
    assert contract.reads("cmr.gateway.v1.ModelService") >= {"GetStatus", "ListModels"}
    writes = {
        "cmr.gateway.v1.UserService": {"Grant", "Revoke"},
        "cmr.gateway.v1.ModelService": {"AddRelation"},
        "cmr.gateway.v1.SessionService": {"Login", "Logout"},
        "cmr.gateway.v1.CrossModelService": {"Consume"},
    }
    for service, methods in writes.items():
        assert not contract.reads(service) & methods


class _Details:
    def __init__(self, method: str) -> None:
        self.method = method


def _answer(request: object, timeout: float) -> placement_pb2.GetModelResponse:
    return placement_pb2.GetModelResponse()


NO_DEADLINE = Deadline(None)


@pytest.fixture
def peers(tmp_path: Path, cache: ReadCache) -> Iterator[Peers]:
    made = Peers(Config(data_dir=tmp_path))
    made.cache = cache
    yield made
    made.close()


def _fenced(peers: Peers, method: str, behaviour: Callable[[Any, Any], Any]) -> Any:
    handler = grpc.unary_unary_rpc_method_handler(behaviour)
    fence = WriteFence(peers)
    return fence.intercept_service(lambda _: handler, _Details(method))  # type: ignore[arg-type]


def test_a_write_makes_stale_what_the_services_it_called_own(
    cache: ReadCache, peers: Peers
) -> None:
    models, levels = Fetcher(), Fetcher()
    request = access_pb2.CheckAccessRequest(user="admin")
    cache.get(("models",), REQUEST, models)
    cache.get(("access",), request, levels)
    during: list[str] = []

    def grant(request_: Any, context: Any) -> str:
        peers.call_with("access", _answer, WRITE, NO_DEADLINE)
        # the rest of the command reads what it changed
        during.append(cache.get(("access",), request, levels).model.uuid)
        return "done"

    fenced = _fenced(peers, "/cmr.gateway.v1.UserService/Grant", grant)
    assert fenced.unary_unary(None, None) == "done"
    assert during == ["u2"]
    assert cache.get(("models",), REQUEST, models).model.uuid == "u1"


def test_a_failed_call_also_makes_them_stale(cache: ReadCache, peers: Peers) -> None:
    models = Fetcher()
    cache.get(("models",), REQUEST, models)

    def refused(request: object, timeout: float) -> None:
        raise RuntimeError("refused")

    def deploy(request: Any, context: Any) -> str:
        peers.call_with("placement", refused, WRITE, NO_DEADLINE)
        return "not reached"

    fenced = _fenced(peers, "/cmr.gateway.v1.ModelService/Deploy", deploy)
    with pytest.raises(RuntimeError):
        fenced.unary_unary(None, None)
    assert cache.get(("models",), REQUEST, models).model.uuid == "u2"


def test_writing_offers_makes_relations_stale() -> None:
    cache = ReadCache({})
    cache.opened("relations")
    fetch = Fetcher()
    cache.get(("relations",), REQUEST, fetch)
    cache.invalidate({"offers"})
    assert cache.get(("relations",), REQUEST, fetch).model.uuid == "u2"


def test_calls_of_a_read_change_nothing_cached(cache: ReadCache, peers: Peers) -> None:
    fetch = Fetcher()
    cache.get(("models",), REQUEST, fetch)

    def read(request: Any, context: Any) -> str:
        peers.call_with("placement", _answer, WRITE, NO_DEADLINE)
        return "read"

    handler = _fenced(peers, "/cmr.gateway.v1.CrossModelService/ShowOffer", read)
    assert handler.unary_unary(None, None) == "read"
    assert cache.get(("models",), REQUEST, fetch).model.uuid == "u1"


# A write and a read of each public service of the gateway, and of the deprecated one.
WRITE_AND_READ = {
    "SessionService": ("Logout", "WhoAmI"),
    "UserService": ("Grant", "ListUsers"),
    "ModelService": ("Deploy", "GetStatus"),
    "CrossModelService": ("Consume", "ShowOffer"),
    "CrossControllerService": ("Nudge", "GetControllerIdentity"),
    "GatewayService": ("Grant", "ShowOffer"),
}


@pytest.mark.parametrize("service", list(WRITE_AND_READ))
def test_the_fence_holds_each_services_writes_and_not_its_reads(
    cache: ReadCache, peers: Peers, service: str
) -> None:
    write, read = WRITE_AND_READ[service]
    name = gateway_pb2.DESCRIPTOR.services_by_name[service].full_name
    fetch = Fetcher()

    def calls_access(request: Any, context: Any) -> str:
        peers.call_with("access", _answer, WRITE, NO_DEADLINE)
        return "done"

    cache.get(("access",), REQUEST, fetch)
    _fenced(peers, f"/{name}/{read}", calls_access).unary_unary(None, None)
    assert cache.get(("access",), REQUEST, fetch).model.uuid == "u1"  # still kept
    _fenced(peers, f"/{name}/{write}", calls_access).unary_unary(None, None)
    assert cache.get(("access",), REQUEST, fetch).model.uuid == "u2"  # stale: fetched again


def test_peers_track_the_services_called_other_than_through_the_cache(
    peers: Peers, cache: ReadCache
) -> None:
    with peers.tracking() as called:
        CachedCalls(peers, cache).call_with("placement", _answer, REQUEST, NO_DEADLINE)
        assert called == set()
        peers.call_with("placement", _answer, REQUEST, NO_DEADLINE)  # a read by contract
        assert called == set()
        peers.call_with("access", _answer, WRITE, NO_DEADLINE)
        assert called == {"access"}
    peers.call_with("offers", _answer, WRITE, NO_DEADLINE)
    assert called == {"access"}  # no longer tracking


class _Stream:
    """A feed stream: its first items, then nothing until cancelled (then it fails, as gRPC's)."""

    def __init__(self, *items: access_pb2.WatchResponse) -> None:
        self.items = list(items)
        self.cancelled = threading.Event()

    def __iter__(self) -> Iterator[access_pb2.WatchResponse]:
        yield from self.items
        self.cancelled.wait(10)
        raise grpc.RpcError("cancelled")

    def cancel(self) -> bool:
        self.cancelled.set()
        return True


def test_the_cache_follows_a_service_built_in_this_process_through_its_target(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local_channel = object()  # stands for the co-located service's LocalChannel
    local = _Stream(access_pb2.WatchResponse(head=0))
    channels: list[object] = []

    class Target:
        def channel(self) -> object:
            return local_channel

    def watch(channel: object) -> _Stream:
        channels.append(channel)
        return local

    monkeypatch.setattr(cache_module, "latest_watchers", lambda: {"access": watch})
    cache = ReadCache({"access": "127.0.0.1:1"}, {"access": Target()})  # type: ignore[dict-item]
    cache.start()
    try:
        for _ in range(500):  # bounded: the feed opens on the follower's thread
            if cache.following("access"):
                break
            threading.Event().wait(0.01)
        assert cache.following("access")
        assert channels == [local_channel]  # never over gRPC
    finally:
        cache.stop()
