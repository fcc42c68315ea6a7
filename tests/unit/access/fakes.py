"""An in-memory access store implementing `services.access.domain.Access`."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from services.access.domain import ControllerInfo, Session, User


@dataclass
class _State:
    controller: ControllerInfo | None = None
    users: dict[str, tuple[User, str | None]] = field(default_factory=dict)
    sessions: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    events: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


class InMemoryAccess:
    """Dicts instead of tables; a failed outermost transaction restores the previous state."""

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
        assert self._depth > 0, "append_event outside a transaction"
        self.state.events.append((kind, entity, dict(attributes or {})))
        return len(self.state.events)

    def controller_info(self) -> ControllerInfo | None:
        return self.state.controller

    def set_controller_info(self, info: ControllerInfo) -> None:
        assert self.state.controller is None
        self.state.controller = info

    def count_users(self) -> int:
        return len(self.state.users)

    def get_user(self, name: str) -> User | None:
        found = self.state.users.get(name.lower())
        return found[0] if found else None

    def password_hash(self, name: str) -> str | None:
        found = self.state.users.get(name.lower())
        return found[1] if found else None

    def add_user(self, user: User, password_hash: str | None) -> None:
        assert user.name.lower() not in self.state.users
        self.state.users[user.name.lower()] = (user, password_hash)

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

    def disable(self, name: str) -> None:
        """Disable a user (no use case does this yet)."""
        user, encoded = self.state.users[name.lower()]
        self.state.users[name.lower()] = (dataclasses.replace(user, enabled=False), encoded)
