"""Cross-model bad input through the CLI: Juju's message, a non-zero exit, and nothing changed.

Covers consume, remove-saas and a terminated SAAS, endpoint matching, suspend and resume, and
`--via`.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Cmr


def _offering(cmr: Cmr, model: str) -> str:
    """A model with mysql offered as `mysql`; returns the offer URL."""
    cmr.ok("add-model", model)
    cmr.ok("deploy", "mysql", "-m", model)
    cmr.ok("offer", f"{model}.mysql:db", "-m", model)
    return f"admin/{model}.mysql"


def _snapshot(cmr: Cmr, *models: str) -> dict[str, Any]:
    """What an error must not change: applications, SAAS, relations and offer connections."""
    out: dict[str, Any] = {}
    for model in models:
        status = cmr.json("status", "-m", model, "--relations")
        out[model] = {
            "applications": status["applications"],
            "saas": status.get("application-endpoints"),
            "relations": status.get("relations"),
            "offers": status.get("offers"),
            "connections": {
                name: offer.get("connections")
                for name, offer in cmr.json("offers", "-m", model).items()
            }
            if status.get("offers")
            else None,
        }
    return out


def test_consume_errors(cmr: Cmr) -> None:
    url = _offering(cmr, "prod")
    cmr.ok("add-model", "shop")
    cmr.ok("deploy", "mediawiki", "-m", "shop")
    before = _snapshot(cmr, "prod", "shop")

    assert cmr.fails("consume", f"{url}:db", "-m", "shop") == (
        f'ERROR remote offer "{url}:db" shouldn\'t include endpoint'
    )
    assert cmr.fails("consume", url, "Bad_Name", "-m", "shop") == (
        'ERROR invalid application name "Bad_Name"'
    )
    assert cmr.fails("consume", "-m", "shop") == "ERROR no remote offer specified"
    assert cmr.fails("consume", url, "x", "y", "-m", "shop") == 'ERROR unrecognized args: ["y"]'
    assert cmr.fails("consume", "admin/prod.nope", "-m", "shop") == (
        'ERROR application offer "admin/prod.nope" not found'
    )
    assert cmr.fails("consume", url, "mediawiki", "-m", "shop") == (
        'ERROR cannot add saas application "mediawiki": local application with same name '
        "already exists"
    )
    assert _snapshot(cmr, "prod", "shop") == before


def test_consume_is_idempotent_and_shares_the_application_name_space(cmr: Cmr) -> None:
    url = _offering(cmr, "idem")
    other = _offering(cmr, "idem-other")
    cmr.ok("add-model", "idem-shop")
    cmr.ok("deploy", "mediawiki", "-m", "idem-shop")
    cmr.ok("consume", url, "-m", "idem-shop")
    first = cmr.json("status", "-m", "idem-shop")["application-endpoints"]
    again = cmr("consume", url, "-m", "idem-shop")
    assert again.exit_code == 0, again.stderr
    assert again.stderr.strip() == f"Added ctrl:{url} as mysql"
    assert cmr.json("status", "-m", "idem-shop")["application-endpoints"] == first
    assert list(first) == ["mysql"]
    before = _snapshot(cmr, "idem", "idem-other", "idem-shop")

    # a deploy over the SAAS name, with the name given
    assert cmr.fails("deploy", "wordpress", "mysql", "-m", "idem-shop") == (
        'ERROR cannot add application "mysql": saas application with same name already exists'
    )
    # another offer under the same SAAS name, from a different model
    assert cmr.fails("consume", other, "-m", "idem-shop") == (
        'ERROR saas application called "mysql" from a different model already exists'
    )
    assert cmr.fails("consume", other, "mysql", "-m", "idem-shop") == (
        'ERROR saas application called "mysql" from a different model already exists'
    )
    assert _snapshot(cmr, "idem", "idem-other", "idem-shop") == before
    # under an alias it is fine
    cmr.ok("consume", other, "mysql2", "-m", "idem-shop")
    assert sorted(cmr.json("status", "-m", "idem-shop")["application-endpoints"]) == [
        "mysql",
        "mysql2",
    ]


def test_deploy_over_a_saas_name_taken_from_the_charm_is_refused(cmr: Cmr) -> None:
    url = _offering(cmr, "clash")
    cmr.ok("add-model", "clash-shop")
    cmr.ok("consume", url, "-m", "clash-shop")
    before = _snapshot(cmr, "clash", "clash-shop")
    refused = cmr("deploy", "mysql", "-m", "clash-shop")
    assert refused.exit_code != 0
    assert refused.stderr.strip() == (
        'ERROR cannot add application "mysql": saas application with same name already exists'
    )
    assert _snapshot(cmr, "clash", "clash-shop") == before


def test_remove_unknown_saas(cmr: Cmr) -> None:
    url = _offering(cmr, "rs")
    cmr.ok("add-model", "rs-shop")
    cmr.ok("consume", url, "-m", "rs-shop")
    before = _snapshot(cmr, "rs", "rs-shop")
    result = cmr("remove-saas", "nope", "-m", "rs-shop")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        'ERROR removing SAAS application nope failed: saas application "nope" not found'
    )
    # every name is tried: the known one goes, the unknown one is reported
    assert _snapshot(cmr, "rs", "rs-shop") == before
    result = cmr("remove-saas", "nope", "mysql", "-m", "rs-shop")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        'ERROR removing SAAS application nope failed: saas application "nope" not found'
    )
    assert "application-endpoints" not in cmr.json("status", "-m", "rs-shop")
    assert cmr.fails("remove-saas", "-m", "rs-shop") == (
        "ERROR no SAAS application names specified"
    )
    assert cmr.fails("remove-saas", "invalid:name", "-m", "rs-shop") == (
        'ERROR invalid SAAS application name "invalid:name"'
    )


def test_add_relation_errors(cmr: Cmr) -> None:
    url = _offering(cmr, "rel")
    other = _offering(cmr, "rel-other")
    cmr.ok("add-model", "rel-shop")
    cmr.ok("deploy", "mediawiki", "-m", "rel-shop")
    cmr.ok("add-model", "rel-local")
    cmr.ok("deploy", "mediawiki", "-m", "rel-local")
    cmr.ok("deploy", "mysql", "-m", "rel-local")
    models = ("rel", "rel-other", "rel-shop", "rel-local")
    before = _snapshot(cmr, *models)

    assert cmr.fails("add-relation", url, other, "-m", "rel-shop") == (
        "ERROR providing more than one remote endpoints not supported"
    )
    assert cmr.fails(
        "add-relation", "mediawiki", "mysql", "--via", "10.0.0.0/8", "-m", "rel-local"
    ) == ("ERROR integration via subnets for non cross model relations not supported")
    assert cmr.fails("add-relation", "mediawiki", url, "--via", "0.0.0.0/0", "-m", "rel-shop") == (
        'ERROR CIDR "0.0.0.0/0" not allowed'
    )
    for bad in ("nonsense", "10.0.0.1", "10.0.0.0/33"):
        message = cmr.fails("add-relation", "mediawiki", url, "--via", bad, "-m", "rel-shop")
        assert bad in message, message
    assert cmr.fails("add-relation", "mediawiki", "admin/rel.nope", "-m", "rel-shop") == (
        'ERROR application offer "admin/rel.nope" not found'
    )
    assert cmr.fails("add-relation", "mediawiki", "-m", "rel-shop") == (
        "ERROR an integration must involve two applications"
    )
    # nothing was consumed or related on the way to any of these errors
    assert _snapshot(cmr, *models) == before


def test_relating_to_a_removed_offer(cmr: Cmr) -> None:
    url = _offering(cmr, "gone")
    cmr.ok("add-model", "gone-shop")
    cmr.ok("deploy", "mediawiki", "-m", "gone-shop")
    cmr.ok("consume", url, "-m", "gone-shop")
    cmr.ok("remove-offer", url, "-y")
    saas = cmr.json("status", "-m", "gone-shop")["application-endpoints"]["mysql"]
    assert saas["application-status"] == {
        "current": "terminated",
        "message": "offer has been removed",
    }
    before = _snapshot(cmr, "gone", "gone-shop")
    message = cmr.fails("add-relation", "mediawiki", "mysql", "-m", "gone-shop")
    assert message.startswith('ERROR Offer "mysql" has been removed from the remote model.')
    assert "remove-saas mysql" in message
    # the URL of an offer that is gone: the offer is simply not found
    assert cmr.fails("add-relation", "mediawiki", url, "-m", "gone-shop") == (
        f'ERROR application offer "{url}" not found'
    )
    assert _snapshot(cmr, "gone", "gone-shop") == before
    # once the SAAS is removed, an offer of the same name may be consumed again
    cmr.ok("remove-saas", "mysql", "-m", "gone-shop")
    cmr.ok("offer", "gone.mysql:db", "-m", "gone")
    cmr.ok("add-relation", "mediawiki", url, "-m", "gone-shop")
    relations = cmr.json("status", "-m", "gone-shop", "--relations")["relations"]
    assert [r["status"] for r in relations] == [{"current": "joined"}]


def test_suspend_and_resume_errors(cmr: Cmr) -> None:
    url = _offering(cmr, "sr")
    cmr.ok("add-model", "sr-shop")
    cmr.ok("deploy", "mediawiki", "-m", "sr-shop")
    cmr.ok("add-relation", "mediawiki", url, "-m", "sr-shop")
    cmr.ok("deploy", "wordpress", "-m", "sr")
    cmr.ok("add-relation", "wordpress", "mysql", "-m", "sr")
    local = next(
        r
        for r in cmr.json("status", "-m", "sr", "--relations")["relations"]
        if r["key"] == "wordpress:db mysql:db"
    )
    cross_id = cmr.json("offers", "-m", "sr")["mysql"]["connections"][0]["relation-id"]
    consumer = cmr.json("status", "-m", "sr-shop", "--relations")["relations"][0]
    before = _snapshot(cmr, "sr", "sr-shop")

    for command in ("suspend-relation", "resume-relation"):
        assert cmr.fails(command, str(local["id"]), "-m", "sr") == (
            'ERROR cannot set suspend status for "wordpress:db mysql:db" which is not '
            "associated with an offer"
        )
        assert cmr.fails(command, "99", "-m", "sr") == "ERROR relation 99 not found"
        assert cmr.fails(command, "-m", "sr") == "ERROR no relation ids specified"
        # every id is checked before any changes: a good id with a bad one changes nothing
        assert cmr.fails(command, str(cross_id), "99", "-m", "sr") == (
            "ERROR relation 99 not found"
        )
        # the consumer's half lives in the consuming model: not suspendable from there
        assert cmr.fails(command, str(consumer["id"]), "-m", "sr-shop") == (
            f'ERROR cannot set suspend status for "{consumer["key"]}" which is not '
            "associated with an offer"
        )
    assert cmr.fails("suspend-relation", "-m", "sr", "--", "-1") == (
        'ERROR relation ID "-1" not valid'
    )
    assert cmr.fails("resume-relation", "x", "-m", "sr") == 'ERROR relation ID "x" not valid'
    assert _snapshot(cmr, "sr", "sr-shop") == before


def test_container_scoped_endpoint_cannot_relate_across_models(cmr: Cmr) -> None:
    cmr.ok("add-model", "sub")
    cmr.ok("deploy", "mysql", "-m", "sub")
    cmr.ok("offer", "sub.mysql:juju-info", "info", "-m", "sub")
    cmr.ok("add-model", "sub-shop")
    cmr.ok("deploy", "logging", "-m", "sub-shop")
    cmr.ok("consume", "admin/sub.info", "-m", "sub-shop")
    before = _snapshot(cmr, "sub", "sub-shop")

    assert cmr.fails("add-relation", "logging:info", "info:juju-info", "-m", "sub-shop") == (
        'ERROR cannot add relation "logging:info info:juju-info": local endpoint must be '
        "globally scoped for remote relations"
    )
    assert cmr.fails("add-relation", "logging:info", "info", "-m", "sub-shop") == (
        "ERROR no relations found"
    )
    assert cmr.fails("add-relation", "logging", "info", "-m", "sub-shop") == (
        "ERROR no relations found"
    )
    assert _snapshot(cmr, "sub", "sub-shop") == before
