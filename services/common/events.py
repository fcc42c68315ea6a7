"""The part of every store Protocol that use cases share: one transaction, feed events in it."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Protocol


class EventStore(Protocol):
    """A store whose changes commit together with the change-feed events describing them."""

    def transaction(self) -> AbstractContextManager[None]:
        """Run a block in one transaction; nested calls join it."""
        ...

    def append_event(
        self,
        kind: str,
        *,
        model_uuid: str = "",
        entity: str = "",
        attributes: Mapping[str, str] | None = None,
    ) -> int:
        """Append a change-feed event in the current transaction; return its sequence."""
        ...
