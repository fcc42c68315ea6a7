"""The placement store's migrations: a file written by an older version keeps its numbers."""

from __future__ import annotations

import json
from pathlib import Path

from services.common.engine import SqliteEngine
from services.placement import domain
from services.placement.store import SqlitePlacement, migrations


def test_unit_counters_survive_the_move_to_unit_sequences(tmp_path: Path) -> None:
    path = tmp_path / "placement.db"
    old = SqliteEngine(path)
    try:
        old.migrate(migrations, stop_before="002_unit_sequences")
        meta = {"name": "mysql", "subordinate": False, "summary": "", "endpoints": []}
        with old.transaction():
            old.execute(
                "INSERT INTO models (uuid, name, owner, pool_index, created_at, next_machine)"
                " VALUES ('u1', 'prod', 'admin', 1, 'now', 4)"
            )
            old.execute(
                "INSERT INTO charms (model_uuid, name, revision, metadata, meta_json)"
                " VALUES ('u1', 'mysql', 1, 'name: mysql', ?)",
                (json.dumps(meta),),
            )
            old.execute(
                "INSERT INTO applications"
                " (model_uuid, name, charm_name, charm_revision, next_unit)"
                " VALUES ('u1', 'mysql', 'mysql', 1, 3)"
            )
    finally:
        old.close()
    store = SqlitePlacement(path)
    try:
        placed = domain.add_unit(store, "u1", "mysql", 1, [])
        assert [(u.name, u.machine) for u in placed.units] == [("mysql/3", "4")]
        # recorded where sqlite-utils records them, so files written before the engine agree
        applied = store.engine.query(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY rowid",
            (migrations.name,),
        )
        assert [r["name"] for r in applied] == [
            "001_initial",
            "002_unit_sequences",
            "003_container_relations_cursors",
        ]
    finally:
        store.close()
