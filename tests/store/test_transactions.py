"""What every store promises its use cases: one transaction per command, its events inside it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pytest

from services.access.domain import User
from services.common.events import EventStore
from services.placement.domain import Model
from services.relations.domain import KnownUnit
from tests.store.conftest import KINDS, Boom, Feed, open_access, open_placement, open_relations


class Store(EventStore, Feed, Protocol):
    """A store with its feed, whichever context it belongs to."""


@dataclass
class Subject:
    """A store, a way to write its n-th row, and how many rows it holds."""

    store: Store
    write: Callable[[int], None]
    rows: Callable[[], int]


def _access(kind: str, tmp_path: Path) -> Subject:
    store = open_access(kind, tmp_path)
    when = datetime(2024, 1, 1, tzinfo=UTC)
    return Subject(
        store=store,
        write=lambda n: store.add_user(User(name=f"user{n}", created_at=when), None),
        rows=store.count_users,
    )


def _placement(kind: str, tmp_path: Path) -> Subject:
    store = open_placement(kind, tmp_path)

    def write(n: int) -> None:
        store.add_model(
            Model(uuid=f"uuid-{n}", name=f"m{n}", owner="admin", pool_index=n + 1, created_at="")
        )

    return Subject(store=store, write=write, rows=lambda: len(store.models("", None, 1000)))


def _relations(kind: str, tmp_path: Path) -> Subject:
    store = open_relations(kind, tmp_path)
    return Subject(
        store=store,
        write=lambda n: store.put_unit(
            KnownUnit(model_uuid="m", name=f"app/{n}", application="app")
        ),
        rows=lambda: len(store.units_of("m", ["app"])),
    )


OPENERS = {"access": _access, "placement": _placement, "relations": _relations}


@pytest.fixture(params=[(c, k) for c in OPENERS for k in KINDS], ids="-".join)
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    context, kind = request.param
    made = OPENERS[context](kind, tmp_path)
    try:
        yield made
    finally:
        made.store.close()


def fail_after(store: EventStore, body: Callable[[], object]) -> None:
    """Run `body` in a transaction, then fail it."""
    with store.transaction():
        body()
        raise Boom


def test_an_empty_feed_starts_at_zero(subject: Subject) -> None:
    assert subject.store.last_sequence() == 0
    assert subject.store.events_after(0) == []


def test_events_get_increasing_sequences_from_one_and_keep_their_fields(
    subject: Subject,
) -> None:
    store = subject.store
    with store.transaction():
        first = store.append_event(
            "thing-added", model_uuid="m1", entity="a", attributes={"k": "1"}
        )
        second = store.append_event("thing-changed", entity="a")
    with store.transaction():
        third = store.append_event("thing-removed", model_uuid="m1", entity="a")

    assert (first, second, third) == (1, 2, 3)
    assert store.last_sequence() == 3
    events = store.events_after(0)
    assert [(e.sequence, e.kind, e.model_uuid, e.entity, dict(e.attributes)) for e in events] == [
        (1, "thing-added", "m1", "a", {"k": "1"}),
        (2, "thing-changed", "", "a", {}),
        (3, "thing-removed", "m1", "a", {}),
    ]
    assert all(datetime.fromisoformat(e.time).tzinfo is not None for e in events)
    assert [e.sequence for e in store.events_after(1)] == [2, 3]
    assert store.events_after(3) == []


def test_a_failed_transaction_leaves_no_rows_and_no_events(subject: Subject) -> None:
    store = subject.store
    with store.transaction():
        subject.write(0)
        store.append_event("thing-added", entity="0")

    def second() -> None:
        subject.write(1)
        store.append_event("thing-added", entity="1")

    with pytest.raises(Boom):
        fail_after(store, second)

    assert subject.rows() == 1
    assert store.last_sequence() == 1
    assert [e.entity for e in store.events_after(0)] == ["0"]
    with store.transaction():
        subject.write(1)
        assert store.append_event("thing-added", entity="1") == 2
    assert subject.rows() == 2


def test_a_nested_transaction_commits_or_rolls_back_with_the_outermost(
    subject: Subject,
) -> None:
    store = subject.store

    def inner() -> None:
        with store.transaction():
            subject.write(0)
            store.append_event("thing-added", entity="0")

    with pytest.raises(Boom):
        fail_after(store, inner)
    assert subject.rows() == 0
    assert store.last_sequence() == 0

    with store.transaction():
        with store.transaction():
            subject.write(0)
            store.append_event("thing-added", entity="0")
        subject.write(1)
    assert subject.rows() == 2
    assert store.last_sequence() == 1


def test_an_event_outside_a_transaction_is_refused(subject: Subject) -> None:
    with pytest.raises(RuntimeError):
        subject.store.append_event("thing-added")
    assert subject.store.last_sequence() == 0
