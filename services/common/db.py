"""A service's SQLite file: one connection, one lock, WAL, migrations and the change-feed outbox.

Every service store derives from `SqliteStore`. Handlers run on gRPC pool threads, so the store
keeps one connection (`check_same_thread=False`) and one re-entrant lock around every transaction
and read: a use case's transaction may call store methods that open their own (they join it).
Events are appended to the `outbox` table inside the caller's transaction, so a change and its
event commit together or not at all; watchers are woken after the outermost commit.

**The tail.** The store also keeps the newest committed events (`TAIL_EVENTS`) and the newest
sequence in memory, published at the outermost commit (a rolled back transaction publishes
nothing). A live watcher reads from the tail and runs no SQL; a replay from further back than
the tail reads the `outbox` table. The service is its file's writer; should another connection
append events too (a test, a repair tool), `refresh()` takes them in: a watch calls it when it
opens and each time it has waited `POLL_S` in vain, and a gap in the sequences empties the tail,
so such events are never skipped, only heard up to a poll later (as before the tail). Each
event is then read once for every watcher instead of queried once by each, which with three or
four watchers per feed was most of a write's cost (issue 8).

**Checkpoints.** SQLite copies the WAL back into the database file (a checkpoint, with an fsync)
in whichever commit crosses its threshold, so one write in a hundred or so paid several
milliseconds for it. A file store turns that off and checkpoints from its own thread and
connection instead (`PASSIVE`: it never blocks a writer), `CHECKPOINT_DELAY_S` after commits;
an idle store's thread sleeps. Durability is unchanged: a commit is in the WAL either way.
"""

from __future__ import annotations

import bisect
import json
import logging
import sqlite3
import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from sqlite_utils import Database
from sqlite_utils.db import Table
from sqlite_utils.migrations import Migrations

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S: Final = 5.0
WATCH_BATCH: Final = 500
TAIL_EVENTS: Final = 4096
"""Newest committed events kept in memory for live watchers."""
CHECKPOINT_DELAY_S: Final = 0.2
"""After a commit, how long the checkpointer lets more gather before it checkpoints."""


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


class Transaction:
    """The context manager `SqliteStore.transaction()` returns.

    A plain class, not a generator: every write enters it a few times (each store method opens
    one, and they nest).
    """

    __slots__ = ("_store",)

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def __enter__(self) -> None:
        store = self._store
        store._lock.acquire()
        store._depth += 1
        if store._depth == 1:
            try:
                store._db.conn.execute("BEGIN")
            except BaseException:
                store._depth -= 1
                store._lock.release()
                raise

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        store = self._store
        try:
            if store._depth == 1:
                if kind is not None:
                    store._pending.clear()  # rolled back: nothing to publish
                    store._db.rollback()  # a no-op if the error already ended the transaction
                    return
                try:
                    store._db.conn.execute("COMMIT")
                except BaseException:
                    store._pending.clear()
                    store._db.rollback()
                    raise
                if store._dirty is not None:
                    store._dirty.set()
                store._publish()
        finally:
            store._depth -= 1
            store._lock.release()


def outbox_migration(db: Database) -> None:
    """Create the outbox table; every service's first migration calls this."""
    db.execute(
        "CREATE TABLE outbox ("
        " sequence INTEGER PRIMARY KEY AUTOINCREMENT,"
        " kind TEXT NOT NULL, model_uuid TEXT NOT NULL DEFAULT '',"
        " entity TEXT NOT NULL DEFAULT '', attributes TEXT NOT NULL DEFAULT '{}',"
        " time TEXT NOT NULL)"
    )


class SqliteStore:
    """Base of the service stores: connection, lock, transactions, outbox and watch support."""

    def __init__(self, path: Path | str, migrations: Migrations) -> None:
        """Open (creating if needed) the SQLite file at `path` and apply pending migrations.

        Args:
            path: the store's file; `":memory:"` for a throw-away store.
            migrations: the service's migration set, applied in registration order.
        """
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=BUSY_TIMEOUT_S)
        self._db = Database(conn)
        self._dirty: threading.Event | None = None
        if str(path) != ":memory:":
            self._db.enable_wal()
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._depth = 0
        self._pending: list[Event] = []  # appended in the open transaction
        self._tail: list[Event] = []  # newest committed events, oldest first
        self._closed = False
        self._transaction = Transaction(self)
        with self._lock:
            migrations.apply(self._db)
            self._last = self.last_sequence()
        self._checkpointer: threading.Thread | None = None
        if self._dirty is not None:
            self._checkpointer = threading.Thread(
                target=self._checkpoint, args=(str(path),), name="sqlite-checkpoint", daemon=True
            )
            self._checkpointer.start()

    def _checkpoint(self, path: str) -> None:
        """The checkpointer's loop (see the module's notes)."""
        dirty = self._dirty
        assert dirty is not None  # noqa: S101 - started only for a file store
        conn = sqlite3.connect(path, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
        try:
            while True:
                dirty.wait()
                if self._stopping.wait(CHECKPOINT_DELAY_S):
                    return
                dirty.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as err:
                    log.warning("checkpointing %s: %s", path, err)
        finally:
            conn.close()

    @property
    def db(self) -> Database:
        """The sqlite-utils database; use only under `transaction()` or `read()`."""
        return self._db

    def table(self, name: str) -> Table:
        """Return a table by name (typed `Table`, unlike `db[name]`)."""
        return self._db.table(name)

    def transaction(self) -> Transaction:
        """Run a block in one transaction; wake watchers on commit.

        A nested block joins the outer transaction (no savepoint): an error that leaves any
        block rolls the whole transaction back. Nothing here catches an error inside a
        transaction and goes on, so a savepoint would only cost two statements per store call.
        """
        return self._transaction

    def _publish(self) -> None:
        """After the outermost commit: the transaction's events join the tail; wake watchers."""
        if not self._pending:
            return
        if self._pending[0].sequence != self._last + 1:
            self._tail.clear()  # another connection wrote in between: the tail must not skip it
        self._tail.extend(self._pending)
        self._last = self._pending[-1].sequence
        self._pending.clear()
        if len(self._tail) > 2 * TAIL_EVENTS:
            del self._tail[:-TAIL_EVENTS]
        self._changed.notify_all()

    def read(self) -> AbstractContextManager[object]:
        """Hold the lock for a consistent multi-query read."""
        return self._lock

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        """Run a query under the lock and return every row as a dict."""
        with self._lock:
            cursor = self._db.conn.execute(sql, params)
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def append_event(
        self,
        kind: str,
        *,
        model_uuid: str = "",
        entity: str = "",
        attributes: Mapping[str, str] | None = None,
    ) -> int:
        """Append a change-feed event inside the current transaction and return its sequence."""
        if self._depth == 0:
            raise RuntimeError("append_event must run inside transaction()")
        facts = dict(attributes or {})
        at = now_rfc3339()
        cursor = self._db.execute(
            "INSERT INTO outbox (kind, model_uuid, entity, attributes, time) VALUES (?,?,?,?,?)",
            (kind, model_uuid, entity, json.dumps(facts), at),
        )
        sequence = cursor.lastrowid
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

    def last_sequence(self) -> int:
        """Return the sequence of the newest event in the file, or 0 when the feed is empty."""
        rows = self.query("SELECT COALESCE(MAX(sequence), 0) AS s FROM outbox")
        return int(rows[0]["s"])

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
        rows = self.query(
            "SELECT * FROM outbox WHERE sequence > ? ORDER BY sequence LIMIT ?",
            (sequence, limit),
        )
        return [
            Event(
                sequence=r["sequence"],
                kind=r["kind"],
                model_uuid=r["model_uuid"],
                entity=r["entity"],
                attributes=json.loads(r["attributes"]),
                time=r["time"],
            )
            for r in rows
        ]

    def refresh(self) -> None:
        """Take in events another connection committed to the file (see the tail, above)."""
        with self._lock:
            if self._depth or self._closed:
                return
            newest = self.last_sequence()
            if newest > self._last:
                self._last = newest
                self._tail.clear()

    def wake(self) -> None:
        """Wake every watcher waiting for events (one of them may have been cancelled)."""
        with self._changed:
            self._changed.notify_all()

    def wait_for_events(self, after: int, timeout: float) -> bool:
        """Block until an event after `after` commits, `timeout` passes or the store closes.

        Returns:
            True when there are events after `after`.
        """
        with self._changed:
            if self._closed:
                return False
            if self._last > after:
                return True
            if not self._changed.wait(timeout):
                self.refresh()
            return not self._closed and self._last > after

    def close(self) -> None:
        """Wake every watcher, stop the checkpointer and close the connection.

        Closing the file's last connection checkpoints what is left of the WAL.
        """
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._stopping.set()
        if self._dirty is not None and self._checkpointer is not None:
            self._dirty.set()
            self._checkpointer.join(timeout=5)
        with self._changed:
            self._db.close()

    @property
    def closed(self) -> bool:
        """True once `close()` ran."""
        return self._closed
