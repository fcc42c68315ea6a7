"""Status rendering: Juju's keys, order, omissions and the tabular layout."""

from __future__ import annotations

import io

from cli import render
from cmr.gateway.v1 import gateway_pb2 as pb
from cmr.offers.v1 import offers_pb2
from cmr.relations.v1 import relations_pb2


def _status() -> pb.GetStatusResponse:
    sub = pb.UnitStatus(
        name="logging/0",
        workload_status=pb.StatusValue(current="unknown"),
        juju_status=pb.StatusValue(current="idle"),
        leader=True,
        public_address="10.1.0.2",
    )
    units = [
        pb.UnitStatus(
            name=f"wordpress/{n}",
            workload_status=pb.StatusValue(current="unknown"),
            juju_status=pb.StatusValue(current="idle"),
            leader=n == 2,
            machine=str(n),
            public_address=f"10.1.0.{n + 1}",
            subordinates=[sub] if n == 2 else [],
        )
        for n in (10, 2)
    ]
    return pb.GetStatusResponse(
        model=pb.ModelInfo(
            name="prod",
            owner="admin",
            type="iaas",
            controller="ctrl",
            cloud="localhost",
            version="0.1.0",
            model_status=pb.StatusValue(current="available"),
        ),
        machines=[
            pb.MachineStatus(
                id=i,
                juju_status=pb.StatusValue(current="started"),
                dns_name="10.1.0.3",
                ip_addresses=["10.1.0.3"],
                instance_id=f"machine-{i}",
                machine_status=pb.StatusValue(current="running"),
                base_name="ubuntu",
                base_channel="22.04",
            )
            for i in ("10", "2")
        ],
        applications=[
            pb.ApplicationStatus(
                name="wordpress",
                charm="wordpress",
                charm_origin="local",
                charm_rev=1,
                base_name="ubuntu",
                base_channel="22.04",
                scale=2,
                application_status=pb.StatusValue(current="unknown"),
                units=units,
            ),
            pb.ApplicationStatus(
                name="logging",
                charm="logging",
                charm_origin="local",
                charm_rev=1,
                base_name="ubuntu",
                base_channel="22.04",
                scale=1,
                application_status=pb.StatusValue(current="unknown"),
                subordinate=True,
                subordinate_to=["wordpress"],
            ),
        ],
        timestamp="2026-11-25T07:08:09.123456Z",
    )


def test_yaml_keeps_juju_order_and_natural_unit_order() -> None:
    text = render.to_yaml(render.status_dict(_status()))
    assert [line for line in text.splitlines() if not line.startswith(" ")] == [
        "model:",
        "machines:",
        "applications:",
        "storage: {}",
        "controller:",
    ]
    assert text.index("wordpress/2:") < text.index("wordpress/10:")
    assert text.index("'2':") < text.index("'10':")
    assert "timestamp: 07:08:09Z" in text


def test_subordinate_application_has_no_units_and_lists_principals() -> None:
    data = render.status_dict(_status())
    logging = data["applications"]["logging"]
    assert "units" not in logging
    assert logging["subordinate-to"] == ["wordpress"]
    nested = data["applications"]["wordpress"]["units"]["wordpress/2"]["subordinates"]
    assert nested == {
        "logging/0": {
            "workload-status": {"current": "unknown"},
            "juju-status": {"current": "idle"},
            "leader": True,
            "public-address": "10.1.0.2",
        }
    }
    assert list(data["applications"]["wordpress"]) == [
        "charm",
        "base",
        "charm-origin",
        "charm-name",
        "charm-rev",
        "exposed",
        "application-status",
        "units",
    ]


def test_json_sorts_keys_bytewise() -> None:
    text = render.to_json(render.status_dict(_status()))
    assert text.index('"wordpress/10"') < text.index('"wordpress/2"')


def test_tabular_nests_subordinates_two_spaces_with_no_machine() -> None:
    buffer = io.StringIO()
    render.print_tables(render.console(buffer), render.status_tables(_status()))
    lines = buffer.getvalue().splitlines()
    assert lines[0].split() == ["Model", "Controller", "Cloud/Region", "Version", "Timestamp"]
    sub_line = next(line for line in lines if "logging/0" in line)
    assert sub_line.startswith("  logging/0*")
    principal = next(line for line in lines if line.startswith("wordpress/2*"))
    assert principal.split()[3] == "2"
    assert sub_line.split()[3] == "10.1.0.2"  # no machine column value
    assert lines.index(principal) + 1 == lines.index(sub_line)
    assert "" in lines  # sections are separated by a blank line


def test_tabular_lines_carry_no_trailing_spaces() -> None:
    buffer = io.StringIO()
    render.print_tables(render.console(buffer), render.status_tables(_status()))
    assert all(line == line.rstrip() for line in buffer.getvalue().splitlines())


def test_offers_section_sits_before_storage_and_drops_zero_counts() -> None:
    status = _status()
    status.offers.append(
        pb.OfferStatus(
            name="hosted-mysql",
            application="mysql",
            charm="local:mysql-1",
            endpoints=[offers_pb2.OfferEndpoint(name="db", interface="mysql", role="provider")],
        )
    )
    data = render.status_dict(status)
    assert list(data) == ["model", "machines", "applications", "offers", "storage", "controller"]
    assert data["offers"]["hosted-mysql"] == {
        "application": "mysql",
        "charm": "local:mysql-1",
        "endpoints": {"db": {"interface": "mysql", "role": "provider"}},
    }
    status.offers[0].total_connected_count = 2
    status.offers[0].active_connected_count = 1
    counted = render.status_dict(status)["offers"]["hosted-mysql"]
    assert (counted["total-connected-count"], counted["active-connected-count"]) == (2, 1)
    buffer = io.StringIO()
    render.print_tables(render.console(buffer), render.status_tables(status))
    row = next(line for line in buffer.getvalue().splitlines() if line.startswith("hosted-mysql"))
    assert row.split() == ["hosted-mysql", "mysql", "mysql", "1", "1/2", "db", "mysql", "provider"]


def _relation(
    rid: int, scope: str, status: str, *ends: tuple[str, str, str]
) -> relations_pb2.Relation:
    return relations_pb2.Relation(
        id=rid,
        key=" ".join(f"{a}:{e}" for a, e, _ in ends),
        scope=scope,
        status=status,
        interface="x",
        endpoints=[
            relations_pb2.RelationEndpoint(application=a, name=e, role=r) for a, e, r in ends
        ],
    )


def test_integration_rows_name_provider_requirer_type_and_message() -> None:
    status = _status()
    status.relations.extend(
        [
            _relation(
                0, "global", "joined", ("wordpress", "db", "requirer"), ("mysql", "db", "provider")
            ),
            _relation(
                1,
                "container",
                "joined",
                ("logging", "info", "requirer"),
                ("mysql", "juju-info", "provider"),
            ),
            _relation(2, "global", "suspended", ("riak", "ring", "peer")),
        ]
    )
    status.relations[2].message = "maintenance"
    buffer = io.StringIO()
    render.print_tables(render.console(buffer), render.status_tables(status, relations=True))
    rows = [line.split() for line in buffer.getvalue().splitlines()]
    assert ["mysql:db", "wordpress:db", "x", "regular"] in rows
    assert ["mysql:juju-info", "logging:info", "x", "subordinate"] in rows
    assert ["riak:ring", "riak:ring", "x", "peer", "suspended", "maintenance"] in rows
    plain = io.StringIO()
    render.print_tables(render.console(plain), render.status_tables(status))
    assert "Integration" not in plain.getvalue()
    extension = render.status_dict(status, relations=True)["relations"]
    assert extension[2]["status"] == {"current": "suspended", "message": "maintenance"}
    assert "relations" not in render.status_dict(status)


def _with_saas() -> pb.GetStatusResponse:
    status = _status()
    status.saas.extend(
        [
            pb.SaasStatus(
                name="mysql",
                url="admin/prod.mysql",
                store="local",
                endpoints=[
                    offers_pb2.OfferEndpoint(name="db", interface="mysql", role="provider")
                ],
                application_status=pb.StatusValue(current="active", message="ready"),
                relations=[
                    pb.EndpointRelation(endpoint="db", related_application="wordpress"),
                    pb.EndpointRelation(endpoint="db", related_application="blog"),
                ],
            ),
            pb.SaasStatus(
                name="cache",
                url="other:admin/cache.redis",
                store="other",
                application_status=pb.StatusValue(current="terminated"),
            ),
        ]
    )
    status.offers.append(
        pb.OfferStatus(
            name="hosted-mysql",
            application="mysql",
            endpoints=[offers_pb2.OfferEndpoint(name="db", interface="mysql", role="provider")],
        )
    )
    return status


def test_saas_are_application_endpoints_between_applications_and_offers() -> None:
    data = render.status_dict(_with_saas())
    assert list(data) == [
        "model",
        "machines",
        "applications",
        "application-endpoints",
        "offers",
        "storage",
        "controller",
    ]
    saas = data["application-endpoints"]
    assert list(saas) == ["cache", "mysql"]
    assert saas["mysql"] == {
        "url": "admin/prod.mysql",
        "endpoints": {"db": {"interface": "mysql", "role": "provider"}},
        "application-status": {"current": "active", "message": "ready"},
        "relations": {"db": ["blog", "wordpress"]},
    }
    assert list(saas["mysql"]) == ["url", "endpoints", "application-status", "relations"]
    assert saas["cache"] == {
        "url": "other:admin/cache.redis",
        "application-status": {"current": "terminated"},
    }
    text = render.to_yaml(data)
    assert [line for line in text.splitlines() if not line.startswith(" ")] == [
        "model:",
        "machines:",
        "applications:",
        "application-endpoints:",
        "offers:",
        "storage: {}",
        "controller:",
    ]
    assert "      - blog\n      - wordpress\n" in text
    assert '"application-endpoints":{"cache":' in render.to_json(data)


def test_no_saas_leaves_out_application_endpoints_and_the_saas_table() -> None:
    assert "application-endpoints" not in render.status_dict(_status())
    buffer = io.StringIO()
    render.print_tables(render.console(buffer), render.status_tables(_status()))
    assert not any(line.startswith("SAAS") for line in buffer.getvalue().splitlines())


def test_tabular_saas_section_follows_the_model() -> None:
    buffer = io.StringIO()
    render.print_tables(render.console(buffer), render.status_tables(_with_saas()))
    lines = buffer.getvalue().splitlines()
    assert lines[2:7] == [
        "",
        "SAAS   Status      Store  URL",
        "cache  terminated  other  other:admin/cache.redis",
        "mysql  active      local  admin/prod.mysql",
        "",
    ]
    assert lines[7].startswith("App ")


def test_suspended_relation_falls_back_to_the_suspend_reason() -> None:
    status = _status()
    status.relations.append(_relation(3, "global", "suspended", ("riak", "ring", "peer")))
    status.relations[0].suspended = True
    status.relations[0].suspended_reason = "maintenance"
    buffer = io.StringIO()
    render.print_tables(render.console(buffer), render.status_tables(status, relations=True))
    row = next(line for line in buffer.getvalue().splitlines() if line.startswith("riak:ring"))
    assert row.split()[-2:] == ["suspended", "maintenance"]
