"""The one way a store reaches its database: the `Engine` interface and the SQLite engine.

A store sees transactions (nested blocks join the outermost), statements with `?` parameters,
rows back as dicts or as plain tuples (the cheap path for large reads), hooks run when a
transaction ends, its migrations, and `Conflict` when a statement breaks a constraint, typed by
the kind of constraint so the store can turn it into its own error without reading SQLite's
message. `SqliteEngine` is the engine today; an engine that replicates the file (litestream) or
the transactions (a Raft-replicated SQLite) implements the same interface and no store changes.
`open_engine` is where such a choice goes.

The change feed (outbox table, in-memory tail, watchers) is built on this interface in `db.py`,
not in each engine: its events are rows written in the caller's transaction and published by an
end-of-transaction hook, so every engine gets the same feed.

**SQLite.** Handlers run on gRPC pool threads, so the engine keeps one connection
(`check_same_thread=False`) and one re-entrant lock around every transaction and read. A
statement in a transaction takes no lock of its own: the transaction holds it, and the engine
knows which thread's it is (another thread's statement waits and runs in a transaction of its
own). A file is in WAL mode with `synchronous=NORMAL`. Migrations are sqlite-utils' (recorded in
`_sqlite_migrations`); a migration sees only `Schema`.

**Checkpoints.** SQLite copies the WAL back into the database file (a checkpoint, with an fsync)
in whichever commit crosses its threshold, so one write in a hundred or so would pay several
milliseconds for it. A file engine turns that off and checkpoints from its own thread and
connection instead (`PASSIVE`: it never blocks a writer), `CHECKPOINT_DELAY_S` after commits;
an idle engine's thread sleeps. Durability is unchanged: a commit is in the WAL either way.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from enum import StrEnum
from pathlib import Path
from threading import get_ident
from types import TracebackType
from typing import Any, Final, Protocol, TypeAlias, TypeVar

from sqlite_utils import Database
from sqlite_utils import migrations as sqlite_migrations

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S: Final = 5.0
CHECKPOINT_DELAY_S: Final = 0.2
"""After a commit, how long the checkpointer lets more gather before it checkpoints."""

Params: TypeAlias = Sequence[Any]
"""Values for a statement's `?` placeholders, in order."""


class Constraint(StrEnum):
    """The kind of constraint a statement broke."""

    PRIMARY_KEY = "primary key"
    UNIQUE = "unique"
    FOREIGN_KEY = "foreign key"
    CHECK = "check"
    NOT_NULL = "not null"
    OTHER = "other"


class Conflict(Exception):
    """A statement broke a constraint; nothing it would have written was written.

    The transaction stays open: the store translates the conflict into its own error (which
    then rolls the transaction back) or lets it go on as a bug. A table with one unique key
    besides its primary key needs no more than `constraint` to tell them apart; a table with
    several asks itself, in the same transaction, which key is taken.
    """

    def __init__(self, constraint: Constraint) -> None:
        super().__init__(f"{constraint} constraint failed")
        self.constraint: Final = constraint


class Changes(Protocol):
    """What a statement changed."""

    @property
    def rowcount(self) -> int:
        """Rows inserted, updated or deleted (-1 for other statements)."""
        ...

    @property
    def lastrowid(self) -> int | None:
        """The rowid of the row an INSERT made."""
        ...


class Schema(Protocol):
    """What a migration may do: run statements."""

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> object:
        """Run one statement."""
        ...

    def executescript(self, sql: str) -> object:
        """Run several statements separated by `;`."""
        ...


Migration: TypeAlias = Callable[[Schema], None]
M = TypeVar("M", bound=Migration)


class Migrations:
    """A store's schema changes: applied in registration order, each once per database.

    Register with `@migrations(name="001_initial")`; the set's name and each migration's name
    are what a database records, so neither may change once released.
    """

    def __init__(self, name: str) -> None:
        self.name: Final = name
        self.steps: Final[list[tuple[str, Migration]]] = []

    def __call__(self, *, name: str) -> Callable[[M], M]:
        """Register the decorated function as the migration `name`."""

        def register(fn: M) -> M:
            if any(known == name for known, _ in self.steps):
                raise ValueError(f"migration {name!r} is already registered in {self.name!r}")
            self.steps.append((name, fn))
            return fn

        return register


class Engine(Protocol):
    """A store's database: transactions, statements, migrations, checkpoints."""

    def transaction(self) -> AbstractContextManager[None]:
        """Run a block in one transaction; a nested block joins the outermost one.

        An error that leaves any block rolls the whole transaction back.
        """
        ...

    def read(self) -> AbstractContextManager[object]:
        """Hold off writers for a consistent multi-query read."""
        ...

    @property
    def in_transaction(self) -> bool:
        """True when the calling thread is inside `transaction()`."""
        ...

    def on_end(self, callback: Callable[[bool], None]) -> None:
        """Call `callback(committed)` once the current transaction has ended.

        Callbacks run in order, before another transaction can start.

        Raises:
            RuntimeError: no transaction is open.
        """
        ...

    def execute(self, sql: str, params: Params = ()) -> Changes:
        """Run one statement in the calling thread's transaction (outside one: in its own).

        Raises:
            Conflict: the statement broke a constraint.
        """
        ...

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """Run a query; return every row as a dict by column name.

        Raises:
            Conflict: the statement (an INSERT ... RETURNING) broke a constraint.
        """
        ...

    def rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Run a query; return every row as a plain tuple, for reads of many rows.

        Raises:
            Conflict: the statement (an INSERT ... RETURNING) broke a constraint.
        """
        ...

    def migrate(self, migrations: Migrations, *, stop_before: str | None = None) -> None:
        """Apply the migrations not applied yet, in order; stop before `stop_before` if given."""
        ...

    def checkpoint(self) -> None:
        """Copy committed changes from the log into the database file, blocking no writer."""
        ...

    def trace(self, callback: Callable[[str], None] | None) -> None:
        """Call `callback` with the text of every statement run from now on (None: stop)."""
        ...

    def close(self) -> None:
        """Close the database; the engine is unusable afterwards."""
        ...


def open_engine(where: Path | str) -> Engine:
    """Open the engine of a store's database: a file path, or `":memory:"` for a throw-away one."""
    return SqliteEngine(where)


_CONSTRAINTS: Final = {
    sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY: Constraint.PRIMARY_KEY,
    sqlite3.SQLITE_CONSTRAINT_ROWID: Constraint.PRIMARY_KEY,
    sqlite3.SQLITE_CONSTRAINT_UNIQUE: Constraint.UNIQUE,
    sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY: Constraint.FOREIGN_KEY,
    sqlite3.SQLITE_CONSTRAINT_CHECK: Constraint.CHECK,
    sqlite3.SQLITE_CONSTRAINT_NOTNULL: Constraint.NOT_NULL,
}


def _conflict(err: sqlite3.IntegrityError) -> Conflict:
    """The typed form of an IntegrityError, from its extended result code."""
    return Conflict(_CONSTRAINTS.get(err.sqlite_errorcode, Constraint.OTHER))


class _Transaction:
    """The context manager `SqliteEngine.transaction()` returns.

    A plain class, not a generator: every write enters it a few times (each store method opens
    one, and they nest). Nested blocks join the outermost transaction without a savepoint:
    nothing catches an error inside a transaction and goes on, so a savepoint would only cost two
    statements per store call.
    """

    __slots__ = ("_engine",)

    def __init__(self, engine: SqliteEngine) -> None:
        self._engine = engine

    def __enter__(self) -> None:
        engine = self._engine
        engine._lock.acquire()
        engine._depth += 1
        if engine._depth == 1:
            engine._owner = get_ident()
            try:
                engine._conn.execute("BEGIN")
            except BaseException:
                engine._depth -= 1
                engine._lock.release()
                raise

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        engine = self._engine
        try:
            if engine._depth == 1:
                committed = False
                try:
                    if kind is None:
                        try:
                            engine._conn.execute("COMMIT")
                        except BaseException:
                            engine._conn.rollback()
                            raise
                        committed = True
                        if engine._dirty is not None:
                            engine._dirty.set()
                    else:
                        engine._conn.rollback()  # a no-op if the error already ended it
                finally:
                    if callbacks := engine._ending:
                        engine._ending = []
                        for callback in callbacks:
                            callback(committed)
        finally:
            engine._depth -= 1
            engine._lock.release()


class SqliteEngine:
    """One SQLite database: a file (WAL, its own checkpointer) or `":memory:"`."""

    def __init__(self, where: Path | str) -> None:
        """Open, creating if needed, the SQLite file at `where` (`":memory:"`: throw-away)."""
        path = str(where)
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
        self._utils = Database(self._conn)  # for migrations and the journal mode only
        self._dirty: threading.Event | None = None
        self._checkpoints: sqlite3.Connection | None = None
        if path != ":memory:":
            self._utils.enable_wal()
            self._conn.execute("PRAGMA wal_autocheckpoint=0")
            self._dirty = threading.Event()
            self._checkpoints = sqlite3.connect(
                path, check_same_thread=False, timeout=BUSY_TIMEOUT_S
            )
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._lock = threading.RLock()
        self._checkpoint_lock = threading.Lock()
        self._stopping = threading.Event()
        self._depth = 0
        self._owner = 0  # the thread in the open transaction, if any
        self._ending: list[Callable[[bool], None]] = []
        self._transaction = _Transaction(self)
        self._path = path
        self._checkpointer: threading.Thread | None = None
        if self._dirty is not None:
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, name="sqlite-checkpoint", daemon=True
            )
            self._checkpointer.start()

    def transaction(self) -> _Transaction:
        """See `Engine.transaction`."""
        return self._transaction

    def read(self) -> AbstractContextManager[object]:
        """See `Engine.read`."""
        return self._lock

    @property
    def in_transaction(self) -> bool:
        """See `Engine.in_transaction`."""
        return self._depth > 0 and self._owner == get_ident()

    def on_end(self, callback: Callable[[bool], None]) -> None:
        """See `Engine.on_end`."""
        if not (self._depth and self._owner == get_ident()):
            raise RuntimeError("on_end must run inside transaction()")
        self._ending.append(callback)

    def execute(self, sql: str, params: Params = ()) -> Changes:
        """See `Engine.execute`."""
        if self._depth and self._owner == get_ident():  # this thread's transaction
            try:
                return self._conn.execute(sql, params)
            except sqlite3.IntegrityError as err:
                raise _conflict(err) from err
        with self._transaction:
            return self.execute(sql, params)

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """See `Engine.query`."""
        with self._lock:
            try:
                cursor = self._conn.execute(sql, params)
            except sqlite3.IntegrityError as err:
                raise _conflict(err) from err
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """See `Engine.rows`."""
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.IntegrityError as err:
                raise _conflict(err) from err

    def migrate(self, migrations: Migrations, *, stop_before: str | None = None) -> None:
        """See `Engine.migrate`: sqlite-utils migrations, recorded in `_sqlite_migrations`."""
        applied = sqlite_migrations.Migrations(migrations.name)
        for name, fn in migrations.steps:
            applied(name=name)(fn)
        with self._lock:
            if self._depth:
                raise RuntimeError("migrate must run outside transaction()")
            applied.apply(self._utils, stop_before=stop_before)

    def checkpoint(self) -> None:
        """See `Engine.checkpoint`: a PASSIVE checkpoint on the checkpointer's connection.

        A failure is logged, not raised: the log still holds every commit.
        """
        if self._checkpoints is None:
            return  # in memory: no log to copy
        with self._checkpoint_lock:
            try:
                self._checkpoints.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as err:
                log.warning("checkpointing %s: %s", self._path, err)

    def _checkpoint_loop(self) -> None:
        """The checkpointer's loop (see the module's notes)."""
        dirty = self._dirty
        assert dirty is not None  # noqa: S101 - started only for a file
        while True:
            dirty.wait()
            if self._stopping.wait(CHECKPOINT_DELAY_S):
                return
            dirty.clear()
            self.checkpoint()

    def trace(self, callback: Callable[[str], None] | None) -> None:
        """See `Engine.trace`."""
        with self._lock:
            self._conn.set_trace_callback(callback)

    def close(self) -> None:
        """Stop the checkpointer and close the connections.

        Closing the file's last connection checkpoints what is left of the WAL.
        """
        self._stopping.set()
        if self._dirty is not None and self._checkpointer is not None:
            self._dirty.set()
            self._checkpointer.join(timeout=5)
        if self._checkpoints is not None:
            with self._checkpoint_lock:
                self._checkpoints.close()
        with self._lock:
            self._conn.close()
