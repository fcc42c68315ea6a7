"""Relations within a model and across models: relate, remove, suspend, resume; consume."""

from __future__ import annotations

from collections.abc import Sequence

from cmr.gateway.v1 import gateway_pb2 as pb
from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from cmr.relations.v1 import relations_pb2
from gateway.app.crossmodel import CrossModel, looks_like_url, parse_via
from gateway.app.offers import Offers
from gateway.auth import Caller
from gateway.ports import Ports
from gateway.resolve import Resolver, find_saas
from kernel import errors
from services.common.deadline import Deadline


class Relations:
    """The relation and consume commands, for an authenticated caller."""

    def __init__(
        self, ports: Ports, resolve: Resolver, offers: Offers, crossmodel: CrossModel
    ) -> None:
        self._ports = ports
        self._resolve = resolve
        self._offers = offers
        self._cmr = crossmodel

    def add(
        self,
        caller: Caller,
        ref: str,
        a: str,
        b: str,
        via: Sequence[str],
        deadline: Deadline,
        *,
        dry_run: bool = False,
        remote: pb.RemoteOffer | None = None,
    ) -> pb.AddRelationResponse:
        """Relate two ends; an offer URL is consumed first, a SAAS makes it cross-model.

        A refused relation changes nothing: a SAAS this call consumed goes again.
        """
        model = self._resolve.model(caller, ref, "read" if dry_run else "write", deadline)
        if looks_like_url(a) and looks_like_url(b):
            raise errors.Invalid("providing more than one remote endpoints not supported")
        subnets = parse_via(via)
        consume = not dry_run
        end_a = self._cmr.side(caller, model, a, deadline, consume=consume, remote=remote)
        end_b = self._cmr.side(caller, model, b, deadline, consume=consume, remote=remote)
        saas = end_a.saas or end_b.saas
        if subnets and saas is None:
            raise errors.Invalid(
                "integration via subnets for non cross model relations not supported"
            )
        if saas is None or dry_run or (end_a.saas is not None and end_b.saas is not None):
            # two SAAS: the relations context gives Juju's refusal
            reply = self._ports.relations.add_relation(
                relations_pb2.AddRelationRequest(
                    model_uuid=model.uuid, a=end_a.side, b=end_b.side, dry_run=dry_run
                ),
                deadline,
            )
            self._await_subordinates(reply.relation, reply.sequence, deadline)
            return pb.AddRelationResponse(relation=reply.relation, candidates=reply.candidates)
        try:
            relation = self._cmr.relate(
                caller, model, end_a.side, end_b.side, saas, subnets, deadline
            )
        except BaseException:
            for end in (end_a, end_b):
                if end.saas is not None and end.consumed:
                    self._offers.remove_saas(model.uuid, end.saas.name, deadline)
            raise
        return pb.AddRelationResponse(relation=relation)

    def remove(
        self, caller: Caller, ref: str, a: str, b: str, id_: int, by_id: bool, deadline: Deadline
    ) -> relations_pb2.Relation:
        """Remove a relation, named by its ends or its id (with its other half, if any)."""
        model = self._resolve.model(caller, ref, "write", deadline)
        reply = self._ports.relations.remove_relation(
            relations_pb2.RemoveRelationRequest(
                model_uuid=model.uuid, a=a, b=b, id=id_, by_id=by_id
            ),
            deadline,
        )
        self._await_subordinates(reply.relation, reply.sequence, deadline)
        return reply.relation

    def _await_subordinates(
        self, relation: relations_pb2.Relation, sequence: int, deadline: Deadline
    ) -> None:
        """Wait until placement has made or removed a container relation's subordinate units.

        Read your writes: the command returns after the units exist, within the deadline.
        """
        if relation.scope != "container" or sequence <= 0:
            return
        self._ports.placement.sync(
            placement_pb2.SyncRequest(source="relations", sequence=sequence), deadline
        )

    def suspend(
        self, caller: Caller, ref: str, ids: Sequence[int], message: str, deadline: Deadline
    ) -> list[relations_pb2.Relation]:
        """Suspend cross-model relations, in the offering model only, by its admin."""
        model = self._resolve.model(caller, ref, "admin", deadline)
        return list(
            self._ports.relations.suspend_relation(
                relations_pb2.SuspendRelationRequest(
                    model_uuid=model.uuid, ids=ids, message=message
                ),
                deadline,
            ).relations
        )

    def resume(
        self, caller: Caller, ref: str, ids: Sequence[int], deadline: Deadline
    ) -> list[relations_pb2.Relation]:
        """Resume relations whose user still has consume on the offer.

        The firewall check runs again: a relation whose ingress the allow-list now refuses
        resumes into `error` with Juju's message rather than `joined`.
        """
        model = self._resolve.model(caller, ref, "admin", deadline)
        refused = self._cmr.check_resumable(model, ids, deadline)
        return list(
            self._ports.relations.resume_relation(
                relations_pb2.ResumeRelationRequest(
                    model_uuid=model.uuid, ids=ids, refused=refused
                ),
                deadline,
            ).relations
        )

    def consume(
        self,
        caller: Caller,
        ref: str,
        url: str,
        alias: str,
        deadline: Deadline,
        remote: pb.RemoteOffer | None = None,
    ) -> tuple[offers_pb2.Saas, str]:
        """Consume an offer into the model as a SAAS; return it and the offer's URL."""
        model = self._resolve.model(caller, ref, "write", deadline)
        return self._cmr.consume(caller, model, url, alias, deadline, remote)

    def remove_saas(self, caller: Caller, ref: str, name: str, deadline: Deadline) -> int:
        """Remove a SAAS: all its relations first (both halves); return how many went."""
        model = self._resolve.model(caller, ref, "write", deadline)
        if find_saas(self._ports, model.uuid, name, deadline) is None:
            raise errors.NotFound(f'saas application "{name}" not found')
        return self._offers.remove_saas(model.uuid, name, deadline)
