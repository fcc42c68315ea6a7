"""The placement store fixture: every use-case test runs on SQLite and on the in-memory fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from services.common.db import Event
from services.placement import domain
from services.placement.store import SqlitePlacement
from tests.unit.placement.fakes import InMemoryPlacement


class Store(domain.Placement, Protocol):
    """The placement Protocol plus the feed read the tests check events with."""

    def events_after(self, sequence: int) -> list[Event]: ...

    def close(self) -> None: ...


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = (
        SqlitePlacement(tmp_path / "placement.db")
        if request.param == "sqlite"
        else InMemoryPlacement()
    )
    try:
        yield made
    finally:
        made.close()
