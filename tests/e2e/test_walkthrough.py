"""The skeleton's walk-through through the CLI: models, deploy, units, machines, status."""

from __future__ import annotations

import re

import yaml

from tests.e2e.conftest import Cmr, Controller


def test_deploy_scale_and_status_in_every_format(cmr: Cmr) -> None:
    cmr.ok("add-model", "walk")
    cmr.ok("deploy", "mysql", "-n", "2")
    cmr.ok("deploy", "wordpress")
    cmr.ok("add-unit", "wordpress", "-n", "2")
    cmr.ok("remove-unit", "wordpress/1")
    cmr.ok("add-unit", "wordpress")

    status = cmr.json("status")
    assert status["model"]["name"] == "walk"
    assert status["model"]["controller"] == "ctrl"
    assert list(status) == ["applications", "controller", "machines", "model", "storage"]
    wordpress = status["applications"]["wordpress"]
    # numbers are never reused: wordpress/1 was removed, the next unit is wordpress/3
    assert sorted(wordpress["units"]) == ["wordpress/0", "wordpress/2", "wordpress/3"]
    assert wordpress["units"]["wordpress/0"]["leader"] is True
    assert "leader" not in wordpress["units"]["wordpress/2"]
    assert wordpress["charm-origin"] == "local"
    assert wordpress["charm-rev"] == 1
    assert status["storage"] == {}
    machines = status["machines"]
    assert len(machines) == 5  # 2 mysql + 3 live wordpress units; wordpress/1's machine went
    addresses = {m["dns-name"] for m in machines.values()}
    assert len(addresses) == 5
    for app in status["applications"].values():
        for unit in app["units"].values():
            assert unit["public-address"] == machines[unit["machine"]]["dns-name"]

    text = cmr.ok("status", "--format", "yaml")
    loaded = yaml.safe_load(text)
    # the same status, but for the controller's clock (`15:04:05Z`), which moves on between
    # the two calls
    clocks = [s.pop("controller")["timestamp"] for s in (loaded, status)]
    assert all(re.fullmatch(r"\d\d:\d\d:\d\dZ", c) for c in clocks), clocks
    assert loaded == status
    assert text.startswith("model:\n")
    assert text.index("machines:") < text.index("applications:") < text.index("storage:")

    table = cmr.ok("status")
    assert "App" in table
    assert "Unit" in table
    assert "Machine" in table
    assert "wordpress/0*" in table
    assert "mysql" in table


def test_deploy_to_an_existing_machine_and_remove_machine(cmr: Cmr) -> None:
    cmr.ok("add-model", "placing")
    cmr.ok("add-machine", "-n", "2")
    cmr.ok("deploy", "mysql", "--to", "1")
    status = cmr.json("status")
    assert status["applications"]["mysql"]["units"]["mysql/0"]["machine"] == "1"
    assert "hosting" in cmr.fails("remove-machine", "1")
    cmr.ok("remove-machine", "0")
    cmr.ok("remove-machine", "1", "--force")
    status = cmr.json("status")
    assert status["machines"] == {}
    assert "units" not in status["applications"]["mysql"]


def test_subordinate_deploys_with_no_units(cmr: Cmr) -> None:
    cmr.ok("add-model", "subs")
    cmr.ok("deploy", "logging")
    status = cmr.json("status")
    assert "units" not in status["applications"]["logging"]
    assert "subordinate" in cmr.fails("deploy", "logging", "logging2", "-n", "2")
    assert "subordinate" in cmr.fails("add-unit", "logging")


def test_remove_application_removes_its_units_and_machines(cmr: Cmr) -> None:
    cmr.ok("add-model", "removal")
    cmr.ok("deploy", "mediawiki", "-n", "2")
    cmr.ok("remove-application", "mediawiki")
    status = cmr.json("status")
    assert status["applications"] == {}
    assert status["machines"] == {}


def test_models_switch_and_destroy(cmr: Cmr) -> None:
    cmr.ok("add-model", "first")
    cmr.ok("add-model", "second")
    listed = cmr.json("models")
    names = [m["name"] for m in listed["models"]]
    assert "admin/first" in names
    assert "admin/second" in names
    assert listed["current-model"] == "admin/second"
    cmr.ok("switch", "first")
    assert cmr.json("models")["current-model"] == "admin/first"
    cmr.ok("destroy-model", "first", "-y")
    assert "admin/first" not in [m["name"] for m in cmr.json("models")["models"]]
    assert 'model "admin/first" not found' in cmr.fails("status", "-m", "first")


def test_model_config_egress_subnets(cmr: Cmr) -> None:
    cmr.ok("add-model", "configured")
    cmr.ok("model-config", "egress-subnets=10.0.0.0/8,192.168.1.0/24")
    assert cmr.ok("model-config", "egress-subnets").strip() == "10.0.0.0/8,192.168.1.0/24"
    assert "ERROR" in cmr.fails("model-config", "egress-subnets=not-a-cidr")
    assert cmr.ok("model-config", "egress-subnets").strip() == "10.0.0.0/8,192.168.1.0/24"
    assert "unknown" in cmr.fails("model-config", "colour=blue")


def test_whoami_and_logout(cmr: Cmr, controller: Controller) -> None:
    assert "admin" in cmr.ok("whoami")
    cmr.ok("logout")
    assert "not logged in" in cmr.fails("models")
    cmr.ok("login", "-u", "admin", input=controller.password + "\n")
    assert "admin" in cmr.ok("whoami")
