"""An in-memory access store implementing `services.access.domain.Access`."""

from __future__ import annotations

import copy
import dataclasses
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from kernel.access import TargetKind
from services.access.domain import (
    AuditEntry,
    AuditScope,
    ControllerInfo,
    Permission,
    Session,
    Target,
    User,
)
from services.common.db import Event, now_rfc3339
from services.common.engine import Conflict, Constraint

PermissionKey = tuple[str, TargetKind, str]


@dataclass
class _State:
    controller: ControllerInfo | None = None
    users: dict[str, tuple[User, str | None]] = field(default_factory=dict)
    sessions: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    events: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    """Each event's kind, entity and attributes, as the unit tests compare them."""
    feed: list[Event] = field(default_factory=list)
    """The same events whole, as `events_after` reads them."""
    permissions: dict[PermissionKey, Permission] = field(default_factory=dict)
    registrations: dict[str, str] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    secrets: dict[str, bytes] = field(default_factory=dict)


def _key(user: str, target: Target) -> PermissionKey:
    return (user.lower(), target.kind, target.key)


class InMemoryAccess:
    """Dicts instead of tables; a failed outermost transaction restores the previous state.

    What the SQLite store's constraints refuse, it refuses too (a typed `Conflict`).
    """

    def __init__(self) -> None:
        self.state = _State()
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        saved = copy.deepcopy(self.state) if self._depth == 0 else None
        self._depth += 1
        try:
            yield
        except BaseException:
            if saved is not None:
                self.state = saved
            raise
        finally:
            self._depth -= 1

    def append_event(
        self,
        kind: str,
        *,
        model_uuid: str = "",
        entity: str = "",
        attributes: Mapping[str, str] | None = None,
    ) -> int:
        if self._depth == 0:
            raise RuntimeError("append_event must run inside transaction()")
        facts = dict(attributes or {})
        self.state.events.append((kind, entity, facts))
        sequence = len(self.state.events)
        self.state.feed.append(
            Event(
                sequence=sequence,
                kind=kind,
                model_uuid=model_uuid,
                entity=entity,
                attributes=facts,
                time=now_rfc3339(),
            )
        )
        return sequence

    def events_after(self, sequence: int) -> list[Event]:
        return [e for e in self.state.feed if e.sequence > sequence]

    def last_sequence(self) -> int:
        return len(self.state.events)

    def close(self) -> None:
        pass

    def controller_info(self) -> ControllerInfo | None:
        return self.state.controller

    def secret(self, name: str) -> bytes:
        return self.state.secrets.setdefault(name, secrets.token_bytes(32))

    def set_controller_info(self, info: ControllerInfo) -> None:
        if self.state.controller is not None:
            raise Conflict(Constraint.UNIQUE)
        self.state.controller = info

    def count_users(self) -> int:
        return len(self.state.users)

    def _controller_level(self, name: str) -> str:
        found = self.state.permissions.get((name.lower(), TargetKind.CONTROLLER, ""))
        return found.level if found else ""

    def get_user(self, name: str) -> User | None:
        found = self.state.users.get(name.lower())
        if found is None:
            return None
        superuser = self._controller_level(name) == "superuser"
        return dataclasses.replace(found[0], superuser=superuser)

    def password_hash(self, name: str) -> str | None:
        found = self.state.users.get(name.lower())
        return found[1] if found else None

    def add_user(self, user: User, password_hash: str | None, created_by: str = "") -> None:
        if user.name.lower() in self.state.users:
            raise Conflict(Constraint.UNIQUE)
        self.state.users[user.name.lower()] = (
            dataclasses.replace(user, superuser=False),
            password_hash,
        )

    def set_password(self, name: str, password_hash: str | None) -> None:
        user, _ = self.state.users[name.lower()]
        self.state.users[name.lower()] = (user, password_hash)

    def set_enabled(self, name: str, enabled: bool) -> None:
        user, encoded = self.state.users[name.lower()]
        self.state.users[name.lower()] = (dataclasses.replace(user, enabled=enabled), encoded)

    def add_session(self, digest: str, user: str, created_at: datetime, expires: datetime) -> None:
        self.state.sessions[digest] = (user, expires)

    def get_session(self, digest: str) -> Session | None:
        found = self.state.sessions.get(digest)
        if found is None:
            return None
        user = self.get_user(found[0])
        assert user is not None
        return Session(user=user, expires_at=found[1])

    def delete_session(self, digest: str) -> str | None:
        found = self.state.sessions.pop(digest, None)
        return found[0] if found else None

    def delete_sessions_expired_at(self, moment: datetime) -> int:
        expired = [d for d, (_, exp) in self.state.sessions.items() if exp <= moment]
        for digest in expired:
            del self.state.sessions[digest]
        return len(expired)

    def delete_user_sessions(self, name: str) -> int:
        # The SQLite store matches the session's user exactly, not in any case.
        mine = [d for d, (u, _) in self.state.sessions.items() if u == name]
        for digest in mine:
            del self.state.sessions[digest]
        return len(mine)

    def set_registration(self, name: str, digest: str, created_at: datetime) -> None:
        self.state.registrations[name.lower()] = digest

    def registration(self, name: str) -> str | None:
        return self.state.registrations.get(name.lower())

    def delete_registration(self, name: str) -> bool:
        return self.state.registrations.pop(name.lower(), None) is not None

    def users(self, include_disabled: bool, after: str, limit: int) -> list[tuple[User, str]]:
        found = []
        for lower in sorted(self.state.users):
            user = self.get_user(lower)
            assert user is not None
            if lower > after.lower() and (include_disabled or user.enabled):
                found.append((user, self._controller_level(lower)))
        return found[:limit]

    def level(self, user: str, target: Target) -> str:
        found = self.state.permissions.get(_key(user, target))
        return found.level if found else ""

    def set_level(self, user: str, target: Target, level: str) -> None:
        key = _key(user, target)
        if not level:
            self.state.permissions.pop(key, None)
            return
        old = self.state.permissions.get(key)
        if old is not None and not target.label:
            target = dataclasses.replace(target, label=old.target.label)
        self.state.permissions[key] = Permission(
            user=old.user if old else user, level=level, target=target
        )

    def _with_names(self, held: list[Permission]) -> list[Permission]:
        out = []
        for p in sorted(held, key=lambda p: (p.user.lower(), p.target.kind, p.target.key)):
            found = self.state.users.get(p.user.lower())
            out.append(dataclasses.replace(p, display_name=found[0].display_name if found else ""))
        return out

    def holders(self, target: Target) -> list[Permission]:
        return self._with_names(
            [p for p in self.state.permissions.values() if p.target.same(target)]
        )

    def offer_holders_in_model(self, model_uuid: str) -> list[Permission]:
        return self._with_names(
            [
                p
                for p in self.state.permissions.values()
                if p.target.kind is TargetKind.OFFER and p.target.model_uuid == model_uuid
            ]
        )

    def held_by(self, user: str) -> list[Permission]:
        return self._with_names(
            [p for p in self.state.permissions.values() if p.user.lower() == user.lower()]
        )

    def add_audit(self, entry: AuditEntry) -> None:
        self.state.audit.append(dataclasses.replace(entry, id=len(self.state.audit) + 1))

    def audit(
        self, scope: AuditScope | None, target: Target | None, before: int, limit: int
    ) -> list[AuditEntry]:
        def visible(e: AuditEntry) -> bool:
            if scope is None:
                return True
            t = e.target
            return (
                # the SQLite store matches the user in any case, the actor exactly
                scope.user.lower() == e.user.lower()
                or scope.user == e.actor
                or (t.kind is not TargetKind.CONTROLLER and t.model_uuid in scope.model_uuids)
                or (t.kind is TargetKind.OFFER and t.offer_uuid in scope.offer_uuids)
            )

        found = [
            e
            for e in reversed(self.state.audit)
            if (not before or e.id < before)
            and (target is None or e.target.same(target))
            and visible(e)
        ]
        return found[:limit]

    def disable(self, name: str) -> None:
        """Disable a user behind the use cases' back."""
        self.set_enabled(name, False)
