"""Shared plumbing: the store base, its outbox and the config loader."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from kernel import errors
from services.common import config
from services.common.db import SqliteStore, outbox_migration
from services.common.engine import Migrations, Schema

migrations = Migrations("cmr.test")


@migrations(name="001_outbox")
def _outbox(db: Schema) -> None:
    outbox_migration(db)


def _fail_after_event(store: SqliteStore) -> None:
    with store.transaction():
        store.append_event("thing-added", entity="b")
        _ = 1 / 0


def test_events_commit_with_their_transaction_and_roll_back_with_it(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db", migrations)
    try:
        with store.transaction():
            first = store.append_event("thing-added", entity="a")
        with pytest.raises(ZeroDivisionError):
            _fail_after_event(store)
        with store.transaction():
            second = store.append_event("thing-added", entity="c")
        assert [e.entity for e in store.events_after(0)] == ["a", "c"]
        assert second > first
        assert store.last_sequence() == second
    finally:
        store.close()


def test_live_watchers_read_committed_events_from_memory_without_sql(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db", migrations)
    statements: list[str] = []
    try:
        with store.transaction():
            first = store.append_event("thing-added", entity="a")
            store.append_event("thing-added", entity="b")
            # not committed yet: a watcher hears nothing
            assert store.recent_after(0) == []
        with pytest.raises(ZeroDivisionError):
            _fail_after_event(store)
        store.engine.trace(statements.append)
        recent = store.recent_after(0)
        assert [e.entity for e in store.recent_after(first)] == ["b"]
        assert store.recent_after(first, limit=0) == []
        assert statements == []
        store.engine.trace(None)
        # the same events, attributes and times as the outbox table holds
        assert recent == store.events_after(0)
    finally:
        store.close()


def test_events_another_connection_commits_are_never_skipped(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db", migrations)
    other = SqliteStore(tmp_path / "t.db", migrations)
    try:
        with store.transaction():
            store.append_event("thing-added", entity="a")
        with other.transaction():
            store_b = other.append_event("thing-added", entity="b")
        # unseen until a refresh (a watch refreshes when it opens and on every idle poll)
        assert [e.entity for e in store.recent_after(0)] == ["a"]
        assert store.wait_for_events(store_b - 1, 0.01)
        assert [e.entity for e in store.recent_after(0)] == ["a", "b"]
        with other.transaction():
            other.append_event("thing-added", entity="c")
        with store.transaction():
            store.append_event("thing-added", entity="d")
        # d follows a gap (c was written elsewhere): the tail starts again at d, so a watcher
        # behind it reads the table and hears c
        assert [e.entity for e in store.recent_after(store_b)] == ["c", "d"]
    finally:
        other.close()
        store.close()


def test_commits_leave_checkpoints_to_the_stores_own_thread(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db", migrations)
    try:
        assert store.engine.query("PRAGMA wal_autocheckpoint")[0]["wal_autocheckpoint"] == 0
        for n in range(50):
            with store.transaction():
                store.append_event("thing-added", entity=str(n))
        # the database file alone (a copy, without its WAL) holds them once checkpointed
        for attempt in range(100):  # bounded: the checkpointer runs 0.2 s after the commits
            shutil.copyfile(tmp_path / "t.db", tmp_path / f"copy{attempt}.db")
            copy = sqlite3.connect(tmp_path / f"copy{attempt}.db")
            try:
                (count,) = copy.execute("SELECT COUNT(*) FROM outbox").fetchone()
            except sqlite3.OperationalError:  # not even the table is in the file yet
                count = 0
            finally:
                copy.close()
            if count == 50:
                break
            time.sleep(0.05)
        assert count == 50
    finally:
        store.close()


def test_append_event_outside_a_transaction_is_a_bug(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db", migrations)
    try:
        with pytest.raises(RuntimeError):
            store.append_event("thing-added")
    finally:
        store.close()


def test_config_layers_file_env_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("ports: {placement: 1000}\naddresses: {offers: 'offers:17073'}\n")
    cfg = config.load(path, env={"CMR_ACCESS_PORT": "2000"}, ports={"gateway": 0})
    assert cfg.ports["placement"] == 1000
    assert cfg.ports["access"] == 2000
    assert cfg.ports["gateway"] == 0
    assert cfg.address_of("offers") == "offers:17073"
    assert cfg.address_of("access") == "127.0.0.1:2000"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ports: {nope: 1}", "unknown service 'nope'"),
        ("ports: {placement: 70000}", "out of range"),
        ("colour: blue", "unknown keys"),
        ("- a list", "must hold a mapping"),
    ],
)
def test_config_rejects_bad_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(errors.Invalid, match=message):
        config.load(path, env={})
