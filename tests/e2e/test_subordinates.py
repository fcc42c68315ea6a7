"""Subordinate applications through the CLI: their units follow principals and relations."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Cmr, Controller


def _units(status: dict[str, Any], app: str) -> dict[str, Any]:
    units: dict[str, Any] = status["applications"][app].get("units", {})
    return units


def _subordinates(status: dict[str, Any], app: str) -> dict[str, list[str]]:
    return {
        name: sorted(unit.get("subordinates", {})) for name, unit in _units(status, app).items()
    }


def test_subordinate_units_follow_their_principals_and_relations(cmr: Cmr) -> None:
    cmr.ok("add-model", "subs")
    cmr.ok("deploy", "mysql")
    cmr.ok("deploy", "wordpress")
    cmr.ok("add-relation", "mysql", "wordpress")
    # a subordinate deploys with no units
    cmr.ok("deploy", "logging")
    status = cmr.json("status")
    assert "units" not in status["applications"]["logging"]
    # relating it to a principal puts one unit in each principal unit's container
    cmr.ok("add-relation", "logging", "wordpress")
    status = cmr.json("status")
    assert _subordinates(status, "wordpress") == {"wordpress/0": ["logging/0"]}
    cmr.ok("add-relation", "logging", "mysql")
    status = cmr.json("status", "--relations")
    assert _subordinates(status, "mysql") == {"mysql/0": ["logging/1"]}
    logging = status["applications"]["logging"]
    assert logging["subordinate-to"] == ["mysql", "wordpress"]
    assert "units" not in logging
    assert logging["relations"] == {
        "info": [{"related-application": "mysql", "interface": "juju-info", "scope": "container"}],
        "logging-directory": [
            {"related-application": "wordpress", "interface": "logging", "scope": "container"}
        ],
    }
    # subordinate units inherit their principal's address, and show no machine
    mysql0 = _units(status, "mysql")["mysql/0"]
    nested = mysql0["subordinates"]["logging/1"]
    assert nested["public-address"] == mysql0["public-address"]
    assert "machine" not in nested
    # the tabular view nests them, indented, without a machine
    table = cmr.ok("status")
    lines = table.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("wordpress/0"))
    assert lines[at + 1].startswith("  logging/0")
    # scaling the principal gives the new unit its own subordinate
    cmr.ok("add-unit", "wordpress")
    status = cmr.json("status")
    assert _subordinates(status, "wordpress") == {
        "wordpress/0": ["logging/0"],
        "wordpress/1": ["logging/2"],
    }
    # subordinate units go with their relation or their principal, never by remove-unit
    refused = cmr.fails("remove-unit", "logging/0")
    assert refused == (
        'ERROR removing unit logging/0 failed: unit "logging/0" is a subordinate, to remove use '
        'remove-relation. Note: this will remove all units of "logging"'
    )
    assert cmr.fails("add-unit", "logging") == (
        'ERROR cannot add unit to application "logging": application is a subordinate'
    )
    cmr.ok("remove-unit", "wordpress/1")
    status = cmr.json("status")
    assert _subordinates(status, "wordpress") == {"wordpress/0": ["logging/0"]}
    # removing the relation to wordpress removes only the units under wordpress
    cmr.ok("remove-relation", "logging", "wordpress")
    status = cmr.json("status")
    assert _subordinates(status, "wordpress") == {"wordpress/0": []}
    assert _subordinates(status, "mysql") == {"mysql/0": ["logging/1"]}
    assert status["applications"]["logging"]["subordinate-to"] == ["mysql"]
    # relating again uses new numbers
    cmr.ok("add-relation", "logging", "wordpress")
    status = cmr.json("status")
    assert _subordinates(status, "wordpress") == {"wordpress/0": ["logging/3"]}
    # removing the subordinate application removes all its units
    cmr.ok("remove-application", "logging")
    status = cmr.json("status")
    assert "logging" not in status["applications"]
    assert _subordinates(status, "mysql") == {"mysql/0": []}


def test_bad_subordinate_requests_change_nothing(cmr: Cmr) -> None:
    cmr.ok("add-model", "subs-bad")
    cmr.ok("deploy", "mysql", "-n", "2")
    cmr.ok("deploy", "wordpress")
    before = cmr.json("status")
    assert cmr.fails("deploy", "logging", "-n", "2") == (
        "ERROR cannot use --num-units or --to with subordinate application"
    )
    assert cmr.fails("deploy", "logging", "--to", "0") == (
        "ERROR cannot use --num-units or --to with subordinate application"
    )
    # two principals on a container endpoint
    assert cmr.fails("add-relation", "wordpress:logging-dir", "mysql:juju-info") in (
        'ERROR cannot add relation "wordpress:logging-dir mysql:juju-info": container scoped '
        "relation requires at least one subordinate application",
        "ERROR no relations found",
    )
    after = cmr.json("status")
    assert after["applications"] == before["applications"]
    assert after["machines"] == before["machines"]
    cmr.ok("deploy", "logging")
    assert cmr.fails("add-relation", "logging", "logging").startswith("ERROR ")
    status = cmr.json("status")
    assert "relations" not in status["applications"]["logging"]


def test_status_of_a_subordinate_shows_its_principals(cmr: Cmr) -> None:
    cmr.ok("add-model", "subs-filter")
    cmr.ok("deploy", "mysql")
    cmr.ok("deploy", "wordpress", "-n", "2")
    cmr.ok("deploy", "logging")
    cmr.ok("add-relation", "logging", "mysql")
    status = cmr.json("status", "logging")
    assert sorted(status["applications"]) == ["logging", "mysql"]
    assert _subordinates(status, "mysql") == {"mysql/0": ["logging/0"]}
    assert list(status["machines"]) == [_units(status, "mysql")["mysql/0"]["machine"]]
    only = cmr.json("status", "wordpress/1")
    assert list(only["applications"]) == ["wordpress"]
    assert list(_units(only, "wordpress")) == ["wordpress/1"]
    assert cmr.json("status", "nothing-here")["applications"] == {}


def _scopes(data_dir: Path, model_uuid: str, key: str) -> list[str]:
    """The units in scope of the model's relation with this key, from the relations store."""
    with closing(sqlite3.connect(f"file:{data_dir / 'relations.db'}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT u.unit FROM relation_units u JOIN relations r"
            " ON r.model_uuid = u.model_uuid AND r.id = u.relation_id"
            " WHERE r.model_uuid = ? AND r.key = ? ORDER BY u.unit",
            (model_uuid, key),
        ).fetchall()
    return [str(r[0]) for r in rows]


def _eventually(probe: Callable[[], list[str]], expected: list[str]) -> None:
    """Scope follows placement's feed asynchronously: poll a bounded number of times."""
    got = probe()
    for _ in range(100):
        if got == expected:
            return
        time.sleep(0.05)
        got = probe()
    assert got == expected


def test_container_scope_pairs_units_within_one_machine(cmr: Cmr, controller: Controller) -> None:
    cmr.ok("add-model", "subs-scope")
    cmr.ok("deploy", "mysql", "-n", "2")
    cmr.ok("deploy", "wordpress")
    cmr.ok("deploy", "logging")
    cmr.ok("add-relation", "logging:info", "mysql:juju-info")
    cmr.ok("add-relation", "wordpress", "mysql")
    key = "logging:info mysql:juju-info"
    [uuid] = [
        m["model-uuid"] for m in cmr.json("models")["models"] if m["short-name"] == "subs-scope"
    ]
    expected = ["logging/0", "logging/1", "mysql/0", "mysql/1"]
    _eventually(lambda: _scopes(controller.data_dir, uuid, key), expected)
    # each pair shares one container: logging/0 with mysql/0, logging/1 with mysql/1
    status = cmr.json("status")
    assert _subordinates(status, "mysql") == {"mysql/0": ["logging/0"], "mysql/1": ["logging/1"]}
    # a global relation has every unit of both sides in scope
    _eventually(
        lambda: _scopes(controller.data_dir, uuid, "wordpress:db mysql:db"),
        ["mysql/0", "mysql/1", "wordpress/0"],
    )
    cmr.ok("remove-unit", "mysql/1")
    _eventually(lambda: _scopes(controller.data_dir, uuid, key), ["logging/0", "mysql/0"])
