"""The placement store: one SQLite file with models, charms, applications, machines and units.

Version 003 adds what placement learns from the relations feed: `container_relations`
(model_uuid, relation_id) -> the two applications of a container-scoped relation, which decide
where subordinate units go; and `feed_cursors` (source -> last sequence applied).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kernel import errors
from kernel.relation import Role, Scope
from services.common.db import SqliteStore, outbox_migration
from services.common.engine import Conflict, Constraint, Engine, Migrations, Schema
from services.placement.charm import CharmMeta, Endpoint
from services.placement.domain import Application, Machine, MachineRow, Model, Unit, UnitRow

migrations = Migrations("cmr.placement")
MAX_SQLITE_INT = 2**63 - 1


@migrations(name="001_initial")
def _initial(db: Schema) -> None:
    outbox_migration(db)
    db.executescript(
        """
        CREATE TABLE models (
            uuid TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            owner TEXT NOT NULL,
            pool_index INTEGER NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            life TEXT NOT NULL DEFAULT 'alive',
            next_machine INTEGER NOT NULL DEFAULT 0,
            UNIQUE (owner, name)
        );
        CREATE TABLE model_config (
            model_uuid TEXT NOT NULL REFERENCES models(uuid) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (model_uuid, key)
        );
        CREATE TABLE charms (
            model_uuid TEXT NOT NULL REFERENCES models(uuid) ON DELETE CASCADE,
            name TEXT NOT NULL,
            revision INTEGER NOT NULL,
            metadata TEXT NOT NULL,
            meta_json TEXT NOT NULL,
            PRIMARY KEY (model_uuid, name, revision)
        );
        CREATE TABLE applications (
            model_uuid TEXT NOT NULL REFERENCES models(uuid) ON DELETE CASCADE,
            name TEXT NOT NULL,
            charm_name TEXT NOT NULL,
            charm_revision INTEGER NOT NULL,
            next_unit INTEGER NOT NULL DEFAULT 0,
            life TEXT NOT NULL DEFAULT 'alive',
            status TEXT NOT NULL DEFAULT 'unknown',
            PRIMARY KEY (model_uuid, name)
        );
        CREATE TABLE machines (
            model_uuid TEXT NOT NULL REFERENCES models(uuid) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            address TEXT NOT NULL,
            auto INTEGER NOT NULL,
            PRIMARY KEY (model_uuid, number)
        );
        CREATE TABLE units (
            model_uuid TEXT NOT NULL REFERENCES models(uuid) ON DELETE CASCADE,
            name TEXT NOT NULL,
            application TEXT NOT NULL,
            number INTEGER NOT NULL,
            machine INTEGER NOT NULL,
            principal TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (model_uuid, name),
            FOREIGN KEY (model_uuid, application) REFERENCES applications(model_uuid, name),
            FOREIGN KEY (model_uuid, machine) REFERENCES machines(model_uuid, number)
        );
        CREATE INDEX units_by_machine ON units (model_uuid, machine);
        CREATE INDEX units_by_application ON units (model_uuid, application, number);
        """
    )


@migrations(name="002_unit_sequences")
def _unit_sequences(db: Schema) -> None:
    # Unit numbers are never reused, even when an application is removed and deployed again
    # under the same name: the counter lives with the model, not with the application row.
    # (`applications.next_unit` from 001 is no longer read.)
    db.execute(
        "CREATE TABLE unit_sequences ("
        " model_uuid TEXT NOT NULL REFERENCES models(uuid) ON DELETE CASCADE,"
        " application TEXT NOT NULL,"
        " next INTEGER NOT NULL,"
        " PRIMARY KEY (model_uuid, application))"
    )
    db.execute(
        "INSERT INTO unit_sequences (model_uuid, application, next)"
        " SELECT model_uuid, name, next_unit FROM applications"
    )
    # Removing a principal unit looks up its subordinates first, to remove them with it.
    db.execute("CREATE INDEX units_by_principal ON units (model_uuid, principal)")


def _meta_json(meta: CharmMeta) -> str:
    return json.dumps(
        {
            "name": meta.name,
            "subordinate": meta.subordinate,
            "summary": meta.summary,
            "endpoints": [
                {
                    "name": e.name,
                    "role": e.role.value,
                    "interface": e.interface,
                    "scope": e.scope.value,
                    "limit": e.limit,
                    "optional": e.optional,
                    "implicit": e.implicit,
                }
                for e in meta.endpoints
            ],
        }
    )


def _meta(text: str) -> CharmMeta:
    raw = json.loads(text)
    return CharmMeta(
        name=raw["name"],
        subordinate=raw["subordinate"],
        summary=raw["summary"],
        endpoints=tuple(
            Endpoint(
                name=e["name"],
                role=Role(e["role"]),
                interface=e["interface"],
                scope=Scope(e["scope"]),
                limit=e["limit"],
                optional=e["optional"],
                implicit=e["implicit"],
            )
            for e in raw["endpoints"]
        ),
    )


def _model(row: Mapping[str, Any]) -> Model:
    return Model(
        uuid=row["uuid"],
        name=row["name"],
        owner=row["owner"],
        pool_index=row["pool_index"],
        created_at=row["created_at"],
        life=row["life"],
    )


def _machine(row: Mapping[str, Any]) -> Machine:
    return Machine(id=str(row["number"]), address=row["address"], auto=bool(row["auto"]))


def _unit(row: Mapping[str, Any]) -> Unit:
    return Unit(
        name=row["name"],
        application=row["application"],
        number=row["number"],
        machine=str(row["machine"]),
        address=row["address"],
        principal=row["principal"],
    )


_APPLICATIONS = """
    SELECT a.*, c.meta_json,
           (SELECT COUNT(*) FROM units u
             WHERE u.model_uuid = a.model_uuid AND u.application = a.name) AS unit_count
      FROM applications a
      JOIN charms c ON c.model_uuid = a.model_uuid AND c.name = a.charm_name
                   AND c.revision = a.charm_revision
"""

_UNITS = """
    SELECT u.*, m.address FROM units u
      JOIN machines m ON m.model_uuid = u.model_uuid AND m.number = u.machine
"""


def _application(row: Mapping[str, Any]) -> Application:
    return Application(
        model_uuid=row["model_uuid"],
        name=row["name"],
        charm=_meta(row["meta_json"]),
        charm_revision=row["charm_revision"],
        unit_count=row["unit_count"],
        life=row["life"],
        status=row["status"],
    )


@migrations(name="003_container_relations_cursors")
def _container_relations(db: Schema) -> None:
    db.execute(
        "CREATE TABLE container_relations ("
        " model_uuid TEXT NOT NULL, relation_id INTEGER NOT NULL,"
        " app_a TEXT NOT NULL, app_b TEXT NOT NULL,"
        " PRIMARY KEY (model_uuid, relation_id))"
    )
    db.execute("CREATE INDEX container_relations_a ON container_relations(model_uuid, app_a)")
    db.execute("CREATE INDEX container_relations_b ON container_relations(model_uuid, app_b)")
    db.execute("CREATE TABLE feed_cursors (source TEXT PRIMARY KEY, sequence INTEGER NOT NULL)")


class SqlitePlacement(SqliteStore):
    """Placement's SQLite store; implements `domain.Placement`."""

    def __init__(self, where: Path | str | Engine) -> None:
        """Open the store's file (`":memory:"`: throw-away) or an engine, and migrate it."""
        super().__init__(where, migrations)

    def model(self, uuid: str) -> Model | None:
        rows = self.engine.query("SELECT * FROM models WHERE uuid = ?", (uuid,))
        return _model(rows[0]) if rows else None

    def model_named(self, owner: str, name: str) -> Model | None:
        rows = self.engine.query(
            "SELECT * FROM models WHERE owner = ? AND name = ?", (owner, name)
        )
        return _model(rows[0]) if rows else None

    def models(self, owner: str, after: tuple[str, str] | None, limit: int) -> list[Model]:
        where, params = ["1=1"], []
        if owner:
            where.append("owner = ?")
            params.append(owner)
        if after is not None:
            where.append("(owner, name) > (?, ?)")
            params.extend(after)
        sql = f"SELECT * FROM models WHERE {' AND '.join(where)} ORDER BY owner, name LIMIT ?"  # noqa: S608 - fixed fragments
        return [_model(r) for r in self.engine.query(sql, (*params, limit))]

    def pool_indexes(self) -> set[int]:
        return {r["pool_index"] for r in self.engine.query("SELECT pool_index FROM models")}

    def add_model(self, model: Model) -> None:
        with self.transaction():
            try:
                self.engine.execute(
                    "INSERT INTO models (uuid, name, owner, pool_index, created_at, life)"
                    " VALUES (?,?,?,?,?,?)",
                    (
                        model.uuid,
                        model.name,
                        model.owner,
                        model.pool_index,
                        model.created_at,
                        model.life,
                    ),
                )
            except Conflict as err:
                # Two keys are unique, (owner, name) and pool_index: ask which one is taken.
                if err.constraint is not Constraint.UNIQUE or (
                    self.model_named(model.owner, model.name) is None
                ):
                    raise
                raise errors.AlreadyExists(
                    f'model "{model.owner}/{model.name}" already exists'
                ) from err

    def remove_model(self, uuid: str) -> None:
        with self.transaction():
            for table in (
                "units",
                "machines",
                "applications",
                "charms",
                "model_config",
                "unit_sequences",
                "container_relations",
            ):
                self.engine.execute(f"DELETE FROM {table} WHERE model_uuid = ?", (uuid,))  # noqa: S608 - fixed names
            self.engine.execute("DELETE FROM models WHERE uuid = ?", (uuid,))

    def add_container_relation(self, uuid: str, relation_id: int, app_a: str, app_b: str) -> None:
        self.engine.execute(
            "INSERT OR IGNORE INTO container_relations (model_uuid, relation_id, app_a, app_b)"
            " VALUES (?, ?, ?, ?)",
            (uuid, relation_id, app_a, app_b),
        )

    def remove_container_relation(self, uuid: str, relation_id: int) -> tuple[str, str] | None:
        rows = self.engine.query(
            "SELECT app_a, app_b FROM container_relations"
            " WHERE model_uuid = ? AND relation_id = ?",
            (uuid, relation_id),
        )
        if not rows:
            return None
        self.engine.execute(
            "DELETE FROM container_relations WHERE model_uuid = ? AND relation_id = ?",
            (uuid, relation_id),
        )
        return str(rows[0]["app_a"]), str(rows[0]["app_b"])

    def container_partners(self, uuid: str, application: str) -> set[str]:
        rows = self.engine.query(
            "SELECT app_b AS other FROM container_relations WHERE model_uuid = ? AND app_a = ?"
            " UNION SELECT app_a FROM container_relations WHERE model_uuid = ? AND app_b = ?",
            (uuid, application, uuid, application),
        )
        return {str(r["other"]) for r in rows}

    def cursor(self, source: str) -> int:
        rows = self.engine.query("SELECT sequence FROM feed_cursors WHERE source = ?", (source,))
        return int(rows[0]["sequence"]) if rows else 0

    def set_cursor(self, source: str, sequence: int) -> None:
        self.engine.execute(
            "INSERT INTO feed_cursors (source, sequence) VALUES (?, ?)"
            " ON CONFLICT (source) DO UPDATE SET sequence = excluded.sequence",
            (source, sequence),
        )

    def config(self, uuid: str) -> dict[str, str]:
        rows = self.engine.query(
            "SELECT key, value FROM model_config WHERE model_uuid = ?", (uuid,)
        )
        return {r["key"]: r["value"] for r in rows}

    def set_config(self, uuid: str, values: Mapping[str, str]) -> None:
        with self.transaction():
            for key, value in values.items():
                self.engine.execute(
                    "INSERT INTO model_config (model_uuid, key, value) VALUES (?,?,?)"
                    " ON CONFLICT (model_uuid, key) DO UPDATE SET value = excluded.value",
                    (uuid, key, value),
                )

    def charm_revision(self, uuid: str, meta: CharmMeta, text: str) -> int:
        with self.transaction():
            rows = self.engine.query(
                "SELECT revision, metadata FROM charms WHERE model_uuid = ? AND name = ?"
                " ORDER BY revision",
                (uuid, meta.name),
            )
            for row in rows:
                if row["metadata"] == text:
                    return int(row["revision"])
            revision = (rows[-1]["revision"] if rows else 0) + 1
            self.engine.execute(
                "INSERT INTO charms (model_uuid, name, revision, metadata, meta_json)"
                " VALUES (?,?,?,?,?)",
                (uuid, meta.name, revision, text, _meta_json(meta)),
            )
            return int(revision)

    def application(self, uuid: str, name: str) -> Application | None:
        rows = self.engine.query(
            f"{_APPLICATIONS} WHERE a.model_uuid = ? AND a.name = ?", (uuid, name)
        )
        return _application(rows[0]) if rows else None

    def add_application(self, app: Application) -> None:
        with self.transaction():
            try:
                self.engine.execute(
                    "INSERT INTO applications"
                    " (model_uuid, name, charm_name, charm_revision, life, status)"
                    " VALUES (?,?,?,?,?,?)",
                    (
                        app.model_uuid,
                        app.name,
                        app.charm.name,
                        app.charm_revision,
                        app.life,
                        app.status,
                    ),
                )
            except Conflict as err:
                if err.constraint is not Constraint.PRIMARY_KEY:
                    raise
                raise errors.AlreadyExists(f'application "{app.name}" already exists') from err

    def remove_application(self, uuid: str, name: str) -> None:
        with self.transaction():
            self.engine.execute(
                "DELETE FROM applications WHERE model_uuid = ? AND name = ?", (uuid, name)
            )

    def next_unit_number(self, uuid: str, application: str) -> int:
        with self.transaction():
            rows = self.engine.query(
                "INSERT INTO unit_sequences (model_uuid, application, next) VALUES (?, ?, 1)"
                " ON CONFLICT (model_uuid, application) DO UPDATE SET next = next + 1"
                " RETURNING next - 1 AS n",
                (uuid, application),
            )
            return int(rows[0]["n"])

    def next_machine_number(self, uuid: str) -> int:
        with self.transaction():
            rows = self.engine.query(
                "UPDATE models SET next_machine = next_machine + 1"
                " WHERE uuid = ? RETURNING next_machine - 1 AS n",
                (uuid,),
            )
            return int(rows[0]["n"])

    def take_machine_numbers(self, uuid: str, count: int) -> tuple[Model, int] | None:
        with self.transaction():
            rows = self.engine.query(
                "UPDATE models SET next_machine = next_machine + ? WHERE uuid = ? RETURNING *",
                (count, uuid),
            )
            return (_model(rows[0]), int(rows[0]["next_machine"]) - count) if rows else None

    def add_machine(self, uuid: str, machine: Machine) -> None:
        with self.transaction():
            self.engine.execute(
                "INSERT INTO machines (model_uuid, number, address, auto) VALUES (?,?,?,?)",
                (uuid, int(machine.id), machine.address, int(machine.auto)),
            )

    def machine(self, uuid: str, machine_id: str) -> Machine | None:
        if int(machine_id) > MAX_SQLITE_INT:
            return None  # no machine can have a number SQLite cannot even store
        rows = self.engine.query(
            "SELECT * FROM machines WHERE model_uuid = ? AND number = ?", (uuid, int(machine_id))
        )
        return _machine(rows[0]) if rows else None

    def remove_machine(self, uuid: str, machine_id: str) -> None:
        with self.transaction():
            self.engine.execute(
                "DELETE FROM machines WHERE model_uuid = ? AND number = ?", (uuid, int(machine_id))
            )

    def add_unit(self, uuid: str, unit: Unit) -> None:
        with self.transaction():
            self.engine.execute(
                "INSERT INTO units (model_uuid, name, application, number, machine, principal)"
                " VALUES (?,?,?,?,?,?)",
                (
                    uuid,
                    unit.name,
                    unit.application,
                    unit.number,
                    int(unit.machine),
                    unit.principal,
                ),
            )

    def unit(self, uuid: str, name: str) -> Unit | None:
        rows = self.engine.query(f"{_UNITS} WHERE u.model_uuid = ? AND u.name = ?", (uuid, name))
        return _unit(rows[0]) if rows else None

    def units_of(self, uuid: str, application: str) -> list[Unit]:
        rows = self.engine.query(
            f"{_UNITS} WHERE u.model_uuid = ? AND u.application = ? ORDER BY u.number",
            (uuid, application),
        )
        return [_unit(r) for r in rows]

    def units_on(self, uuid: str, machine_id: str) -> list[Unit]:
        rows = self.engine.query(
            f"{_UNITS} WHERE u.model_uuid = ? AND u.machine = ? ORDER BY u.application, u.number",
            (uuid, int(machine_id)),
        )
        return [_unit(r) for r in rows]

    def subordinates_of(self, uuid: str, principal: str) -> list[Unit]:
        rows = self.engine.query(
            f"{_UNITS} WHERE u.model_uuid = ? AND u.principal = ?"
            " ORDER BY u.application, u.number",
            (uuid, principal),
        )
        return [_unit(r) for r in rows]

    def remove_unit(self, uuid: str, name: str) -> None:
        with self.transaction():
            self.engine.execute(
                "DELETE FROM units WHERE model_uuid = ? AND name = ?", (uuid, name)
            )

    def status(self, uuid: str) -> tuple[list[Machine], list[Application], list[Unit]]:
        with self.read():
            machines = self.engine.query(
                "SELECT * FROM machines WHERE model_uuid = ? ORDER BY number", (uuid,)
            )
            _, apps, units = self.status_rows(uuid)
        return (
            [_machine(r) for r in machines],
            apps,
            [
                Unit(name=n, application=a, number=k, machine=m, address=ad, principal=p)
                for n, a, k, m, ad, p in units
            ],
        )

    def status_rows(self, uuid: str) -> tuple[list[MachineRow], list[Application], list[UnitRow]]:
        # plain rows, not dicts: a model has tens of thousands of units
        with self.read():
            machines = self.engine.rows(
                "SELECT CAST(number AS TEXT), address FROM machines WHERE model_uuid = ?"
                " ORDER BY number",
                (uuid,),
            )
            apps = self.engine.query(
                f"{_APPLICATIONS} WHERE a.model_uuid = ? ORDER BY a.name", (uuid,)
            )
            units = self.engine.rows(
                "SELECT u.name, u.application, u.number, CAST(u.machine AS TEXT), m.address,"
                " u.principal FROM units u"
                " JOIN machines m ON m.model_uuid = u.model_uuid AND m.number = u.machine"
                " WHERE u.model_uuid = ? ORDER BY u.application, u.number",
                (uuid,),
            )
        return machines, [_application(r) for r in apps], units
