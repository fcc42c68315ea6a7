"""Applications, units and machines of a model."""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from cmr.placement.v1 import placement_pb2
from cmr.relations.v1 import relations_pb2
from gateway.app.crossmodel import candidate
from gateway.app.models import Egress
from gateway.app.offers import Offers
from gateway.auth import Caller
from gateway.ports import Ports
from gateway.resolve import Resolver, find_saas
from kernel import errors
from services.common.deadline import Deadline


def charm_name(metadata_yaml: str) -> str:
    """The `name` of a charm's metadata, or empty when it has none (placement judges the rest)."""
    try:
        meta = yaml.safe_load(metadata_yaml)
    except (yaml.YAMLError, RecursionError, ValueError):
        return ""
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else ""


class Applications:
    """The application, unit and machine commands, for an authenticated caller."""

    def __init__(self, ports: Ports, resolve: Resolver, offers: Offers, egress: Egress) -> None:
        self._ports = ports
        self._resolve = resolve
        self._offers = offers
        self._egress = egress

    def deploy(
        self,
        caller: Caller,
        ref: str,
        metadata_yaml: str,
        application: str,
        num_units: int,
        to: Sequence[str],
        deadline: Deadline,
    ) -> placement_pb2.DeployResponse:
        """Deploy a charm; each `peers:` endpoint gets its relation at once, as in Juju.

        Raises:
            AlreadyExists: a SAAS of the model has the application's name.
        """
        model = self._resolve.model(caller, ref, "write", deadline)
        name = application or charm_name(metadata_yaml)
        if name and find_saas(self._ports, model.uuid, name, deadline) is not None:
            raise errors.AlreadyExists(
                f'cannot add application "{name}": saas application with same name already exists'
            )
        reply = self._ports.placement.deploy(
            placement_pb2.DeployRequest(
                model_uuid=model.uuid,
                metadata_yaml=metadata_yaml,
                application=application,
                num_units=num_units,
                to=to,
            ),
            deadline,
        )
        endpoints = reply.application.charm.endpoints
        if any(e.role == placement_pb2.ROLE_PEER for e in endpoints):
            self._ports.relations.add_peer_relations(
                relations_pb2.AddPeerRelationsRequest(
                    model_uuid=model.uuid,
                    application=relations_pb2.RelationSide(
                        application=reply.application.name,
                        endpoints=[candidate(e) for e in endpoints],
                    ),
                ),
                deadline,
            )
        return reply

    def add_unit(
        self,
        caller: Caller,
        ref: str,
        application: str,
        num_units: int,
        to: Sequence[str],
        deadline: Deadline,
    ) -> list[placement_pb2.Unit]:
        """Add units; the model's cross-model relations publish their egress again."""
        model = self._resolve.model(caller, ref, "write", deadline)
        reply = self._ports.placement.add_unit(
            placement_pb2.AddUnitRequest(
                model_uuid=model.uuid, application=application, num_units=num_units, to=to
            ),
            deadline,
        )
        self._egress.republish_egress(model, deadline)
        return list(reply.units)

    def remove_unit(
        self, caller: Caller, ref: str, units: Sequence[str], deadline: Deadline
    ) -> None:
        """Remove units; the model's cross-model relations publish their egress again."""
        model = self._resolve.model(caller, ref, "write", deadline)
        self._ports.placement.remove_unit(
            placement_pb2.RemoveUnitRequest(model_uuid=model.uuid, units=units), deadline
        )
        self._egress.republish_egress(model, deadline)

    def remove(
        self, caller: Caller, ref: str, application: str, force: bool, deadline: Deadline
    ) -> list[str]:
        """Remove an application with its relations and units; return the units removed.

        Refused while the application is offered, as in Juju; with `force`, its offers go
        first, as `remove-offer --force` would remove them.
        """
        model = self._resolve.model(caller, ref, "write", deadline)
        offered = self._offers.of_model(model.uuid, deadline, application=application)
        if offered and not force:
            noun = "offer" if len(offered) == 1 else "offers"
            raise errors.Refused(
                f'cannot destroy application "{application}": '
                f"application is used by {len(offered)} {noun}"
            )
        for offer in offered:
            self._offers.delete(offer, force=True, deadline=deadline)
        self._ports.relations.remove_application_relations(
            relations_pb2.RemoveApplicationRelationsRequest(
                model_uuid=model.uuid, application=application
            ),
            deadline,
        )
        return list(
            self._ports.placement.remove_application(
                placement_pb2.RemoveApplicationRequest(
                    model_uuid=model.uuid, application=application, force=force
                ),
                deadline,
            ).removed_units
        )

    def add_machine(
        self, caller: Caller, ref: str, count: int, deadline: Deadline
    ) -> list[placement_pb2.Machine]:
        """Add empty machines."""
        model = self._resolve.model(caller, ref, "write", deadline)
        return list(
            self._ports.placement.add_machine(
                placement_pb2.AddMachineRequest(model_uuid=model.uuid, count=count), deadline
            ).machines
        )

    def remove_machine(
        self, caller: Caller, ref: str, machines: Sequence[str], force: bool, deadline: Deadline
    ) -> None:
        """Remove machines (with their units only when forced, as placement rules)."""
        model = self._resolve.model(caller, ref, "write", deadline)
        self._ports.placement.remove_machine(
            placement_pb2.RemoveMachineRequest(
                model_uuid=model.uuid, machines=machines, force=force
            ),
            deadline,
        )
