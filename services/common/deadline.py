"""A deadline as a value: how long a call, and every call it makes in turn, may still take."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final, Protocol

DEFAULT_S: Final = 10.0
"""How long an outgoing call may take when the incoming call set no deadline."""
MAX_S: Final = 3600.0
"""However long a caller allows, no outgoing call waits longer than this."""


class _HasTimeRemaining(Protocol):
    def time_remaining(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class Deadline:
    """The moment (on the monotonic clock) by which the work must be done; None: no limit."""

    at: float | None

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        """The deadline `seconds` from now; None for none."""
        return cls(None if seconds is None else time.monotonic() + seconds)

    @classmethod
    def of(cls, context: _HasTimeRemaining) -> Deadline:
        """The deadline of an incoming call (a servicer's context, or a local one)."""
        return cls.after(context.time_remaining())

    def time_remaining(self) -> float | None:
        """Seconds left; None when there is no limit."""
        return None if self.at is None else max(0.0, self.at - time.monotonic())

    def timeout(self, default: float = DEFAULT_S) -> float:
        """The timeout for an outgoing call: what is left, else `default`, within `MAX_S`.

        The caller's deadline governs: one that allows a long call (deploying ten thousand
        units) gets it, one in a hurry is not kept waiting.
        """
        left = self.time_remaining()
        if left is None:
            return default
        return max(0.001, min(MAX_S, left))
