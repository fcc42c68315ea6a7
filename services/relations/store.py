"""The relations context's SQLite file: relations, endpoints, units in scope, id counters.

Schema (version 001):

- `relations`: (model_uuid, id) -> key (unique per model), scope, status, message, suspended,
  suspended_reason, life (`alive`/`dying`), offer_uuid ('' unless the relation crosses models
  through an offer), via_cidrs (JSON list, `--via`), created_at, updated_at.
- `relation_endpoints`: (model_uuid, relation_id, application) -> endpoint, role, interface,
  scope, remote (1 for a SAAS or consumer proxy). Indexed by application: "which relations does
  this application have?" is asked by remove-application and status.
- `relation_units`: (model_uuid, relation_id, unit) -> application, role, principal (the unit
  whose container it is, for container scope; Juju's scope key embeds it), entered_at.
- `id_counters`: (model_uuid, name) -> next_value. Relation ids start at 0 and are never reused,
  even after the relation is removed (juju/juju@3.6:state/state.go `AddRelation`).
- `feed_cursors`: source (`placement`, `access`, `offers`, a peer controller) -> the last
  sequence this context's reactors applied, so a restart resumes without loss or repeats.

Version 002 makes a relation one half of a cross-model relation: `token` (shared by both
halves, '' for a relation within a model), `side` (`consumer` or `offerer`), and, for the
offer connection the offerer's half carries, `username`, `source_model_uuid` and `subnets`
(JSON list: the consumer's egress, the offerer's ingress). Indexed by token and by offer.

Version 004 adds, for a half whose other half is on another controller, `peer_controller` (its
UUID), `peer_address` (its gateway) and `peer_token` (the credential to present there).

Version 003 adds `known_units`: (model_uuid, unit) -> application, machine, principal, as the
placement feed reports them; scope membership is decided from it.

Version 006 adds `suspend_cause` ('' when not suspended, else `user`, `revoked` or `remote`):
why a relation is suspended; programs decide by it, never by the message.

Child rows go with their relation (`ON DELETE CASCADE`). Times are RFC 3339 UTC text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from kernel import errors
from kernel.relation import REVOKED_MESSAGE, Role, Scope
from services.common.db import SqliteStore, now_rfc3339, outbox_migration
from services.common.engine import Conflict, Constraint, Engine, Migrations, Schema
from services.relations.domain import (
    Endpoint,
    KnownUnit,
    Relation,
    RelationStatus,
    SuspendCause,
    in_key_order,
)

migrations = Migrations("cmr.relations")


@migrations(name="001_relations_units_counters")
def _001(db: Schema) -> None:
    outbox_migration(db)
    db.execute(
        "CREATE TABLE relations ("
        " model_uuid TEXT NOT NULL, id INTEGER NOT NULL, key TEXT NOT NULL,"
        " scope TEXT NOT NULL DEFAULT 'global' CHECK (scope IN ('global', 'container')),"
        " status TEXT NOT NULL DEFAULT 'joining', message TEXT NOT NULL DEFAULT '',"
        " suspended INTEGER NOT NULL DEFAULT 0, suspended_reason TEXT NOT NULL DEFAULT '',"
        " life TEXT NOT NULL DEFAULT 'alive' CHECK (life IN ('alive', 'dying')),"
        " offer_uuid TEXT NOT NULL DEFAULT '', via_cidrs TEXT NOT NULL DEFAULT '[]',"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
        " PRIMARY KEY (model_uuid, id), UNIQUE (model_uuid, key))"
    )
    db.execute(
        "CREATE TABLE relation_endpoints ("
        " model_uuid TEXT NOT NULL, relation_id INTEGER NOT NULL,"
        " application TEXT NOT NULL, endpoint TEXT NOT NULL,"
        " role TEXT NOT NULL CHECK (role IN ('provider', 'requirer', 'peer')),"
        " interface TEXT NOT NULL,"
        " scope TEXT NOT NULL DEFAULT 'global' CHECK (scope IN ('global', 'container')),"
        " remote INTEGER NOT NULL DEFAULT 0,"
        " PRIMARY KEY (model_uuid, relation_id, application),"
        " FOREIGN KEY (model_uuid, relation_id)"
        "  REFERENCES relations(model_uuid, id) ON DELETE CASCADE)"
    )
    db.execute(
        "CREATE INDEX relation_endpoints_application"
        " ON relation_endpoints(model_uuid, application)"
    )
    db.execute(
        "CREATE TABLE relation_units ("
        " model_uuid TEXT NOT NULL, relation_id INTEGER NOT NULL, unit TEXT NOT NULL,"
        " application TEXT NOT NULL,"
        " role TEXT NOT NULL CHECK (role IN ('provider', 'requirer', 'peer')),"
        " principal TEXT NOT NULL DEFAULT '', entered_at TEXT NOT NULL,"
        " PRIMARY KEY (model_uuid, relation_id, unit),"
        " FOREIGN KEY (model_uuid, relation_id)"
        "  REFERENCES relations(model_uuid, id) ON DELETE CASCADE)"
    )
    db.execute("CREATE INDEX relation_units_unit ON relation_units(model_uuid, unit)")
    db.execute(
        "CREATE TABLE id_counters ("
        " model_uuid TEXT NOT NULL, name TEXT NOT NULL, next_value INTEGER NOT NULL,"
        " PRIMARY KEY (model_uuid, name))"
    )
    db.execute("CREATE TABLE feed_cursors (source TEXT PRIMARY KEY, sequence INTEGER NOT NULL)")


@migrations(name="002_cross_model_halves")
def _002(db: Schema) -> None:
    for column in ("token", "side", "username", "source_model_uuid"):
        db.execute(f"ALTER TABLE relations ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE relations ADD COLUMN subnets TEXT NOT NULL DEFAULT '[]'")
    db.execute("CREATE INDEX relations_token ON relations(token) WHERE token != ''")
    db.execute("CREATE INDEX relations_offer ON relations(offer_uuid, username)")


@migrations(name="003_known_units")
def _003(db: Schema) -> None:
    db.execute(
        "CREATE TABLE known_units ("
        " model_uuid TEXT NOT NULL, unit TEXT NOT NULL, application TEXT NOT NULL,"
        " machine TEXT NOT NULL DEFAULT '', principal TEXT NOT NULL DEFAULT '',"
        " PRIMARY KEY (model_uuid, unit))"
    )
    db.execute("CREATE INDEX known_units_application ON known_units(model_uuid, application)")


@migrations(name="004_peer_controllers")
def _004(db: Schema) -> None:
    for column in ("peer_controller", "peer_address", "peer_token"):
        db.execute(f"ALTER TABLE relations ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")


@migrations(name="005_known_units_by_principal")
def _005(db: Schema) -> None:
    db.execute("CREATE INDEX known_units_principal ON known_units(model_uuid, principal)")


@migrations(name="006_suspend_cause")
def _006(db: Schema) -> None:
    db.execute(
        "ALTER TABLE relations ADD COLUMN suspend_cause TEXT NOT NULL DEFAULT ''"
        " CHECK (suspend_cause IN ('', 'user', 'revoked', 'remote'))"
    )
    # Before causes were recorded, a revoke's relations were told apart only by the reason it
    # left; read once here, so they keep showing their SAAS in error. Every other suspension
    # was an offer admin's suspend-relation (mirrored as such by a consumer's half).
    db.execute(
        "UPDATE relations SET suspend_cause ="
        " CASE WHEN suspended_reason = ? THEN 'revoked' ELSE 'user' END WHERE suspended != 0",
        (REVOKED_MESSAGE,),
    )


class SqliteRelations(SqliteStore):
    """The relations store; implements `domain.Relations`."""

    def __init__(self, where: Path | str | Engine) -> None:
        """Open the store's file (`":memory:"`: throw-away) or an engine, and migrate it."""
        super().__init__(where, migrations)

    def next_relation_id(self, model_uuid: str) -> int:
        """Take the model's next relation id (0 first); an id is never handed out twice."""
        with self.transaction():
            self.engine.execute(
                "INSERT INTO id_counters (model_uuid, name, next_value) VALUES (?, 'relation', 1)"
                " ON CONFLICT (model_uuid, name) DO UPDATE SET next_value = next_value + 1",
                (model_uuid,),
            )
            rows = self.engine.query(
                "SELECT next_value FROM id_counters WHERE model_uuid = ? AND name = 'relation'",
                (model_uuid,),
            )
            return int(rows[0]["next_value"]) - 1

    def add_relation(self, relation: Relation) -> None:
        """Insert a relation and its endpoints.

        Raises:
            AlreadyExists: the model has a relation with that key.
        """
        now = relation.created_at or now_rfc3339()
        with self.transaction():
            try:
                self.engine.execute(
                    "INSERT INTO relations (model_uuid, id, key, scope, status, message,"
                    " suspended, suspended_reason, suspend_cause, offer_uuid, via_cidrs, token,"
                    " side, username, source_model_uuid, subnets, peer_controller, peer_address,"
                    " peer_token, created_at, updated_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        relation.model_uuid,
                        relation.id,
                        relation.key,
                        str(relation.scope),
                        str(relation.status),
                        relation.message,
                        int(relation.suspended),
                        relation.suspended_reason,
                        str(relation.suspend_cause or ""),
                        relation.offer_uuid,
                        json.dumps(list(relation.via)),
                        relation.token,
                        relation.side,
                        relation.username,
                        relation.source_model_uuid,
                        json.dumps(list(relation.subnets)),
                        relation.peer_controller,
                        relation.peer_address,
                        relation.peer_token,
                        now,
                        now,
                    ),
                )
            except Conflict as err:
                if err.constraint is not Constraint.UNIQUE:  # the only one: (model_uuid, key)
                    raise
                raise errors.AlreadyExists(
                    f'cannot add relation "{relation.key}": relation {relation.key} already exists'
                ) from err
            for ep in relation.endpoints:
                self.engine.execute(
                    "INSERT INTO relation_endpoints (model_uuid, relation_id, application,"
                    " endpoint, role, interface, scope, remote) VALUES (?,?,?,?,?,?,?,?)",
                    (
                        relation.model_uuid,
                        relation.id,
                        ep.application,
                        ep.name,
                        str(ep.role),
                        ep.interface,
                        str(ep.scope),
                        int(ep.remote),
                    ),
                )

    def count_relations(self, model_uuid: str, application: str) -> int:
        """Return how many relations of the model have an endpoint on `application`."""
        rows = self.engine.query(
            "SELECT COUNT(DISTINCT relation_id) AS n FROM relation_endpoints"
            " WHERE model_uuid = ? AND application = ?",
            (model_uuid, application),
        )
        return int(rows[0]["n"])

    def relations_of_offer(self, offer_uuid: str) -> list[Relation]:
        """Return the offering-side halves that go through an offer, by model then id."""
        return self._relations("r.offer_uuid = ?", (offer_uuid,))

    def relations_of_offers(self, offer_uuids: Sequence[str]) -> list[Relation]:
        """Return the offering-side halves of several offers, by model then id."""
        return self._relations(
            "r.offer_uuid IN (SELECT value FROM json_each(?))", (json.dumps(list(offer_uuids)),)
        )

    def user_relations_of_offer(self, offer_uuid: str, username: str) -> list[Relation]:
        """Return the offering-side halves of an offer whose connection is `username`'s."""
        return self._relations("r.offer_uuid = ? AND r.username = ?", (offer_uuid, username))

    def halves(self, token: str) -> list[Relation]:
        """Return every half of the cross-model relation `token` this store holds."""
        return self._relations("r.token = ?", (token,)) if token else []

    def set_state(
        self,
        model_uuid: str,
        relation_id: int,
        *,
        status: RelationStatus,
        message: str,
        suspended: bool,
        suspended_reason: str,
        suspend_cause: SuspendCause | None,
    ) -> None:
        """Set a relation's status, message and suspension (its cause None when not suspended)."""
        self.engine.execute(
            "UPDATE relations SET status = ?, message = ?, suspended = ?, suspended_reason = ?,"
            " suspend_cause = ?, updated_at = ? WHERE model_uuid = ? AND id = ?",
            (
                str(status),
                message,
                int(suspended),
                suspended_reason,
                str(suspend_cause or ""),
                now_rfc3339(),
                model_uuid,
                relation_id,
            ),
        )

    def put_unit(self, unit: KnownUnit) -> None:
        """Record a unit placement reported (idempotent)."""
        self.engine.execute(
            "INSERT INTO known_units (model_uuid, unit, application, machine, principal)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (model_uuid, unit) DO UPDATE SET"
            " application = excluded.application, machine = excluded.machine,"
            " principal = excluded.principal",
            (unit.model_uuid, unit.name, unit.application, unit.machine, unit.principal),
        )

    def drop_unit(self, model_uuid: str, unit: str) -> None:
        """Forget a unit."""
        self.engine.execute(
            "DELETE FROM known_units WHERE model_uuid = ? AND unit = ?", (model_uuid, unit)
        )

    def drop_model_units(self, model_uuid: str) -> None:
        """Forget every unit of a removed model."""
        self.engine.execute("DELETE FROM known_units WHERE model_uuid = ?", (model_uuid,))

    def units_of(self, model_uuid: str, applications: Sequence[str]) -> list[KnownUnit]:
        """The known units of some applications of a model, by name."""
        rows = self.engine.query(
            "SELECT * FROM known_units WHERE model_uuid = ?"
            " AND application IN (SELECT value FROM json_each(?)) ORDER BY unit",
            (model_uuid, json.dumps(list(applications))),
        )
        return [_known(r) for r in rows]

    def in_scope(self, model_uuid: str, relation_id: int) -> list[str]:
        """The units in a relation's scope, by name."""
        rows = self.engine.query(
            "SELECT unit FROM relation_units WHERE model_uuid = ? AND relation_id = ?"
            " ORDER BY unit",
            (model_uuid, relation_id),
        )
        return [str(r["unit"]) for r in rows]

    def in_scope_among(self, model_uuid: str, relation_id: int, names: Iterable[str]) -> set[str]:
        """Which of `names` are in a relation's scope."""
        rows = self.engine.query(
            "SELECT unit FROM relation_units WHERE model_uuid = ? AND relation_id = ?"
            " AND unit IN (SELECT value FROM json_each(?))",
            (model_uuid, relation_id, json.dumps(sorted(names))),
        )
        return {str(r["unit"]) for r in rows}

    def units_in_container(self, model_uuid: str, container: str) -> list[KnownUnit]:
        """The known units in one container: the principal unit and its subordinates."""
        rows = self.engine.query(
            "SELECT * FROM known_units WHERE model_uuid = ? AND (unit = ? OR principal = ?)"
            " ORDER BY unit",
            (model_uuid, container, container),
        )
        return [_known(r) for r in rows]

    def enter_scope(self, model_uuid: str, relation_id: int, unit: KnownUnit, role: Role) -> bool:
        """Put a unit in a relation's scope; False when it already was."""
        cursor = self.engine.execute(
            "INSERT OR IGNORE INTO relation_units (model_uuid, relation_id, unit, application,"
            " role, principal, entered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                model_uuid,
                relation_id,
                unit.name,
                unit.application,
                str(role),
                unit.principal or unit.name,
                now_rfc3339(),
            ),
        )
        return cursor.rowcount > 0

    def leave_scope(self, model_uuid: str, relation_id: int, unit: str) -> None:
        """Take a unit out of a relation's scope."""
        self.engine.execute(
            "DELETE FROM relation_units WHERE model_uuid = ? AND relation_id = ? AND unit = ?",
            (model_uuid, relation_id, unit),
        )

    def set_subnets(self, model_uuid: str, relation_id: int, subnets: Sequence[str]) -> None:
        """Replace a relation's egress (consumer) or ingress (offerer) subnets."""
        self.engine.execute(
            "UPDATE relations SET subnets = ?, updated_at = ? WHERE model_uuid = ? AND id = ?",
            (json.dumps(list(subnets)), now_rfc3339(), model_uuid, relation_id),
        )

    def remote_halves(self, token: str = "") -> list[Relation]:
        """The halves whose other half is on another controller; only `token`'s if given."""
        if token:
            return self._relations("r.peer_controller != '' AND r.token = ?", (token,))
        return self._relations("r.peer_controller != ''", ())

    def set_peer_token(self, token: str, peer_token: str) -> None:
        """Replace the credential kept for the peer of the halves with this token."""
        self.engine.execute(
            "UPDATE relations SET peer_token = ?, updated_at = ? WHERE token = ?",
            (peer_token, now_rfc3339(), token),
        )

    def cursor(self, source: str) -> int:
        """Return the last sequence of `source`'s feed this context applied (0 for none)."""
        rows = self.engine.query("SELECT sequence FROM feed_cursors WHERE source = ?", (source,))
        return int(rows[0]["sequence"]) if rows else 0

    def set_cursor(self, source: str, sequence: int) -> None:
        """Record that `source`'s feed is applied up to `sequence`."""
        self.engine.execute(
            "INSERT INTO feed_cursors (source, sequence) VALUES (?, ?)"
            " ON CONFLICT (source) DO UPDATE SET sequence = excluded.sequence",
            (source, sequence),
        )

    def remove_relation(self, model_uuid: str, relation_id: int) -> None:
        """Delete a relation with its endpoints and the units in its scope."""
        with self.transaction():
            for table in ("relation_units", "relation_endpoints"):
                self.engine.execute(
                    f"DELETE FROM {table} WHERE model_uuid = ? AND relation_id = ?",  # noqa: S608 - fixed names
                    (model_uuid, relation_id),
                )
            self.engine.execute(
                "DELETE FROM relations WHERE model_uuid = ? AND id = ?", (model_uuid, relation_id)
            )

    def get_relation(self, model_uuid: str, relation_id: int) -> Relation | None:
        """Return a relation with its endpoints, or None."""
        found = self._relations("r.model_uuid = ? AND r.id = ?", (model_uuid, relation_id))
        return found[0] if found else None

    def relation_with_key(self, model_uuid: str, key: str) -> Relation | None:
        """Return the model's relation with this key, or None."""
        found = self._relations("r.model_uuid = ? AND r.key = ?", (model_uuid, key))
        return found[0] if found else None

    def count_endpoint_relations(self, model_uuid: str, application: str, endpoint: str) -> int:
        """Return how many relations of the model use the endpoint `application:endpoint`."""
        rows = self.engine.query(
            "SELECT COUNT(*) AS n FROM relation_endpoints"
            " WHERE model_uuid = ? AND application = ? AND endpoint = ?",
            (model_uuid, application, endpoint),
        )
        return int(rows[0]["n"])

    def list_relations(self, model_uuid: str, application: str = "") -> list[Relation]:
        """Return the model's relations by id, with endpoints; only `application`'s if given."""
        if not application:
            return self._relations("r.model_uuid = ?", (model_uuid,))
        return self._relations(
            "r.model_uuid = ? AND r.id IN (SELECT relation_id FROM relation_endpoints"
            " WHERE model_uuid = ? AND application = ?)",
            (model_uuid, model_uuid, application),
        )

    def _relations(self, where: str, params: tuple[Any, ...]) -> list[Relation]:
        """Relations matching `where` (on `relations r`), one query per table, by model and id.

        Plain rows with their columns named: every command reads a few relations.
        """
        with self.read():
            rows = self.engine.rows(
                f"SELECT {_RELATION_COLUMNS} FROM relations r WHERE {where}"  # noqa: S608 - fixed clauses
                " ORDER BY r.model_uuid, r.id",
                params,
            )
            ends = self.engine.rows(
                "SELECT e.model_uuid, e.relation_id, e.application, e.endpoint, e.role,"  # noqa: S608 - fixed clauses
                " e.interface, e.scope, e.remote FROM relation_endpoints e JOIN relations r"
                " ON r.model_uuid = e.model_uuid AND r.id = e.relation_id"
                f" WHERE {where}",
                params,
            )
        by_relation: dict[tuple[str, int], list[Endpoint]] = {}
        for model_uuid, relation_id, application, name, role, interface, scope, remote in ends:
            by_relation.setdefault((model_uuid, relation_id), []).append(
                Endpoint(
                    application=application,
                    name=name,
                    role=Role(role),
                    interface=interface,
                    scope=Scope(scope),
                    remote=bool(remote),
                )
            )
        return [
            Relation(
                model_uuid=model_uuid,
                id=relation_id,
                key=key,
                endpoints=in_key_order(by_relation.get((model_uuid, relation_id), [])),
                scope=Scope(scope),
                status=RelationStatus(status),
                message=message,
                suspended=bool(suspended),
                suspended_reason=suspended_reason,
                suspend_cause=SuspendCause(suspend_cause) if suspend_cause else None,
                offer_uuid=offer_uuid,
                via=_strings(via),
                token=token,
                side=side,
                username=username,
                source_model_uuid=source_model_uuid,
                subnets=_strings(subnets),
                peer_controller=peer_controller,
                peer_address=peer_address,
                peer_token=peer_token,
                created_at=created_at,
            )
            for (
                model_uuid,
                relation_id,
                key,
                scope,
                status,
                message,
                suspended,
                suspended_reason,
                suspend_cause,
                offer_uuid,
                via,
                token,
                side,
                username,
                source_model_uuid,
                subnets,
                peer_controller,
                peer_address,
                peer_token,
                created_at,
            ) in rows
        ]


_RELATION_COLUMNS: Final = (
    "r.model_uuid, r.id, r.key, r.scope, r.status, r.message, r.suspended, r.suspended_reason,"
    " r.suspend_cause, r.offer_uuid, r.via_cidrs, r.token, r.side, r.username,"
    " r.source_model_uuid, r.subnets, r.peer_controller, r.peer_address, r.peer_token,"
    " r.created_at"
)
"""The columns `_relations` reads, in the order it unpacks them."""


def _strings(text: str) -> tuple[str, ...]:
    """A JSON list of strings column (most are empty)."""
    return () if text == "[]" else tuple(json.loads(text))


def _known(row: dict[str, Any]) -> KnownUnit:
    return KnownUnit(
        model_uuid=row["model_uuid"],
        name=row["unit"],
        application=row["application"],
        machine=row["machine"],
        principal=row["principal"],
    )
