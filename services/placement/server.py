"""The placement servicer: proto <-> domain and `build_server`; rules live in `domain`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Final

import grpc
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer
from typing_extensions import override

from cmr.common.v1 import common_pb2
from cmr.placement.v1 import placement_pb2 as pb
from cmr.placement.v1 import placement_pb2_grpc
from cmr.relations.v1 import relations_pb2, relations_pb2_grpc
from kernel import errors
from kernel.relation import Role, Scope
from services.common import feed
from services.common import status as codes
from services.common.config import Config
from services.common.db import now_rfc3339
from services.common.local import LocalTarget
from services.common.reactor import FeedReactor, wait_within
from services.common.server import Bound, Built, binding
from services.placement import domain
from services.placement.charm import CharmMeta
from services.placement.store import SqlitePlacement

SERVICE_NAME: Final = "cmr.placement.v1.PlacementService"
SERVICE_NAMES: Final = (SERVICE_NAME,)
"""The services it serves on its port."""
"""The services it serves on its port."""
_ROLES: Final = {
    Role.PROVIDER: pb.ROLE_PROVIDER,
    Role.REQUIRER: pb.ROLE_REQUIRER,
    Role.PEER: pb.ROLE_PEER,
}
_SCOPES: Final = {Scope.GLOBAL: pb.SCOPE_GLOBAL, Scope.CONTAINER: pb.SCOPE_CONTAINER}


def model_pb(model: domain.Model) -> pb.Model:
    """A model on the wire."""
    return pb.Model(
        uuid=model.uuid,
        name=model.name,
        owner=model.owner,
        life=model.life,
        address_pool=model.address_pool,
        created_at=model.created_at,
    )


def charm_pb(meta: CharmMeta, revision: int) -> pb.Charm:
    """A charm on the wire."""
    return pb.Charm(
        name=meta.name,
        revision=revision,
        subordinate=meta.subordinate,
        summary=meta.summary,
        endpoints=[
            pb.Endpoint(
                name=e.name,
                role=_ROLES[e.role],
                interface=e.interface,
                scope=_SCOPES[e.scope],
                limit=e.limit,
                optional=e.optional,
                implicit=e.implicit,
            )
            for e in meta.endpoints
        ],
    )


def application_pb(app: domain.Application) -> pb.Application:
    """An application on the wire."""
    return pb.Application(
        model_uuid=app.model_uuid,
        name=app.name,
        charm=charm_pb(app.charm, app.charm_revision),
        subordinate=app.subordinate,
        unit_count=app.unit_count,
        life=app.life,
        status=app.status,
    )


def add_machines_pb(
    into: RepeatedCompositeFieldContainer[pb.Machine], machines: Iterable[domain.Machine]
) -> None:
    """Add machines to a reply, on the wire, in place.

    In place because a message given to a constructor is copied, and a model's status holds
    tens of thousands.
    """
    for machine in machines:
        into.add(
            id=machine.id,
            address=machine.address,
            status="started",
            instance_status="running",
            base_name=domain.BASE[0],
            base_channel=domain.BASE[1],
        )


def add_units_pb(
    into: RepeatedCompositeFieldContainer[pb.Unit], units: Iterable[domain.Unit]
) -> None:
    """Add units to a reply, on the wire, in place (see `add_machines_pb`)."""
    for unit in units:
        into.add(
            name=unit.name,
            application=unit.application,
            machine=unit.machine,
            address=unit.address,
            principal=unit.principal,
            workload_status="unknown",
            agent_status="idle",
            leader=unit.leader,
        )


def add_status_machines(
    into: RepeatedCompositeFieldContainer[pb.StatusMachine], machines: Iterable[domain.MachineRow]
) -> None:
    """Add machines shaped for status (the gateway's `MachineStatus` on the wire), in place."""
    started = pb.StatusMachine(
        agent_status=pb.StatusWord(current="started"),
        instance_status=pb.StatusWord(current="running"),
        base_name=domain.BASE[0],
        base_channel=domain.BASE[1],
    )
    for number, address in machines:
        added = into.add()
        added.CopyFrom(started)  # the fields every machine shares, in one C call
        added.id = number
        added.instance_id = f"machine-{number}"
        if address:
            added.dns_name = address
            added.ip_addresses.append(address)


def add_status_units(
    into: RepeatedCompositeFieldContainer[pb.ApplicationStatusUnits],
    units: Sequence[domain.UnitRow],
    leaders: Mapping[str, int],
) -> None:
    """Add units shaped for status: per application, principal units with subordinates nested.

    `units` by application then number, as `status_rows` gives them. A subordinate unit whose
    principal is not among them shows nowhere (status has no place for it).
    """
    idle = pb.StatusUnit(
        workload_status=pb.StatusWord(current="unknown"),
        agent_status=pb.StatusWord(current="idle"),
    )

    def add(
        into: RepeatedCompositeFieldContainer[pb.StatusUnit], row: domain.UnitRow
    ) -> pb.StatusUnit:
        name, application, number, machine, address, principal = row
        added = into.add()
        added.CopyFrom(idle)  # the fields every unit shares, in one C call
        added.name = name
        added.address = address
        if not principal:
            added.machine = machine
        if leaders.get(application) == number:
            added.leader = True
        return added

    groups: dict[str, pb.ApplicationStatusUnits] = {}
    shown: dict[str, tuple[str, pb.StatusUnit]] = {}
    for row in units:
        name, application, _, _, _, principal = row
        if principal:
            continue
        group = groups.get(application)
        if group is None:
            group = groups[application] = into.add(application=application)
        shown[name] = (application, add(group.status.units, row))
    beside: dict[str, set[str]] = {}
    for row in units:
        principal = row[5]
        if not principal or principal not in shown:
            continue
        application, host = shown[principal]
        add(host.subordinates, row)
        beside.setdefault(row[1], set()).add(application)
    for application, principals in beside.items():
        group = groups.get(application)
        if group is None:
            group = groups[application] = into.add(application=application)
        group.principal_applications.extend(sorted(principals))


class PlacementServicer(placement_pb2_grpc.PlacementServiceServicer):
    """Serves `PlacementService` from one store."""

    def __init__(
        self, store: SqlitePlacement, reactors: Mapping[str, FeedReactor] | None = None
    ) -> None:
        self._store = store
        self._reactors = dict(reactors or {})

    @override
    @codes.unary
    def Ping(self, request: pb.PingRequest, context: grpc.ServicerContext) -> pb.PingResponse:
        """Answer at once: the benchmarks' baseline."""
        return pb.PingResponse()

    @override
    @codes.unary
    def AddModel(
        self, request: pb.AddModelRequest, context: grpc.ServicerContext
    ) -> pb.AddModelResponse:
        model, seq = domain.add_model(self._store, request.name, request.owner, now=now_rfc3339())
        return pb.AddModelResponse(model=model_pb(model), sequence=seq)

    @override
    @codes.unary
    def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.ServicerContext
    ) -> pb.ListModelsResponse:
        models, token = domain.list_models(
            self._store, request.owner, request.page_size, request.page_token
        )
        return pb.ListModelsResponse(models=[model_pb(m) for m in models], next_page_token=token)

    @override
    @codes.unary
    def GetModel(
        self, request: pb.GetModelRequest, context: grpc.ServicerContext
    ) -> pb.GetModelResponse:
        model = domain.get_model(self._store, request.uuid, request.owner, request.name)
        return pb.GetModelResponse(model=model_pb(model))

    @override
    @codes.unary
    def DestroyModel(
        self, request: pb.DestroyModelRequest, context: grpc.ServicerContext
    ) -> pb.DestroyModelResponse:
        return pb.DestroyModelResponse(
            sequence=domain.destroy_model(self._store, request.model_uuid)
        )

    @override
    @codes.unary
    def GetModelConfig(
        self, request: pb.GetModelConfigRequest, context: grpc.ServicerContext
    ) -> pb.GetModelConfigResponse:
        return pb.GetModelConfigResponse(config=domain.get_config(self._store, request.model_uuid))

    @override
    @codes.unary
    def SetModelConfig(
        self, request: pb.SetModelConfigRequest, context: grpc.ServicerContext
    ) -> pb.SetModelConfigResponse:
        config, seq = domain.set_config(self._store, request.model_uuid, dict(request.config))
        return pb.SetModelConfigResponse(config=config, sequence=seq)

    @override
    @codes.unary
    def Deploy(
        self, request: pb.DeployRequest, context: grpc.ServicerContext
    ) -> pb.DeployResponse:
        placed = domain.deploy(
            self._store,
            request.model_uuid,
            request.metadata_yaml,
            request.application,
            request.num_units,
            list(request.to),
        )
        reply = pb.DeployResponse(
            application=application_pb(placed.application), sequence=placed.sequence
        )
        add_units_pb(reply.units, placed.units)
        add_machines_pb(reply.machines, placed.machines)
        return reply

    @override
    @codes.unary
    def GetApplication(
        self, request: pb.GetApplicationRequest, context: grpc.ServicerContext
    ) -> pb.GetApplicationResponse:
        app = domain.get_application(self._store, request.model_uuid, request.application)
        return pb.GetApplicationResponse(application=application_pb(app))

    @override
    @codes.unary
    def RemoveApplication(
        self, request: pb.RemoveApplicationRequest, context: grpc.ServicerContext
    ) -> pb.RemoveApplicationResponse:
        removed, seq = domain.remove_application(
            self._store, request.model_uuid, request.application
        )
        return pb.RemoveApplicationResponse(removed_units=removed, sequence=seq)

    @override
    @codes.unary
    def AddUnit(
        self, request: pb.AddUnitRequest, context: grpc.ServicerContext
    ) -> pb.AddUnitResponse:
        placed = domain.add_unit(
            self._store,
            request.model_uuid,
            request.application,
            request.num_units,
            list(request.to),
        )
        reply = pb.AddUnitResponse(sequence=placed.sequence)
        add_units_pb(reply.units, placed.units)
        add_machines_pb(reply.machines, placed.machines)
        return reply

    @override
    @codes.unary
    def RemoveUnit(
        self, request: pb.RemoveUnitRequest, context: grpc.ServicerContext
    ) -> pb.RemoveUnitResponse:
        seq = domain.remove_units(self._store, request.model_uuid, list(request.units))
        return pb.RemoveUnitResponse(sequence=seq)

    @override
    @codes.unary
    def AddMachine(
        self, request: pb.AddMachineRequest, context: grpc.ServicerContext
    ) -> pb.AddMachineResponse:
        machines, seq = domain.add_machines(self._store, request.model_uuid, request.count)
        reply = pb.AddMachineResponse(sequence=seq)
        add_machines_pb(reply.machines, machines)
        return reply

    @override
    @codes.unary
    def RemoveMachine(
        self, request: pb.RemoveMachineRequest, context: grpc.ServicerContext
    ) -> pb.RemoveMachineResponse:
        seq = domain.remove_machines(
            self._store, request.model_uuid, list(request.machines), force=request.force
        )
        return pb.RemoveMachineResponse(sequence=seq)

    @override
    @codes.unary
    def GetModelStatus(
        self, request: pb.GetModelStatusRequest, context: grpc.ServicerContext
    ) -> pb.GetModelStatusResponse:
        if request.for_status:
            if request.application:
                raise errors.Invalid("for_status and application cannot be combined")
            rows = domain.status_rows(self._store, request.model_uuid)
            reply = pb.GetModelStatusResponse(
                model=model_pb(rows.model),
                applications=[application_pb(a) for a in rows.applications],
                config=dict(rows.config),
            )
            add_status_machines(reply.status_machines.machines, rows.machines)
            add_status_units(reply.status_units, rows.units, rows.leaders)
            return reply
        status = domain.model_status(self._store, request.model_uuid, request.application)
        reply = pb.GetModelStatusResponse(
            model=model_pb(status.model),
            applications=[application_pb(a) for a in status.applications],
            config=dict(status.config),
        )
        add_machines_pb(reply.machines, status.machines)
        add_units_pb(reply.units, status.units)
        return reply

    @override
    @codes.unary
    def Sync(self, request: pb.SyncRequest, context: grpc.ServicerContext) -> pb.SyncResponse:
        """Wait, within the call's deadline (at most 30 s), for the reactor to pass `sequence`."""
        follower = self._reactors.get(request.source)
        if follower is None:
            raise errors.Invalid(f'no reactor follows "{request.source}"')
        if not wait_within(follower, request.sequence, context.time_remaining()):
            raise errors.Unavailable(
                f"placement has not yet applied {request.source} event {request.sequence}"
            )
        return pb.SyncResponse(sequence=follower.applied())

    @override
    @codes.streaming
    def Watch(
        self, request: pb.WatchRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.WatchResponse]:
        yield from feed.serve_watch(self._store, request, context, pb.WatchResponse)


def _watch_relations(channel: grpc.Channel, after: int) -> Iterable[relations_pb2.WatchResponse]:
    stub = relations_pb2_grpc.RelationServiceStub(channel)
    return stub.Watch(relations_pb2.WatchRequest(after_sequence=after))


def build_server(
    config: Config,
    *,
    bound: Bound | None = None,
    local: Mapping[str, LocalTarget] | None = None,
) -> Built:
    """Build the placement server with its own store, on `bound` or `config.bind_address`.

    Its reactor on the relations feed (subordinate units) follows relations through `local`'s
    target when relations is in this process, else at `config.address_of("relations")`; it
    starts with the server (`Built.run`) and retries until relations answers.
    """
    local = local or {}
    address = config.bind_address("placement")
    with binding(bound, SERVICE_NAME, address, on_loop=config.event_loop) as bound:
        store = SqlitePlacement(config.db_path("placement"))

        def apply(ev: common_pb2.Event) -> None:
            domain.apply_relations_event(
                store,
                "relations",
                ev.sequence,
                ev.kind,
                ev.model_uuid,
                ev.entity,
                dict(ev.attributes),
            )

        relations = local.get("relations")
        follower = FeedReactor(
            "relations",
            config.address_of("relations"),
            _watch_relations,
            apply,
            lambda: store.cursor("relations"),
            owner="placement",
            matters=lambda ev: domain.relations_event_matters(ev.kind, ev.attributes),
            local=relations.channel() if relations is not None else None,
        )
        servicer = PlacementServicer(store, {"relations": follower})

        def close() -> None:
            follower.stop()
            store.close()

        return bound.build(servicer, starters=(follower.start,), closers=(close,))
