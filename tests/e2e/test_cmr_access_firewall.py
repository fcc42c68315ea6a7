"""Cross-model access and firewall through the CLI: revoke, consume levels, suspend, allow-lists.

Covers revoking consume (which suspends that user's relations), the levels consume needs,
suspend and resume with the Message column, and firewall rules with egress precedence.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.conftest import Cmr

REVOKED = "offer permission revoked"


def _register(admin: Cmr, name: str, tmp_path: Path) -> Cmr:
    """Add a user as admin and register them from their own client state."""
    out = admin.ok("add-user", name)
    match = re.search(r"cmr register (\S+)", out)
    assert match, out
    user = Cmr(tmp_path / f"client-{name}")
    user.ok("register", match.group(1), input=f"{name}-password\n{name}-password\n")
    return user


def _offering(cmr: Cmr, model: str) -> str:
    """A model with mysql offered as `mysql`; returns the offer URL."""
    cmr.ok("add-model", model)
    cmr.ok("deploy", "mysql", "-m", model)
    cmr.ok("offer", f"{model}.mysql:db", "-m", model)
    return f"admin/{model}.mysql"


def _consumer(client: Cmr, model: str, units: int = 1) -> None:
    """A model of the client's with mediawiki deployed."""
    client.ok("add-model", model)
    client.ok("deploy", "mediawiki", "-m", model, "-n", str(units))


def _connections(cmr: Cmr, model: str) -> list[dict[str, Any]]:
    """The offerer's connections to its `mysql` offer, from `cmr offers`."""
    connections: list[dict[str, Any]] = cmr.json("offers", "-m", model)["mysql"].get(
        "connections", []
    )
    return connections


def _connection_of(cmr: Cmr, model: str, **match: Any) -> dict[str, Any]:
    """The one connection whose fields equal `match`."""
    found = [
        c
        for c in _connections(cmr, model)
        if all(c.get(key) == value for key, value in match.items())
    ]
    assert len(found) == 1, (match, _connections(cmr, model))
    return found[0]


def _model_uuid(client: Cmr, name: str) -> str:
    models = client.json("models")["models"]
    uuid: str = next(m["model-uuid"] for m in models if m["name"] == name)
    return uuid


def _relation(client: Cmr, model: str) -> dict[str, Any]:
    """The model's only relation, from `status --relations`."""
    relations = client.json("status", "-m", model, "--relations")["relations"]
    assert len(relations) == 1, relations
    relation: dict[str, Any] = relations[0]
    return relation


def _saas_status(client: Cmr, model: str) -> dict[str, Any]:
    status: dict[str, Any] = client.json("status", "-m", model)["application-endpoints"]["mysql"][
        "application-status"
    ]
    return status


def _integration_rows(client: Cmr, model: str) -> list[list[str]]:
    """The rows of the tabular Integration section, split on runs of two or more spaces."""
    lines = client.ok("status", "-m", model, "--relations").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Integration provider"))
    rows = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def _counts(cmr: Cmr, model: str) -> tuple[int, int]:
    offer = cmr.json("status", "-m", model)["offers"]["mysql"]
    return offer.get("active-connected-count", 0), offer.get("total-connected-count", 0)


# -- revoke ---------------------------------------------------------------------------------


def test_revoke_suspends_only_that_users_relations(cmr: Cmr, tmp_path: Path) -> None:
    url = _offering(cmr, "prod")
    bob = _register(cmr, "bob", tmp_path)
    carol = _register(cmr, "carol", tmp_path)
    for user, client in (("bob", bob), ("carol", carol)):
        cmr.ok("grant", user, "add-model")
        cmr.ok("grant", user, "consume", url)
        _consumer(client, f"{user}-wiki")
        client.ok("add-relation", "mediawiki", url, "-m", f"{user}-wiki")
    bob_id = _connection_of(cmr, "prod", username="bob")["relation-id"]
    carol_id = _connection_of(cmr, "prod", username="carol")["relation-id"]
    assert bob_id != carol_id
    assert _counts(cmr, "prod") == (2, 2)

    # the revoke has taken effect when the command returns: no waiting, no polling
    cmr.ok("revoke", "bob", "consume", url)
    assert _connection_of(cmr, "prod", username="bob")["status"] == {
        "current": "suspended",
        "message": REVOKED,
    }
    assert _connection_of(cmr, "prod", username="carol")["status"] == {"current": "joined"}
    assert _counts(cmr, "prod") == (1, 2)
    # bob's side: the relation suspended with the reason, the SAAS in error
    assert _relation(bob, "bob-wiki")["status"] == {"current": "suspended", "message": REVOKED}
    assert _saas_status(bob, "bob-wiki") == {"current": "error", "message": REVOKED}
    assert _integration_rows(bob, "bob-wiki") == [
        ["mysql:db", "mediawiki:db", "mysql", "regular", f"suspended {REVOKED}"]
    ]
    table = bob.ok("status", "-m", "bob-wiki").splitlines()
    assert ["mysql", "error", "local", url] in [line.split() for line in table]
    # carol's side is untouched
    assert _relation(carol, "carol-wiki")["status"] == {"current": "joined"}
    assert _saas_status(carol, "carol-wiki")["current"] != "error"
    # bob can still read the offer, but no longer relate to it, even through his SAAS
    assert bob.json("show-offer", url)[f"ctrl:{url}"]["access"] == "read"
    bob.ok("deploy", "wordpress", "-m", "bob-wiki")
    assert bob.fails("add-relation", "wordpress", "mysql", "-m", "bob-wiki") == (
        "ERROR permission denied"
    )
    assert len(_connections(cmr, "prod")) == 2

    # a grant resumes nothing
    cmr.ok("grant", "bob", "consume", url)
    assert _connection_of(cmr, "prod", username="bob")["status"]["current"] == "suspended"
    assert _relation(bob, "bob-wiki")["status"]["current"] == "suspended"
    assert _counts(cmr, "prod") == (1, 2)

    # the offering model's admin resumes it, both halves
    cmr.ok("resume-relation", str(bob_id), "-m", "prod")
    assert _connection_of(cmr, "prod", username="bob")["status"] == {"current": "joined"}
    assert _relation(bob, "bob-wiki")["status"] == {"current": "joined"}
    assert _saas_status(bob, "bob-wiki")["current"] != "error"
    assert _counts(cmr, "prod") == (2, 2)

    # revoked again: resume re-checks bob's level now and refuses
    cmr.ok("revoke", "bob", "consume", url)
    assert _relation(bob, "bob-wiki")["status"] == {"current": "suspended", "message": REVOKED}
    assert cmr.fails("resume-relation", str(bob_id), "-m", "prod") == "ERROR permission denied"
    assert _connection_of(cmr, "prod", username="bob")["status"]["current"] == "suspended"
    assert _relation(bob, "bob-wiki")["status"]["current"] == "suspended"
    # carol's relation was never touched, and resuming it is a no-op
    cmr.ok("resume-relation", str(carol_id), "-m", "prod")
    assert _relation(carol, "carol-wiki")["status"] == {"current": "joined"}
    assert _counts(cmr, "prod") == (1, 2)
    # bob is no admin of the offering model: he cannot resume his own relation
    assert "ERROR " in bob.fails("resume-relation", str(bob_id), "-m", "admin/prod")


def test_revoke_reaches_every_relation_of_that_user_to_that_offer_only(
    cmr: Cmr, tmp_path: Path
) -> None:
    url = _offering(cmr, "multi")
    cmr.ok("offer", "multi.mysql:db", "other", "-m", "multi")
    other = "admin/multi.other"
    gina = _register(cmr, "gina", tmp_path)
    frank = _register(cmr, "frank", tmp_path)
    for user in ("gina", "frank"):
        cmr.ok("grant", user, "add-model")
    cmr.ok("grant", "gina", "consume", url)
    cmr.ok("grant", "gina", "consume", other)
    for model, target in (("gina-1", url), ("gina-2", url), ("gina-3", other)):
        _consumer(gina, model)
        gina.ok("add-relation", "mediawiki", target, "-m", model)
    # frank administers the offering model: an implicit offer admin
    cmr.ok("grant", "frank", "admin", "multi")
    _consumer(frank, "frank-1")
    frank.ok("add-relation", "mediawiki", url, "-m", "frank-1")
    assert _counts(cmr, "multi") == (3, 3)

    # revoking read drops gina below consume at once: both her relations to the offer go
    cmr.ok("revoke", "gina", "read", url)
    for model in ("gina-1", "gina-2"):
        assert _relation(gina, model)["status"] == {"current": "suspended", "message": REVOKED}
    assert _relation(gina, "gina-3")["status"] == {"current": "joined"}
    assert _counts(cmr, "multi") == (1, 3)
    others = cmr.json("offers", "-m", "multi")["other"]["connections"]
    assert [c["status"] for c in others] == [{"current": "joined"}]
    # she no longer sees the offer at all
    assert gina.fails("show-offer", url) == f'ERROR application offer "{url}" not found'

    # an implicit admin keeps consuming whatever is revoked
    cmr.ok("grant", "frank", "consume", url)
    cmr.ok("revoke", "frank", "consume", url)
    assert _relation(frank, "frank-1")["status"] == {"current": "joined"}
    assert _connection_of(cmr, "multi", username="frank")["status"] == {"current": "joined"}


def test_consume_needs_consume_access(cmr: Cmr, tmp_path: Path) -> None:
    url = _offering(cmr, "levels")
    dave = _register(cmr, "dave", tmp_path)
    erin = _register(cmr, "erin", tmp_path)
    for user, client in (("dave", dave), ("erin", erin)):
        cmr.ok("grant", user, "add-model")
        _consumer(client, f"{user}-wiki")
    cmr.ok("grant", "dave", "read", url)

    # read only: the offer is visible, consuming it is not allowed
    assert dave.fails("consume", url, "-m", "dave-wiki") == "ERROR permission denied"
    assert (
        dave.fails("add-relation", "mediawiki", url, "-m", "dave-wiki")
        == "ERROR permission denied"
    )
    # no access at all: exactly like an offer that does not exist
    missing = f'ERROR application offer "{url}" not found'
    assert erin.fails("consume", url, "-m", "erin-wiki") == missing
    assert erin.fails("add-relation", "mediawiki", url, "-m", "erin-wiki") == missing
    for client, model in ((dave, "dave-wiki"), (erin, "erin-wiki")):
        status = client.json("status", "-m", model)
        assert "application-endpoints" not in status
        assert "relations" not in status["applications"]["mediawiki"]
    assert _connections(cmr, "levels") == []

    # with consume, dave consumes under an alias and relates through it
    cmr.ok("grant", "dave", "consume", url)
    consumed = dave("consume", url, "db2", "-m", "dave-wiki")
    assert consumed.exit_code == 0, consumed.stderr
    assert consumed.stderr.strip() == f"Added ctrl:{url} as db2"
    dave.ok("add-relation", "mediawiki", "db2", "-m", "dave-wiki")
    assert _relation(dave, "dave-wiki")["status"] == {"current": "joined"}
    assert _connection_of(cmr, "levels", username="dave")["status"] == {"current": "joined"}


def test_suspend_message_shows_on_the_consuming_side(cmr: Cmr) -> None:
    url = _offering(cmr, "susp")
    _consumer(cmr, "susp-wiki")
    cmr.ok("add-relation", "mediawiki", url, "-m", "susp-wiki")
    relation_id = str(_connections(cmr, "susp")[0]["relation-id"])
    assert _integration_rows(cmr, "susp-wiki") == [
        ["mysql:db", "mediawiki:db", "mysql", "regular"]
    ]

    cmr.ok("suspend-relation", relation_id, "database upgrade", "-m", "susp")
    assert _integration_rows(cmr, "susp-wiki") == [
        ["mysql:db", "mediawiki:db", "mysql", "regular", "suspended database upgrade"]
    ]
    assert _relation(cmr, "susp-wiki")["status"] == {
        "current": "suspended",
        "message": "database upgrade",
    }
    assert _connections(cmr, "susp")[0]["status"] == {
        "current": "suspended",
        "message": "database upgrade",
    }
    assert _counts(cmr, "susp") == (0, 1)
    # suspending again is a no-op and keeps the first reason
    cmr.ok("suspend-relation", relation_id, "--message", "another reason", "-m", "susp")
    assert _relation(cmr, "susp-wiki")["status"]["message"] == "database upgrade"

    cmr.ok("resume-relation", relation_id, "-m", "susp")
    assert _integration_rows(cmr, "susp-wiki") == [
        ["mysql:db", "mediawiki:db", "mysql", "regular"]
    ]
    assert _relation(cmr, "susp-wiki")["status"] == {"current": "joined"}
    assert _connections(cmr, "susp")[0]["status"] == {"current": "joined"}
    assert _counts(cmr, "susp") == (1, 1)

    # the --message form reads the same way
    cmr.ok("suspend-relation", relation_id, "--message", "maintenance", "-m", "susp")
    assert _integration_rows(cmr, "susp-wiki")[0][-1] == "suspended maintenance"
    cmr.ok("resume-relation", relation_id, "-m", "susp")
    assert _relation(cmr, "susp-wiki")["status"] == {"current": "joined"}


# -- firewall -------------------------------------------------------------------------------


def _rules(cmr: Cmr, model: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = cmr.json("list-firewall-rules", "-m", model)
    return rules


def test_firewall_rule_refuses_consumers_outside_the_allowlist(cmr: Cmr) -> None:
    url = _offering(cmr, "fw")
    # no rule yet: both services allow everything
    assert _rules(cmr, "fw") == [
        {"known-service": "juju-application-offer", "allowlist-subnets": ["0.0.0.0/0", "::/0"]},
        {"known-service": "ssh", "allowlist-subnets": ["0.0.0.0/0", "::/0"]},
    ]
    cmr.ok(
        "set-firewall-rule", "juju-application-offer", "--whitelist", "10.99.0.0/16", "-m", "fw"
    )
    assert cmr.ok("list-firewall-rules", "-m", "fw").splitlines() == [
        "Service                 Allowlist subnets",
        "juju-application-offer  10.99.0.0/16",
        "ssh                     0.0.0.0/0,::/0",
    ]
    expected = [
        {"known-service": "juju-application-offer", "allowlist-subnets": ["10.99.0.0/16"]},
        {"known-service": "ssh", "allowlist-subnets": ["0.0.0.0/0", "::/0"]},
    ]
    assert _rules(cmr, "fw") == expected
    assert yaml.safe_load(cmr.ok("firewall-rules", "-m", "fw", "--format", "yaml")) == expected

    # a consumer whose egress lies outside: its relation is in error, with Juju's message
    refused = "subnet 69.32.56.0/24 not in firewall whitelist"
    _consumer(cmr, "fw-out")
    cmr.ok("add-relation", "mediawiki", url, "--via", "69.32.56.0/24", "-m", "fw-out")
    assert _relation(cmr, "fw-out")["status"] == {"current": "error", "message": refused}
    assert _integration_rows(cmr, "fw-out") == [
        ["mysql:db", "mediawiki:db", "mysql", "regular", f"error {refused}"]
    ]
    # only the relation is in error, not the SAAS
    assert _saas_status(cmr, "fw-out")["current"] != "error"
    out_uuid = _model_uuid(cmr, "admin/fw-out")
    out_conn = _connection_of(cmr, "fw", **{"source-model-uuid": out_uuid})
    assert out_conn["status"] == {"current": "error", "message": refused}
    assert out_conn["ingress-subnets"] == ["69.32.56.0/24"]

    # a consumer inside the allow-list is joined
    _consumer(cmr, "fw-in")
    cmr.ok("add-relation", "mediawiki", url, "--via", "10.99.1.0/24", "-m", "fw-in")
    assert _relation(cmr, "fw-in")["status"] == {"current": "joined"}
    assert _integration_rows(cmr, "fw-in") == [["mysql:db", "mediawiki:db", "mysql", "regular"]]
    in_uuid = _model_uuid(cmr, "admin/fw-in")
    assert _connection_of(cmr, "fw", **{"source-model-uuid": in_uuid})["status"] == {
        "current": "joined"
    }
    assert _counts(cmr, "fw") == (1, 2)

    # a rule change touches no existing relation: neither the joined one (now outside) nor
    # the refused one (now inside)
    cmr.ok(
        "set-firewall-rule",
        "juju-application-offer",
        "--allowlist",
        "192.168.0.0/16,69.32.0.0/16",
        "-m",
        "fw",
    )
    assert _rules(cmr, "fw")[0] == {
        "known-service": "juju-application-offer",
        "allowlist-subnets": ["192.168.0.0/16", "69.32.0.0/16"],
    }
    assert _relation(cmr, "fw-in")["status"] == {"current": "joined"}
    assert _relation(cmr, "fw-out")["status"] == {"current": "error", "message": refused}
    assert _connection_of(cmr, "fw", **{"source-model-uuid": in_uuid})["status"] == {
        "current": "joined"
    }
    assert _counts(cmr, "fw") == (1, 2)
    # ... but relations set up afterwards are checked against the new rule
    _consumer(cmr, "fw-late")
    cmr.ok("add-relation", "mediawiki", url, "--via", "10.99.1.0/24", "-m", "fw-late")
    assert _relation(cmr, "fw-late")["status"] == {
        "current": "error",
        "message": "subnet 10.99.1.0/24 not in firewall whitelist",
    }
    assert _counts(cmr, "fw") == (1, 3)


def test_suspend_and_resume_do_not_let_a_refused_relation_through(cmr: Cmr) -> None:
    url = _offering(cmr, "fw-resume")
    cmr.ok(
        "set-firewall-rule",
        "juju-application-offer",
        "--allowlist",
        "10.99.0.0/16",
        "-m",
        "fw-resume",
    )
    _consumer(cmr, "fw-resume-out")
    cmr.ok("add-relation", "mediawiki", url, "--via", "69.32.56.0/24", "-m", "fw-resume-out")
    refused = {"current": "error", "message": "subnet 69.32.56.0/24 not in firewall whitelist"}
    assert _relation(cmr, "fw-resume-out")["status"] == refused
    relation_id = str(_connections(cmr, "fw-resume")[0]["relation-id"])
    assert _counts(cmr, "fw-resume") == (0, 1)

    cmr("suspend-relation", relation_id, "-m", "fw-resume")
    cmr("resume-relation", relation_id, "-m", "fw-resume")
    # the allow-list has not changed: the relation must not be active now
    assert _relation(cmr, "fw-resume-out")["status"]["current"] != "joined"
    assert _connections(cmr, "fw-resume")[0]["status"]["current"] != "joined"
    assert _counts(cmr, "fw-resume") == (0, 1)


def test_firewall_rule_errors_change_nothing(cmr: Cmr) -> None:
    cmr.ok("add-model", "fw-errors")
    cmr.ok("set-firewall-rule", "ssh", "--allowlist", "10.0.0.0/8", "-m", "fw-errors")
    before = _rules(cmr, "fw-errors")
    assert before == [
        {"known-service": "juju-application-offer", "allowlist-subnets": ["0.0.0.0/0", "::/0"]},
        {"known-service": "ssh", "allowlist-subnets": ["10.0.0.0/8"]},
    ]
    service = "juju-application-offer"
    assert cmr.fails(
        "set-firewall-rule",
        service,
        "--whitelist",
        "10.1.0.0/16",
        "--allowlist",
        "10.2.0.0/16",
        "-m",
        "fw-errors",
    ) == ("ERROR cannot specify both whitelist and allowlist")
    assert cmr.fails(
        "set-firewall-rule", "foo", "--allowlist", "10.1.0.0/16", "-m", "fw-errors"
    ) == ('ERROR well known service type "foo" not valid')
    assert cmr.fails(
        "set-firewall-rule", "juju-controller", "--allowlist", "10.1.0.0/16", "-m", "fw-errors"
    ) == ('ERROR service "juju-controller" not supported')
    for bad in ("10.1.0.0/33", "bogus", "300.1.0.0/16"):
        message = cmr.fails("set-firewall-rule", service, "--allowlist", bad, "-m", "fw-errors")
        assert bad in message, message
    # one bad CIDR among good ones: the whole rule is refused
    message = cmr.fails(
        "set-firewall-rule", service, "--allowlist", "10.1.0.0/16,nope", "-m", "fw-errors"
    )
    assert "nope" in message
    assert cmr.fails("set-firewall-rule", "--allowlist", "10.1.0.0/16", "-m", "fw-errors") == (
        "ERROR no well known service specified"
    )
    assert cmr.fails("set-firewall-rule", service, "-m", "fw-errors") == (
        "ERROR no allowlist subnets specified"
    )
    assert _rules(cmr, "fw-errors") == before


# -- egress ---------------------------------------------------------------------------------


def test_egress_precedence_via_then_model_config_then_unit_addresses(cmr: Cmr) -> None:
    url = _offering(cmr, "eg")

    # neither --via nor egress-subnets: each local unit's address as a /32
    _consumer(cmr, "eg-units", units=2)
    units = cmr.json("status", "-m", "eg-units")["applications"]["mediawiki"]["units"]
    addresses = sorted(f"{u['public-address']}/32" for u in units.values())
    assert len(set(addresses)) == 2
    cmr.ok("add-relation", "mediawiki", url, "-m", "eg-units")
    uuid = _model_uuid(cmr, "admin/eg-units")
    found = _connection_of(cmr, "eg", **{"source-model-uuid": uuid})
    assert sorted(found["ingress-subnets"]) == addresses
    assert found["status"] == {"current": "joined"}

    # the consuming model's egress-subnets, when set before relating
    _consumer(cmr, "eg-config")
    cmr.ok("model-config", "egress-subnets=10.20.0.0/16", "-m", "eg-config")
    cmr.ok("add-relation", "mediawiki", url, "-m", "eg-config")
    uuid = _model_uuid(cmr, "admin/eg-config")
    found = _connection_of(cmr, "eg", **{"source-model-uuid": uuid})
    assert found["ingress-subnets"] == ["10.20.0.0/16"]

    # --via wins over egress-subnets
    _consumer(cmr, "eg-both")
    cmr.ok("model-config", "egress-subnets=10.20.0.0/16", "-m", "eg-both")
    cmr.ok("add-relation", "mediawiki", url, "--via", "10.30.0.0/24", "-m", "eg-both")
    uuid = _model_uuid(cmr, "admin/eg-both")
    found = _connection_of(cmr, "eg", **{"source-model-uuid": uuid})
    assert found["ingress-subnets"] == ["10.30.0.0/24"]

    # the tabular `offers` shows the same subnets in its last column
    table = cmr.ok("offers", "-m", "eg").splitlines()
    last = {line.split()[-1] for line in table[1:]}
    assert {"10.20.0.0/16", "10.30.0.0/24", ",".join(addresses)} <= last


def test_changing_egress_subnets_republishes_ingress(cmr: Cmr) -> None:
    url = _offering(cmr, "eg-later")
    _consumer(cmr, "eg-later-wiki")
    cmr.ok("add-relation", "mediawiki", url, "-m", "eg-later-wiki")
    assert _connections(cmr, "eg-later")[0]["ingress-subnets"] != ["10.20.0.0/16"]
    cmr.ok("model-config", "egress-subnets=10.20.0.0/16", "-m", "eg-later-wiki")
    assert _connections(cmr, "eg-later")[0]["ingress-subnets"] == ["10.20.0.0/16"]
    # egress moved outside the allow-list: the relation goes to error; back inside: joined
    cmr.ok(
        "set-firewall-rule",
        "juju-application-offer",
        "--allowlist",
        "10.20.0.0/16",
        "-m",
        "eg-later",
    )
    cmr.ok("model-config", "egress-subnets=69.32.56.0/24", "-m", "eg-later-wiki")
    assert _relation(cmr, "eg-later-wiki")["status"] == {
        "current": "error",
        "message": "subnet 69.32.56.0/24 not in firewall whitelist",
    }
    assert _connections(cmr, "eg-later")[0]["status"]["current"] == "error"
    cmr.ok("model-config", "egress-subnets=10.20.1.0/24", "-m", "eg-later-wiki")
    assert _relation(cmr, "eg-later-wiki")["status"] == {"current": "joined"}
    # with no egress-subnets, adding a unit publishes its address too
    cmr.ok("model-config", "egress-subnets=", "-m", "eg-later-wiki")
    cmr.ok(
        "set-firewall-rule", "juju-application-offer", "--allowlist", "0.0.0.0/0", "-m", "eg-later"
    )
    before = _connections(cmr, "eg-later")[0]["ingress-subnets"]
    cmr.ok("add-unit", "mediawiki", "-m", "eg-later-wiki")
    after = _connections(cmr, "eg-later")[0]["ingress-subnets"]
    assert len(after) == len(before) + 1
    assert all(s.endswith("/32") for s in after)
