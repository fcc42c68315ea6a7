"""Relations within one model through the CLI: inference, status, removal."""

from __future__ import annotations

from tests.e2e.conftest import Cmr


def test_relate_show_and_remove(cmr: Cmr) -> None:
    cmr.ok("add-model", "rel")
    for charm in ("mysql", "wordpress", "mediawiki", "logging"):
        cmr.ok("deploy", charm)
    cmr.ok("add-relation", "wordpress", "mysql")
    status = cmr.json("status")
    assert status["applications"]["wordpress"]["relations"] == {
        "db": [{"related-application": "mysql", "interface": "mysql", "scope": "global"}]
    }
    assert status["applications"]["mysql"]["relations"]["db"][0]["related-application"] == (
        "wordpress"
    )
    duplicate = cmr("integrate", "wordpress", "mysql")
    assert duplicate.exit_code == 1
    assert duplicate.stderr.splitlines() == [
        'ERROR cannot add relation "wordpress:db mysql:db": relation wordpress:db mysql:db '
        "already exists",
        "Use 'cmr status --relations' to view the current relations.",
    ]
    # wordpress:db has limit 1
    cmr.ok("deploy", "mysql", "db2")
    assert cmr.fails("relate", "wordpress", "db2") == (
        'ERROR cannot add relation "wordpress:db db2:db": establishing a new relation for '
        "wordpress:db would exceed its maximum relation limit of 1"
    )
    # explicit container endpoints beat the implicit juju-info; juju-info is the fallback
    cmr.ok("add-relation", "logging", "wordpress")
    cmr.ok("add-relation", "logging", "mysql")
    status = cmr.json("status", "--relations")
    logging = status["applications"]["logging"]
    assert logging["subordinate-to"] == ["mysql", "wordpress"]
    assert logging["relations"] == {
        "info": [{"related-application": "mysql", "interface": "juju-info", "scope": "container"}],
        "logging-directory": [
            {"related-application": "wordpress", "interface": "logging", "scope": "container"}
        ],
    }
    keys = {r["key"]: r for r in status["relations"]}
    assert set(keys) == {
        "mysql:cluster",
        "db2:cluster",
        "wordpress:db mysql:db",
        "logging:logging-directory wordpress:logging-dir",
        "logging:info mysql:juju-info",
    }
    # peer relations come first, at deploy; ids count up and are never reused
    assert [r["id"] for r in status["relations"]] == [0, 1, 2, 3, 4]
    assert keys["mysql:cluster"]["id"] == 0
    table = cmr.ok("status", "--relations")
    rows = [line.split() for line in table.splitlines()]
    assert ["mysql:db", "wordpress:db", "mysql", "regular"] in rows
    assert ["mysql:juju-info", "logging:info", "juju-info", "subordinate"] in rows

    explained = cmr("add-relation", "mediawiki", "mysql", "--dry-run")
    assert explained.exit_code == 0, explained.stderr
    assert "mediawiki:db mysql:db" in explained.stdout
    assert "would add relation mediawiki:db mysql:db" in explained.stderr
    assert len(cmr.json("status", "--relations")["relations"]) == 5

    assert "no relations found" in cmr.fails("add-relation", "mediawiki", "wordpress")
    assert cmr.fails("add-relation", "wooble", "mysql") == 'ERROR application "wooble" not found'
    assert cmr.fails("add-relation", "mysql") == (
        "ERROR an integration must involve two applications"
    )
    assert 'has no "nope" relation' in cmr.fails("add-relation", "mysql:nope", "wordpress")

    cmr.ok("remove-relation", "wordpress", "mysql")
    cmr.ok("remove-relation", "4")
    assert "not found" in cmr.fails("remove-relation", "4")
    assert cmr.fails("remove-relation", "x") == 'ERROR relation ID "x" not valid'
    # peer relations are never removed by hand
    assert cmr.fails("remove-relation", "0") == "ERROR cannot remove a peer relation"
    remaining = cmr.json("status", "--relations")["relations"]
    assert [r["key"] for r in remaining] == [
        "mysql:cluster",
        "db2:cluster",
        "logging:logging-directory wordpress:logging-dir",
    ]
    # ids are never reused
    cmr.ok("add-relation", "wordpress", "mysql")
    assert max(r["id"] for r in cmr.json("status", "--relations")["relations"]) == 5
    # removing an application removes its relations
    cmr.ok("remove-application", "wordpress")
    remaining = cmr.json("status", "--relations")["relations"]
    assert [r["key"] for r in remaining] == ["mysql:cluster", "db2:cluster"]
