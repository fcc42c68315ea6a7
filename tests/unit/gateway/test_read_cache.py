"""The gateway's read cache: which replies are kept, and what makes them stale."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from cmr.placement.v1 import placement_pb2
from gateway.cache import READS, ReadCache, WriteFence, topics_of

REQUEST = placement_pb2.GetModelRequest(owner="admin", name="prod")


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
    assert "ShowOffer" in READS
    assert not READS & {"Grant", "Revoke", "AddRelation", "Login", "Logout", "Consume"}


class _Details:
    def __init__(self, method: str) -> None:
        self.method = method


def _fenced(cache: ReadCache, method: str, behaviour: Callable[[Any, Any], Any]) -> Any:
    handler = grpc.unary_unary_rpc_method_handler(behaviour)
    return WriteFence(cache).intercept_service(lambda _: handler, _Details(method))  # type: ignore[arg-type]


def test_a_write_makes_replies_stale_before_and_after_it_runs(cache: ReadCache) -> None:
    fetch = Fetcher()
    seen: list[str] = []

    def write(request: Any, context: Any) -> str:
        # a reply kept before the write is not served while it runs
        seen.append(cache.get(("models",), REQUEST, fetch).model.uuid)
        return "done"

    cache.get(("models",), REQUEST, fetch)
    fenced = _fenced(cache, "/cmr.gateway.v1.GatewayService/Grant", write)
    assert fenced.unary_unary(None, None) == "done"
    assert seen == ["u2"]
    # and one kept while it ran is not served after it
    assert cache.get(("models",), REQUEST, fetch).model.uuid == "u3"


def test_a_read_is_not_fenced(cache: ReadCache) -> None:
    fetch = Fetcher()
    cache.get(("models",), REQUEST, fetch)
    handler = _fenced(cache, "/cmr.gateway.v1.GatewayService/ShowOffer", lambda r, c: "read")
    assert handler.unary_unary(None, None) == "read"
    assert cache.get(("models",), REQUEST, fetch).model.uuid == "u1"
