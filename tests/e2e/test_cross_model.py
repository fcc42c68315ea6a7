"""One controller, one offer, several consuming models, through the CLI."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Cmr, Controller


def _user(cmr: Cmr, controller: Controller, name: str, tmp: Any) -> Cmr:
    """A new user registered with its own client state."""
    out = cmr.ok("add-user", name)
    line = next(word for word in out.split() if len(word) > 40)
    client = Cmr(tmp / name)
    client.ok("register", line, input="pw-" + name + "\npw-" + name + "\n")
    return client


def _relations(cmr: Cmr, model: str) -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in cmr.json("status", "-m", model, "--relations")["relations"]}


def test_two_consumers_of_one_offer(cmr: Cmr) -> None:
    cmr.ok("add-model", "shared")
    cmr.ok("deploy", "mysql", "-m", "shared")
    cmr.ok("offer", "shared.mysql:db", "-m", "shared")
    for wiki in ("wiki-1", "wiki-2"):
        cmr.ok("add-model", wiki)
        cmr.ok("deploy", "mediawiki", "-m", wiki, "-n", "1")
        cmr.ok("add-relation", "mediawiki", "admin/shared.mysql", "-m", wiki)

    # consuming side: a SAAS named after the offer, and the relation to it
    status = cmr.json("status", "-m", "wiki-1")
    assert status["application-endpoints"] == {
        "mysql": {
            "url": "admin/shared.mysql",
            "endpoints": {"db": {"interface": "mysql", "role": "provider"}},
            "application-status": {"current": "unknown"},
            "relations": {"db": ["mediawiki"]},
        }
    }
    assert status["applications"]["mediawiki"]["relations"] == {
        "db": [{"related-application": "mysql", "interface": "mysql", "scope": "global"}]
    }
    table = cmr.ok("status", "-m", "wiki-1")
    assert ["mysql", "unknown", "local", "admin/shared.mysql"] in [
        line.split() for line in table.splitlines()
    ]

    # offering side: counts, hidden proxies, connections with distinct ids
    shared = cmr.json("status", "-m", "shared", "--relations")
    assert shared["offers"]["mysql"]["total-connected-count"] == 2
    assert shared["offers"]["mysql"]["active-connected-count"] == 2
    # only mysql's own peer relation shows: the offerer's halves are hidden
    assert set(shared["applications"]["mysql"]["relations"]) == {"cluster"}
    assert [r["key"] for r in shared["relations"]] == ["mysql:cluster"]
    offers = cmr.json("offers", "-m", "shared")
    connections = offers["mysql"]["connections"]
    assert len(connections) == 2
    ids = sorted(c["relation-id"] for c in connections)
    assert len(set(ids)) == 2
    assert all(c["username"] == "admin" for c in connections)

    # suspending one leaves the other joined, on both sides
    cmr.ok("suspend-relation", str(ids[0]), "maintenance", "-m", "shared")
    offers = cmr.json("offers", "-m", "shared")
    by_id = {c["relation-id"]: c for c in offers["mysql"]["connections"]}
    assert by_id[ids[0]]["status"] == {"current": "suspended", "message": "maintenance"}
    assert by_id[ids[1]]["status"] == {"current": "joined"}
    shared = cmr.json("status", "-m", "shared")
    assert shared["offers"]["mysql"]["total-connected-count"] == 2
    assert shared["offers"]["mysql"]["active-connected-count"] == 1
    states = sorted(
        r["status"]["current"]
        for wiki in ("wiki-1", "wiki-2")
        for r in _relations(cmr, wiki).values()
    )
    assert states == ["joined", "suspended"]
    suspended = [
        r
        for wiki in ("wiki-1", "wiki-2")
        for r in _relations(cmr, wiki).values()
        if r["status"]["current"] == "suspended"
    ]
    assert suspended[0]["status"]["message"] == "maintenance"

    cmr.ok("resume-relation", str(ids[0]), "-m", "shared")
    shared = cmr.json("status", "-m", "shared")
    assert shared["offers"]["mysql"]["active-connected-count"] == 2

    # a relation inside one model cannot be suspended
    cmr.ok("deploy", "wordpress", "-m", "shared")
    cmr.ok("add-relation", "wordpress", "mysql", "-m", "shared")
    local = next(
        r for r in _relations(cmr, "shared").values() if r["key"] == "wordpress:db mysql:db"
    )
    assert cmr.fails("suspend-relation", str(local["id"]), "-m", "shared") == (
        'ERROR cannot set suspend status for "wordpress:db mysql:db" which is not associated '
        "with an offer"
    )

    # teardown from the consuming side: remove-relation, then remove-saas; counts vanish
    cmr.ok("remove-relation", "mediawiki", "mysql", "-m", "wiki-1")
    cmr.ok("remove-saas", "mysql", "-m", "wiki-2")
    for wiki in ("wiki-1", "wiki-2"):
        assert "relations" not in cmr.json("status", "-m", wiki)["applications"]["mediawiki"]
    assert "application-endpoints" not in cmr.json("status", "-m", "wiki-2")
    shared = cmr.json("status", "-m", "shared")
    assert "total-connected-count" not in shared["offers"]["mysql"]
    assert "active-connected-count" not in shared["offers"]["mysql"]
    cmr.ok("remove-offer", "admin/shared.mysql", "-y")
    assert "offers" not in cmr.json("status", "-m", "shared")
    # the SAAS left in wiki-1 is terminated, and relating to it says what to do
    saas = cmr.json("status", "-m", "wiki-1")["application-endpoints"]["mysql"]
    assert saas["application-status"] == {
        "current": "terminated",
        "message": "offer has been removed",
    }
    refused = cmr("add-relation", "mediawiki", "mysql", "-m", "wiki-1")
    assert refused.exit_code == 1
    assert 'Offer "mysql" has been removed from the remote model.' in refused.stderr


def test_consume_under_an_alias_into_the_offering_model_itself(cmr: Cmr) -> None:
    """Consuming under an alias, and a model that consumes its own offer like any consumer."""
    cmr.ok("add-model", "shop")
    cmr.ok("deploy", "mysql", "-m", "shop")
    cmr.ok("deploy", "wordpress", "-m", "shop")
    cmr.ok("offer", "shop.mysql:db", "-m", "shop")
    clash = cmr.fails("consume", "admin/shop.mysql", "-m", "shop")
    assert clash == (
        'ERROR cannot add saas application "mysql": local application with same name already '
        "exists"
    )
    added = cmr("consume", "admin/shop.mysql", "db2", "-m", "shop")
    assert added.exit_code == 0, added.stderr
    assert added.stderr.strip() == "Added ctrl:admin/shop.mysql as db2"
    cmr.ok("add-relation", "wordpress", "db2", "-m", "shop")
    status = cmr.json("status", "-m", "shop", "--relations")
    assert status["application-endpoints"]["db2"]["relations"] == {"db": ["wordpress"]}
    assert status["offers"]["mysql"]["total-connected-count"] == 1
    # the offerer's half (wordpress's proxy) stays hidden; the consumer's half shows
    assert [r["key"] for r in status["relations"]] == ["mysql:cluster", "wordpress:db db2:db"]
    [connection] = cmr.json("offers", "-m", "shop")["mysql"]["connections"]
    # removing from the offering side, by the id `cmr offers` shows, removes both halves
    cmr.ok("remove-relation", str(connection["relation-id"]), "-m", "shop")
    status = cmr.json("status", "-m", "shop", "--relations")
    assert [r["key"] for r in status["relations"]] == ["mysql:cluster"]
    assert "total-connected-count" not in status["offers"]["mysql"]
    cmr.ok("add-relation", "wordpress", "db2", "-m", "shop")
    cmr.ok("destroy-model", "shop", "-y")
    assert "shop" not in cmr.ok("models")
