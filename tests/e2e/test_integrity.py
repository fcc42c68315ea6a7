"""Cross-model relation integrity across the stores, after every teardown path.

Modelled on Juju's `cmr_integrity` tests: each test builds its own offering model `off-N`
(mysql, offered as `admin/off-N.mysql`) and consuming model `con-N` (mediawiki related to the
offer, which consumes it as the SAAS `mysql`), tears the cross-model relation down one way,
and then checks the invariants that must hold between the SQLite files of the relations,
offers, access and placement services (`assert_integrity`) as well as that path's own
expectations through `cmr`.

The files are opened read-only with the stdlib `sqlite3` module and closed after each query.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import pytest

from cli.client import GatewayStubs
from cmr.gateway.v1 import gateway_pb2
from tests.e2e.conftest import Cmr, Controller

PROXY = re.compile(r"remote-[0-9a-f]{32}")
"""The name of a consumer proxy in the offering model."""


@pytest.fixture(scope="module")
def data_dir(controller: Controller) -> Path:
    """The module's controller data directory, where each service keeps `<service>.db`."""
    return controller.data_dir


# -- reading the stores ------------------------------------------------------------------------


def _rows(data_dir: Path, store: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Run one query against `<data_dir>/<store>.db`, opened read-only, then close it."""
    path = data_dir / f"{store}.db"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute(sql, params)]


def _halves(data_dir: Path, model_uuid: str | None = None) -> list[dict[str, Any]]:
    """Cross-model relation halves (rows with a token), optionally of one model."""
    sql = "SELECT * FROM relations WHERE token != ''"
    if model_uuid is None:
        return _rows(data_dir, "relations", sql)
    return _rows(data_dir, "relations", sql + " AND model_uuid = ?", model_uuid)


def _model_uuid(data_dir: Path, name: str) -> str:
    found = _rows(data_dir, "placement", "SELECT uuid FROM models WHERE name = ?", name)
    assert len(found) == 1, (name, found)
    return str(found[0]["uuid"])


def _saas(data_dir: Path, model_uuid: str) -> dict[str, dict[str, Any]]:
    """The SAAS records of a model, by name."""
    rows = _rows(
        data_dir, "offers", "SELECT * FROM remote_applications WHERE model_uuid = ?", model_uuid
    )
    return {row["name"]: row for row in rows}


def _offer_rows(data_dir: Path, model_uuid: str) -> list[dict[str, Any]]:
    return _rows(data_dir, "offers", "SELECT * FROM offers WHERE model_uuid = ?", model_uuid)


# -- the invariants ----------------------------------------------------------------------------


def _check_halves_pair(data_dir: Path) -> list[dict[str, Any]]:
    """Invariant 1: halves come in consumer/offerer pairs that agree with each other."""
    halves = _halves(data_dir)
    by_token: dict[str, list[dict[str, Any]]] = {}
    for half in halves:
        by_token.setdefault(half["token"], []).append(half)
    for token, pair in by_token.items():
        assert sorted(h["side"] for h in pair) == ["consumer", "offerer"], (token, pair)
        consumer = next(h for h in pair if h["side"] == "consumer")
        offerer = next(h for h in pair if h["side"] == "offerer")
        assert consumer["model_uuid"] != offerer["model_uuid"], pair
        assert offerer["source_model_uuid"] == consumer["model_uuid"], pair
        assert consumer["offer_uuid"] == "", consumer
    return halves


def _check_offerer_halves(data_dir: Path, halves: list[dict[str, Any]]) -> None:
    """Invariant 2: each offerer half names an existing offer, of its model, and its proxy."""
    offers = {o["uuid"]: o for o in _rows(data_dir, "offers", "SELECT * FROM offers")}
    for half in (h for h in halves if h["side"] == "offerer"):
        offer = offers.get(half["offer_uuid"])
        assert offer is not None, ("offerer half names no offer", half)
        assert offer["model_uuid"] == half["model_uuid"], (half, offer)
        ends = _rows(
            data_dir,
            "relations",
            "SELECT application, remote FROM relation_endpoints"
            " WHERE model_uuid = ? AND relation_id = ?",
            half["model_uuid"],
            half["id"],
        )
        local = [e["application"] for e in ends if not e["remote"]]
        remote = [e["application"] for e in ends if e["remote"]]
        assert local == [offer["application"]], (half, ends)
        assert len(remote) == 1, (half, ends)
        assert PROXY.fullmatch(remote[0]), (half, ends)


def _check_consumer_halves(data_dir: Path, halves: list[dict[str, Any]]) -> None:
    """Invariant 3: each consumer half relates a local application to a live SAAS of its model.

    The SAAS consumes the very offer the partner (offerer) half belongs to.
    """
    offerer_offer = {h["token"]: h["offer_uuid"] for h in halves if h["side"] == "offerer"}
    for half in (h for h in halves if h["side"] == "consumer"):
        ends = _rows(
            data_dir,
            "relations",
            "SELECT application, remote FROM relation_endpoints"
            " WHERE model_uuid = ? AND relation_id = ?",
            half["model_uuid"],
            half["id"],
        )
        remote = [e["application"] for e in ends if e["remote"]]
        assert len(remote) == 1, (half, ends)
        saas = _saas(data_dir, half["model_uuid"]).get(remote[0])
        assert saas is not None, ("consumer half without its SAAS", half, ends)
        assert saas["status"] != "terminated", (half, saas)
        assert saas["offer_uuid"] == offerer_offer.get(half["token"]), (half, saas)


def _check_local_applications(data_dir: Path) -> None:
    """Invariant 3 (local side): non-remote endpoints name applications placement knows."""
    ends = _rows(
        data_dir,
        "relations",
        "SELECT model_uuid, relation_id, application FROM relation_endpoints WHERE remote = 0",
    )
    apps = {
        (a["model_uuid"], a["name"])
        for a in _rows(data_dir, "placement", "SELECT model_uuid, name FROM applications")
    }
    missing = [e for e in ends if (e["model_uuid"], e["application"]) not in apps]
    assert missing == [], ("endpoints of applications placement does not have", missing)


def _check_units(data_dir: Path) -> None:
    """Units in scope are placement's units, of an application local to that relation."""
    units = {
        (u["model_uuid"], u["name"]): u["application"]
        for u in _rows(data_dir, "placement", "SELECT model_uuid, name, application FROM units")
    }
    ends = {
        (e["model_uuid"], e["relation_id"], e["application"])
        for e in _rows(
            data_dir,
            "relations",
            "SELECT model_uuid, relation_id, application FROM relation_endpoints WHERE remote = 0",
        )
    }
    for row in _rows(data_dir, "relations", "SELECT * FROM relation_units"):
        assert units.get((row["model_uuid"], row["unit"])) == row["application"], row
        assert (row["model_uuid"], row["relation_id"], row["application"]) in ends, row


def _check_no_orphans(data_dir: Path) -> None:
    """Invariants 4 and 5: no child rows without their parent; nothing in a vanished model."""
    for child in ("relation_endpoints", "relation_units"):
        orphans = _rows(
            data_dir,
            "relations",
            f"SELECT c.* FROM {child} c LEFT JOIN relations r"  # noqa: S608 - fixed names
            " ON r.model_uuid = c.model_uuid AND r.id = c.relation_id WHERE r.id IS NULL",
        )
        assert orphans == [], (child, orphans)
    orphans = _rows(
        data_dir,
        "offers",
        "SELECT e.* FROM remote_application_endpoints e LEFT JOIN remote_applications a"
        " ON a.model_uuid = e.model_uuid AND a.name = e.application WHERE a.name IS NULL",
    )
    assert orphans == [], ("remote_application_endpoints", orphans)
    models = {m["uuid"] for m in _rows(data_dir, "placement", "SELECT uuid FROM models")}
    for store, table in (
        ("relations", "relations"),
        ("offers", "offers"),
        ("offers", "remote_applications"),
    ):
        rows = _rows(data_dir, store, f"SELECT * FROM {table}")  # noqa: S608 - fixed names
        stale = [row for row in rows if row["model_uuid"] not in models]
        assert stale == [], (f"{table} rows of destroyed models", stale)


def _check_live_saas(data_dir: Path) -> None:
    """A SAAS that is not terminated consumes an offer that exists."""
    offers = {o["uuid"] for o in _rows(data_dir, "offers", "SELECT uuid FROM offers")}
    live = _rows(
        data_dir, "offers", "SELECT * FROM remote_applications WHERE status != 'terminated'"
    )
    dangling = [s for s in live if s["offer_uuid"] not in offers]
    assert dangling == [], ("live SAAS of a removed offer", dangling)


def _check_permissions(data_dir: Path) -> None:
    """Access: no offer (or model) permissions outlive their offer (or model)."""
    offers = {o["uuid"] for o in _rows(data_dir, "offers", "SELECT uuid FROM offers")}
    models = {m["uuid"] for m in _rows(data_dir, "placement", "SELECT uuid FROM models")}
    perms = _rows(data_dir, "access", "SELECT * FROM permissions WHERE kind != 'controller'")
    stale = [
        p
        for p in perms
        if (p["kind"] == "offer" and p["target_id"] not in offers)
        or (p["kind"] == "model" and p["target_id"] not in models)
    ]
    assert stale == [], ("permissions of removed targets", stale)


def _check_connection_counts(data_dir: Path, cmr: Cmr, halves: list[dict[str, Any]]) -> None:
    """Invariant 6: what `cmr offers` and `cmr status` count is exactly the offerer halves."""
    ids: dict[str, set[int]] = {}
    for half in (h for h in halves if h["side"] == "offerer"):
        ids.setdefault(half["offer_uuid"], set()).add(half["id"])
    models = {
        m["uuid"]: f"{m['owner']}/{m['name']}"
        for m in _rows(data_dir, "placement", "SELECT uuid, owner, name FROM models")
    }
    offers = _rows(data_dir, "offers", "SELECT uuid, model_uuid, name FROM offers")
    for model_uuid in sorted({o["model_uuid"] for o in offers}):
        model = models[model_uuid]
        listed = cmr.json("offers", "-m", model)
        shown = cmr.json("status", "-m", model)["offers"]
        for offer in (o for o in offers if o["model_uuid"] == model_uuid):
            expected = ids.get(offer["uuid"], set())
            connections = listed[offer["name"]].get("connections", [])
            assert len(connections) == len(expected), (model, offer, connections)
            assert {c["relation-id"] for c in connections} == expected, (model, connections)
            status = shown[offer["name"]]
            if expected:
                assert status["total-connected-count"] == len(expected), (model, status)
            else:
                assert "total-connected-count" not in status, (model, status)
                assert "active-connected-count" not in status, (model, status)


def assert_integrity(data_dir: Path, cmr: Cmr) -> None:
    """Check the cross-store invariants of cross-model relations on the controller."""
    halves = _check_halves_pair(data_dir)
    _check_offerer_halves(data_dir, halves)
    _check_consumer_halves(data_dir, halves)
    _check_local_applications(data_dir)
    _check_units(data_dir)
    _check_no_orphans(data_dir)
    _check_live_saas(data_dir)
    _check_permissions(data_dir)
    _check_connection_counts(data_dir, cmr, halves)


# -- scenario helpers --------------------------------------------------------------------------


def _offer(cmr: Cmr, off: str) -> None:
    cmr.ok("add-model", off)
    cmr.ok("deploy", "mysql", "-m", off)
    cmr.ok("offer", f"{off}.mysql:db", "-m", off)


def _consume(cmr: Cmr, off: str, con: str) -> None:
    cmr.ok("add-model", con)
    cmr.ok("deploy", "mediawiki", "-m", con)
    cmr.ok("add-relation", "mediawiki", f"admin/{off}.mysql", "-m", con)


def _setup(cmr: Cmr, data_dir: Path, n: str) -> tuple[str, str]:
    """Offer mysql from `off-N`, relate mediawiki in `con-N` to it; check the starting point."""
    off, con = f"off-{n}", f"con-{n}"
    _offer(cmr, off)
    _consume(cmr, off, con)
    (offerer,) = _halves(data_dir, _model_uuid(data_dir, off))
    (consumer,) = _halves(data_dir, _model_uuid(data_dir, con))
    assert _connections(cmr, off) != []
    # the units enter scope (from placement's feed), so the teardown has unit rows to remove
    _eventually(lambda: _in_scope(data_dir, offerer) == ["mysql/0"])
    _eventually(lambda: _in_scope(data_dir, consumer) == ["mediawiki/0"])
    assert_integrity(data_dir, cmr)
    return off, con


def _in_scope(data_dir: Path, relation: dict[str, Any]) -> list[str]:
    rows = _rows(
        data_dir,
        "relations",
        "SELECT unit FROM relation_units WHERE model_uuid = ? AND relation_id = ? ORDER BY unit",
        relation["model_uuid"],
        relation["id"],
    )
    return [row["unit"] for row in rows]


def _eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `check()` holds; what a feed's reactor applies can lag a little."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def _connections(cmr: Cmr, off: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = cmr.json("offers", "-m", off)["mysql"].get("connections", [])
    return found


def _relations(cmr: Cmr, model: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = cmr.json("status", "-m", model, "--relations").get(
        "relations", []
    )
    return found


def _saas_status(cmr: Cmr, con: str) -> dict[str, Any]:
    endpoints = cmr.json("status", "-m", con)["application-endpoints"]
    status: dict[str, Any] = endpoints["mysql"]
    return status


def _relation_events(data_dir: Path, *model_uuids: str) -> list[dict[str, Any]]:
    """The relations feed's `relation-added` and `relation-removed` events of some models."""
    marks = ",".join("?" * len(model_uuids))
    return _rows(
        data_dir,
        "relations",
        "SELECT sequence, kind, model_uuid, entity FROM outbox"  # noqa: S608 - only placeholders
        f" WHERE kind IN ('relation-added', 'relation-removed') AND model_uuid IN ({marks})"
        " ORDER BY sequence",
        *model_uuids,
    )


def _no_halves(data_dir: Path, *models: str) -> None:
    for model in models:
        assert _halves(data_dir, _model_uuid(data_dir, model)) == [], model


def _assert_drained(cmr: Cmr, off: str) -> None:
    """The offer is still there and has no connections left."""
    assert _connections(cmr, off) == []
    offer = cmr.json("status", "-m", off)["offers"]["mysql"]
    assert "total-connected-count" not in offer
    assert "active-connected-count" not in offer


def _assert_terminated(cmr: Cmr, con: str) -> None:
    saas = _saas_status(cmr, con)
    assert saas["application-status"] == {
        "current": "terminated",
        "message": "offer has been removed",
    }
    assert "relations" not in saas
    assert "relations" not in cmr.json("status", "-m", con)["applications"]["mediawiki"]


# -- the teardown paths ------------------------------------------------------------------------


def test_clean_teardown(cmr: Cmr, data_dir: Path) -> None:
    off, con = _setup(cmr, data_dir, "1")
    cmr.ok("remove-relation", "mediawiki", "mysql", "-m", con)
    _no_halves(data_dir, off, con)
    _assert_drained(cmr, off)
    assert _saas_status(cmr, con)["application-status"] == {"current": "unknown"}
    assert_integrity(data_dir, cmr)

    cmr.ok("remove-saas", "mysql", "-m", con)
    assert "application-endpoints" not in cmr.json("status", "-m", con)
    assert _saas(data_dir, _model_uuid(data_dir, con)) == {}
    assert_integrity(data_dir, cmr)

    cmr.ok("remove-offer", f"admin/{off}.mysql", "-y")
    assert "offers" not in cmr.json("status", "-m", off)
    assert _offer_rows(data_dir, _model_uuid(data_dir, off)) == []
    assert_integrity(data_dir, cmr)


def test_offerer_removes_relation_by_id(cmr: Cmr, data_dir: Path) -> None:
    off, con = _setup(cmr, data_dir, "2")
    relation_id = cmr.json("offers", "-m", off)["mysql"]["connections"][0]["relation-id"]
    cmr.ok("remove-relation", str(relation_id), "-m", off)
    _no_halves(data_dir, off, con)
    _assert_drained(cmr, off)
    assert _relations(cmr, con) == []
    saas = _saas_status(cmr, con)
    assert saas["application-status"] == {"current": "unknown"}
    assert "relations" not in saas
    assert_integrity(data_dir, cmr)


def test_teardown_then_relate_again_never_reuses_ids(cmr: Cmr, data_dir: Path) -> None:
    off, con = _setup(cmr, data_dir, "3")
    first_offerer = _connections(cmr, off)[0]["relation-id"]
    first_consumer = _relations(cmr, con)[0]["id"]
    cmr.ok("remove-relation", "mediawiki", "mysql", "-m", con)
    cmr.ok("remove-saas", "mysql", "-m", con)
    _no_halves(data_dir, off, con)
    assert_integrity(data_dir, cmr)

    cmr.ok("add-relation", "mediawiki", f"admin/{off}.mysql", "-m", con)
    assert _saas_status(cmr, con)["application-status"] == {"current": "unknown"}
    second_offerer = _connections(cmr, off)[0]["relation-id"]
    (second,) = _relations(cmr, con)
    assert second["status"] == {"current": "joined"}
    assert second_offerer > first_offerer
    assert second["id"] > first_consumer
    assert_integrity(data_dir, cmr)

    # and once more, removing the relation from the offering side this time
    cmr.ok("remove-relation", str(second_offerer), "-m", off)
    cmr.ok("add-relation", "mediawiki", "mysql", "-m", con)
    assert _connections(cmr, off)[0]["relation-id"] > second_offerer
    assert _relations(cmr, con)[0]["id"] > second["id"]
    assert_integrity(data_dir, cmr)


def test_destroy_consuming_model(cmr: Cmr, data_dir: Path) -> None:
    off, con = _setup(cmr, data_dir, "4")
    con_uuid = _model_uuid(data_dir, con)
    cmr.ok("destroy-model", con, "-y")
    _assert_drained(cmr, off)
    _no_halves(data_dir, off)
    assert _halves(data_dir, con_uuid) == []
    assert _saas(data_dir, con_uuid) == {}
    assert_integrity(data_dir, cmr)


def test_destroy_offering_model(cmr: Cmr, data_dir: Path) -> None:
    off, con = _setup(cmr, data_dir, "5")
    off_uuid = _model_uuid(data_dir, off)
    cmr.ok("destroy-model", off, "-y")
    _assert_terminated(cmr, con)
    assert _relations(cmr, con) == []
    _no_halves(data_dir, con)
    assert _halves(data_dir, off_uuid) == []
    assert _offer_rows(data_dir, off_uuid) == []
    assert_integrity(data_dir, cmr)

    cmr.ok("remove-saas", "mysql", "-m", con)
    assert "application-endpoints" not in cmr.json("status", "-m", con)
    assert_integrity(data_dir, cmr)


def test_remove_offer_needs_force(cmr: Cmr, data_dir: Path) -> None:
    off, con = _setup(cmr, data_dir, "6")
    url = f"admin/{off}.mysql"
    assert cmr.fails("remove-offer", url, "-y") == (
        'ERROR cannot delete application offer "mysql": offer has 1 relation'
    )
    assert len(_connections(cmr, off)) == 1
    assert_integrity(data_dir, cmr)

    cmr.ok("remove-offer", url, "--force", "-y")
    assert "offers" not in cmr.json("status", "-m", off)
    _no_halves(data_dir, off, con)
    _assert_terminated(cmr, con)
    assert_integrity(data_dir, cmr)


def test_remove_consuming_application(cmr: Cmr, data_dir: Path) -> None:
    off, con = _setup(cmr, data_dir, "7")
    cmr.ok("remove-application", "mediawiki", "-m", con)
    _no_halves(data_dir, off, con)
    _assert_drained(cmr, off)
    status = cmr.json("status", "-m", con)
    assert "mediawiki" not in status.get("applications", {})
    saas = status["application-endpoints"]["mysql"]
    assert saas["application-status"] == {"current": "unknown"}
    assert "relations" not in saas
    assert_integrity(data_dir, cmr)


def test_remove_offered_application(cmr: Cmr, data_dir: Path) -> None:
    off, con = _setup(cmr, data_dir, "8")
    refused = cmr.fails("remove-application", "mysql", "-m", off)
    assert refused.startswith("ERROR cannot destroy application"), refused
    assert len(_connections(cmr, off)) == 1
    assert_integrity(data_dir, cmr)

    cmr.ok("remove-application", "mysql", "--force", "-m", off)
    status = cmr.json("status", "-m", off)
    assert "offers" not in status
    assert "mysql" not in status.get("applications", {})
    assert _offer_rows(data_dir, _model_uuid(data_dir, off)) == []
    _no_halves(data_dir, off, con)
    _assert_terminated(cmr, con)
    assert_integrity(data_dir, cmr)


def test_remove_saas_with_force(cmr: Cmr, data_dir: Path) -> None:
    off, con = _setup(cmr, data_dir, "9")
    cmr.ok("remove-saas", "mysql", "--force", "-m", con)
    _no_halves(data_dir, off, con)
    _assert_drained(cmr, off)
    status = cmr.json("status", "-m", con)
    assert "application-endpoints" not in status
    assert "relations" not in status["applications"]["mediawiki"]
    assert _saas(data_dir, _model_uuid(data_dir, con)) == {}
    assert_integrity(data_dir, cmr)


def test_two_consumers_one_leaves(cmr: Cmr, data_dir: Path) -> None:
    off, con_a, con_b = "off-10", "con-10-a", "con-10-b"
    _offer(cmr, off)
    _consume(cmr, off, con_a)
    _consume(cmr, off, con_b)
    assert len(_connections(cmr, off)) == 2
    assert_integrity(data_dir, cmr)

    cmr.ok("remove-relation", "mediawiki", "mysql", "-m", con_a)
    _no_halves(data_dir, con_a)
    (left,) = _connections(cmr, off)
    assert left["source-model-uuid"] == _model_uuid(data_dir, con_b)
    assert left["status"] == {"current": "joined"}
    offer = cmr.json("status", "-m", off)["offers"]["mysql"]
    assert offer["total-connected-count"] == 1
    assert offer["active-connected-count"] == 1
    (kept,) = _relations(cmr, con_b)
    assert kept["status"] == {"current": "joined"}
    assert Counter(h["side"] for h in _halves(data_dir, _model_uuid(data_dir, off))) == {
        "offerer": 1
    }
    assert_integrity(data_dir, cmr)


def test_a_refused_offering_half_leaves_no_consumer_half(cmr: Cmr, data_dir: Path) -> None:
    """The same offer consumed twice: the second relation's offerer half would repeat the first.

    Both SAAS stand for one offer, and the proxy stands for one consuming application, so the
    offering model refuses the second half. The consumer's half it would have paired with is
    not left behind, and neither is anything else.
    """
    off, con = _setup(cmr, data_dir, "11")
    cmr.ok("consume", f"admin/{off}.mysql", "mysql-b", "-m", con)
    models = (_model_uuid(data_dir, off), _model_uuid(data_dir, con))
    before = _halves(data_dir), _relation_events(data_dir, *models)
    refused = cmr.fails("add-relation", "mediawiki", "mysql-b", "-m", con)
    assert PROXY.search(refused), refused
    assert refused.splitlines()[0].endswith(":db mysql:db already exists"), refused
    # nothing was written and undone: not even a feed event says a half was there
    assert (_halves(data_dir), _relation_events(data_dir, *models)) == before
    assert [r["key"] for r in _relations(cmr, con)] == ["mediawiki:db mysql:db"]
    assert len(_connections(cmr, off)) == 1
    assert_integrity(data_dir, cmr)


def test_racing_adds_and_removes_never_leave_a_half_alone(
    cmr: Cmr, data_dir: Path, controller: Controller
) -> None:
    """Eight clients add and remove the same cross-model relation at once, through the gateway.

    Whatever the interleaving, each add makes both halves or neither and each remove takes both,
    so the relation can always be made again afterwards.
    """
    off, con = _setup(cmr, data_dir, "12")
    cmr.ok("remove-relation", "mediawiki", "mysql", "-m", con)
    expected = {grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.NOT_FOUND}
    unexpected: list[tuple[grpc.StatusCode | None, str]] = []

    with grpc.insecure_channel(controller.address) as channel:
        stub = GatewayStubs.over(channel)
        login = gateway_pb2.LoginRequest(user="admin", password=controller.password)
        token = stub.session.Login(login, timeout=10).token
        metadata = (("authorization", f"Bearer {token}"),)

        calls: list[Callable[[], object]] = [
            partial(
                stub.models.AddRelation,
                gateway_pb2.AddRelationRequest(model=con, a="mediawiki", b="mysql"),
                metadata=metadata,
                timeout=10,
            ),
            partial(
                stub.models.RemoveRelation,
                gateway_pb2.RemoveRelationRequest(model=con, a="mediawiki", b="mysql"),
                metadata=metadata,
                timeout=10,
            ),
        ]

        def churn() -> None:
            for _ in range(6):
                for call in calls:
                    try:
                        call()
                    except grpc.RpcError as err:
                        code = err.code() if isinstance(err, grpc.Call) else None
                        if code not in expected:
                            unexpected.append((code, str(err)))

        with ThreadPoolExecutor(max_workers=8) as pool:
            for done in [pool.submit(churn) for _ in range(8)]:
                done.result()

    assert unexpected == []
    assert_integrity(data_dir, cmr)
    if _halves(data_dir, _model_uuid(data_dir, con)):
        cmr.ok("remove-relation", "mediawiki", "mysql", "-m", con)
    _no_halves(data_dir, off, con)
    cmr.ok("add-relation", "mediawiki", "mysql", "-m", con)
    assert len(_connections(cmr, off)) == 1
    assert_integrity(data_dir, cmr)
