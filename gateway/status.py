"""Composes `status` for one model from what each context reports."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Final

from cmr.gateway.v1 import gateway_pb2 as pb
from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from cmr.relations.v1 import relations_pb2
from kernel.relation import REVOKED_MESSAGE, Half
from services.common.db import now_rfc3339

MODEL_TYPE: Final = "iaas"
CLOUD: Final = "localhost"
VERSION: Final = "0.1.0"


def compose(
    placement: placement_pb2.GetModelStatusResponse,
    offers: Sequence[offers_pb2.Offer],
    relations: Sequence[relations_pb2.Relation],
    *,
    controller: str,
    saas: Sequence[offers_pb2.Saas] = (),
    saas_status: Mapping[str, pb.StatusValue] | None = None,
) -> pb.GetStatusResponse:
    """Build the status of one model.

    The offerer's halves of cross-model relations are hidden: consumer proxies
    show only as offer counts and in `cmr offers`. A SAAS shows its relations by endpoint, as
    plain application names, and `error` / `offer permission revoked` while one of its relations
    is suspended for the cause `revoked` (a revoke, or a refused credential).

    Subordinate units nest under their principal unit and carry no machine;
    a subordinate application lists the applications of its units' principals in
    `subordinate_to`, sorted, and its scale is its unit count.
    """
    model = placement.model
    relations = [r for r in relations if r.cross_model.side != Half.OFFERER]
    mirrored = saas_status or {}
    by_application = endpoint_relations(relations)
    units_of = {one.application: one for one in placement.status_units}
    # a subordinate runs beside the principals of its units and those it has a container
    # relation with
    subordinates = {a.name for a in placement.applications if a.subordinate}
    principals_of: dict[str, set[str]] = defaultdict(set)
    for application_units in placement.status_units:
        principals_of[application_units.application].update(
            application_units.principal_applications
        )
    for app, items in by_application.items():
        if app in subordinates:
            principals_of[app].update(
                r.related_application
                for r in items
                if r.scope == "container" and r.related_application not in subordinates
            )
    # built in place, message by message: a model's status holds tens of thousands of units,
    # and a message handed to a constructor or `extend` is copied
    response = pb.GetStatusResponse(
        model=pb.ModelInfo(
            name=model.name,
            owner=model.owner,
            uuid=model.uuid,
            type=MODEL_TYPE,
            controller=controller,
            cloud=CLOUD,
            version=VERSION,
            model_status=pb.StatusValue(current="available"),
        ),
        timestamp=now_rfc3339(),
    )
    for application in placement.applications:
        added = response.applications.add(
            name=application.name,
            charm=application.charm.name,
            charm_origin="local",
            charm_rev=application.charm.revision,
            base_name="ubuntu",
            base_channel="22.04",
            scale=application.unit_count,
            exposed=False,
            subordinate=application.subordinate,
            subordinate_to=sorted(principals_of.get(application.name, ())),
            relations=by_application.get(application.name, []),
        )
        added.application_status.current = application.status or "unknown"
        units = units_of.get(application.name)
        if units is not None:
            # placement's units for status share `UnitStatus`'s wire form (its contract says
            # so, and a test holds both to it): merged as bytes, not unit by unit
            added.MergeFromString(units.status.SerializeToString())
    response.MergeFromString(placement.status_machines.SerializeToString())  # as the units
    response.relations.extend(sorted(relations, key=lambda r: r.id))
    response.saas.extend(
        _saas(one, by_application.get(one.name, []), relations, mirrored.get(one.name))
        for one in sorted(saas, key=lambda s: s.name)
    )
    response.offers.extend(
        pb.OfferStatus(
            name=o.name,
            application=o.application,
            charm=o.charm,
            total_connected_count=o.total_connected_count,
            active_connected_count=o.active_connected_count,
            endpoints=o.endpoints,
        )
        for o in sorted(offers, key=lambda o: o.name)
    )
    return response


def _saas(
    saas: offers_pb2.Saas,
    ends: Sequence[pb.EndpointRelation],
    relations: Sequence[relations_pb2.Relation],
    mirrored: pb.StatusValue | None,
) -> pb.SaasStatus:
    revoked = any(
        r.suspend_cause == relations_pb2.SUSPEND_CAUSE_REVOKED
        for r in relations
        if any(e.application == saas.name and e.remote for e in r.endpoints)
    )
    if saas.status == "terminated":
        value = pb.StatusValue(current=saas.status, message=saas.status_message)
    elif revoked:
        value = pb.StatusValue(current="error", message=REVOKED_MESSAGE)
    else:
        value = mirrored or pb.StatusValue(current=saas.status or "unknown")
    url = saas.offer_url.rpartition(":")[2]
    return pb.SaasStatus(
        name=saas.name,
        url=url,
        store=saas.source_controller or "local",
        endpoints=saas.endpoints,
        application_status=value,
        relations=ends,
    )


def endpoint_relations(
    relations: Sequence[relations_pb2.Relation],
) -> dict[str, list[pb.EndpointRelation]]:
    """Each application's view of its relations: its endpoint and the application opposite.

    Both ends show the relation's scope (container if either end is); a peer
    relation names the application itself.
    """
    out: dict[str, list[pb.EndpointRelation]] = defaultdict(list)
    for relation in relations:
        ends = list(relation.endpoints)
        for end in ends:
            others = [e for e in ends if e is not end] or [end]
            for other in others:
                out[end.application].append(
                    pb.EndpointRelation(
                        endpoint=end.name,
                        related_application=other.application,
                        interface=end.interface,
                        scope=relation.scope,
                    )
                )
    return {
        app: sorted(items, key=lambda r: (r.endpoint, r.related_application))
        for app, items in out.items()
    }


def filtered(status: pb.GetStatusResponse, patterns: Sequence[str]) -> pb.GetStatusResponse:
    """The part of a model's status that `cmr status PATTERN...` shows.

    A pattern names an application, a SAAS or a unit (`app/3`). A principal unit shows with
    its subordinate units; a subordinate unit or application brings the principal units it
    runs beside (and nothing else of theirs). Machines are those of the units shown; offers
    those of the applications shown; relations those with an end among them.
    """
    if not patterns:
        return status
    wanted = set(patterns)

    def picked(name: str, application: str) -> bool:
        return name in wanted or application in wanted

    apps: list[pb.ApplicationStatus] = []
    shown: set[str] = set()
    for app in status.applications:
        units = []
        for unit in app.units:
            subs = [s for s in unit.subordinates if picked(s.name, s.name.split("/")[0])]
            if picked(unit.name, app.name) or subs:
                copy = pb.UnitStatus()
                copy.CopyFrom(unit)
                if not picked(unit.name, app.name):
                    del copy.subordinates[:]
                    copy.subordinates.extend(subs)
                units.append(copy)
                shown.update(s.name.split("/")[0] for s in copy.subordinates)
        if units or app.name in wanted:
            one = pb.ApplicationStatus()
            one.CopyFrom(app)
            del one.units[:]
            one.units.extend(units)
            apps.append(one)
            shown.add(app.name)
    listed = {a.name for a in apps}
    apps.extend(a for a in status.applications if a.name in shown and a.name not in listed)
    apps.sort(key=lambda a: a.name)
    machines = {u.machine for a in apps for u in a.units if u.machine}
    out = pb.GetStatusResponse()
    out.CopyFrom(status)
    del out.applications[:]
    out.applications.extend(apps)
    del out.machines[:]
    out.machines.extend(m for m in status.machines if m.id in machines)
    del out.saas[:]
    out.saas.extend(s for s in status.saas if s.name in wanted)
    names = shown | {s.name for s in out.saas}
    del out.offers[:]
    out.offers.extend(o for o in status.offers if o.application in names)
    del out.relations[:]
    out.relations.extend(
        r for r in status.relations if any(e.application in names for e in r.endpoints)
    )
    return out


PART_BYTES: Final = 1 << 20
"""The size a status part aims under (gRPC clients accept 4 MiB by default)."""


def split(status: pb.GetStatusResponse, limit: int = PART_BYTES) -> Iterator[pb.GetStatusResponse]:
    """Cut a status into parts of about `limit` bytes at most (see `StreamStatus`).

    The first part has everything but machines and applications; then machines, then
    applications, whose units may spill into further parts under the same name.
    """
    head = pb.GetStatusResponse()
    head.CopyFrom(status)
    del head.machines[:]
    del head.applications[:]
    current, size = head, head.ByteSize()
    for machine in status.machines:
        cost = machine.ByteSize() + 8
        if size + cost > limit and size:
            yield current
            current, size = pb.GetStatusResponse(), 0
        current.machines.append(machine)
        size += cost
    for app in status.applications:
        shell = pb.ApplicationStatus()
        shell.CopyFrom(app)
        del shell.units[:]
        piece = current.applications.add()
        piece.CopyFrom(shell)
        size += shell.ByteSize() + 8
        for unit in app.units:
            cost = unit.ByteSize() + 8
            if size + cost > limit and len(piece.units) > 0:
                yield current
                current = pb.GetStatusResponse()
                piece = current.applications.add()
                piece.name = app.name
                size = piece.ByteSize() + 8
            piece.units.append(unit)
            size += cost
    yield current
