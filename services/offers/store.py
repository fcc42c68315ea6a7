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

Child rows go with their parent (`ON DELETE CASCADE`), so a removal is one DELETE. Times are
RFC 3339 UTC text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from services.common.db import SqliteStore, now_rfc3339, outbox_migration
from services.offers.domain import Offer, OfferConnection, OfferEndpoint, OfferFilter, Role

migrations = Migrations("cmr.offers")


@migrations(name="001_offers_saas_firewall")
def _001(db: Database) -> None:
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
def _002(db: Database) -> None:
    db.execute("ALTER TABLE offers ADD COLUMN model_name TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE offers ADD COLUMN charm TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE offers ADD COLUMN created_by TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE offer_connections ADD COLUMN status TEXT NOT NULL DEFAULT 'joined'")
    db.execute("ALTER TABLE offer_connections ADD COLUMN message TEXT NOT NULL DEFAULT ''")


_URL: Final = "(o.owner || '/' || o.model_name || '.' || o.name)"
"""The SQL of `Offer.url`: find-offers orders by it."""


class SqliteOffers(SqliteStore):
    """The offers store; implements `domain.Offers`."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path, migrations)

    def add_offer(self, offer: Offer) -> None:
        """Insert an offer and its endpoints."""
        now = offer.created_at or now_rfc3339()
        with self.transaction():
            self.db.execute(
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
            self._insert_endpoints(offer)

    def replace_offer(self, offer: Offer) -> None:
        """Update an offer's application, charm and description, and replace its endpoints."""
        with self.transaction():
            self.db.execute(
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
            self.db.execute("DELETE FROM offer_endpoints WHERE offer_uuid = ?", (offer.uuid,))
            self._insert_endpoints(offer)

    def _insert_endpoints(self, offer: Offer) -> None:
        for ep in offer.endpoints:
            self.db.execute(
                "INSERT INTO offer_endpoints (offer_uuid, name, interface, role)"
                " VALUES (?, ?, ?, ?)",
                (offer.uuid, ep.name, ep.interface, str(ep.role)),
            )

    def delete_offer(self, uuid: str) -> None:
        """Delete an offer with its endpoints and connections."""
        with self.transaction():
            # ON DELETE CASCADE would do; explicit deletes keep it right without foreign keys.
            self.db.execute("DELETE FROM offer_connections WHERE offer_uuid = ?", (uuid,))
            self.db.execute("DELETE FROM offer_endpoints WHERE offer_uuid = ?", (uuid,))
            self.db.execute("DELETE FROM offers WHERE uuid = ?", (uuid,))

    def add_connection(self, connection: OfferConnection) -> None:
        """Record a cross-model relation to an offer."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO offer_connections (offer_uuid, relation_id, source_model_uuid,"
                " username, endpoint, consumer_application, ingress_cidrs, status, message,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    connection.offer_uuid,
                    connection.relation_id,
                    connection.source_model_uuid,
                    connection.username,
                    connection.endpoint,
                    connection.consumer_application,
                    json.dumps(list(connection.ingress_cidrs)),
                    connection.status,
                    connection.message,
                    connection.created_at or now_rfc3339(),
                ),
            )

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
        rows = self.query(
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
        rows = self.query(
            "SELECT name FROM offers WHERE model_uuid = ? AND application = ? ORDER BY name",
            (model_uuid, application),
        )
        return [str(r["name"]) for r in rows]

    def _offers(self, where: str, params: Sequence[str], order: str, limit: int) -> list[Offer]:
        """Offers matching a WHERE clause: one query per table, whatever the number of offers."""
        sql = f"SELECT o.* FROM offers o WHERE {where or '1=1'}"  # noqa: S608 - fixed fragments
        if order:
            sql += f" ORDER BY {order}"
        sql += " LIMIT ?"
        with self.read():
            rows = self.query(sql, (*params, limit))
            uuids = [str(r["uuid"]) for r in rows]
            endpoints = _by_offer(self._children("offer_endpoints", uuids, "name"))
            connections = _by_offer(self._children("offer_connections", uuids, "relation_id"))
        return [
            _offer(r, endpoints.get(r["uuid"], ()), connections.get(r["uuid"], ())) for r in rows
        ]

    def _children(self, table: str, uuids: list[str], order: str) -> list[dict[str, Any]]:
        if not uuids:
            return []
        # json_each keeps it one statement, however many offers the page holds.
        return self.query(
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


def _offer(
    row: dict[str, Any],
    endpoints: Iterable[dict[str, Any]],
    connections: Iterable[dict[str, Any]],
) -> Offer:
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
        connections=tuple(
            OfferConnection(
                offer_uuid=c["offer_uuid"],
                relation_id=int(c["relation_id"]),
                source_model_uuid=c["source_model_uuid"],
                username=c["username"],
                endpoint=c["endpoint"],
                consumer_application=c["consumer_application"],
                ingress_cidrs=tuple(json.loads(c["ingress_cidrs"])),
                status=c["status"],
                message=c["message"],
                created_at=c["created_at"],
            )
            for c in connections
        ),
    )
