"""The relations store keeps why a relation is suspended, in new files and in upgraded ones."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from kernel.relation import REVOKED_MESSAGE, Role
from services.common.engine import SqliteEngine
from services.relations.domain import Endpoint, Relation, RelationStatus, SuspendCause
from services.relations.store import SqliteRelations, migrations

MODEL = "model-1"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteRelations]:
    opened = SqliteRelations(tmp_path / "relations.db")
    try:
        yield opened
    finally:
        opened.close()


def _relation(relation_id: int) -> Relation:
    return Relation(
        model_uuid=MODEL,
        id=relation_id,
        key=f"remote-{relation_id}:db mysql:db",
        endpoints=(
            Endpoint(
                application=f"remote-{relation_id}",
                name="db",
                role=Role.REQUIRER,
                interface="mysql",
                remote=True,
            ),
            Endpoint(application="mysql", name="db", role=Role.PROVIDER, interface="mysql"),
        ),
        status=RelationStatus.JOINED,
    )


@pytest.mark.parametrize("cause", list(SuspendCause))
def test_a_suspend_cause_round_trips_and_clears(
    store: SqliteRelations, cause: SuspendCause
) -> None:
    with store.transaction():
        store.add_relation(_relation(0))
        store.set_state(
            MODEL,
            0,
            status=RelationStatus.SUSPENDED,
            message="why",
            suspended=True,
            suspended_reason="why",
            suspend_cause=cause,
        )
    got = store.get_relation(MODEL, 0)
    assert got is not None
    assert (got.suspended, got.suspend_cause) == (True, cause)
    with store.transaction():
        store.set_state(
            MODEL,
            0,
            status=RelationStatus.JOINED,
            message="",
            suspended=False,
            suspended_reason="",
            suspend_cause=None,
        )
    got = store.get_relation(MODEL, 0)
    assert got is not None
    assert (got.suspended, got.suspend_cause) == (False, None)


def test_a_relation_added_suspended_keeps_its_cause(store: SqliteRelations) -> None:
    with store.transaction():
        store.add_relation(
            replace(
                _relation(3),
                status=RelationStatus.SUSPENDED,
                suspended=True,
                suspended_reason="maintenance",
                suspend_cause=SuspendCause.USER,
            )
        )
    [got] = store.list_relations(MODEL)
    assert got.suspend_cause is SuspendCause.USER


def test_an_older_file_learns_the_cause_of_each_suspension(tmp_path: Path) -> None:
    path = tmp_path / "relations.db"
    old = SqliteEngine(path)
    try:
        old.migrate(migrations, stop_before="006_suspend_cause")
        with old.transaction():
            for relation_id, suspended, reason in (
                (0, 1, REVOKED_MESSAGE),  # left by a revoke
                (1, 1, "maintenance"),  # suspend-relation with a reason
                (2, 1, ""),  # suspend-relation without one
                (3, 0, ""),  # not suspended
            ):
                old.execute(
                    "INSERT INTO relations (model_uuid, id, key, status, message, suspended,"
                    " suspended_reason, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, 'then', 'then')",
                    (
                        MODEL,
                        relation_id,
                        f"remote-{relation_id}:db mysql:db",
                        "suspended" if suspended else "joined",
                        reason,
                        suspended,
                        reason,
                    ),
                )
    finally:
        old.close()
    store = SqliteRelations(path)
    try:
        causes = {r.id: r.suspend_cause for r in store.list_relations(MODEL)}
        assert causes == {
            0: SuspendCause.REVOKED,
            1: SuspendCause.USER,
            2: SuspendCause.USER,
            3: None,
        }
        # the message people see is unchanged
        revoked = store.get_relation(MODEL, 0)
        assert revoked is not None
        assert (revoked.message, revoked.suspended_reason) == (REVOKED_MESSAGE, REVOKED_MESSAGE)
    finally:
        store.close()
