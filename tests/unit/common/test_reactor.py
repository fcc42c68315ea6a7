"""A reactor passes over the events that cannot change its context, without losing its place."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import grpc

from cmr.common.v1 import common_pb2
from services.common.reactor import PERSIST_EVERY, FeedReactor


@dataclass
class Item:
    event: common_pb2.Event


class Source:
    """A feed of `count` events; every tenth is a `thing-changed`, the rest `other`."""

    def __init__(self, count: int) -> None:
        self.events = [
            common_pb2.Event(sequence=n, kind="thing-changed" if n % 10 == 0 else "other")
            for n in range(1, count + 1)
        ]
        self.asked_after: list[int] = []
        self.done = threading.Event()

    def watch(self, channel: grpc.Channel, after: int) -> Iterator[Item]:
        self.asked_after.append(after)
        for event in self.events[after:]:
            yield Item(event)
        self.done.set()
        threading.Event().wait(0.05)  # then the stream "breaks"; the reactor reconnects


class Store:
    """The follower's store: what was applied, and the cursor moved with it."""

    def __init__(self, cursor: int = 0) -> None:
        self.cursor = cursor
        self.applied: list[int] = []

    def apply(self, event: common_pb2.Event) -> None:
        self.applied.append(event.sequence)
        self.cursor = event.sequence


def reactor(source: Source, store: Store) -> FeedReactor:
    return FeedReactor(
        "things",
        "127.0.0.1:1",
        source.watch,
        store.apply,
        lambda: store.cursor,
        owner="test",
        matters=lambda ev: ev.kind == "thing-changed",
    )


def test_events_that_do_not_matter_are_passed_over_but_counted_as_applied() -> None:
    source, store = Source(35), Store()
    follower = reactor(source, store)
    follower.start()
    try:
        assert follower.wait_for(35, timeout=5)
        assert store.applied == [10, 20, 30]
        assert store.cursor == 30  # 31..35 passed over: remembered in memory only
        assert follower.applied() == 35
    finally:
        follower.stop()


def test_a_long_run_of_passed_over_events_still_stores_the_cursor() -> None:
    count = PERSIST_EVERY * 3
    source = Source(count)
    source.events = [common_pb2.Event(sequence=n, kind="other") for n in range(1, count + 1)]
    store = Store()
    follower = reactor(source, store)
    follower.start()
    try:
        assert follower.wait_for(count, timeout=5)
        assert store.applied == [PERSIST_EVERY, 2 * PERSIST_EVERY, 3 * PERSIST_EVERY]
    finally:
        follower.stop()


def test_a_restart_resumes_from_the_stored_cursor() -> None:
    source, store = Source(35), Store()
    follower = reactor(source, store)
    follower.start()
    assert follower.wait_for(35, timeout=5)
    follower.stop()
    again = Source(40)
    restarted = reactor(again, store)
    restarted.start()
    try:
        assert restarted.wait_for(40, timeout=5)
        assert again.asked_after[0] == 30  # replays 31..35, which change nothing, again
        assert store.applied == [10, 20, 30, 40]
    finally:
        restarted.stop()


def test_given_its_sources_local_channel_it_follows_it_from_the_start() -> None:
    source, store = Source(10), Store()
    local = object()  # stands for the LocalChannel of the source
    channels: list[object] = []

    def watch(channel: grpc.Channel, after: int) -> Iterator[Item]:
        channels.append(channel)
        return source.watch(channel, after)

    follower = FeedReactor(
        "things",
        "127.0.0.1:1",
        watch,
        store.apply,
        lambda: store.cursor,
        owner="test",
        local=local,  # type: ignore[arg-type]
    )
    follower.start()
    try:
        assert follower.wait_for(10, timeout=5)
        assert store.applied == list(range(1, 11))
        assert channels[0] is local
        assert all(channel is local for channel in channels)
    finally:
        follower.stop()
