"""A feed follower keeps one stream open: it resumes, backs off, stops, and follows locally."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc

from services.common.follow import BACKOFF_S, FeedFollower

ADDRESS = "127.0.0.1:1"  # never dialled: the fakes below ignore the channel they are given


class Stream:
    """An open feed stream: its items, then (unless it `fails`) nothing until cancelled."""

    def __init__(self, items: list[int], *, fails: bool = False) -> None:
        self.items = items
        self.fails = fails
        self.cancelled = threading.Event()

    def __iter__(self) -> Iterator[int]:
        yield from self.items
        if not self.fails:
            self.cancelled.wait(10)
        raise grpc.RpcError("the stream broke" if self.fails else "cancelled")

    def cancel(self) -> bool:
        self.cancelled.set()
        return True


class Source:
    """A feed of sequences 1..`count` that breaks once after `breaks_after`."""

    def __init__(self, count: int, *, breaks_after: int | None = None) -> None:
        self.count = count
        self.breaks_after = breaks_after
        self.asked_after: list[int] = []
        self.streams: list[Stream] = []

    def open(self, after: int) -> Stream:
        self.asked_after.append(after)
        end, fails = self.count, False
        if self.breaks_after is not None and after < self.breaks_after:
            end, fails = self.breaks_after, True
        stream = Stream(list(range(after + 1, end + 1)), fails=fails)
        self.streams.append(stream)
        return stream


class Store:
    """What the owner keeps: the sequences taken, and its cursor moved with them."""

    def __init__(self) -> None:
        self.cursor = 0
        self.taken: list[int] = []
        self.moved = threading.Condition()

    def take(self, sequence: int) -> None:
        with self.moved:
            self.taken.append(sequence)
            self.cursor = sequence
            self.moved.notify_all()

    def reaches(self, sequence: int) -> bool:
        with self.moved:
            return self.moved.wait_for(lambda: self.cursor >= sequence, timeout=5)


def running(name: str) -> bool:
    return any(thread.name == name for thread in threading.enumerate())


def test_after_the_source_fails_it_resumes_from_the_cursor() -> None:
    source, store = Source(10, breaks_after=4), Store()
    waits: list[float] = []
    follower = FeedFollower(
        "test-resume",
        ADDRESS,
        lambda _channel: source.open(store.cursor),
        store.take,
        wait=waits.append,
    )
    follower.start()
    try:
        assert store.reaches(10)
        assert source.asked_after == [0, 4]
        assert waits == [BACKOFF_S[0]]
        assert store.taken == list(range(1, 11))  # nothing twice, nothing missed
    finally:
        follower.stop()


def test_an_item_its_owner_fails_to_take_is_offered_again() -> None:
    source, store = Source(3), Store()
    waits: list[float] = []
    refused: list[int] = []

    def take(sequence: int) -> None:
        if sequence == 2 and not refused:
            refused.append(sequence)
            raise RuntimeError("the store is busy")
        store.take(sequence)

    follower = FeedFollower(
        "test-refused",
        ADDRESS,
        lambda _channel: source.open(store.cursor),
        take,
        wait=waits.append,
    )
    follower.start()
    try:
        assert store.reaches(3)
        assert source.asked_after == [0, 1]
        assert store.taken == [1, 2, 3]
    finally:
        follower.stop()


class Script:
    """Plays the waits between attempts: records each, and stops the follower after `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.waits: list[float] = []
        self.done = threading.Event()
        self.follower: FeedFollower[int] | None = None

    def wait(self, delay: float) -> None:
        self.waits.append(delay)
        if len(self.waits) == self.limit and self.follower is not None:
            self.follower.stop()  # from its own thread: ends the loop, joins nothing
            self.done.set()


def test_the_wait_between_failed_attempts_grows_to_a_cap() -> None:
    script = Script(limit=8)

    def unreachable(_channel: grpc.Channel) -> Stream:
        return Stream([], fails=True)

    follower = script.follower = FeedFollower(
        "test-backoff", ADDRESS, unreachable, lambda _: None, wait=script.wait
    )
    follower.start()
    try:
        assert script.done.wait(5)
        assert script.waits == [*BACKOFF_S, BACKOFF_S[-1], BACKOFF_S[-1], BACKOFF_S[-1]]
    finally:
        follower.stop()


def test_a_stream_that_delivered_starts_the_backoff_again() -> None:
    script = Script(limit=6)
    opened: list[int] = []

    def flaky(_channel: grpc.Channel) -> Stream:
        opened.append(1)
        # three attempts fail at once, the fourth delivers an item before it breaks
        return Stream([len(opened)] if len(opened) == 4 else [], fails=True)

    follower = script.follower = FeedFollower(
        "test-backoff-again",
        ADDRESS,
        flaky,
        lambda _: None,
        backoff=(1.0, 2.0, 3.0),
        wait=script.wait,
    )
    follower.start()
    try:
        assert script.done.wait(5)
        assert script.waits == [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]
    finally:
        follower.stop()


def test_stop_cancels_the_open_stream_and_ends_the_thread() -> None:
    stream = Stream([1])
    opened = threading.Event()
    lost: list[bool] = []

    def open_stream(_channel: grpc.Channel) -> Stream:
        opened.set()
        return stream

    store = Store()
    follower = FeedFollower(
        "test-stop", ADDRESS, open_stream, store.take, lost=lambda: lost.append(True)
    )
    follower.start()
    assert opened.wait(5)
    assert store.reaches(1)  # the stream is open, and waits for more
    follower.stop()
    assert stream.cancelled.is_set()
    assert not running("test-stop")  # it did not wait out the stream
    assert lost == [True]


def test_a_stream_that_opens_as_it_stops_is_cancelled() -> None:
    stream = Stream([])
    follower: FeedFollower[int]

    def open_stream(_channel: grpc.Channel) -> Stream:
        follower.stop()  # no stream yet for stop() to cancel
        return stream

    follower = FeedFollower("test-stop-opening", ADDRESS, open_stream, lambda _: None)
    follower.start()
    assert stream.cancelled.wait(5), "the stream was kept"
    follower.stop()
    assert not running("test-stop-opening")


def test_given_a_local_channel_it_opens_every_stream_on_it() -> None:
    local = object()  # stands for the LocalChannel of a source built in this process
    source, store = Source(6, breaks_after=3), Store()
    channels: list[object] = []
    waits: list[float] = []

    def open_stream(channel: grpc.Channel) -> Stream:
        channels.append(channel)
        return source.open(store.cursor)

    follower = FeedFollower(
        "test-local",
        ADDRESS,
        open_stream,
        store.take,
        local=local,  # type: ignore[arg-type]
        wait=waits.append,
    )
    follower.start()
    try:
        assert store.reaches(6)
        assert store.taken == [1, 2, 3, 4, 5, 6]
        assert source.asked_after == [0, 3]  # it broke once, and resumed
        assert channels == [local, local]  # never over gRPC, before or after the break
    finally:
        follower.stop()
