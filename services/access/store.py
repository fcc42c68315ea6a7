"""The access context's SQLite file: identity, users, sessions, permissions, audit; migrations.

Schema (version 001):

- `controller`: one row (`id` = 1): name, uuid, created_at. Written once, at the first start.
- `users`: name (primary key, case-insensitive, as Juju keys users by the lower-cased name),
  display_name, enabled, password_hash (the Argon2id PHC string, or an older `scrypt$...`;
  NULL for a user added but not yet registered), created_by (NULL for the bootstrap admin),
  created_at. (001 had a `superuser` column; 002 moved it into `permissions`.)
- `sessions`: token_digest (SHA-256 hex of the token; the token itself is never stored), user,
  created_at, expires_at. Deleting a user deletes its sessions.

Version 002 (user management):

- `permissions`: one level per (user, kind, target_id): kind `controller|model|offer`,
  target_id empty / the model UUID / the offer UUID; model_uuid (for an offer, the offering
  model's, so dropping a model finds its offers' permissions), offer_uuid, label (the target's
  name when last written), level. `user` is not a foreign key: `everyone@external` and other
  external names hold offer levels without a user row. The controller row is the single source
  of truth for superuser: `User.superuser` is read from it. 002 gave every existing user the
  controller level `superuser` or `login` from the old column.
- `registrations`: user (primary key), secret_digest (SHA-256 hex of the one-time secret of
  `add-user`), created_at. Consumed by Register; deleting a user deletes it.
- `audit`: id (increasing; larger is newer), time, actor, action, user, level, kind, target_id,
  model_uuid, offer_uuid, label.

Times are RFC 3339 UTC with microseconds, so text order is time order.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from kernel import errors
from kernel.access import TargetKind
from services.access.domain import (
    AuditEntry,
    AuditScope,
    ControllerInfo,
    Permission,
    Session,
    Target,
    User,
    rfc3339,
)
from services.common.db import SqliteStore, now_rfc3339, outbox_migration
from services.common.engine import Conflict, Constraint, Engine, Migrations, Schema

migrations = Migrations("cmr.access")


@migrations(name="001_controller_users_sessions")
def _001(db: Schema) -> None:
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


@migrations(name="002_permissions_registrations_audit")
def _002(db: Schema) -> None:
    db.execute(
        "CREATE TABLE permissions ("
        " user TEXT NOT NULL COLLATE NOCASE,"
        " kind TEXT NOT NULL CHECK (kind IN ('controller', 'model', 'offer')),"
        " target_id TEXT NOT NULL,"
        " model_uuid TEXT NOT NULL DEFAULT '',"
        " offer_uuid TEXT NOT NULL DEFAULT '',"
        " label TEXT NOT NULL DEFAULT '',"
        " level TEXT NOT NULL,"
        " PRIMARY KEY (user, kind, target_id))"
    )
    db.execute("CREATE INDEX permissions_target ON permissions(kind, target_id)")
    db.execute("CREATE INDEX permissions_model ON permissions(model_uuid)")
    db.execute(
        "INSERT INTO permissions (user, kind, target_id, label, level)"
        " SELECT name, 'controller', '', 'controller',"
        " CASE WHEN superuser THEN 'superuser' ELSE 'login' END FROM users"
    )
    db.execute("ALTER TABLE users DROP COLUMN superuser")
    db.execute(
        "CREATE TABLE registrations ("
        " user TEXT PRIMARY KEY COLLATE NOCASE REFERENCES users(name) ON DELETE CASCADE,"
        " secret_digest TEXT NOT NULL, created_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE audit ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " time TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,"
        " user TEXT NOT NULL COLLATE NOCASE, level TEXT NOT NULL DEFAULT '',"
        " kind TEXT NOT NULL, target_id TEXT NOT NULL DEFAULT '',"
        " model_uuid TEXT NOT NULL DEFAULT '', offer_uuid TEXT NOT NULL DEFAULT '',"
        " label TEXT NOT NULL DEFAULT '')"
    )
    db.execute("CREATE INDEX audit_target ON audit(kind, target_id)")


USER_COLUMNS: Final = (
    "u.name, u.display_name, u.enabled, u.created_at,"
    " COALESCE((SELECT p.level FROM permissions p"
    " WHERE p.user = u.name AND p.kind = 'controller'), '') AS controller_access"
)
"""A user row with its controller level, from which `User.superuser` derives."""


def _user(row: dict[str, Any]) -> User:
    return User(
        name=row["name"],
        display_name=row["display_name"],
        superuser=row["controller_access"] == "superuser",
        enabled=bool(row["enabled"]),
        created_at=datetime.fromisoformat(row["created_at"]),
    )


@migrations(name="003_secrets")
def _003(db: Schema) -> None:
    # Signing keys of this controller (offer tokens): created on first use, never shown.
    db.execute("CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)")


class SqliteAccess(SqliteStore):
    """The access store; implements `domain.Access`."""

    def __init__(self, where: Path | str | Engine) -> None:
        """Open the store's file (`":memory:"`: throw-away) or an engine, and migrate it."""
        super().__init__(where, migrations)

    def secret(self, name: str) -> bytes:
        """Return the named signing key, creating a random one of 32 bytes on first use."""
        with self.transaction():
            rows = self.engine.query("SELECT value FROM secrets WHERE name = ?", (name,))
            if rows:
                return bytes(rows[0]["value"])
            value = secrets.token_bytes(32)
            self.engine.execute("INSERT INTO secrets (name, value) VALUES (?, ?)", (name, value))
            return value

    def controller_info(self) -> ControllerInfo | None:
        """Return the controller's identity, or None before the first start."""
        rows = self.engine.query("SELECT name, uuid FROM controller WHERE id = 1")
        return ControllerInfo(name=rows[0]["name"], uuid=rows[0]["uuid"]) if rows else None

    def set_controller_info(self, info: ControllerInfo) -> None:
        """Record the controller's identity.

        Raises:
            AlreadyExists: it is recorded already (there is one row).
        """
        with self.transaction():
            try:
                self.engine.execute(
                    "INSERT INTO controller (id, name, uuid, created_at) VALUES (1, ?, ?, ?)",
                    (info.name, info.uuid, now_rfc3339()),
                )
            except Conflict as err:
                if err.constraint is not Constraint.PRIMARY_KEY:
                    raise
                raise errors.AlreadyExists(
                    "the controller's identity is recorded already"
                ) from err

    def count_users(self) -> int:
        """Return how many users exist."""
        return int(self.engine.query("SELECT COUNT(*) AS n FROM users")[0]["n"])

    def get_user(self, name: str) -> User | None:
        """Return the user of that name (any case), or None."""
        sql = f"SELECT {USER_COLUMNS} FROM users u WHERE u.name = ?"  # noqa: S608 - constant
        rows = self.engine.query(sql, (name,))
        return _user(rows[0]) if rows else None

    def password_hash(self, name: str) -> str | None:
        """Return the user's encoded password hash, or None."""
        rows = self.engine.query("SELECT password_hash FROM users WHERE name = ?", (name,))
        return rows[0]["password_hash"] if rows else None

    def add_user(self, user: User, password_hash: str | None, created_by: str = "") -> None:
        """Insert a new user. `user.superuser` is ignored: it derives from the controller level.

        Raises:
            AlreadyExists: a user of that name (in any case) exists.
        """
        with self.transaction():
            try:
                self.engine.execute(
                    "INSERT INTO users (name, display_name, enabled, password_hash,"
                    " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        user.name,
                        user.display_name,
                        int(user.enabled),
                        password_hash,
                        created_by or None,
                        rfc3339(user.created_at),
                    ),
                )
            except Conflict as err:
                if err.constraint is not Constraint.PRIMARY_KEY:
                    raise
                # a valid user name needs no escaping inside the quotes
                raise errors.AlreadyExists(f'user "{user.name}" already exists') from err

    def add_session(self, digest: str, user: str, created_at: datetime, expires: datetime) -> None:
        """Insert a session keyed by the digest of its token."""
        with self.transaction():
            self.engine.execute(
                "INSERT INTO sessions (token_digest, user, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (digest, user, rfc3339(created_at), rfc3339(expires)),
            )

    def get_session(self, digest: str) -> Session | None:
        """Return the session of a token digest, with its user, or None."""
        rows = self.engine.query(
            f"SELECT s.expires_at AS session_expires_at, {USER_COLUMNS} FROM sessions s"  # noqa: S608 - constant
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
            rows = self.engine.query("SELECT user FROM sessions WHERE token_digest = ?", (digest,))
            if not rows:
                return None
            self.engine.execute("DELETE FROM sessions WHERE token_digest = ?", (digest,))
            return str(rows[0]["user"])

    def delete_sessions_expired_at(self, moment: datetime) -> int:
        """Delete every session that expired at or before `moment`; return how many."""
        with self.transaction():
            cursor = self.engine.execute(
                "DELETE FROM sessions WHERE expires_at <= ?", (rfc3339(moment),)
            )
            return int(cursor.rowcount)

    def set_password(self, name: str, password_hash: str | None) -> None:
        """Replace a user's password hash."""
        with self.transaction():
            self.engine.execute(
                "UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name)
            )

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Enable or disable a user."""
        with self.transaction():
            self.engine.execute(
                "UPDATE users SET enabled = ? WHERE name = ?", (int(enabled), name)
            )

    def delete_user_sessions(self, name: str) -> int:
        """Delete every session of a user; return how many."""
        with self.transaction():
            return int(
                self.engine.execute("DELETE FROM sessions WHERE user = ?", (name,)).rowcount
            )

    def set_registration(self, name: str, digest: str, created_at: datetime) -> None:
        """Record (or replace) the digest of a user's one-time registration secret."""
        with self.transaction():
            self.engine.execute(
                "INSERT OR REPLACE INTO registrations (user, secret_digest, created_at)"
                " VALUES (?, ?, ?)",
                (name, digest, rfc3339(created_at)),
            )

    def registration(self, name: str) -> str | None:
        """Return the digest of a user's pending registration secret, or None."""
        rows = self.engine.query("SELECT secret_digest FROM registrations WHERE user = ?", (name,))
        return str(rows[0]["secret_digest"]) if rows else None

    def delete_registration(self, name: str) -> bool:
        """Delete a user's pending registration; return whether there was one."""
        with self.transaction():
            cursor = self.engine.execute("DELETE FROM registrations WHERE user = ?", (name,))
            return bool(cursor.rowcount)

    def users(self, include_disabled: bool, after: str, limit: int) -> list[tuple[User, str]]:
        """Return up to `limit` users named after `after`, by name, with their controller level."""
        rows = self.engine.query(
            f"SELECT {USER_COLUMNS} FROM users u"  # noqa: S608 - constant columns
            " WHERE u.name > ? AND (? OR u.enabled) ORDER BY u.name LIMIT ?",
            (after, int(include_disabled), limit),
        )
        return [(_user(r), str(r["controller_access"])) for r in rows]

    def level(self, user: str, target: Target) -> str:
        """Return the level recorded for a user on a target, or empty."""
        rows = self.engine.query(
            "SELECT level FROM permissions WHERE user = ? AND kind = ? AND target_id = ?",
            (user, str(target.kind), target.key),
        )
        return str(rows[0]["level"]) if rows else ""

    def set_level(self, user: str, target: Target, level: str) -> None:
        """Record a user's level on a target, replacing any; an empty level deletes it."""
        with self.transaction():
            if not level:
                self.engine.execute(
                    "DELETE FROM permissions WHERE user = ? AND kind = ? AND target_id = ?",
                    (user, str(target.kind), target.key),
                )
                return
            self.engine.execute(
                "INSERT INTO permissions"
                " (user, kind, target_id, model_uuid, offer_uuid, label, level)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (user, kind, target_id) DO UPDATE SET level = excluded.level,"
                " label = CASE excluded.label WHEN '' THEN label ELSE excluded.label END",
                (
                    user,
                    str(target.kind),
                    target.key,
                    target.model_uuid,
                    target.offer_uuid,
                    target.label,
                    level,
                ),
            )

    def _permissions(self, where: str, params: Iterable[Any]) -> list[Permission]:
        rows = self.engine.query(
            "SELECT p.*, COALESCE(u.display_name, '') AS display_name"  # noqa: S608 - constant
            f" FROM permissions p LEFT JOIN users u ON u.name = p.user WHERE {where}"
            " ORDER BY p.user COLLATE NOCASE, p.kind, p.target_id",
            tuple(params),
        )
        return [
            Permission(
                user=r["user"],
                level=r["level"],
                display_name=r["display_name"],
                target=Target(
                    kind=TargetKind(r["kind"]),
                    model_uuid=r["model_uuid"],
                    offer_uuid=r["offer_uuid"],
                    label=r["label"],
                ),
            )
            for r in rows
        ]

    def holders(self, target: Target) -> list[Permission]:
        """Return every permission recorded on exactly this target, by user name."""
        return self._permissions("p.kind = ? AND p.target_id = ?", (str(target.kind), target.key))

    def offer_holders_in_model(self, model_uuid: str) -> list[Permission]:
        """Return every permission on the offers whose offering model is `model_uuid`."""
        return self._permissions("p.kind = 'offer' AND p.model_uuid = ?", (model_uuid,))

    def held_by(self, user: str) -> list[Permission]:
        """Return every permission a user holds."""
        return self._permissions("p.user = ?", (user,))

    def add_audit(self, entry: AuditEntry) -> None:
        """Append an entry to the audit log."""
        t = entry.target
        with self.transaction():
            self.engine.execute(
                "INSERT INTO audit (time, actor, action, user, level, kind, target_id,"
                " model_uuid, offer_uuid, label) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rfc3339(entry.time),
                    entry.actor,
                    entry.action,
                    entry.user,
                    entry.level,
                    str(t.kind),
                    t.key,
                    t.model_uuid,
                    t.offer_uuid,
                    t.label,
                ),
            )

    def audit(
        self, scope: AuditScope | None, target: Target | None, before: int, limit: int
    ) -> list[AuditEntry]:
        """Return up to `limit` entries, newest first, with an id below `before` (0: no bound)."""
        where = ["(? = 0 OR id < ?)"]
        params: list[Any] = [before, before]
        if target is not None:
            where.append("kind = ? AND target_id = ?")
            params += [str(target.kind), target.key]
        if scope is not None:
            models = sorted(scope.model_uuids)
            offers = sorted(scope.offer_uuids)
            marks_m = ",".join("?" * len(models))
            marks_o = ",".join("?" * len(offers))
            where.append(
                "(user = ? OR actor = ?"
                f" OR (kind IN ('model', 'offer') AND model_uuid IN ({marks_m}))"
                f" OR (kind = 'offer' AND offer_uuid IN ({marks_o})))"
            )
            params += [scope.user, scope.user, *models, *offers]
        rows = self.engine.query(
            f"SELECT * FROM audit WHERE {' AND '.join(where)}"  # noqa: S608 - placeholders only
            " ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [
            AuditEntry(
                id=r["id"],
                time=datetime.fromisoformat(r["time"]),
                actor=r["actor"],
                action=r["action"],
                user=r["user"],
                level=r["level"],
                target=Target(
                    kind=TargetKind(r["kind"]),
                    model_uuid=r["model_uuid"],
                    offer_uuid=r["offer_uuid"],
                    label=r["label"],
                ),
            )
            for r in rows
        ]
