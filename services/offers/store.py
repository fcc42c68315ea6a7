"""The offers context's SQLite file: offers, connections, SAAS records, firewall rules.

Schema (version 001):

- `offers`: uuid (key), model_uuid, name (unique per model), owner, application, description,
  created_at, updated_at. Indexed by (model_uuid, application): remove-application asks
  "is this application offered?".
- `offer_endpoints`: (offer_uuid, name) -> interface, role. An offer update replaces the rows.
- `offer_connections`: (offer_uuid, relation_id) -> source_model_uuid, username, endpoint,
  consumer_application (`remote-<hex>`), ingress_cidrs (JSON list), created_at. What
  `cmr offers` lists and what makes remove-offer refuse without `--force`.
- `remote_applications` (SAAS): (model_uuid, name) -> offer_uuid, offer_url, source_model_uuid,
  source_controller ('' = this one), status, status_message, created_at;
  `remote_application_endpoints`: (model_uuid, application, name) -> interface, role.
- `firewall_rules`: (model_uuid, service) -> cidrs (JSON list), updated_at. No row means the
  default, allow all.

Version 002 adds `offers.model_name`, `offers.charm`, `offers.created_by` and the
`offer_connections.status` (default `joined`) and `message` that `cmr offers` shows.

Version 003 drops `offer_connections`: a connection is the offering-side half of a cross-model
relation, which the relations context owns; offers asks for them on each read, so a count can
never outlive its relation (a stale count in Juju blocks `remove-offer`).

Version 004 gives a SAAS of another controller that controller's UUID, its gateway's address
and the consume token it issued.

Child rows go with their parent (`ON DELETE CASCADE`), so a removal is one DELETE. Times are
RFC 3339 UTC text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from kernel import errors
from kernel.relation import Role
from services.common.db import SqliteStore, now_rfc3339, outbox_migration
from services.common.engine import Conflict, Constraint, Engine, Migrations, Schema
from services.offers.domain import Offer, OfferEndpoint, OfferFilter, RemoteApplication

migrations = Migrations("cmr.offers")


@migrations(name="001_offers_saas_firewall")
def _001(db: Schema) -> None:
    outbox_migration(db)
    db.execute(
        "CREATE TABLE offers ("
        " uuid TEXT PRIMARY KEY,"
        " model_uuid TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL,"
        " application TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
        " UNIQUE (model_uuid, name))"
    )
    db.execute("CREATE INDEX offers_application ON offers(model_uuid, application)")
    db.execute(
        "CREATE TABLE offer_endpoints ("
        " offer_uuid TEXT NOT NULL REFERENCES offers(uuid) ON DELETE CASCADE,"
        " name TEXT NOT NULL, interface TEXT NOT NULL,"
        " role TEXT NOT NULL CHECK (role IN ('provider', 'requirer', 'peer')),"
        " PRIMARY KEY (offer_uuid, name))"
    )
    db.execute(
        "CREATE TABLE offer_connections ("
        " offer_uuid TEXT NOT NULL REFERENCES offers(uuid) ON DELETE CASCADE,"
        " relation_id INTEGER NOT NULL,"
        " source_model_uuid TEXT NOT NULL, username TEXT NOT NULL, endpoint TEXT NOT NULL,"
        " consumer_application TEXT NOT NULL, ingress_cidrs TEXT NOT NULL DEFAULT '[]',"
        " created_at TEXT NOT NULL,"
        " PRIMARY KEY (offer_uuid, relation_id))"
    )
    db.execute("CREATE INDEX offer_connections_user ON offer_connections(offer_uuid, username)")
    db.execute(
        "CREATE TABLE remote_applications ("
        " model_uuid TEXT NOT NULL, name TEXT NOT NULL,"
        " offer_uuid TEXT NOT NULL, offer_url TEXT NOT NULL,"
        " source_model_uuid TEXT NOT NULL, source_controller TEXT NOT NULL DEFAULT '',"
        " status TEXT NOT NULL DEFAULT 'unknown', status_message TEXT NOT NULL DEFAULT '',"
        " created_at TEXT NOT NULL,"
        " PRIMARY KEY (model_uuid, name))"
    )
    db.execute(
        "CREATE TABLE remote_application_endpoints ("
        " model_uuid TEXT NOT NULL, application TEXT NOT NULL,"
        " name TEXT NOT NULL, interface TEXT NOT NULL,"
        " role TEXT NOT NULL CHECK (role IN ('provider', 'requirer', 'peer')),"
        " PRIMARY KEY (model_uuid, application, name),"
        " FOREIGN KEY (model_uuid, application)"
        "  REFERENCES remote_applications(model_uuid, name) ON DELETE CASCADE)"
    )
    db.execute(
        "CREATE TABLE firewall_rules ("
        " model_uuid TEXT NOT NULL,"
        " service TEXT NOT NULL CHECK (service IN ('juju-application-offer', 'ssh')),"
        " cidrs TEXT NOT NULL DEFAULT '[]', updated_at TEXT NOT NULL,"
        " PRIMARY KEY (model_uuid, service))"
    )


@migrations(name="002_offer_details_connection_status")
def _002(db: Schema) -> None:
    db.execute("ALTER TABLE offers ADD COLUMN model_name TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE offers ADD COLUMN charm TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE offers ADD COLUMN created_by TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE offer_connections ADD COLUMN status TEXT NOT NULL DEFAULT 'joined'")
    db.execute("ALTER TABLE offer_connections ADD COLUMN message TEXT NOT NULL DEFAULT ''")


@migrations(name="003_connections_belong_to_relations")
def _003(db: Schema) -> None:
    db.execute("DROP TABLE IF EXISTS offer_connections")


@migrations(name="004_remote_controllers")
def _004(db: Schema) -> None:
    for column in ("source_controller_uuid", "source_address", "consume_token"):
        db.execute(f"ALTER TABLE remote_applications ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")


_URL: Final = "(o.owner || '/' || o.model_name || '.' || o.name)"
"""The SQL of `Offer.url`: find-offers orders by it."""


class SqliteOffers(SqliteStore):
    """The offers store; implements `domain.Offers`."""

    def __init__(self, where: Path | str | Engine) -> None:
        """Open the store's file (`":memory:"`: throw-away) or an engine, and migrate it."""
        super().__init__(where, migrations)

    def add_offer(self, offer: Offer) -> None:
        """Insert an offer and its endpoints.

        Raises:
            AlreadyExists: the model has an offer of that name.
        """
        now = offer.created_at or now_rfc3339()
        with self.transaction():
            try:
                self.engine.execute(
                    "INSERT INTO offers (uuid, model_uuid, name, owner, model_name, application,"
                    " charm, description, created_by, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        offer.uuid,
                        offer.model_uuid,
                        offer.name,
                        offer.owner,
                        offer.model_name,
                        offer.application,
                        offer.charm,
                        offer.description,
                        offer.created_by,
                        now,
                        now,
                    ),
                )
            except Conflict as err:
                if err.constraint is not Constraint.UNIQUE:  # the only one: (model_uuid, name)
                    raise
                raise errors.AlreadyExists(
                    f'cannot add application offer "{offer.name}": application offer already'
                    " exists"
                ) from err
            self._insert_endpoints(offer)

    def replace_offer(self, offer: Offer) -> None:
        """Update an offer's application, charm and description, and replace its endpoints."""
        with self.transaction():
            self.engine.execute(
                "UPDATE offers SET owner = ?, model_name = ?, application = ?, charm = ?,"
                " description = ?, updated_at = ? WHERE uuid = ?",
                (
                    offer.owner,
                    offer.model_name,
                    offer.application,
                    offer.charm,
                    offer.description,
                    now_rfc3339(),
                    offer.uuid,
                ),
            )
            self.engine.execute("DELETE FROM offer_endpoints WHERE offer_uuid = ?", (offer.uuid,))
            self._insert_endpoints(offer)

    def _insert_endpoints(self, offer: Offer) -> None:
        for ep in offer.endpoints:
            self.engine.execute(
                "INSERT INTO offer_endpoints (offer_uuid, name, interface, role)"
                " VALUES (?, ?, ?, ?)",
                (offer.uuid, ep.name, ep.interface, str(ep.role)),
            )

    def delete_offer(self, uuid: str) -> None:
        """Delete an offer with its endpoints."""
        with self.transaction():
            # ON DELETE CASCADE would do; explicit deletes keep it right without foreign keys.
            self.engine.execute("DELETE FROM offer_endpoints WHERE offer_uuid = ?", (uuid,))
            self.engine.execute("DELETE FROM offers WHERE uuid = ?", (uuid,))

    def offer(self, uuid: str) -> Offer | None:
        """An offer by UUID, with its endpoints and connections."""
        found = self._offers("o.uuid = ?", [uuid], "", 1)
        return found[0] if found else None

    def offer_named(self, model_uuid: str, name: str) -> Offer | None:
        """An offer by model and name, with its endpoints and connections."""
        found = self._offers("o.model_uuid = ? AND o.name = ?", [model_uuid, name], "", 1)
        return found[0] if found else None

    def model_label(self, model_uuid: str) -> str | None:
        """`owner/model` of a model known from its offers, or None."""
        rows = self.engine.query(
            "SELECT owner, model_name FROM offers WHERE model_uuid = ? AND model_name != ''"
            " LIMIT 1",
            (model_uuid,),
        )
        return f"{rows[0]['owner']}/{rows[0]['model_name']}" if rows else None

    def list_offers(self, where: OfferFilter, after: str | None, limit: int) -> list[Offer]:
        """Offers matching `where`, by name, with names after `after`; at most `limit`."""
        sql, params = _filter(where)
        if after is not None:
            sql.append("o.name > ?")
            params.append(after)
        return self._offers(" AND ".join(sql), params, "o.name", limit)

    def find_offers(
        self, where: OfferFilter, after: tuple[str, str] | None, limit: int
    ) -> list[Offer]:
        """Offers of every model matching `where`, by (url, uuid) after `after`."""
        sql, params = _filter(where)
        if after is not None:
            sql.append(f"({_URL}, o.uuid) > (?, ?)")
            params.extend(after)
        return self._offers(" AND ".join(sql), params, f"{_URL}, o.uuid", limit)

    def offers_of_application(self, model_uuid: str, application: str) -> list[str]:
        """Return the names of an application's offers, sorted."""
        rows = self.engine.query(
            "SELECT name FROM offers WHERE model_uuid = ? AND application = ? ORDER BY name",
            (model_uuid, application),
        )
        return [str(r["name"]) for r in rows]

    # -- SAAS ---------------------------------------------------------------------------------

    def saas(self, model_uuid: str, name: str) -> RemoteApplication | None:
        """A SAAS of a model by name, with its endpoints, or None."""
        found = self._saas("model_uuid = ? AND name = ?", (model_uuid, name))
        return found[0] if found else None

    def list_saas(self, model_uuid: str) -> list[RemoteApplication]:
        """A model's SAAS, by name."""
        return self._saas("model_uuid = ?", (model_uuid,))

    def saas_of_offer(self, offer_uuid: str) -> list[RemoteApplication]:
        """Every SAAS of this controller that stands for the offer, by model and name."""
        return self._saas("offer_uuid = ?", (offer_uuid,))

    def put_saas(self, saas: RemoteApplication) -> None:
        """Insert or replace a SAAS with its endpoints."""
        with self.transaction():
            self.delete_saas(saas.model_uuid, saas.name)
            self.engine.execute(
                "INSERT INTO remote_applications (model_uuid, name, offer_uuid, offer_url,"
                " source_model_uuid, source_controller, status, status_message, created_at,"
                " source_controller_uuid, source_address, consume_token)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    saas.model_uuid,
                    saas.name,
                    saas.offer_uuid,
                    saas.offer_url,
                    saas.source_model_uuid,
                    saas.source_controller,
                    saas.status,
                    saas.status_message,
                    saas.created_at or now_rfc3339(),
                    saas.source_controller_uuid,
                    saas.source_address,
                    saas.consume_token,
                ),
            )
            for ep in saas.endpoints:
                self.engine.execute(
                    "INSERT INTO remote_application_endpoints (model_uuid, application, name,"
                    " interface, role) VALUES (?, ?, ?, ?, ?)",
                    (saas.model_uuid, saas.name, ep.name, ep.interface, str(ep.role)),
                )

    def delete_saas(self, model_uuid: str, name: str) -> None:
        """Delete a SAAS with its endpoints."""
        with self.transaction():
            for sql in (
                "DELETE FROM remote_application_endpoints"
                " WHERE model_uuid = ? AND application = ?",
                "DELETE FROM remote_applications WHERE model_uuid = ? AND name = ?",
            ):
                self.engine.execute(sql, (model_uuid, name))

    def _saas(self, where: str, params: tuple[str, ...]) -> list[RemoteApplication]:
        with self.read():
            rows = self.engine.query(
                f"SELECT * FROM remote_applications WHERE {where} ORDER BY model_uuid, name",  # noqa: S608 - fixed clauses
                params,
            )
            ends = self.engine.query(
                "SELECT * FROM remote_application_endpoints WHERE (model_uuid, application) IN"  # noqa: S608 - fixed clauses
                f" (SELECT model_uuid, name FROM remote_applications WHERE {where})"
                " ORDER BY name",
                params,
            )
        by_saas: dict[tuple[str, str], list[OfferEndpoint]] = {}
        for e in ends:
            by_saas.setdefault((e["model_uuid"], e["application"]), []).append(
                OfferEndpoint(name=e["name"], interface=e["interface"], role=Role(e["role"]))
            )
        return [
            RemoteApplication(
                model_uuid=r["model_uuid"],
                name=r["name"],
                offer_uuid=r["offer_uuid"],
                offer_url=r["offer_url"],
                source_model_uuid=r["source_model_uuid"],
                source_controller=r["source_controller"],
                endpoints=tuple(by_saas.get((r["model_uuid"], r["name"]), ())),
                status=r["status"],
                status_message=r["status_message"],
                created_at=r["created_at"],
                source_controller_uuid=r["source_controller_uuid"],
                source_address=r["source_address"],
                consume_token=r["consume_token"],
            )
            for r in rows
        ]

    # -- firewall ---------------------------------------------------------------------------

    def firewall_rules(self, model_uuid: str) -> dict[str, tuple[str, ...]]:
        """The model's stored rules, by service; a service without a row allows all."""
        rows = self.engine.query(
            "SELECT service, cidrs FROM firewall_rules WHERE model_uuid = ?", (model_uuid,)
        )
        return {r["service"]: tuple(json.loads(r["cidrs"])) for r in rows}

    def set_firewall_rule(self, model_uuid: str, service: str, cidrs: Sequence[str]) -> None:
        """Store a service's allow-list, replacing the one before."""
        with self.transaction():
            self.engine.execute(
                "INSERT INTO firewall_rules (model_uuid, service, cidrs, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (model_uuid, service)"
                " DO UPDATE SET cidrs = excluded.cidrs, updated_at = excluded.updated_at",
                (model_uuid, service, json.dumps(list(cidrs)), now_rfc3339()),
            )

    def _offers(self, where: str, params: Sequence[str], order: str, limit: int) -> list[Offer]:
        """Offers matching a WHERE clause: one query per table, whatever the number of offers."""
        sql = f"SELECT o.* FROM offers o WHERE {where or '1=1'}"  # noqa: S608 - fixed fragments
        if order:
            sql += f" ORDER BY {order}"
        sql += " LIMIT ?"
        with self.read():
            rows = self.engine.query(sql, (*params, limit))
            uuids = [str(r["uuid"]) for r in rows]
            endpoints = _by_offer(self._children("offer_endpoints", uuids, "name"))
        return [_offer(r, endpoints.get(r["uuid"], ())) for r in rows]

    def _children(self, table: str, uuids: list[str], order: str) -> list[dict[str, Any]]:
        if not uuids:
            return []
        # json_each keeps it one statement, however many offers the page holds.
        return self.engine.query(
            f"SELECT * FROM {table} WHERE offer_uuid IN (SELECT value FROM json_each(?))"  # noqa: S608 - fixed names
            f" ORDER BY offer_uuid, {order}",
            (json.dumps(uuids),),
        )


def _filter(where: OfferFilter) -> tuple[list[str], list[str]]:
    """SQL conditions for the non-empty fields of a filter, all exact."""
    sql: list[str] = []
    params: list[str] = []
    for column, value in (
        ("o.model_uuid", where.model_uuid),
        ("o.owner", where.model_owner),
        ("o.model_name", where.model_name),
        ("o.name", where.name),
        ("o.application", where.application),
    ):
        if value:
            sql.append(f"{column} = ?")
            params.append(value)
    for column, value in (("interface", where.interface), ("name", where.endpoint)):
        if value:
            sql.append(
                "EXISTS (SELECT 1 FROM offer_endpoints e"  # noqa: S608 - fixed names
                f" WHERE e.offer_uuid = o.uuid AND e.{column} = ?)"
            )
            params.append(value)
    return sql, params


def _by_offer(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        grouped.setdefault(str(r["offer_uuid"]), []).append(r)
    return grouped


def _offer(row: dict[str, Any], endpoints: Iterable[dict[str, Any]]) -> Offer:
    return Offer(
        uuid=row["uuid"],
        model_uuid=row["model_uuid"],
        owner=row["owner"],
        model_name=row["model_name"],
        name=row["name"],
        application=row["application"],
        charm=row["charm"],
        description=row["description"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        endpoints=tuple(
            OfferEndpoint(name=e["name"], interface=e["interface"], role=Role(e["role"]))
            for e in endpoints
        ),
    )
