"""The gateway's read cache: service replies reused while the owners' feeds report no change.

A point read through the gateway (show-offer) otherwise costs four or five internal RPCs: the
model, the offer with its connections, the caller's level, the offer's users. Those answers
change only when their owner commits a change, and every owner announces each change on its
feed. So the gateway follows the four feeds and keeps each reply
until a feed it depends on moves:

- **Topics.** Each feed is a topic (`placement`, `offers`, `access`, `relations`); placement's
  `model-*` events are also the topic `models`, so that deploying ten thousand units does not
  drop every cached model lookup.
- **Generations.** Every event bumps its topics' generation. A reply is kept with the
  generations of its topics *read before it was fetched*, and served only while they are
  unchanged: a change that commits while the reply is in flight makes it stale at once.
- **Not following, not cached.** Until a feed's stream is open (its first response, `head`,
  says from which sequence every event will be heard), and whenever it breaks, its topics are
  not cached at all: every read goes to the service.
- **Writes through this gateway** (`WriteFence`): a command other than a read runs under
  `Peers.tracking`, so each call it makes to a service (other than through the cache) makes that
  service's topics stale as it returns. The rest of the command and the client after it read
  what it changed, even before the owners' events arrive; a command that waited for a reactor
  (`Sync`) called that reactor's service too. The offers service also removes relations
  (`remove-offer --force`), so calling it makes `relations` stale as well. Changes made
  elsewhere (a reactor not waited for, another controller's reconcile) are seen as soon as
  their event arrives: the same eventual consistency as reading the service an instant earlier.
- Replies are copied out, so a caller may change what it gets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Final, Protocol, TypeVar

import grpc

from cmr.access.v1 import access_pb2, access_pb2_grpc
from cmr.offers.v1 import offers_pb2, offers_pb2_grpc
from cmr.placement.v1 import placement_pb2, placement_pb2_grpc
from cmr.relations.v1 import relations_pb2, relations_pb2_grpc
from gateway.ports import Calls
from kernel import errors
from services.common import contract
from services.common.deadline import Deadline
from services.common.follow import FeedFollower
from services.common.local import LocalTarget

MAX_ENTRIES: Final = 50_000
"""Beyond this many replies the cache starts again empty (a bound, not a policy)."""

T = TypeVar("T")


class _Message(Protocol):
    def SerializeToString(self, *, deterministic: bool = ...) -> bytes: ...  # noqa: N802


def latest_watchers() -> dict[str, Callable[[grpc.Channel], Iterable[Any]]]:
    """How to open a `from_latest` Watch on each service."""
    return {
        "placement": lambda ch: placement_pb2_grpc.PlacementServiceStub(ch).Watch(
            placement_pb2.WatchRequest(from_latest=True)
        ),
        "offers": lambda ch: offers_pb2_grpc.OfferServiceStub(ch).Watch(
            offers_pb2.WatchRequest(from_latest=True)
        ),
        "access": lambda ch: access_pb2_grpc.AccessServiceStub(ch).Watch(
            access_pb2.WatchRequest(from_latest=True)
        ),
        "relations": lambda ch: relations_pb2_grpc.RelationServiceStub(ch).Watch(
            relations_pb2.WatchRequest(from_latest=True)
        ),
    }


TOPICS: Final = {
    "placement": ("placement", "models"),
    "offers": ("offers",),
    "access": ("access",),
    "relations": ("relations",),
}
"""Every topic each service's feed feeds."""


def topics_of(service: str, kind: str) -> tuple[str, ...]:
    """The topics an event of `service` bumps."""
    if service == "placement" and not kind.startswith("model-"):
        return ("placement",)
    return TOPICS[service]


class ReadCache:
    """Replies of idempotent service reads, kept while their topics' feeds are quiet."""

    def __init__(
        self, addresses: Mapping[str, str], local: Mapping[str, LocalTarget] | None = None
    ) -> None:
        """Prepare a cache that follows the services at `addresses`; `start()` follows.

        A service in `local` (built in this process) is followed through its target, without
        the wire.
        """
        local = local or {}
        self._lock = threading.Lock()
        self._clock = 0
        # topic -> generation; absent while its feed is not followed
        self._generations: dict[str, int] = {}
        self._entries: dict[tuple[str, bytes], tuple[Any, tuple[int, ...]]] = {}
        self._followers = {
            service: self._follower(service, addresses[service], watch, local.get(service))
            for service, watch in latest_watchers().items()
            if service in addresses
        }

    # -- following ------------------------------------------------------------------------------

    def _follower(
        self,
        service: str,
        address: str,
        watch: Callable[[grpc.Channel], Iterable[Any]],
        target: LocalTarget | None,
    ) -> FeedFollower[Any]:
        def take(item: Any) -> None:
            if not item.HasField("event"):  # the head: from now on, every change
                self.opened(service)
            else:
                self.heard(service, item.event.kind)

        return FeedFollower(
            f"gateway-{service}-cache",
            address,
            watch,
            take,
            local=target.channel() if target is not None else None,
            lost=lambda: self.lost(service),
        )

    def start(self) -> None:
        """Start following every feed."""
        for follower in self._followers.values():
            follower.start()

    def stop(self) -> None:
        """Stop following; nothing is cached afterwards."""
        for follower in self._followers.values():
            follower.stop()
        with self._lock:
            self._generations.clear()
            self._entries.clear()

    def following(self, service: str) -> bool:
        """Whether `service`'s feed is followed now (its topics are cached)."""
        with self._lock:
            return service in self._generations

    def _bump(self, topics: Iterable[str] | None, *, start: bool = False) -> None:
        with self._lock:
            self._clock += 1
            for topic in tuple(self._generations) if topics is None else topics:
                if start or topic in self._generations:
                    self._generations[topic] = self._clock

    def opened(self, service: str) -> None:
        """`service`'s feed is followed from now on: its topics may be cached."""
        self._bump(TOPICS[service], start=True)

    def heard(self, service: str, kind: str) -> None:
        """An event of `kind` came on `service`'s feed: its topics' replies are stale."""
        self._bump(topics_of(service, kind))

    def lost(self, service: str) -> None:
        """`service`'s feed is no longer followed: its topics are not cached until reopened."""
        with self._lock:
            for topic in TOPICS[service]:
                self._generations.pop(topic, None)

    # -- reading --------------------------------------------------------------------------------

    def invalidate(self, services: Iterable[str] | None = None) -> None:
        """Make the replies of `services`' topics stale (every reply, without `services`)."""
        if services is None:
            self._bump(None)
            return
        topics = {t for s in services for t in TOPICS.get(s, ())}
        if "offers" in topics:
            topics.add("relations")  # it removes an offer's relations
        self._bump(topics)

    def _snapshot(self, topics: Sequence[str]) -> tuple[int, ...] | None:
        with self._lock:
            try:
                return tuple(self._generations[t] for t in topics)
            except KeyError:
                return None

    def get(
        self, topics: Sequence[str], request: _Message, fetch: Callable[[], T], *, kind: str = ""
    ) -> T:
        """The reply to `request` (kept, or `fetch()`ed and kept), valid for `topics`.

        `fetch` may return None (NOT_FOUND), which is kept too; errors are not kept. `kind`
        tells apart fetches of the same request that answer differently.
        """
        key = (f"{type(request).__name__}/{kind}", request.SerializeToString(deterministic=True))
        seen = self._snapshot(topics)
        if seen is None:
            return fetch()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and hit[1] == seen:
            return _copy(hit[0])  # type: ignore[no-any-return]
        value = fetch()
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (_copy(value), seen)
        return value


def _copy(value: T) -> T:
    if value is None:
        return value
    out = type(value)()
    out.CopyFrom(value)  # type: ignore[attr-defined]
    return out


class Tracking(Protocol):
    """What the fence needs of the gateway's `Peers`."""

    def tracking(self) -> AbstractContextManager[set[str]]:
        """Treat every call on this thread as a possible change, for the length of a block."""
        ...


class WriteFence(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Runs each gateway method that may write under `Peers.tracking`."""

    def __init__(self, peers: Tracking) -> None:
        self._peers = peers

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        """Wrap a write method's handler so that what it changes is not read from the cache."""
        handler = continuation(details)
        if handler is None or contract.is_read(details.method) or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        peers = self._peers

        def fenced(request: Any, context: grpc.ServicerContext) -> Any:
            with peers.tracking():
                return inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            fenced,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


CACHED: Final[dict[tuple[str, str], Callable[[Any], tuple[str, ...]]]] = {
    ("placement", "GetModelRequest"): lambda _: ("models",),
    ("placement", "GetModelConfigRequest"): lambda _: ("models",),
    ("placement", "GetApplicationRequest"): lambda _: ("placement",),
    ("offers", "GetSaasRequest"): lambda _: ("offers",),
    ("offers", "GetOfferRequest"): lambda r: (
        ("offers",) if r.without_connections else ("offers", "relations")
    ),
    ("offers", "CheckIngressRequest"): lambda _: ("offers",),
    ("access", "CheckAccessRequest"): lambda _: ("access",),
    ("access", "ListAccessRequest"): lambda _: ("access",),
    ("relations", "ListRemoteHalvesRequest"): lambda _: ("relations",),
}
"""The reads the cache answers, by service and request type, with the topics each depends on."""


class _Missing:
    """A kept NOT_FOUND: the error it was, raised again on every hit."""

    def __init__(self, error: errors.NotFound | None = None) -> None:
        self.error = error or errors.NotFound("not found")

    def CopyFrom(self, other: _Missing) -> None:  # noqa: N802 - as the cache copies a reply
        """Take `other`'s error."""
        self.error = other.error


class CachedCalls:
    """A `Calls` whose reads in `CACHED` are answered from the read cache while valid.

    It wraps the call path the ports share, so every port's read of those methods is cached
    alike; anything else goes to `inner`, writes included (which make their service stale).
    A NOT_FOUND answer is kept as well.
    """

    def __init__(self, inner: Calls, cache: ReadCache) -> None:
        self._inner = inner
        self._cache = cache

    def call_with(
        self, service: str, method: Callable[..., T], request: object, deadline: Deadline
    ) -> T:
        """Answer from the cache when `request` is a cached read; else call `inner`."""
        topics = CACHED.get((service, type(request).__name__))
        if topics is None:
            return self._inner.call_with(service, method, request, deadline)

        def fetch() -> Any:
            try:
                return self._inner.call_with(service, method, request, deadline)
            except errors.NotFound as err:
                return _Missing(err)

        found = self._cache.get(topics(request), request, fetch, kind=f"{service}/port")  # type: ignore[arg-type]
        if isinstance(found, _Missing):
            raise errors.NotFound(found.error.message, reason=found.error.reason)
        return found  # type: ignore[no-any-return]
