"""The seed's offer, grant/revoke and find/show walk-throughs, through the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.e2e.conftest import Cmr, Controller


def _register(admin: Cmr, name: str, tmp_path: Path) -> Cmr:
    """Add a user as admin and register them from their own client state."""
    out = admin.ok("add-user", name)
    match = re.search(r"cmr register (\S+)", out)
    assert match, out
    user = Cmr(tmp_path / f"client-{name}")
    user.ok("register", match.group(1), input=f"{name}-password\n")
    return user


def test_shared_search_offer_walkthrough(cmr: Cmr) -> None:
    for model in ("search", "webapp-1", "webapp-2"):
        cmr.ok("add-model", model)
    cmr.ok("switch", "search")
    cmr.ok("deploy", "-n", "3", "elasticsearch")
    result = cmr("offer", "elasticsearch:client")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip() == (
        'Application "elasticsearch" endpoints [client] available at "admin/search.elasticsearch"'
    )
    offers = yaml.safe_load(cmr.ok("offers", "--format", "yaml"))
    assert offers["elasticsearch"]["offer-url"] == "ctrl:admin/search.elasticsearch"
    assert offers["elasticsearch"]["endpoints"] == {
        "client": {"interface": "elasticsearch", "role": "provider"}
    }
    assert offers["elasticsearch"]["users"]["admin"]["access"] == "admin"
    shown = json.loads(cmr.ok("show-offer", "admin/search.elasticsearch", "--format", "json"))
    entry = shown["ctrl:admin/search.elasticsearch"]
    assert entry["access"] == "admin"
    assert entry["users"]["everyone@external"] == {"access": "read"}
    table = cmr.ok("show-offer", "elasticsearch")  # a bare name: the current model
    assert table.splitlines()[1].split()[:3] == ["ctrl", "admin/search.elasticsearch", "admin"]
    status = cmr.json("status")
    assert status["offers"]["elasticsearch"] == {
        "application": "elasticsearch",
        "charm": "local:elasticsearch-1",
        "endpoints": {"client": {"interface": "elasticsearch", "role": "provider"}},
    }
    # re-offering replaces the endpoint set, and says so
    cmr.ok("deploy", "wordpress", "-m", "webapp-1")
    assert cmr("offer", "webapp-1.wordpress:db,website", "blog").exit_code == 0
    update = cmr("offer", "webapp-1.wordpress:website", "blog")
    assert update.exit_code == 0, update.stderr
    assert update.stderr.strip() == (
        'Application "wordpress" endpoints [website] available at "admin/webapp-1.blog"'
        " (was [db website])"
    )
    # an offered application cannot be removed until its offers go
    refused = cmr.fails("remove-application", "elasticsearch")
    assert (
        refused
        == 'ERROR cannot destroy application "elasticsearch": application is used by 1 offer'
    )
    cmr.ok("remove-offer", "elasticsearch")
    assert "offers" not in cmr.json("status")
    cmr.ok("remove-application", "elasticsearch")


def test_offer_argument_errors(cmr: Cmr) -> None:
    cmr.ok("add-model", "offer-errors")
    cmr.ok("deploy", "mysql")
    cmr.ok("deploy", "logging")
    assert cmr.fails("offer") == "ERROR an offer must at least specify application endpoint"
    assert cmr.fails("offer", "mysql") == (
        'ERROR endpoints must conform to format "<application-name>:<endpoint-name>[,...]"'
    )
    assert cmr.fails("offer", "mysql:") == 'ERROR specify endpoints for "mysql"'
    assert cmr.fails("offer", "123:db") == 'ERROR application name "123" not valid'
    assert cmr.fails("offer", "mysql:db", "x", "extra") == 'ERROR unrecognized args: ["extra"]'
    assert 'has no "nope" relation' in cmr.fails("offer", "mysql:nope")
    assert "not found" in cmr.fails("offer", "wooble:db")
    assert cmr.fails("offer", "logging:info") == (
        'ERROR can only offer endpoints with global scope, provided scope "container"'
    )
    assert "offers" not in cmr.json("status")


def test_grant_revoke_find_and_show_as_another_user(
    cmr: Cmr, controller: Controller, tmp_path: Path
) -> None:
    cmr.ok("add-model", "shared")
    cmr.ok("deploy", "mysql")
    cmr.ok("offer", "mysql:db")
    bob = _register(cmr, "bob", tmp_path)
    assert "bob" in bob.ok("whoami")
    url = "admin/shared.mysql"
    # without access the offer is invisible, exactly like a missing one
    assert bob.fails("show-offer", url) == f'ERROR application offer "{url}" not found'
    assert bob.fails("find-offers", "admin/shared") == "ERROR no matching application offers found"

    cmr.ok("grant", "bob", "read", url)
    found = yaml.safe_load(bob.ok("find-offers", "admin/shared", "--format", "yaml"))
    assert found == {
        f"ctrl:{url}": {
            "access": "read",
            "endpoints": {"db": {"interface": "mysql", "role": "provider"}},
            "users": {"bob": {"access": "read"}},
        }
    }
    assert cmr.fails("grant", "bob", "read", url) == (
        'ERROR user already has "read" access or greater'
    )
    cmr.ok("grant", "bob", "consume", url)
    shown = yaml.safe_load(bob.ok("show-offer", url, "--format", "yaml"))
    assert shown[f"ctrl:{url}"]["access"] == "consume"
    # bob is no admin: he neither grants nor sees the offer in `offers`
    assert bob.fails("grant", "admin", "read", url) == "ERROR permission denied"
    assert "permission denied" in bob.fails("remove-offer", url)
    assert cmr.fails("grant", "admin", "read", url).startswith("ERROR ")
    assert "bad" in cmr.fails("grant", "bob", "bad", url)

    cmr.ok("revoke", "bob", "consume", url)
    shown = yaml.safe_load(bob.ok("show-offer", url, "--format", "yaml"))
    assert shown[f"ctrl:{url}"]["access"] == "read"
    cmr.ok("revoke", "bob", "read", url)
    assert bob.fails("show-offer", url) == f'ERROR application offer "{url}" not found'
    assert "does not exist" in cmr.fails("revoke", "bob", "read", url)
    assert 'user "nobody" not found' in cmr.fails("grant", "nobody", "read", url)
    assert (
        cmr.fails("grant", "bob", "read", url, "shared")
        == "ERROR either specify model names or offer URLs but not both"
    )

    audit = yaml.safe_load(cmr.ok("audit", "--format", "yaml"))
    actions = [(e["action"], e["user"], e["level"]) for e in audit if e["target"] == url]
    assert ("grant", "bob", "read") in actions
    assert ("grant", "bob", "consume") in actions
    assert ("revoke", "bob", "read") in actions


def test_model_access_lets_another_user_work_in_a_model(cmr: Cmr, tmp_path: Path) -> None:
    cmr.ok("add-model", "team")
    carol = _register(cmr, "carol", tmp_path)
    assert 'model "admin/team" not found' in carol.fails("status", "-m", "admin/team")
    cmr.ok("grant", "carol", "read", "team")
    assert carol.json("status", "-m", "admin/team")["model"]["name"] == "team"
    assert carol.fails("deploy", "mysql", "-m", "admin/team") == "ERROR permission denied"
    cmr.ok("grant", "carol", "write", "team")
    carol.ok("deploy", "mysql", "-m", "admin/team")
    assert carol.fails("add-model", "mine") == "ERROR permission denied"
    cmr.ok("grant", "carol", "add-model")
    carol.ok("add-model", "mine")
    names = [m["name"] for m in carol.json("models")["models"]]
    assert names == ["admin/team", "carol/mine"]


def test_users_passwords_and_disabling(cmr: Cmr, tmp_path: Path) -> None:
    dave = _register(cmr, "dave", tmp_path)
    listed = {u["user-name"]: u for u in yaml.safe_load(cmr.ok("users", "--format", "yaml"))}
    assert listed["admin"]["access"] == "superuser"
    assert listed["dave"]["access"] == "login"
    assert "already exists" in cmr.fails("add-user", "dave")
    assert dave.fails("add-user", "eve") == "ERROR permission denied"
    dave.ok("change-user-password", input="new-dave-password\n")
    dave.ok("logout")
    assert "invalid entity name or password" in dave.fails(
        "login", "-u", "dave", input="dave-password\n"
    )
    dave.ok("login", "-u", "dave", input="new-dave-password\n")
    cmr.ok("disable-user", "dave")
    assert dave.fails("whoami").startswith("ERROR ")
    assert "invalid entity name or password" in dave.fails(
        "login", "-u", "dave", input="new-dave-password\n"
    )
    cmr.ok("enable-user", "dave")
    dave.ok("login", "-u", "dave", input="new-dave-password\n")
    assert "dave" in dave.ok("whoami")
    assert cmr.fails("register", "not-a-registration-string").startswith(
        "ERROR invalid registration"
    )


def test_remove_offer_forms(cmr: Cmr) -> None:
    cmr.ok("add-model", "removals")
    cmr.ok("deploy", "mysql")
    cmr.ok("offer", "mysql:db", "one")
    cmr.ok("offer", "mysql:db", "two")
    declined = cmr("remove-offer", "one", "--force", input="n\n")
    assert declined.exit_code == 1
    assert declined.stderr.startswith("WARNING! This command will remove offers: one\n")
    assert declined.stderr.splitlines()[-1] == "ERROR offer removal: aborted"
    assert cmr.fails("remove-offer", "admin/removals.one:db").startswith(
        "ERROR These offers contain endpoints. Only specify the offer name itself."
    )
    assert (
        cmr.fails("remove-offer", "nope")
        == 'ERROR application offer "admin/removals.nope" not found'
    )
    # every URL is checked before any offer goes
    assert cmr.fails("remove-offer", "one", "nope").startswith("ERROR ")
    assert sorted(cmr.json("status")["offers"]) == ["one", "two"]
    cmr.ok("remove-offer", "one", "--force", "-y")
    cmr.ok("remove-offer", "admin/removals.two")
    assert "offers" not in cmr.json("status")
    assert "No offers" in cmr("offers").stderr
