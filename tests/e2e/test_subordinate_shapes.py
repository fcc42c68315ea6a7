"""Subordinate charm shapes through the CLI: agents, monitoring, HA, and subordinates of each
other, with the sample charms telegraf, nrpe, hacluster, filebeat and
landscape-client beside the principals postgresql, keystone, prometheus and rsyslog.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Cmr

SUBORDINATE_FLAGS = "ERROR cannot use --num-units or --to with subordinate application"


def _app(status: dict[str, Any], app: str) -> dict[str, Any]:
    found: dict[str, Any] = status["applications"][app]
    return found


def _units(status: dict[str, Any], app: str) -> dict[str, Any]:
    units: dict[str, Any] = _app(status, app).get("units", {})
    return units


def _subordinates(status: dict[str, Any], app: str) -> dict[str, list[str]]:
    return {
        name: sorted(unit.get("subordinates", {})) for name, unit in _units(status, app).items()
    }


def _keys(status: dict[str, Any]) -> dict[str, str]:
    """Relation key -> scope, from `status --relations`; peer relations (one end) left out."""
    return {r["key"]: r["scope"] for r in status.get("relations", []) if " " in r["key"]}


def _snapshot(cmr: Cmr) -> dict[str, Any]:
    """Everything `status --relations` shows except the controller's clock."""
    status: dict[str, Any] = cmr.json("status", "--relations")
    status.pop("controller", None)
    return status


def _check_nesting(status: dict[str, Any], *principals: str) -> None:
    """Nested subordinate units share their principal's address, without machine or nesting."""
    for app in principals:
        for name, unit in _units(status, app).items():
            assert unit["machine"], name
            for sub_name, sub in unit.get("subordinates", {}).items():
                assert sub["public-address"] == unit["public-address"], (name, sub_name)
                assert "machine" not in sub, sub_name
                assert "subordinates" not in sub, sub_name


def _deploy(cmr: Cmr, *charms: str, units: int = 1) -> None:
    for charm in charms:
        cmr.ok("deploy", charm, "-n", str(units))


def _deploy_subordinates(cmr: Cmr, *charms: str) -> None:
    for charm in charms:
        cmr.ok("deploy", charm)


def test_agents_monitoring_and_ha_under_two_principals(cmr: Cmr) -> None:
    cmr.ok("add-model", "shapes-status")
    _deploy(cmr, "postgresql", "keystone", units=2)
    _deploy_subordinates(cmr, "telegraf", "nrpe", "hacluster")
    status = cmr.json("status")
    for sub in ("telegraf", "nrpe", "hacluster"):
        assert "units" not in _app(status, sub)
        assert "subordinate-to" not in _app(status, sub)
    # explicit container endpoints beat juju-info; juju-info is the fallback
    dry = cmr("add-relation", "nrpe", "postgresql", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert "would add relation nrpe:monitors postgresql:nrpe-external-master" in dry.stderr
    cmr.ok("add-relation", "nrpe", "postgresql")
    cmr.ok("add-relation", "telegraf", "postgresql")
    cmr.ok("add-relation", "hacluster", "keystone")
    cmr.ok("add-relation", "telegraf", "keystone")
    status = cmr.json("status", "--relations")
    assert _keys(status) == {
        "nrpe:monitors postgresql:nrpe-external-master": "container",
        "telegraf:host postgresql:juju-info": "container",
        "hacluster:ha keystone:ha": "container",
        "telegraf:host keystone:juju-info": "container",
    }
    # each principal unit has exactly one unit of each of its subordinates
    assert _subordinates(status, "postgresql") == {
        "postgresql/0": ["nrpe/0", "telegraf/0"],
        "postgresql/1": ["nrpe/1", "telegraf/1"],
    }
    assert _subordinates(status, "keystone") == {
        "keystone/0": ["hacluster/0", "telegraf/2"],
        "keystone/1": ["hacluster/1", "telegraf/3"],
    }
    _check_nesting(status, "postgresql", "keystone")
    assert len(status["machines"]) == 4
    # the subordinate applications: no units key, their principals sorted
    telegraf = _app(status, "telegraf")
    assert "units" not in telegraf
    assert telegraf["subordinate-to"] == ["keystone", "postgresql"]
    assert telegraf["relations"] == {
        "host": [
            {"related-application": "keystone", "interface": "juju-info", "scope": "container"},
            {"related-application": "postgresql", "interface": "juju-info", "scope": "container"},
        ]
    }
    assert _app(status, "nrpe")["subordinate-to"] == ["postgresql"]
    assert _app(status, "nrpe")["relations"] == {
        "monitors": [
            {
                "related-application": "postgresql",
                "interface": "nrpe-external-master",
                "scope": "container",
            }
        ]
    }
    hacluster = _app(status, "hacluster")
    assert "units" not in hacluster
    assert hacluster["subordinate-to"] == ["keystone"]
    assert hacluster["relations"]["ha"] == [
        {"related-application": "keystone", "interface": "hacluster", "scope": "container"}
    ]
    assert _app(status, "keystone")["relations"]["ha"] == [
        {"related-application": "hacluster", "interface": "hacluster", "scope": "container"}
    ]
    assert _app(status, "postgresql")["relations"]["juju-info"] == [
        {"related-application": "telegraf", "interface": "juju-info", "scope": "container"}
    ]
    # the principals are not subordinate to anything; the leaders are the lowest units
    assert "subordinate-to" not in _app(status, "postgresql")
    nested = _units(status, "keystone")["keystone/0"]["subordinates"]
    assert (nested["hacluster/0"].get("leader"), nested["telegraf/2"].get("leader")) == (
        True,
        None,
    )
    # the table nests them, indented, without a machine; Scale counts subordinate units
    rows = [line.split() for line in cmr.ok("status").splitlines()]
    scale = {row[0]: row[2] for row in rows if row and row[0] in ("telegraf", "nrpe", "hacluster")}
    assert scale == {"telegraf": "4", "nrpe": "2", "hacluster": "2"}
    lines = cmr.ok("status").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("keystone/1"))
    assert [line.split()[:4] for line in lines[at + 1 : at + 3]] == [
        ["hacluster/1", "unknown", "idle", "10.1.0.4"],
        ["telegraf/3", "unknown", "idle", "10.1.0.4"],
    ]
    assert lines[at + 1].startswith("  hacluster/1")


def test_two_container_relations_scaling_and_removal(cmr: Cmr) -> None:
    cmr.ok("add-model", "shapes-scale")
    _deploy(cmr, "postgresql", units=2)
    _deploy_subordinates(cmr, "nrpe")
    cmr.ok("add-relation", "nrpe", "postgresql")
    # a second container relation between the same pair, on juju-info by name
    cmr.ok("add-relation", "nrpe:general-info", "postgresql:juju-info")
    status = cmr.json("status", "--relations")
    assert _keys(status) == {
        "nrpe:monitors postgresql:nrpe-external-master": "container",
        "nrpe:general-info postgresql:juju-info": "container",
    }
    one_each = {"postgresql/0": ["nrpe/0"], "postgresql/1": ["nrpe/1"]}
    assert _subordinates(status, "postgresql") == one_each
    assert _app(status, "nrpe")["subordinate-to"] == ["postgresql"]
    assert cmr.fails("remove-relation", "nrpe", "postgresql") == (
        'ERROR ambiguous relation: "nrpe postgresql" could refer to '
        '"nrpe:general-info postgresql:juju-info"; '
        '"nrpe:monitors postgresql:nrpe-external-master"'
    )
    # the units stay while one container relation is left
    cmr.ok("remove-relation", "nrpe:monitors", "postgresql")
    status = cmr.json("status")
    assert _subordinates(status, "postgresql") == one_each
    assert _app(status, "nrpe")["subordinate-to"] == ["postgresql"]
    # scaling up gives the new principal unit its own subordinate at once
    cmr.ok("add-unit", "postgresql")
    status = cmr.json("status")
    assert _subordinates(status, "postgresql") == {**one_each, "postgresql/2": ["nrpe/2"]}
    _check_nesting(status, "postgresql")
    # scaling down removes the principal unit's subordinate with it, and its machine
    machine = _units(status, "postgresql")["postgresql/0"]["machine"]
    cmr.ok("remove-unit", "postgresql/0")
    status = cmr.json("status")
    assert _subordinates(status, "postgresql") == {
        "postgresql/1": ["nrpe/1"],
        "postgresql/2": ["nrpe/2"],
    }
    assert machine not in status["machines"]
    # the last container relation takes the units; relating again uses new numbers
    cmr.ok("remove-relation", "nrpe:general-info", "postgresql:juju-info")
    status = cmr.json("status")
    assert _subordinates(status, "postgresql") == {"postgresql/1": [], "postgresql/2": []}
    assert "subordinate-to" not in _app(status, "nrpe")
    assert "relations" not in _app(status, "nrpe")
    cmr.ok("add-relation", "nrpe", "postgresql")
    status = cmr.json("status")
    assert _subordinates(status, "postgresql") == {
        "postgresql/1": ["nrpe/3"],
        "postgresql/2": ["nrpe/4"],
    }


def test_subordinates_related_to_each_other_and_globally(cmr: Cmr) -> None:
    cmr.ok("add-model", "shapes-subsub")
    _deploy(cmr, "postgresql", units=2)
    _deploy(cmr, "prometheus")
    _deploy_subordinates(cmr, "telegraf", "filebeat", "landscape-client")
    # sub-sub: the explicit container pair wins over juju-info, and makes no units
    cmr.ok("add-relation", "filebeat", "telegraf")
    assert cmr.fails("add-relation", "landscape-client", "telegraf") == (
        'ERROR ambiguous relation: "landscape-client telegraf" could refer to '
        '"landscape-client:container telegraf:juju-info"; '
        '"telegraf:host landscape-client:juju-info"'
    )
    cmr.ok("add-relation", "landscape-client:container", "telegraf:juju-info")
    status = cmr.json("status", "--relations")
    assert _keys(status) == {
        "filebeat:agent-logs telegraf:filebeat-info": "container",
        "landscape-client:container telegraf:juju-info": "container",
    }
    for sub in ("telegraf", "filebeat", "landscape-client"):
        assert "units" not in _app(status, sub)
    assert _subordinates(status, "postgresql") == {"postgresql/0": [], "postgresql/1": []}
    # both related to the principal too: exactly one unit of each under each principal unit
    cmr.ok("add-relation", "telegraf", "postgresql")
    cmr.ok("add-relation", "filebeat", "postgresql")
    status = cmr.json("status", "--relations")
    assert _keys(status)["filebeat:beats-host postgresql:juju-info"] == "container"
    assert _subordinates(status, "postgresql") == {
        "postgresql/0": ["filebeat/0", "telegraf/0"],
        "postgresql/1": ["filebeat/1", "telegraf/1"],
    }
    _check_nesting(status, "postgresql")
    assert "units" not in _app(status, "landscape-client")
    cmr.ok("add-unit", "postgresql")
    status = cmr.json("status")
    assert _subordinates(status, "postgresql")["postgresql/2"] == ["filebeat/2", "telegraf/2"]
    # a global relation of a subordinate makes no units, and is no principal of it
    cmr.ok("add-relation", "telegraf", "prometheus")
    status = cmr.json("status", "--relations")
    assert _keys(status)["prometheus:scrape telegraf:prometheus"] == "global"
    assert _subordinates(status, "prometheus") == {"prometheus/0": []}
    telegraf = _app(status, "telegraf")
    assert "prometheus" not in telegraf["subordinate-to"]
    assert "postgresql" in telegraf["subordinate-to"]
    assert telegraf["relations"]["prometheus"] == [
        {"related-application": "prometheus", "interface": "prometheus", "scope": "global"}
    ]
    # removing the sub-sub relation leaves every unit where it is
    before = _subordinates(status, "postgresql")
    cmr.ok("remove-relation", "filebeat", "telegraf")
    assert _subordinates(cmr.json("status"), "postgresql") == before
    # removing one subordinate application leaves the other's units
    cmr.ok("remove-application", "telegraf")
    status = cmr.json("status")
    assert _subordinates(status, "postgresql") == {
        "postgresql/0": ["filebeat/0"],
        "postgresql/1": ["filebeat/1"],
        "postgresql/2": ["filebeat/2"],
    }
    assert "relations" not in _app(status, "landscape-client")


def test_refused_requests_change_nothing(cmr: Cmr) -> None:
    cmr.ok("add-model", "shapes-refused")
    _deploy(cmr, "postgresql", units=2)
    _deploy(cmr, "rsyslog", "wordpress")
    before = _snapshot(cmr)
    # a subordinate takes neither units nor placement
    assert cmr.fails("deploy", "telegraf", "--to", "0") == SUBORDINATE_FLAGS
    assert cmr.fails("deploy", "telegraf", "-n", "2") == SUBORDINATE_FLAGS
    assert _snapshot(cmr) == before
    _deploy_subordinates(cmr, "telegraf", "hacluster")
    cmr.ok("add-relation", "telegraf", "postgresql")
    before = _snapshot(cmr)
    assert _subordinates(before, "postgresql") == {
        "postgresql/0": ["telegraf/0"],
        "postgresql/1": ["telegraf/1"],
    }
    refusals: list[tuple[tuple[str, ...], str]] = [
        (("deploy", "telegraf", "agent", "--to", "0"), SUBORDINATE_FLAGS),
        (("deploy", "telegraf", "agent", "-n", "2"), SUBORDINATE_FLAGS),
        (("deploy", "hacluster", "ha2", "-n", "1", "--to", "1"), SUBORDINATE_FLAGS),
        (
            ("add-unit", "telegraf"),
            'ERROR cannot add unit to application "telegraf": application is a subordinate',
        ),
        (
            ("add-unit", "hacluster"),
            'ERROR cannot add unit to application "hacluster": application is a subordinate',
        ),
        (
            ("remove-unit", "telegraf/0"),
            'ERROR removing unit telegraf/0 failed: unit "telegraf/0" is a subordinate, to '
            'remove use remove-relation. Note: this will remove all units of "telegraf"',
        ),
        (
            ("remove-unit", "postgresql/0", "telegraf/1"),
            'ERROR removing unit telegraf/1 failed: unit "telegraf/1" is a subordinate, to '
            'remove use remove-relation. Note: this will remove all units of "telegraf"',
        ),
        # principal-principal on a container endpoint
        (
            ("add-relation", "rsyslog:logs", "wordpress:logging-dir"),
            'ERROR cannot add relation "rsyslog:logs wordpress:logging-dir": container scoped '
            "relation requires at least one subordinate application",
        ),
        (("add-relation", "rsyslog", "wordpress"), "ERROR no relations found"),
        # a subordinate and itself
        (("add-relation", "telegraf", "telegraf"), "ERROR no relations found"),
        (("add-relation", "telegraf:host", "telegraf:juju-info"), "ERROR no relations found"),
        (("add-relation", "hacluster", "hacluster"), "ERROR no relations found"),
        # roles must pair: two requirers of hacluster-style container endpoints do not
        (("add-relation", "hacluster:ha", "telegraf:host"), "ERROR no relations found"),
    ]
    for args, message in refusals:
        assert cmr.fails(*args) == message, args
        assert _snapshot(cmr) == before, args
    duplicate = cmr("add-relation", "telegraf", "postgresql")
    assert duplicate.exit_code == 1
    assert duplicate.stderr.splitlines()[0] == (
        'ERROR cannot add relation "telegraf:host postgresql:juju-info": relation '
        "telegraf:host postgresql:juju-info already exists"
    )
    assert _snapshot(cmr) == before


def test_peer_endpoints_get_their_relation_at_deploy(cmr: Cmr) -> None:
    cmr.ok("add-model", "shapes-peers")
    _deploy(cmr, "keystone", units=2)
    _deploy_subordinates(cmr, "hacluster")
    cmr.ok("add-relation", "hacluster", "keystone")
    status = cmr.json("status", "--relations")
    assert _app(status, "hacluster")["relations"]["hanode"] == [
        {"related-application": "hacluster", "interface": "hacluster", "scope": "global"}
    ]
    assert _app(status, "keystone")["relations"]["cluster"] == [
        {"related-application": "keystone", "interface": "keystone-ha", "scope": "global"}
    ]
    assert {"hacluster:hanode", "keystone:cluster"} <= {r["key"] for r in status["relations"]}
