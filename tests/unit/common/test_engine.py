"""The engine contract every store relies on, and the change feed built on it."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from services.common.db import SqliteStore, outbox_migration
from services.common.engine import (
    Conflict,
    Constraint,
    Engine,
    Migrations,
    Schema,
    SqliteEngine,
    open_engine,
)

migrations = Migrations("cmr.engine-test")


@migrations(name="001_things")
def _things(db: Schema) -> None:
    outbox_migration(db)
    db.execute(
        "CREATE TABLE things ("
        " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
        " size INTEGER NOT NULL DEFAULT 1 CHECK (size > 0),"
        " parent INTEGER REFERENCES things(id))"
    )


@migrations(name="002_colour")
def _colour(db: Schema) -> None:
    db.execute("ALTER TABLE things ADD COLUMN colour TEXT NOT NULL DEFAULT ''")


@pytest.fixture(params=["file", "memory"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    opened = open_engine(tmp_path / "e.db" if request.param == "file" else ":memory:")
    try:
        opened.migrate(migrations)
        yield opened
    finally:
        opened.close()


def _names(engine: Engine) -> list[str]:
    return [name for (name,) in engine.rows("SELECT name FROM things ORDER BY id")]


class Boom(Exception):
    pass


def test_nested_blocks_join_the_outermost_transaction(tmp_path: Path) -> None:
    engine = SqliteEngine(tmp_path / "e.db")
    other = SqliteEngine(tmp_path / "e.db")
    try:
        engine.migrate(migrations)
        with engine.transaction():
            engine.execute("INSERT INTO things (name) VALUES (?)", ("a",))
            with engine.transaction():
                engine.execute("INSERT INTO things (name) VALUES (?)", ("b",))
            assert _names(other) == []  # the inner block committed nothing
        assert _names(other) == ["a", "b"]
    finally:
        other.close()
        engine.close()


def _insert_two_then_fail(engine: Engine) -> None:
    with engine.transaction():
        engine.execute("INSERT INTO things (name) VALUES (?)", ("a",))
        with engine.transaction():
            engine.execute("INSERT INTO things (name) VALUES (?)", ("b",))
            raise Boom


def test_an_error_in_a_nested_block_rolls_back_the_whole_transaction(engine: Engine) -> None:
    with pytest.raises(Boom):
        _insert_two_then_fail(engine)
    assert _names(engine) == []
    assert not engine.in_transaction


def test_a_statement_outside_a_transaction_commits_on_its_own(tmp_path: Path) -> None:
    engine = SqliteEngine(tmp_path / "e.db")
    other = SqliteEngine(tmp_path / "e.db")
    try:
        engine.migrate(migrations)
        assert engine.execute("INSERT INTO things (name) VALUES (?)", ("a",)).rowcount == 1
        assert not engine.in_transaction
        assert _names(other) == ["a"]
    finally:
        other.close()
        engine.close()


def test_statements_take_parameters_and_rows_come_as_dicts_or_tuples(engine: Engine) -> None:
    with engine.transaction():
        first = engine.execute("INSERT INTO things (name, size) VALUES (?, ?)", ("a", 3))
        engine.execute("INSERT INTO things (name, size) VALUES (?, ?)", ["b", 5])
        changed = engine.execute("UPDATE things SET colour = ? WHERE size > ?", ("red", 1))
    assert first.lastrowid == 1
    assert changed.rowcount == 2
    assert engine.query("SELECT name, size FROM things WHERE size > ? ORDER BY id", (4,)) == [
        {"name": "b", "size": 5}
    ]
    assert engine.rows("SELECT name, colour FROM things ORDER BY id") == [
        ("a", "red"),
        ("b", "red"),
    ]
    assert engine.query("SELECT name FROM things WHERE name = ?", ("c",)) == []


@pytest.mark.parametrize(
    ("sql", "params", "constraint"),
    [
        ("INSERT INTO things (id, name) VALUES (?, ?)", (1, "other"), Constraint.PRIMARY_KEY),
        ("INSERT INTO things (name) VALUES (?)", ("a",), Constraint.UNIQUE),
        ("INSERT INTO things (name, parent) VALUES (?, ?)", ("b", 99), Constraint.FOREIGN_KEY),
        ("INSERT INTO things (name, size) VALUES (?, ?)", ("b", 0), Constraint.CHECK),
        ("INSERT INTO things (name) VALUES (?)", (None,), Constraint.NOT_NULL),
    ],
)
def test_a_broken_constraint_is_a_typed_conflict_that_writes_nothing(
    engine: Engine, sql: str, params: tuple[object, ...], constraint: Constraint
) -> None:
    engine.execute("INSERT INTO things (id, name) VALUES (1, 'a')")
    with engine.transaction():
        with pytest.raises(Conflict) as caught:
            engine.execute(sql, params)
        assert caught.value.constraint is constraint
        # the transaction goes on: a store may ask which key was taken before it raises
        assert _names(engine) == ["a"]
    assert _names(engine) == ["a"]


def test_a_conflict_in_a_returning_query_is_typed_too(engine: Engine) -> None:
    engine.execute("INSERT INTO things (name) VALUES ('a')")
    with pytest.raises(Conflict) as caught, engine.transaction():
        engine.query("INSERT INTO things (name) VALUES (?) RETURNING id", ("a",))
    assert caught.value.constraint is Constraint.UNIQUE


def _fail_after(engine: Engine, step: Callable[[], object]) -> None:
    with engine.transaction():
        step()
        raise Boom


def test_end_hooks_run_once_when_the_outermost_transaction_ends(engine: Engine) -> None:
    ended: list[tuple[str, bool]] = []
    with engine.transaction():
        engine.on_end(lambda committed: ended.append(("first", committed)))
        with engine.transaction():
            engine.on_end(lambda committed: ended.append(("second", committed)))
        assert ended == []
    assert ended == [("first", True), ("second", True)]
    ended.clear()
    with pytest.raises(Boom):
        _fail_after(engine, lambda: engine.on_end(lambda ok: ended.append(("third", ok))))
    assert ended == [("third", False)]
    with engine.transaction():
        pass
    assert ended == [("third", False)]  # hooks belong to one transaction


def test_end_hooks_need_a_transaction(engine: Engine) -> None:
    with pytest.raises(RuntimeError):
        engine.on_end(lambda committed: None)


def test_another_threads_transaction_is_not_this_threads(engine: Engine) -> None:
    seen: list[bool] = []
    with engine.transaction():
        worker = threading.Thread(target=lambda: seen.append(engine.in_transaction))
        worker.start()
        worker.join(timeout=5)
        assert engine.in_transaction
    assert seen == [False]


def test_migrations_apply_once_in_order_and_can_stop_before_one(tmp_path: Path) -> None:
    engine = SqliteEngine(tmp_path / "e.db")
    try:
        engine.migrate(migrations, stop_before="002_colour")
        assert "colour" not in {r["name"] for r in engine.query("PRAGMA table_info(things)")}
        engine.migrate(migrations)
        engine.migrate(migrations)  # nothing left to apply
        assert "colour" in {r["name"] for r in engine.query("PRAGMA table_info(things)")}
        recorded = engine.rows(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid",
            (migrations.name,),
        )
        assert recorded == [("001_things",), ("002_colour",)]
    finally:
        engine.close()


def test_a_migration_name_is_registered_once() -> None:
    again = Migrations("cmr.engine-test")
    again(name="001")(_things)
    with pytest.raises(ValueError, match="already registered"):
        again(name="001")(_colour)


def test_checkpoint_copies_commits_into_the_database_file(tmp_path: Path) -> None:
    engine = SqliteEngine(tmp_path / "e.db")
    try:
        engine.migrate(migrations)
        with engine.transaction():
            engine.execute("INSERT INTO things (name) VALUES ('a')")
        engine.checkpoint()
        # the file alone, without its WAL, holds the row
        shutil.copyfile(tmp_path / "e.db", tmp_path / "copy.db")
        with closing(sqlite3.connect(tmp_path / "copy.db")) as copy:
            assert copy.execute("SELECT name FROM things").fetchall() == [("a",)]
    finally:
        engine.close()


def test_trace_reports_each_statement_until_turned_off(engine: Engine) -> None:
    statements: list[str] = []
    engine.trace(statements.append)
    engine.rows("SELECT name FROM things WHERE id = ?", (1,))
    engine.trace(None)
    engine.rows("SELECT 1")
    assert statements == ["SELECT name FROM things WHERE id = 1"]


# -- the change feed on the engine ---------------------------------------------------------


@pytest.fixture
def store(engine: Engine) -> SqliteStore:
    return SqliteStore(engine, migrations)


def test_appended_events_are_published_only_when_the_transaction_commits(
    store: SqliteStore,
) -> None:
    with store.transaction():
        first = store.append_event("thing-added", entity="a")
        with store.transaction():
            store.append_event("thing-added", entity="b", attributes={"size": "2"})
        assert store.recent_after(0) == []  # not committed yet
        assert not store.wait_for_events(0, 0)
    assert store.wait_for_events(0, 0)
    assert [(e.entity, dict(e.attributes)) for e in store.recent_after(0)] == [
        ("a", {}),
        ("b", {"size": "2"}),
    ]
    with pytest.raises(Boom):
        _fail_after(store.engine, lambda: store.append_event("thing-added", entity="c"))
    assert [e.entity for e in store.recent_after(first)] == ["b"]
    assert store.recent_after(0) == store.events_after(0)
    assert store.last_sequence() == first + 1


def _add_thing_with_event(store: SqliteStore, name: str) -> None:
    with store.transaction():
        store.append_event("thing-added", entity=name)
        store.engine.execute("INSERT INTO things (name) VALUES (?)", (name,))


def test_an_event_and_the_change_it_describes_commit_together(store: SqliteStore) -> None:
    engine = store.engine
    engine.execute("INSERT INTO things (name) VALUES ('a')")
    with pytest.raises(Conflict):
        _add_thing_with_event(store, "a")
    assert store.events_after(0) == []
    assert store.recent_after(0) == []


def test_append_event_needs_a_transaction(store: SqliteStore) -> None:
    with pytest.raises(RuntimeError):
        store.append_event("thing-added")
