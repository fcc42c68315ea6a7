"""The access context's SQLite file: controller identity, users, sessions, and their migrations.

Schema (version 001):

- `controller`: one row (`id` = 1): name, uuid, created_at. Written once, at the first start.
- `users`: name (primary key, case-insensitive, as Juju keys users by the lower-cased name),
  display_name, superuser, enabled, password_hash (the `scrypt$...` string; NULL for a user added
  but not yet registered), created_by (NULL for the bootstrap admin), created_at.
- `sessions`: token_digest (SHA-256 hex of the token; the token itself is never stored), user,
  created_at, expires_at. Deleting a user deletes its sessions.

Room left for the user-management issue: `registrations` (the one-time secret printed by
`add-user`, keyed by user) and `permissions` (user, target kind `controller|model|offer`, target,
access level, unique per user and target) arrive as later numbered migrations; `users` already
carries `created_by` and a nullable password for them. Times are RFC 3339 UTC with microseconds,
so text order is time order.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from services.access.domain import ControllerInfo, Session, User, rfc3339
from services.common.db import SqliteStore, now_rfc3339, outbox_migration

migrations = Migrations("cmr.access")


@migrations(name="001_controller_users_sessions")
def _001(db: Database) -> None:
    outbox_migration(db)
    db.execute(
        "CREATE TABLE controller ("
        " id INTEGER PRIMARY KEY CHECK (id = 1),"
        " name TEXT NOT NULL, uuid TEXT NOT NULL, created_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE users ("
        " name TEXT PRIMARY KEY COLLATE NOCASE,"
        " display_name TEXT NOT NULL DEFAULT '',"
        " superuser INTEGER NOT NULL DEFAULT 0,"
        " enabled INTEGER NOT NULL DEFAULT 1,"
        " password_hash TEXT,"
        " created_by TEXT,"
        " created_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE sessions ("
        " token_digest TEXT PRIMARY KEY,"
        " user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
        " created_at TEXT NOT NULL, expires_at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX sessions_user ON sessions(user)")
    db.execute("CREATE INDEX sessions_expires_at ON sessions(expires_at)")


def _user(row: dict[str, Any]) -> User:
    return User(
        name=row["name"],
        display_name=row["display_name"],
        superuser=bool(row["superuser"]),
        enabled=bool(row["enabled"]),
        created_at=datetime.fromisoformat(row["created_at"]),
    )


class SqliteAccess(SqliteStore):
    """The access store; implements `domain.Access`."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path, migrations)

    def controller_info(self) -> ControllerInfo | None:
        """Return the controller's identity, or None before the first start."""
        rows = self.query("SELECT name, uuid FROM controller WHERE id = 1")
        return ControllerInfo(name=rows[0]["name"], uuid=rows[0]["uuid"]) if rows else None

    def set_controller_info(self, info: ControllerInfo) -> None:
        """Record the controller's identity; a second call fails (the row is unique)."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO controller (id, name, uuid, created_at) VALUES (1, ?, ?, ?)",
                (info.name, info.uuid, now_rfc3339()),
            )

    def count_users(self) -> int:
        """Return how many users exist."""
        return int(self.query("SELECT COUNT(*) AS n FROM users")[0]["n"])

    def get_user(self, name: str) -> User | None:
        """Return the user of that name (any case), or None."""
        rows = self.query("SELECT * FROM users WHERE name = ?", (name,))
        return _user(rows[0]) if rows else None

    def password_hash(self, name: str) -> str | None:
        """Return the user's encoded password hash, or None."""
        rows = self.query("SELECT password_hash FROM users WHERE name = ?", (name,))
        return rows[0]["password_hash"] if rows else None

    def add_user(self, user: User, password_hash: str | None, created_by: str = "") -> None:
        """Insert a new user."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO users (name, display_name, superuser, enabled, password_hash,"
                " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    user.name,
                    user.display_name,
                    int(user.superuser),
                    int(user.enabled),
                    password_hash,
                    created_by or None,
                    rfc3339(user.created_at),
                ),
            )

    def add_session(self, digest: str, user: str, created_at: datetime, expires: datetime) -> None:
        """Insert a session keyed by the digest of its token."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO sessions (token_digest, user, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (digest, user, rfc3339(created_at), rfc3339(expires)),
            )

    def get_session(self, digest: str) -> Session | None:
        """Return the session of a token digest, with its user, or None."""
        rows = self.query(
            "SELECT s.expires_at AS session_expires_at, u.* FROM sessions s"
            " JOIN users u ON u.name = s.user WHERE s.token_digest = ?",
            (digest,),
        )
        if not rows:
            return None
        row = rows[0]
        return Session(
            user=_user(row), expires_at=datetime.fromisoformat(row["session_expires_at"])
        )

    def delete_session(self, digest: str) -> str | None:
        """Delete a session; return its user's name, or None when there was none."""
        with self.transaction():
            rows = self.query("SELECT user FROM sessions WHERE token_digest = ?", (digest,))
            if not rows:
                return None
            self.db.execute("DELETE FROM sessions WHERE token_digest = ?", (digest,))
            return str(rows[0]["user"])

    def delete_sessions_expired_at(self, moment: datetime) -> int:
        """Delete every session that expired at or before `moment`; return how many."""
        with self.transaction():
            cursor = self.db.execute(
                "DELETE FROM sessions WHERE expires_at <= ?", (rfc3339(moment),)
            )
            return int(cursor.rowcount)
