"""The `Access` store protocol: what the use cases need from a store.

The SQLite store and the in-memory fake of the tests both implement it, so they are
interchangeable; `tests/store/` runs one suite on both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from services.access.domain.values import (
    AuditEntry,
    AuditScope,
    ControllerInfo,
    Permission,
    Session,
    Target,
    User,
)
from services.common.events import EventStore


class Access(EventStore, Protocol):
    """What the use cases need from a store; implemented by `services.access.store.SqliteAccess`.

    Every change of a permission, user or password runs in one `transaction()` that writes the
    rows, one audit entry per permission or user touched, and the change-feed events.
    """

    def controller_info(self) -> ControllerInfo | None:
        """Return the controller's identity, or None before the first start."""
        ...

    def secret(self, name: str) -> bytes:
        """Return the named signing key, creating a random one on first use."""
        ...

    def set_controller_info(self, info: ControllerInfo) -> None:
        """Record the controller's identity (once)."""
        ...

    def count_users(self) -> int:
        """Return how many users exist."""
        ...

    def get_user(self, name: str) -> User | None:
        """Return the user of that name (any case), or None."""
        ...

    def password_hash(self, name: str) -> str | None:
        """Return the user's encoded password hash, or None (no such user, or no password)."""
        ...

    def add_user(self, user: User, password_hash: str | None, created_by: str = "") -> None:
        """Insert a new user. `user.superuser` is ignored: it derives from the controller level."""
        ...

    def set_password(self, name: str, password_hash: str | None) -> None:
        """Replace a user's password hash."""
        ...

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Enable or disable a user."""
        ...

    def delete_user_sessions(self, name: str) -> int:
        """Delete every session of a user; return how many."""
        ...

    def set_registration(self, name: str, digest: str, created_at: datetime) -> None:
        """Record (or replace) the digest of a user's one-time registration secret."""
        ...

    def registration(self, name: str) -> str | None:
        """Return the digest of a user's pending registration secret, or None."""
        ...

    def delete_registration(self, name: str) -> bool:
        """Delete a user's pending registration; return whether there was one."""
        ...

    def users(self, include_disabled: bool, after: str, limit: int) -> list[tuple[User, str]]:
        """Return up to `limit` users named after `after`, by name, with their controller level.

        Names compare without regard to case; the level is empty for none.
        """
        ...

    def level(self, user: str, target: Target) -> str:
        """Return the level recorded for a user (any case) on a target, or empty."""
        ...

    def set_level(self, user: str, target: Target, level: str) -> None:
        """Record a user's level on a target, replacing any; an empty level deletes it."""
        ...

    def holders(self, target: Target) -> list[Permission]:
        """Return every permission recorded on exactly this target, by user name."""
        ...

    def offer_holders_in_model(self, model_uuid: str) -> list[Permission]:
        """Return every permission on the offers whose offering model is `model_uuid`."""
        ...

    def held_by(self, user: str) -> list[Permission]:
        """Return every permission a user (any case) holds."""
        ...

    def add_audit(self, entry: AuditEntry) -> None:
        """Append an entry to the audit log (its `id` is assigned by the store)."""
        ...

    def audit(
        self, scope: AuditScope | None, target: Target | None, before: int, limit: int
    ) -> list[AuditEntry]:
        """Return up to `limit` entries, newest first, with an id below `before` (0: no bound).

        Args:
            scope: the entries a non-superuser may see; None for every entry.
            target: only entries on this target; None for every target.
            before: the id of the last entry of the previous page, or 0.
            limit: the most entries to return.
        """
        ...

    def add_session(self, digest: str, user: str, created_at: datetime, expires: datetime) -> None:
        """Insert a session keyed by the digest of its token."""
        ...

    def get_session(self, digest: str) -> Session | None:
        """Return the session of a token digest, or None."""
        ...

    def delete_session(self, digest: str) -> str | None:
        """Delete a session; return its user's name, or None when there was none."""
        ...

    def delete_sessions_expired_at(self, moment: datetime) -> int:
        """Delete every session that expired at or before `moment`; return how many."""
        ...
