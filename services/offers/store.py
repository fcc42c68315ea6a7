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

Child rows go with their parent (`ON DELETE CASCADE`), so a removal is one DELETE. Times are
RFC 3339 UTC text.
"""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from services.common.db import SqliteStore, now_rfc3339, outbox_migration
from services.offers.domain import Offer

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


class SqliteOffers(SqliteStore):
    """The offers store; implements `domain.Offers`."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path, migrations)

    def add_offer(self, offer: Offer) -> None:
        """Insert an offer and its endpoints."""
        now = offer.created_at or now_rfc3339()
        with self.transaction():
            self.db.execute(
                "INSERT INTO offers (uuid, model_uuid, name, owner, application, description,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    offer.uuid,
                    offer.model_uuid,
                    offer.name,
                    offer.owner,
                    offer.application,
                    offer.description,
                    now,
                    now,
                ),
            )
            for ep in offer.endpoints:
                self.db.execute(
                    "INSERT INTO offer_endpoints (offer_uuid, name, interface, role)"
                    " VALUES (?, ?, ?, ?)",
                    (offer.uuid, ep.name, ep.interface, str(ep.role)),
                )

    def offers_of_application(self, model_uuid: str, application: str) -> list[str]:
        """Return the names of an application's offers, sorted."""
        rows = self.query(
            "SELECT name FROM offers WHERE model_uuid = ? AND application = ? ORDER BY name",
            (model_uuid, application),
        )
        return [str(r["name"]) for r in rows]
