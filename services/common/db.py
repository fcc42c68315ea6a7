"""A service's store on its engine: the change-feed outbox, its in-memory tail and watchers.

Every service store derives from `SqliteStore`, which holds the store's `Engine` (see
`engine.py`: transactions, statements, migrations, checkpoints) and builds the change feed on
it. Events are appended to the `outbox` table inside the caller's transaction, so a change and
its event commit together or not at all; watchers are woken after the outermost commit.

**The tail.** The store also keeps the newest committed events (`TAIL_EVENTS`) and the newest
sequence in memory, published by the engine's end-of-transaction hook (a rolled back
transaction publishes nothing). A live watcher reads from the tail and runs no SQL; a replay
from further back than the tail reads the `outbox` table. The service is its file's writer;
should another connection append events too (a test, a repair tool, another replica),
`refresh()` takes them in: a watch calls it when it opens and each time it has waited `POLL_S`
in vain, and a gap in the sequences empties the tail, so such events are never skipped, only
heard up to a poll later. Each event is then read once for every watcher instead of queried once
by each (a feed has three or four watchers). The tail has a lock of its own (taken after the
engine's, never before), so a watcher reading it does not wait for a writer's transaction.
"""

from __future__ import annotations

import bisect
import json
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from services.common.engine import Engine, Migrations, Schema, open_engine

WATCH_BATCH: Final = 500
TAIL_EVENTS: Final = 4096
"""Newest committed events kept in memory for live watchers."""


def now_rfc3339() -> str:
    """Return the current time in UTC as RFC 3339 with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    """One committed change-feed entry."""

    sequence: int
    """Position in this service's feed: strictly increasing from 1, never reused."""
    kind: str
    """`<entity>-<verb>` in kebab-case, such as `unit-added`."""
    model_uuid: str = ""
    """Model the event belongs to; empty for controller-wide events."""
    entity: str = ""
    """Name of the entity within its model."""
    attributes: Mapping[str, str] = field(default_factory=dict)
    """Extra facts about the change."""
    time: str = ""
    """Commit time, RFC 3339 UTC."""


def outbox_migration(db: Schema) -> None:
    """Create the outbox table; every service's first migration calls this."""
    db.execute(
        "CREATE TABLE outbox ("
        " sequence INTEGER PRIMARY KEY AUTOINCREMENT,"
        " kind TEXT NOT NULL, model_uuid TEXT NOT NULL DEFAULT '',"
        " entity TEXT NOT NULL DEFAULT '', attributes TEXT NOT NULL DEFAULT '{}',"
        " time TEXT NOT NULL)"
    )


_EVENTS_AFTER: Final = (
    "SELECT sequence, kind, model_uuid, entity, attributes, time FROM outbox"
    " WHERE sequence > ? ORDER BY sequence LIMIT ?"
)


class SqliteStore:
    """Base of the service stores: the engine, transactions, the outbox and watch support."""

    transaction: Callable[[], AbstractContextManager[None]]
    """Run a block in one transaction; wake watchers on commit.

    A nested block joins the outer transaction (no savepoint): an error that leaves any block
    rolls the whole transaction back.
    """
    read: Callable[[], AbstractContextManager[object]]
    """Hold off writers for a consistent multi-query read."""

    def __init__(self, where: Path | str | Engine, migrations: Migrations) -> None:
        """Open the store's database and apply pending migrations.

        Args:
            where: the store's file, `":memory:"` for a throw-away store, or an open engine
                (the store closes it).
            migrations: the service's migration set, applied in registration order.
        """
        self.engine: Final[Engine] = open_engine(where) if isinstance(where, str | Path) else where
        try:
            self.engine.migrate(migrations)
        except BaseException:
            self.engine.close()
            raise
        # Bound once: every write enters a transaction a few times.
        self.transaction = self.engine.transaction
        self.read = self.engine.read
        self._lock = threading.RLock()  # guards the tail, `_last` and `_closed`
        self._feed = threading.Condition(self._lock)
        self._pending: list[Event] = []  # appended in the open transaction
        self._tail: list[Event] = []  # newest committed events, oldest first
        self._closed = False
        self._last = self.last_sequence()

    def append_event(
        self,
        kind: str,
        *,
        model_uuid: str = "",
        entity: str = "",
        attributes: Mapping[str, str] | None = None,
    ) -> int:
        """Append a change-feed event inside the current transaction and return its sequence."""
        engine = self.engine
        if not self._pending:  # the transaction's first event (`on_end` raises outside one)
            engine.on_end(self._ended)
        facts = dict(attributes or {})
        at = now_rfc3339()
        sequence = engine.execute(
            "INSERT INTO outbox (kind, model_uuid, entity, attributes, time) VALUES (?,?,?,?,?)",
            (kind, model_uuid, entity, json.dumps(facts), at),
        ).lastrowid
        assert sequence is not None  # noqa: S101 - an INSERT always sets it
        self._pending.append(
            Event(
                sequence=sequence,
                kind=kind,
                model_uuid=model_uuid,
                entity=entity,
                attributes=facts,
                time=at,
            )
        )
        return sequence

    def _ended(self, committed: bool) -> None:
        """The transaction that appended events ended: on commit, they join the tail."""
        pending = self._pending
        if committed and pending:
            with self._lock:
                if pending[0].sequence != self._last + 1:
                    self._tail.clear()  # another connection wrote in between: do not skip it
                self._tail.extend(pending)
                self._last = pending[-1].sequence
                if len(self._tail) > 2 * TAIL_EVENTS:
                    del self._tail[:-TAIL_EVENTS]
                self._feed.notify_all()
        pending.clear()

    def last_sequence(self) -> int:
        """Return the sequence of the newest event in the file, or 0 when the feed is empty."""
        return int(self.engine.rows("SELECT COALESCE(MAX(sequence), 0) FROM outbox")[0][0])

    def recent_after(self, sequence: int, limit: int = WATCH_BATCH) -> list[Event]:
        """As `events_after`, for a live watcher: from the tail when it reaches back that far.

        Events another connection committed since the last `refresh()` are not seen yet.
        """
        with self._lock:
            tail = self._tail
            if sequence >= self._last or (tail and sequence >= tail[0].sequence - 1):
                start = bisect.bisect_right(tail, sequence, key=lambda e: e.sequence)
                return tail[start : start + limit]
        return self.events_after(sequence, limit)

    def events_after(self, sequence: int, limit: int = WATCH_BATCH) -> list[Event]:
        """Return up to `limit` events with a sequence greater than `sequence`, in order."""
        return [
            Event(
                sequence=seq,
                kind=kind,
                model_uuid=model_uuid,
                entity=entity,
                attributes=json.loads(attributes),
                time=at,
            )
            for seq, kind, model_uuid, entity, attributes, at in self.engine.rows(
                _EVENTS_AFTER, (sequence, limit)
            )
        ]

    def refresh(self) -> None:
        """Take in events another connection committed to the file (see the tail, above)."""
        engine = self.engine
        with engine.read():
            # Inside a transaction the outbox shows this one's own uncommitted events.
            if engine.in_transaction or self._closed:
                return
            newest = self.last_sequence()
            with self._lock:
                if newest > self._last:
                    self._last = newest
                    self._tail.clear()

    def wake(self) -> None:
        """Wake every watcher waiting for events (one of them may have been cancelled)."""
        with self._lock:
            self._feed.notify_all()

    def wait_for_events(self, after: int, timeout: float) -> bool:
        """Block until an event after `after` commits, `timeout` passes or the store closes.

        Returns:
            True when there are events after `after`.
        """
        with self._lock:
            if self._closed:
                return False
            if self._last > after:
                return True
            woken = self._feed.wait(timeout)
        if not woken:
            self.refresh()
        return not self._closed and self._last > after

    def close(self) -> None:
        """Wake every watcher, then close the engine."""
        with self._lock:
            self._closed = True
            self._feed.notify_all()
        self.engine.close()

    @property
    def closed(self) -> bool:
        """True once `close()` ran."""
        return self._closed
