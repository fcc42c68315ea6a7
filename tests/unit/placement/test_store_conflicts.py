"""The placement store turns a taken key into the domain's error, whoever took it first.

The use cases look before they insert; these inserts go straight to the store, as a second
writer of the same file would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel import errors
from services.common.engine import Conflict, Constraint
from services.placement import domain
from services.placement.store import SqlitePlacement

NOW = "2026-01-01T00:00:00.000000Z"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlitePlacement]:
    made = SqlitePlacement(tmp_path / "p.db")
    try:
        yield made
    finally:
        made.close()


def test_a_taken_model_name_is_already_exists(store: SqlitePlacement) -> None:
    model, _ = domain.add_model(store, "prod", "admin", now=NOW)
    twin = dataclasses.replace(model, uuid="other", pool_index=model.pool_index + 1)
    with pytest.raises(errors.AlreadyExists, match='model "admin/prod" already exists'):
        store.add_model(twin)
    assert store.model("other") is None


def test_a_taken_address_pool_is_a_conflict_not_a_taken_name(store: SqlitePlacement) -> None:
    model, _ = domain.add_model(store, "prod", "admin", now=NOW)
    clash = dataclasses.replace(model, uuid="other", name="test")
    with pytest.raises(Conflict) as caught:
        store.add_model(clash)
    assert caught.value.constraint is Constraint.UNIQUE
    assert store.model_named("admin", "test") is None


def test_a_taken_application_name_is_already_exists(store: SqlitePlacement) -> None:
    model, _ = domain.add_model(store, "prod", "admin", now=NOW)
    domain.deploy(store, model.uuid, "name: mysql\nprovides:\n  db: mysql\n", "", 0, [])
    app = store.application(model.uuid, "mysql")
    assert app is not None
    with pytest.raises(errors.AlreadyExists, match='application "mysql" already exists'):
        store.add_application(app)
