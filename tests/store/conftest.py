"""Each context's store, once as its SQLite store and once as the in-memory fake of the unit tests.

Every test of this directory runs on both, so the fake the use-case tests rely on cannot drift
from the store production runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from kernel import errors
from services.access import domain as access_domain
from services.access.store import SqliteAccess
from services.common.db import Event
from services.common.engine import Conflict
from services.placement import domain as placement_domain
from services.placement.store import SqlitePlacement
from services.relations import domain as relations_domain
from services.relations.store import SqliteRelations
from tests.unit.access.fakes import InMemoryAccess
from tests.unit.placement.fakes import InMemoryPlacement
from tests.unit.relations.fakes import InMemoryRelations

KINDS = ["sqlite", "memory"]

REFUSED = (errors.AlreadyExists, Conflict)
"""How a store refuses a row its keys forbid: translated, or as the engine's typed conflict."""


class Boom(Exception):
    """Raised inside a transaction to make it fail; no store raises it."""


class Feed(Protocol):
    """The change-feed reads every store offers its `Watch`, and closing it."""

    def events_after(self, sequence: int) -> list[Event]: ...

    def last_sequence(self) -> int: ...

    def close(self) -> None: ...


class AccessStore(access_domain.Access, Feed, Protocol):
    """The access store Protocol and its feed."""


class PlacementStore(placement_domain.Placement, Feed, Protocol):
    """The placement store Protocol and its feed."""


class RelationsStore(relations_domain.Relations, Feed, Protocol):
    """The relations store Protocol and its feed."""


def open_access(kind: str, tmp_path: Path) -> AccessStore:
    """The access store of that kind (`sqlite` or `memory`)."""
    return SqliteAccess(tmp_path / "access.db") if kind == "sqlite" else InMemoryAccess()


def open_placement(kind: str, tmp_path: Path) -> PlacementStore:
    """The placement store of that kind."""
    return SqlitePlacement(tmp_path / "placement.db") if kind == "sqlite" else InMemoryPlacement()


def open_relations(kind: str, tmp_path: Path) -> RelationsStore:
    """The relations store of that kind."""
    return SqliteRelations(tmp_path / "relations.db") if kind == "sqlite" else InMemoryRelations()


@pytest.fixture(params=KINDS)
def access(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AccessStore]:
    made = open_access(request.param, tmp_path)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(params=KINDS)
def placement(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PlacementStore]:
    made = open_placement(request.param, tmp_path)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(params=KINDS)
def relations(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RelationsStore]:
    made = open_relations(request.param, tmp_path)
    try:
        yield made
    finally:
        made.close()
