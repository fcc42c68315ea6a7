"""Failed logins, counted per user name: past a few, that name is refused for a while."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Final

from kernel import errors

FREE_FAILURES: Final = 5
"""Failed logins of one name allowed within `WINDOW` before it is refused."""
WINDOW: Final = timedelta(minutes=10)
"""How far back failures count."""
LOCKOUT: Final = timedelta(minutes=5)
"""How long a name is refused once it has failed too often."""


class LoginThrottle:
    """Counts failed logins by user name, whether or not the user exists.

    Counting every name alike means a refusal never tells whether the user exists. Kept in the
    access service's memory: a restart forgets it, which costs an attacker a restart of the
    service per few guesses.
    """

    def __init__(self) -> None:
        self._failures: dict[str, list[datetime]] = {}
        self._locked: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def check(self, user: str, now: datetime) -> None:
        """Refuse a login of `user` while the name is locked out.

        Raises:
            Unauthenticated: with how long to wait (reason `TOO_MANY_ATTEMPTS`).
        """
        with self._lock:
            until = self._locked.get(user.lower())
            if until is None:
                return
            if until <= now:
                del self._locked[user.lower()]
                return
        minutes = max(1, -(-int((until - now).total_seconds()) // 60))
        raise errors.Unauthenticated(
            f"too many failed logins for this user; try again in {minutes} minute"
            + ("s" if minutes != 1 else ""),
            reason=errors.Reason.TOO_MANY_ATTEMPTS,
        )

    def failed(self, user: str, now: datetime) -> None:
        """Count a failed login; past `FREE_FAILURES` within `WINDOW`, lock the name out."""
        name = user.lower()
        with self._lock:
            recent = [t for t in self._failures.get(name, []) if now - t < WINDOW]
            recent.append(now)
            if len(recent) >= FREE_FAILURES:
                self._locked[name] = now + LOCKOUT
                recent = []
            if recent:
                self._failures[name] = recent
            else:
                self._failures.pop(name, None)

    def succeeded(self, user: str) -> None:
        """A login of `user` succeeded: its failures are forgotten."""
        with self._lock:
            self._failures.pop(user.lower(), None)
