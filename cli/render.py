"""Renders gateway replies as Juju does: YAML and JSON with Juju's keys, or tables.

YAML and JSON share the keys of Juju's `status --format yaml|json`, in Juju's order; empty
optional keys are omitted; map keys sort naturally in YAML (`u/2` before `u/10`) and bytewise in
JSON (`sort_keys=True`).
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from cmr.gateway.v1 import gateway_pb2 as pb
from cmr.relations.v1 import relations_pb2


def natural_key(text: str) -> list[Any]:
    """Sort key ordering embedded numbers by value: `u/2` before `u/10`, machine 2 before 10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _status_value(value: pb.StatusValue) -> dict[str, Any]:
    out: dict[str, Any] = {"current": value.current}
    if value.message:
        out["message"] = value.message
    return out


def _unit(unit: pb.UnitStatus) -> dict[str, Any]:
    out: dict[str, Any] = {
        "workload-status": _status_value(unit.workload_status),
        "juju-status": _status_value(unit.juju_status),
    }
    if unit.leader:
        out["leader"] = True
    if unit.machine:
        out["machine"] = unit.machine
    if unit.public_address:
        out["public-address"] = unit.public_address
    if unit.subordinates:
        out["subordinates"] = {
            s.name: _unit(s) for s in sorted(unit.subordinates, key=lambda s: natural_key(s.name))
        }
    return out


def _application(app: pb.ApplicationStatus) -> dict[str, Any]:
    base = {"name": app.base_name, "channel": app.base_channel}
    out: dict[str, Any] = {
        "charm": app.charm,
        "base": base,
        "charm-origin": app.charm_origin,
        "charm-name": app.charm,
        "charm-rev": app.charm_rev,
        "exposed": app.exposed,
        "application-status": _status_value(app.application_status),
    }
    if app.relations:
        grouped: dict[str, list[dict[str, str]]] = {}
        for rel in app.relations:
            grouped.setdefault(rel.endpoint, []).append(
                {
                    "related-application": rel.related_application,
                    "interface": rel.interface,
                    "scope": rel.scope,
                }
            )
        out["relations"] = dict(sorted(grouped.items()))
    if app.subordinate_to:
        out["subordinate-to"] = list(app.subordinate_to)
    if app.units:
        out["units"] = {
            u.name: _unit(u) for u in sorted(app.units, key=lambda u: natural_key(u.name))
        }
    return out


def _clock(rfc3339: str) -> str:
    """Juju shows the controller timestamp as a time of day with its offset: `15:04:05Z`."""
    match = re.search(r"T(\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$", rfc3339)
    return f"{match.group(1)}{match.group(2)}" if match else rfc3339


def status_dict(status: pb.GetStatusResponse, *, relations: bool = False) -> dict[str, Any]:
    """Return the status of one model in Juju's structure and key order.

    Juju's is juju/juju@3.6:cmd/juju/status/formatted.go. With `relations`, cmr's additive
    extension lists the model's relations with their status, which Juju shows only in tables.
    """
    model = status.model
    machines = {
        m.id: {
            "juju-status": _status_value(m.juju_status),
            **({"dns-name": m.dns_name} if m.dns_name else {}),
            **({"ip-addresses": list(m.ip_addresses)} if m.ip_addresses else {}),
            "instance-id": m.instance_id,
            "machine-status": _status_value(m.machine_status),
            "modification-status": {"current": "idle"},
            "base": {"name": m.base_name, "channel": m.base_channel},
        }
        for m in sorted(status.machines, key=lambda m: natural_key(m.id))
    }
    out: dict[str, Any] = {
        "model": {
            "name": model.name,
            "type": model.type,
            "controller": model.controller,
            "cloud": model.cloud,
            "version": model.version,
            "model-status": _status_value(model.model_status),
        },
        "machines": machines,
        "applications": {
            a.name: _application(a) for a in sorted(status.applications, key=lambda a: a.name)
        },
    }
    if status.saas:
        out["application-endpoints"] = {
            s.name: _saas(s) for s in sorted(status.saas, key=lambda s: s.name)
        }
    if status.offers:
        out["offers"] = {o.name: _offer(o) for o in sorted(status.offers, key=lambda o: o.name)}
    if relations and status.relations:
        out["relations"] = [_relation(r) for r in status.relations]
    out["storage"] = {}
    out["controller"] = {"timestamp": _clock(status.timestamp)}
    return out


def _relation(relation: relations_pb2.Relation) -> dict[str, Any]:
    current: dict[str, Any] = {"current": relation.status}
    if relation.message:
        current["message"] = relation.message
    return {
        "id": relation.id,
        "key": relation.key,
        "interface": relation.interface,
        "scope": relation.scope,
        "status": current,
    }


def _saas(saas: pb.SaasStatus) -> dict[str, Any]:
    """A SAAS in status; its relations name the related applications only, as Juju's do."""
    out: dict[str, Any] = {"url": saas.url}
    if saas.endpoints:
        out["endpoints"] = {
            e.name: {"interface": e.interface, "role": e.role} for e in saas.endpoints
        }
    out["application-status"] = _status_value(saas.application_status)
    if saas.relations:
        grouped: dict[str, list[str]] = {}
        for rel in saas.relations:
            grouped.setdefault(rel.endpoint, []).append(rel.related_application)
        out["relations"] = {ep: sorted(apps) for ep, apps in sorted(grouped.items())}
    return out


def _offer(offer: pb.OfferStatus) -> dict[str, Any]:
    """An offer in status; the counts are omitted at 0, as Juju does."""
    out: dict[str, Any] = {"application": offer.application}
    if offer.charm:
        out["charm"] = offer.charm
    if offer.total_connected_count:
        out["total-connected-count"] = offer.total_connected_count
    if offer.active_connected_count:
        out["active-connected-count"] = offer.active_connected_count
    out["endpoints"] = {
        e.name: {"interface": e.interface, "role": e.role} for e in offer.endpoints
    }
    return out


class _Dumper(yaml.SafeDumper):
    """Keeps insertion order (Juju's struct order); callers insert keys already sorted."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _represent_str)


def to_yaml(data: Mapping[str, Any] | Sequence[Any]) -> str:
    """Dump in insertion order, block style, as Juju prints YAML."""
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )


def to_json(data: Mapping[str, Any] | Sequence[Any]) -> str:
    """Dump compactly with sorted keys, as Juju prints JSON."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def console(file: io.StringIO | None = None) -> Console:
    """A console that never adds colour where none is wanted and never wraps a table."""
    no_colour = bool(os.environ.get("NO_COLOR")) or file is not None
    # Piped output is never cut to a terminal's width: scripts read whole lines.
    wide = file is not None or not sys.stdout.isatty()
    return Console(
        file=file,
        width=1000 if wide else None,
        color_system=None if no_colour else "auto",
        highlight=False,
        soft_wrap=True,
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> Table:
    """A Juju-style table: no borders, bold headers, two spaces between columns."""
    out = Table(
        box=None, show_edge=False, pad_edge=False, header_style="bold", padding=(0, 2, 0, 0)
    )
    for header in headers:
        out.add_column(header, no_wrap=True, overflow="ignore")
    for row in rows:
        out.add_row(*row)
    return out


def status_tables(status: pb.GetStatusResponse, *, relations: bool = False) -> list[Table]:
    """Build the tabular status, section by section, in Juju's order.

    Model, SAAS, App, Unit, Machine, Offer and, with `relations`, Integration; empty ones are
    left out.
    """
    model = status.model
    sections = [
        table(
            ["Model", "Controller", "Cloud/Region", "Version", "Timestamp"],
            [[model.name, model.controller, model.cloud, model.version, _clock(status.timestamp)]],
        )
    ]
    if status.saas:
        sections.append(
            table(
                ["SAAS", "Status", "Store", "URL"],
                [
                    [s.name, s.application_status.current, s.store, s.url]
                    for s in sorted(status.saas, key=lambda s: s.name)
                ],
            )
        )
    apps = sorted(status.applications, key=lambda a: a.name)
    if apps:
        sections.append(
            table(
                [
                    "App",
                    "Version",
                    "Status",
                    "Scale",
                    "Charm",
                    "Channel",
                    "Rev",
                    "Exposed",
                    "Message",
                ],
                [
                    [
                        a.name,
                        "",
                        a.application_status.current,
                        str(a.scale),
                        a.charm,
                        "",
                        str(a.charm_rev),
                        "yes" if a.exposed else "no",
                        a.application_status.message,
                    ]
                    for a in apps
                ],
            )
        )
    unit_rows: list[list[str]] = []
    for app in apps:
        for unit in sorted(app.units, key=lambda u: natural_key(u.name)):
            unit_rows.append(_unit_row(unit, indent=""))
            unit_rows.extend(
                _unit_row(sub, indent="  ")
                for sub in sorted(unit.subordinates, key=lambda s: natural_key(s.name))
            )
    if unit_rows:
        sections.append(
            table(
                ["Unit", "Workload", "Agent", "Machine", "Public address", "Ports", "Message"],
                unit_rows,
            )
        )
    machines = sorted(status.machines, key=lambda m: natural_key(m.id))
    if machines:
        sections.append(
            table(
                ["Machine", "State", "Address", "Inst id", "Base", "AZ", "Message"],
                [
                    [
                        m.id,
                        m.juju_status.current,
                        m.dns_name,
                        m.instance_id,
                        f"{m.base_name}@{m.base_channel}",
                        "",
                        m.machine_status.message,
                    ]
                    for m in machines
                ],
            )
        )
    offer_rows: list[list[str]] = []
    for offer in sorted(status.offers, key=lambda o: o.name):
        charm, _, rev = offer.charm.removeprefix("local:").rpartition("-")
        for index, endpoint in enumerate(offer.endpoints):
            first = index == 0
            offer_rows.append(
                [
                    offer.name if first else "",
                    offer.application if first else "",
                    charm if first else "",
                    rev if first else "",
                    f"{offer.active_connected_count}/{offer.total_connected_count}"
                    if first
                    else "",
                    endpoint.name,
                    endpoint.interface,
                    endpoint.role,
                ]
            )
    if offer_rows:
        sections.append(
            table(
                [
                    "Offer",
                    "Application",
                    "Charm",
                    "Rev",
                    "Connected",
                    "Endpoint",
                    "Interface",
                    "Role",
                ],
                offer_rows,
            )
        )
    if relations and status.relations:
        sections.append(
            table(
                ["Integration provider", "Requirer", "Interface", "Type", "Message"],
                sorted(_integration_row(r) for r in status.relations),
            )
        )
    return sections


def _integration_row(relation: relations_pb2.Relation) -> list[str]:
    """One Integration row: provider and requirer ends, type, and a message unless joined."""
    ends = list(relation.endpoints)
    provider = next((e for e in ends if e.role in ("provider", "peer")), ends[0])
    requirer = next((e for e in ends if e.role == "requirer"), provider)
    if relation.scope == "container":
        kind = "subordinate"
    elif provider.application == requirer.application:
        kind = "peer"
    else:
        kind = "regular"
    message = (
        ""
        if relation.status == "joined"
        else " ".join(
            part
            for part in (relation.status, relation.message or relation.suspended_reason)
            if part
        )
    )
    return [
        f"{provider.application}:{provider.name}",
        f"{requirer.application}:{requirer.name}",
        relation.interface,
        kind,
        message,
    ]


def _unit_row(unit: pb.UnitStatus, *, indent: str) -> list[str]:
    return [
        f"{indent}{unit.name}{'*' if unit.leader else ''}",
        unit.workload_status.current,
        unit.juju_status.current,
        unit.machine,
        unit.public_address,
        "",
        unit.workload_status.message,
    ]


def print_tables(out: Console, sections: Sequence[Table]) -> None:
    """Print sections separated by a blank line, without the padding rich leaves at line ends."""
    with out.capture() as captured:
        for index, section in enumerate(sections):
            if index:
                out.print()
            out.print(section)
    text = "\n".join(line.rstrip() for line in captured.get().splitlines())
    out.file.write(text + "\n")
