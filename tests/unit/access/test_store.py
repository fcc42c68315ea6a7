"""The SQLite access store: what lands on disk, bootstrap from the password file, restarts."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from kernel import errors
from services.access import domain
from services.access.server import open_store, read_bootstrap_password
from services.access.store import SqliteAccess
from services.common import config
from services.common.engine import Migrations, SqliteEngine


def _cfg(
    tmp_path: Path,
    password: str | None = "s3cret\n",  # noqa: S107 - a test password
    name: str = "ctrl1",
) -> config.Config:
    path = None
    if password is not None:
        path = tmp_path / "admin-password"
        path.write_text(password)
    return config.Config(
        data_dir=tmp_path / "data", controller_name=name, bootstrap_password_file=path
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteAccess]:
    opened = open_store(_cfg(tmp_path))
    try:
        yield opened
    finally:
        opened.close()


def _all_cells(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [
            str(cell)
            for table in tables
            for row in conn.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - our own names
            for cell in row
        ]


def test_only_token_digests_and_password_hashes_reach_the_file(
    store: SqliteAccess, tmp_path: Path
) -> None:
    done = domain.login(store, "admin", "s3cret")
    db = _cfg(tmp_path).db_path("access")
    cells = _all_cells(db)
    assert domain.token_digest(done.token) in cells
    assert not [c for c in cells if done.token in c]
    assert not [c for c in cells if "s3cret" in c]
    assert domain.authenticate(store, done.token).user.name == "admin"


def test_bootstrap_from_the_file_creates_admin_once(tmp_path: Path) -> None:
    first = open_store(_cfg(tmp_path))
    try:
        info = domain.controller_info(first)
        assert [e.kind for e in first.events_after(0)] == ["user-added"]
    finally:
        first.close()
    (tmp_path / "admin-password").write_text("changed\n")
    again = open_store(_cfg(tmp_path, password="changed\n", name="other"))
    try:
        assert domain.controller_info(again) == info
        assert info.name == "ctrl1"
        assert uuid.UUID(info.uuid).version == 4
        assert [e.kind for e in again.events_after(0)] == ["user-added"]
        domain.login(again, "admin", "s3cret")
        with pytest.raises(errors.Unauthenticated):
            domain.login(again, "admin", "changed")
    finally:
        again.close()


def test_the_password_files_trailing_newline_is_not_part_of_the_password(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text(" two words \n")
    assert read_bootstrap_password(path) == " two words "
    assert read_bootstrap_password(tmp_path / "missing") is None
    assert read_bootstrap_password(None) is None


@pytest.mark.parametrize("content", ["", "\n"])
def test_an_empty_password_file_refuses_to_start(tmp_path: Path, content: str) -> None:
    with pytest.raises(errors.Invalid, match="bootstrap password file is empty"):
        open_store(_cfg(tmp_path, password=content))
    # Nothing half-done: a later start with a good password bootstraps normally.
    (tmp_path / "admin-password").write_text("s3cret\n")
    store = open_store(_cfg(tmp_path))
    try:
        assert domain.get_user(store, "admin").superuser
    finally:
        store.close()


def test_without_a_password_file_there_is_no_admin(tmp_path: Path) -> None:
    store = open_store(_cfg(tmp_path, password=None))
    try:
        assert store.count_users() == 0
        assert store.last_sequence() == 0
    finally:
        store.close()


def test_user_names_are_unique_regardless_of_case(store: SqliteAccess) -> None:
    user = domain.User(name="Admin", created_at=domain.utc_now())
    with pytest.raises(errors.AlreadyExists, match='user "Admin" already exists'):
        store.add_user(user, None)
    assert store.get_user("ADMIN") is not None


def test_the_controller_identity_is_recorded_once(store: SqliteAccess) -> None:
    first = store.controller_info()
    assert first is not None
    with pytest.raises(errors.AlreadyExists):
        store.set_controller_info(domain.ControllerInfo(name="other", uuid=str(uuid.uuid4())))
    assert store.controller_info() == first


def test_expired_sessions_are_deleted(store: SqliteAccess) -> None:
    start = domain.utc_now()
    done = domain.login(store, "admin", "s3cret", now=lambda: start)
    assert store.delete_sessions_expired_at(start) == 0
    assert store.delete_sessions_expired_at(start + domain.SESSION_TTL) == 1
    assert store.get_session(domain.token_digest(done.token)) is None


def test_deleting_a_session_returns_its_user(store: SqliteAccess) -> None:
    done = domain.login(store, "admin", "s3cret")
    digest = domain.token_digest(done.token)
    with store.transaction():
        assert store.delete_session(digest) == "admin"
        assert store.delete_session(digest) is None


def test_migration_002_moves_superuser_into_controller_permissions(tmp_path: Path) -> None:
    from services.access import store as store_module

    path = tmp_path / "old.db"
    only_001 = Migrations("cmr.access")
    only_001(name="001_controller_users_sessions")(store_module._001)
    old = SqliteEngine(path)
    try:
        old.migrate(only_001)
        with old.transaction():
            for name, superuser in (("admin", 1), ("bob", 0)):
                old.execute(
                    "INSERT INTO users (name, superuser, created_at) VALUES (?, ?, ?)",
                    (name, superuser, "2025-01-01T00:00:00.000000Z"),
                )
    finally:
        old.close()
    upgraded = SqliteAccess(path)
    try:
        assert domain.get_user(upgraded, "admin").superuser
        assert not domain.get_user(upgraded, "bob").superuser
        held = domain.list_access(upgraded, domain.CONTROLLER)
        assert [(p.user, p.level) for p in held] == [("admin", "superuser"), ("bob", "login")]
    finally:
        upgraded.close()


def test_registration_secrets_reach_the_file_only_as_digests(
    store: SqliteAccess, tmp_path: Path
) -> None:
    added = domain.add_user(store, "admin", "bob")
    cells = _all_cells(_cfg(tmp_path).db_path("access"))
    assert domain.token_digest(added.secret) in cells
    assert not [c for c in cells if added.secret in c]
