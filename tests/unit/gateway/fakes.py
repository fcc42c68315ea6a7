"""In-memory fakes of the services' ports, for the gateway's use cases.

Each keeps just enough state to answer as its service would for what the use cases ask, and
records every call as `(service, method)` in one shared journal, so tests can say what was
asked, in what order, and that a refusal wrote nothing. A method a fake does not implement is
the Protocol's own and answers None: a use case that calls it fails the test loudly.

Other controllers' gateways are faked one level lower, as stubs (`PeerGateway`), so that the
real `PeerControllers.call` runs over them: its renewal of expired credentials and its
`cannot connect to external controller` are part of what the tests see.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TypeVar, cast

import grpc
from google.protobuf.message import Message

from cmr.access.v1 import access_pb2
from cmr.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from cmr.relations.v1 import relations_pb2
from gateway.ports import AccessPort, OffersPort, PlacementPort, Ports, RelationsPort
from gateway.remote import PeerControllers
from kernel import errors
from kernel.relation import Half
from services.common.deadline import Deadline
from services.common.local import LocalRpcError
from services.common.status import error_status

M = TypeVar("M", bound=Message)

WRITES = frozenset(
    {
        "add_model",
        "destroy_model",
        "set_model_config",
        "deploy",
        "add_unit",
        "remove_unit",
        "remove_application",
        "add_machine",
        "remove_machine",
        "init_target",
        "drop_target",
        "grant",
        "revoke",
        "delete_offer",
        "create_offer",
        "remove_saas",
        "set_firewall_rule",
        "consume",
        "set_saas_status",
        "add_relation",
        "add_cross_model_relation",
        "add_peer_relations",
        "remove_relation",
        "remove_application_relations",
        "update_egress",
        "set_peer_token",
        "mirror_remote_state",
    }
)
"""The methods the fakes implement that change something (a dry run is journaled as
`add_relation (dry run)`, which does not)."""


@dataclass
class Journal:
    """Every call made to the fakes, in order."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def writes(self) -> list[tuple[str, str]]:
        """The calls that change something."""
        return [c for c in self.calls if c[1] in WRITES]


def _key(target: access_pb2.Target) -> str:
    if target.kind == access_pb2.TARGET_KIND_CONTROLLER:
        return "controller"
    return target.offer_uuid or target.model_uuid


class FakePlacement(PlacementPort):
    """Models, their config, applications (with charm endpoints), units with addresses."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.models: dict[str, placement_pb2.Model] = {}
        self.config: dict[str, dict[str, str]] = {}
        self.applications: dict[tuple[str, str], placement_pb2.Application] = {}
        self.charms: dict[str, placement_pb2.Charm] = {}
        """What deploying each metadata document makes (by the document's text)."""
        self.units: dict[str, list[placement_pb2.Unit]] = {}
        """Each model's units, by model UUID (what `get_model_status` reports)."""
        self.synced: list[int] = []

    def _log(self, method: str) -> None:
        self.journal.calls.append(("placement", method))

    def model(self, name: str, owner: str = "admin") -> placement_pb2.Model:
        """Add a model directly (set-up, not journaled); its owner's admin level is the test's."""
        made = placement_pb2.Model(uuid=f"uuid-{owner}-{name}", name=name, owner=owner)
        self.models[made.uuid] = made
        self.config[made.uuid] = {"egress-subnets": ""}
        return made

    def add_model(
        self, request: placement_pb2.AddModelRequest, deadline: Deadline
    ) -> placement_pb2.AddModelResponse:
        self._log("add_model")
        if any((m.owner, m.name) == (request.owner, request.name) for m in self.models.values()):
            raise errors.AlreadyExists(f'model "{request.owner}/{request.name}" already exists')
        return placement_pb2.AddModelResponse(model=self.model(request.name, request.owner))

    def get_model(
        self, request: placement_pb2.GetModelRequest, deadline: Deadline
    ) -> placement_pb2.GetModelResponse:
        self._log("get_model")
        for model in self.models.values():
            if model.uuid == request.uuid or (model.owner, model.name) == (
                request.owner,
                request.name,
            ):
                return placement_pb2.GetModelResponse(model=model)
        raise errors.NotFound(f'model "{request.owner}/{request.name}" not found')

    def list_models(
        self, request: placement_pb2.ListModelsRequest, deadline: Deadline
    ) -> placement_pb2.ListModelsResponse:
        self._log("list_models")
        ordered = sorted(self.models.values(), key=lambda m: (m.owner, m.name))
        start = int(request.page_token or 0)
        end = start + (request.page_size or 100)
        return placement_pb2.ListModelsResponse(
            models=ordered[start:end], next_page_token=str(end) if end < len(ordered) else ""
        )

    def destroy_model(
        self, request: placement_pb2.DestroyModelRequest, deadline: Deadline
    ) -> placement_pb2.DestroyModelResponse:
        self._log("destroy_model")
        del self.models[request.model_uuid]
        return placement_pb2.DestroyModelResponse()

    def get_model_config(
        self, request: placement_pb2.GetModelConfigRequest, deadline: Deadline
    ) -> placement_pb2.GetModelConfigResponse:
        self._log("get_model_config")
        return placement_pb2.GetModelConfigResponse(config=self.config[request.model_uuid])

    def set_model_config(
        self, request: placement_pb2.SetModelConfigRequest, deadline: Deadline
    ) -> placement_pb2.SetModelConfigResponse:
        self._log("set_model_config")
        self.config[request.model_uuid].update(request.config)
        return placement_pb2.SetModelConfigResponse(config=self.config[request.model_uuid])

    def deploy(
        self, request: placement_pb2.DeployRequest, deadline: Deadline
    ) -> placement_pb2.DeployResponse:
        self._log("deploy")
        charm = self.charms.get(request.metadata_yaml, placement_pb2.Charm(name="app"))
        app = placement_pb2.Application(
            model_uuid=request.model_uuid, name=request.application or charm.name, charm=charm
        )
        self.applications[(request.model_uuid, app.name)] = app
        return placement_pb2.DeployResponse(application=app)

    def get_application(
        self, request: placement_pb2.GetApplicationRequest, deadline: Deadline
    ) -> placement_pb2.GetApplicationResponse:
        self._log("get_application")
        found = self.applications.get((request.model_uuid, request.application))
        if found is None:
            raise errors.NotFound(f'application "{request.application}" not found')
        return placement_pb2.GetApplicationResponse(application=found)

    def add_unit(
        self, request: placement_pb2.AddUnitRequest, deadline: Deadline
    ) -> placement_pb2.AddUnitResponse:
        self._log("add_unit")
        return placement_pb2.AddUnitResponse(
            units=[
                placement_pb2.Unit(
                    name=f"{request.application}/{n}", application=request.application
                )
                for n in range(request.num_units)
            ]
        )

    def remove_unit(
        self, request: placement_pb2.RemoveUnitRequest, deadline: Deadline
    ) -> placement_pb2.RemoveUnitResponse:
        self._log("remove_unit")
        return placement_pb2.RemoveUnitResponse()

    def remove_application(
        self, request: placement_pb2.RemoveApplicationRequest, deadline: Deadline
    ) -> placement_pb2.RemoveApplicationResponse:
        self._log("remove_application")
        self.applications.pop((request.model_uuid, request.application), None)
        return placement_pb2.RemoveApplicationResponse(removed_units=[f"{request.application}/0"])

    def get_model_status(
        self, request: placement_pb2.GetModelStatusRequest, deadline: Deadline
    ) -> placement_pb2.GetModelStatusResponse:
        self._log("get_model_status")
        model = self.models.get(request.model_uuid)
        if model is None:
            raise errors.NotFound(f'model "{request.model_uuid}" not found')
        return placement_pb2.GetModelStatusResponse(
            model=model,
            units=[
                u
                for u in self.units.get(model.uuid, [])
                if request.application in ("", u.application)
            ],
            config=self.config[model.uuid],
        )

    def sync(
        self, request: placement_pb2.SyncRequest, deadline: Deadline
    ) -> placement_pb2.SyncResponse:
        self._log("sync")
        self.synced.append(request.sequence)
        return placement_pb2.SyncResponse(sequence=request.sequence)


class FakeAccess(AccessPort):
    """Levels by (user, target), the controller's identity, grants, revokes, offer tokens."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.levels: dict[tuple[str, str], str] = {}
        self.revoked: dict[tuple[str, str], tuple[str, str]] = {}
        """What a revoke of (user, target) answers: previous and effective level."""
        self.sequence = 0
        self.tokens: dict[str, access_pb2.OfferTokenClaims] = {}
        """The offer tokens issued, by token (a token is a name, not a signature)."""

    def _log(self, method: str) -> None:
        self.journal.calls.append(("access", method))

    def get_controller_info(
        self, request: access_pb2.GetControllerInfoRequest, deadline: Deadline
    ) -> access_pb2.GetControllerInfoResponse:
        self._log("get_controller_info")
        return access_pb2.GetControllerInfoResponse(name="ctrl", uuid="ctrl-uuid")

    def check_access(
        self, request: access_pb2.CheckAccessRequest, deadline: Deadline
    ) -> access_pb2.CheckAccessResponse:
        self._log("check_access")
        return access_pb2.CheckAccessResponse(
            levels=[self.levels.get((request.user, _key(t)), "") for t in request.targets]
        )

    def init_target(
        self, request: access_pb2.InitTargetRequest, deadline: Deadline
    ) -> access_pb2.InitTargetResponse:
        self._log("init_target")
        self.levels[(request.owner, _key(request.target))] = "admin"
        return access_pb2.InitTargetResponse()

    def drop_target(
        self, request: access_pb2.DropTargetRequest, deadline: Deadline
    ) -> access_pb2.DropTargetResponse:
        self._log("drop_target")
        key = _key(request.target)
        for held in [k for k in self.levels if k[1] == key]:
            del self.levels[held]
        return access_pb2.DropTargetResponse()

    def grant(
        self, request: access_pb2.GrantRequest, deadline: Deadline
    ) -> access_pb2.GrantResponse:
        self._log("grant")
        self.levels[(request.user, _key(request.target))] = request.level
        self.sequence += 1
        return access_pb2.GrantResponse(sequence=self.sequence)

    def revoke(
        self, request: access_pb2.RevokeRequest, deadline: Deadline
    ) -> access_pb2.RevokeResponse:
        self._log("revoke")
        key = (request.user, _key(request.target))
        previous, effective = self.revoked.get(key, (self.levels.get(key, ""), ""))
        self.levels[key] = effective
        self.sequence += 1
        return access_pb2.RevokeResponse(
            sequence=self.sequence, previous=previous, effective=effective
        )

    def _require_consume(self, user: str, offer_uuid: str) -> None:
        level = self.levels.get((user, offer_uuid), "")
        if not level:
            raise errors.NotFound(f'application offer "{offer_uuid}" not found')
        if level not in ("consume", "admin"):
            raise errors.Forbidden("permission denied")

    def issue_offer_token(
        self, request: access_pb2.IssueOfferTokenRequest, deadline: Deadline
    ) -> access_pb2.IssueOfferTokenResponse:
        self._log("issue_offer_token")
        if not request.user or not request.offer_uuid or not request.source_model_uuid:
            raise errors.Invalid("user, offer and consuming model are required")
        if request.kind != "callback":
            self._require_consume(request.user, request.offer_uuid)
        token = f"{request.kind}-token-{len(self.tokens) + 1}"
        self.tokens[token] = access_pb2.OfferTokenClaims(
            issuer="ctrl-uuid",
            kind=request.kind,
            user=request.user,
            offer_uuid=request.offer_uuid,
            source_model_uuid=request.source_model_uuid,
            relation=request.relation,
        )
        return access_pb2.IssueOfferTokenResponse(token=token)

    def verify_offer_token(
        self, request: access_pb2.VerifyOfferTokenRequest, deadline: Deadline
    ) -> access_pb2.VerifyOfferTokenResponse:
        self._log("verify_offer_token")
        claims = self.tokens.get(request.token)
        if claims is None:
            raise errors.Unauthenticated("offer token was not issued by this controller")
        if request.kind:
            if claims.kind != request.kind:
                raise errors.Forbidden(
                    f"a {claims.kind} token cannot be used as a {request.kind} token"
                )
            if claims.offer_uuid != request.offer_uuid:
                raise errors.Forbidden("offer token is for another offer")
            if request.kind != "consume" and claims.relation != request.relation:
                raise errors.Forbidden("offer token is for another relation")
            if request.source_model_uuid not in ("", claims.source_model_uuid):
                raise errors.Forbidden("offer token is for another consuming model")
            if request.kind != "callback":
                level = self.levels.get((claims.user, claims.offer_uuid), "")
                if level not in ("consume", "admin"):
                    raise errors.Forbidden("permission denied")
        return access_pb2.VerifyOfferTokenResponse(claims=claims)

    def list_access(
        self, request: access_pb2.ListAccessRequest, deadline: Deadline
    ) -> access_pb2.ListAccessResponse:
        self._log("list_access")
        key = _key(request.target)
        return access_pb2.ListAccessResponse(
            entries=[
                access_pb2.AccessEntry(user=user, level=level)
                for (user, target), level in sorted(self.levels.items())
                if target == key and level
            ]
        )


class FakeOffers(OffersPort):
    """Offers, SAAS by model, and each model's offer allow-list."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.offers: dict[str, offers_pb2.Offer] = {}
        self.saas: dict[tuple[str, str], offers_pb2.Saas] = {}
        self.allowlists: dict[str, list[str]] = {}
        """Each offering model's `juju-application-offer` allow-list; none admits everything."""

    def _log(self, method: str) -> None:
        self.journal.calls.append(("offers", method))

    def list_offers(
        self, request: offers_pb2.ListOffersRequest, deadline: Deadline
    ) -> offers_pb2.ListOffersResponse:
        self._log("list_offers")
        return offers_pb2.ListOffersResponse(
            offers=[
                o
                for o in self.offers.values()
                if o.model_uuid == request.model_uuid
                and request.application in ("", o.application)
            ]
        )

    def get_offer(
        self, request: offers_pb2.GetOfferRequest, deadline: Deadline
    ) -> offers_pb2.GetOfferResponse:
        self._log("get_offer")
        for offer in self.offers.values():
            if offer.uuid == request.offer_uuid or (offer.model_uuid, offer.name) == (
                request.model_uuid,
                request.name,
            ):
                return offers_pb2.GetOfferResponse(offer=offer)
        raise errors.NotFound(
            f'application offer "{request.offer_uuid or request.name}" not found'
        )

    def delete_offer(
        self, request: offers_pb2.DeleteOfferRequest, deadline: Deadline
    ) -> offers_pb2.DeleteOfferResponse:
        self._log("delete_offer")
        del self.offers[request.offer_uuid]
        return offers_pb2.DeleteOfferResponse(removed_relations=1 if request.force else 0)

    def get_saas(
        self, request: offers_pb2.GetSaasRequest, deadline: Deadline
    ) -> offers_pb2.GetSaasResponse:
        self._log("get_saas")
        found = self.saas.get((request.model_uuid, request.name))
        if found is None:
            raise errors.NotFound(f'saas application "{request.name}" not found')
        return offers_pb2.GetSaasResponse(saas=found)

    def list_saas(
        self, request: offers_pb2.ListSaasRequest, deadline: Deadline
    ) -> offers_pb2.ListSaasResponse:
        self._log("list_saas")
        return offers_pb2.ListSaasResponse(
            saas=[s for (model, _), s in sorted(self.saas.items()) if model == request.model_uuid]
        )

    def remove_saas(
        self, request: offers_pb2.RemoveSaasRequest, deadline: Deadline
    ) -> offers_pb2.RemoveSaasResponse:
        self._log("remove_saas")
        del self.saas[(request.model_uuid, request.name)]
        return offers_pb2.RemoveSaasResponse()

    def consume(
        self, request: offers_pb2.ConsumeRequest, deadline: Deadline
    ) -> offers_pb2.ConsumeResponse:
        self._log("consume")
        existing = self.saas.get((request.model_uuid, request.name))
        if existing is not None and existing.status != "terminated":
            if existing.source_model_uuid != request.source_model_uuid:
                raise errors.AlreadyExists(
                    f'saas application called "{request.name}" from a different model already '
                    "exists"
                )
            if existing.offer_uuid != request.offer_uuid:
                raise errors.AlreadyExists(
                    f'cannot add saas application "{request.name}": saas application already '
                    "exists"
                )
            return offers_pb2.ConsumeResponse(saas=existing, created=False)
        made = offers_pb2.Saas(
            model_uuid=request.model_uuid,
            name=request.name,
            offer_uuid=request.offer_uuid,
            offer_url=request.offer_url,
            source_model_uuid=request.source_model_uuid,
            source_controller=request.source_controller,
            source_controller_uuid=request.source_controller_uuid,
            source_address=request.source_address,
            consume_token=request.consume_token,
            endpoints=request.endpoints,
            status="unknown",
        )
        self.saas[(made.model_uuid, made.name)] = made
        return offers_pb2.ConsumeResponse(saas=made, created=True, sequence=1)

    def set_saas_status(
        self, request: offers_pb2.SetSaasStatusRequest, deadline: Deadline
    ) -> offers_pb2.SetSaasStatusResponse:
        self._log("set_saas_status")
        if request.status == "error" and not request.message:
            raise errors.Invalid('cannot set status "error" without info')
        saas = self.saas.get((request.model_uuid, request.name))
        if saas is None:
            raise errors.NotFound(f'saas application "{request.name}" not found')
        if saas.status != "terminated":
            saas.status, saas.status_message = request.status, request.message
            saas.consume_token = request.consume_token or saas.consume_token
        return offers_pb2.SetSaasStatusResponse()

    def check_ingress(
        self, request: offers_pb2.CheckIngressRequest, deadline: Deadline
    ) -> offers_pb2.CheckIngressResponse:
        self._log("check_ingress")
        allowed = [ipaddress.ip_network(c) for c in self.allowlists.get(request.model_uuid, [])]
        for text in request.subnets if allowed else ():
            net = ipaddress.ip_network(text, strict=False)
            if not any(
                net.version == a.version and net.subnet_of(a)  # type: ignore[arg-type]
                for a in allowed
            ):
                message = f"subnet {text} not in firewall whitelist"
                return offers_pb2.CheckIngressResponse(allowed=False, message=message)
        return offers_pb2.CheckIngressResponse(allowed=True)


FROM_REMOTE = "suspending after update from remote model"
"""The consumer's half's message when the offerer suspends without a reason."""


def _candidates(side: relations_pb2.RelationSide) -> list[relations_pb2.CandidateEndpoint]:
    if not side.endpoint:
        return list(side.endpoints)
    found = [e for e in side.endpoints if e.name == side.endpoint]
    if not found:
        kind = "saas application" if side.remote else "application"
        raise errors.NotFound(f'{kind} "{side.application}" has no "{side.endpoint}" relation')
    return found[:1]


def _end(
    side: relations_pb2.RelationSide, e: relations_pb2.CandidateEndpoint
) -> relations_pb2.RelationEndpoint:
    return relations_pb2.RelationEndpoint(
        application=side.application,
        name=e.name,
        role=e.role,
        interface=e.interface,
        scope=e.scope or "global",
        remote=side.remote,
    )


def _check_cross(
    cross: relations_pb2.CrossModel, a: relations_pb2.RelationSide, b: relations_pb2.RelationSide
) -> None:
    if not cross.token:
        raise errors.Invalid("a cross-model relation needs a token")
    if cross.side not in (Half.CONSUMER, Half.OFFERER):
        raise errors.Invalid(f'cross-model side "{cross.side}" not valid')
    if cross.side == Half.OFFERER and not cross.offer_uuid:
        raise errors.Invalid("the offerer's half of a cross-model relation needs an offer")
    if cross.status not in ("", "joined", "error"):
        raise errors.Invalid(f'a new relation cannot start "{cross.status}"')
    if cross.status == "error" and not cross.message:
        raise errors.Invalid('cannot set status "error" without info')
    if a.remote == b.remote:
        raise errors.Invalid("one side of a cross-model relation must be remote")


def _draft(
    a: relations_pb2.RelationSide,
    b: relations_pb2.RelationSide,
    cross: relations_pb2.CrossModel | None,
) -> relations_pb2.Relation:
    """The relation add-relation would make: a provider/requirer pair on one interface.

    Juju's matching, cut down: no scopes or limits; of several pairs, the one explicit pair.
    """
    if cross is not None:
        _check_cross(cross, a, b)
    pairs = [
        (ea, eb)
        for ea in _candidates(a)
        for eb in _candidates(b)
        if ea.interface == eb.interface and {ea.role, eb.role} == {"provider", "requirer"}
    ]
    explicit = [p for p in pairs if not (p[0].implicit or p[1].implicit)]
    if not pairs:
        raise errors.Refused("no relations found")
    if len(pairs) > 1 and len(explicit) != 1:
        raise errors.Refused(f'ambiguous relation: "{a.application} {b.application}"')
    ea, eb = pairs[0] if len(pairs) == 1 else explicit[0]
    ends = sorted(
        [_end(a, ea), _end(b, eb)], key=lambda e: (e.role != "requirer", e.application, e.name)
    )
    key = " ".join(f"{e.application}:{e.name}" for e in ends)
    if a.remote and b.remote:
        raise errors.Refused(
            f'cannot add relation "{key}": cannot add relation between saas applications '
            f'"{a.application}" and "{b.application}"'
        )
    relation = relations_pb2.Relation(
        id=-1, key=key, scope="global", status="joined", interface=ea.interface, endpoints=ends
    )
    if cross is not None:
        relation.status, relation.message = cross.status or "joined", cross.message
        relation.cross_model.CopyFrom(cross)
        relation.cross_model.ClearField("status")
        relation.cross_model.ClearField("message")
        if cross.side == Half.CONSUMER:
            relation.cross_model.ClearField("offer_uuid")
    return relation


class FakeRelations(RelationsPort):
    """Relations by model, cross-model halves with their token and peer; removed, synced."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.relations: dict[str, list[relations_pb2.Relation]] = {}
        self.peer_relations: list[str] = []
        self.removed_applications: list[str] = []
        self.synced: list[tuple[str, int]] = []
        self.failing: dict[str, errors.CmrError] = {}
        """What the next call of each method named here raises, once journaled (then no more)."""

    def _log(self, method: str) -> None:
        self.journal.calls.append(("relations", method))
        failure = self.failing.pop(method, None)
        if failure is not None:
            raise failure

    def halves(self, token: str) -> list[tuple[str, relations_pb2.Relation]]:
        """The stored halves (model UUID and relation) with this token; not journaled."""
        return [
            (model_uuid, r)
            for model_uuid, held in self.relations.items()
            for r in held
            if token and r.cross_model.token == token
        ]

    def _admit(self, model_uuid: str, relation: relations_pb2.Relation) -> None:
        key = relation.key
        if any(r.key == key for r in self.relations.get(model_uuid, [])):
            raise errors.AlreadyExists(
                f'cannot add relation "{key}": relation {key} already exists'
            )

    def _write(self, model_uuid: str, relation: relations_pb2.Relation) -> relations_pb2.Relation:
        held = self.relations.setdefault(model_uuid, [])
        relation.id = max((r.id for r in held), default=-1) + 1
        held.append(relation)
        return relation

    def list_relations(
        self, request: relations_pb2.ListRelationsRequest, deadline: Deadline
    ) -> relations_pb2.ListRelationsResponse:
        self._log("list_relations")
        held = self.relations.get(request.model_uuid, [])
        if request.ids:
            by_id = {r.id: r for r in held}
            held = [by_id[i] for i in dict.fromkeys(request.ids) if i in by_id]
        return relations_pb2.ListRelationsResponse(relations=held)

    def add_relation(
        self, request: relations_pb2.AddRelationRequest, deadline: Deadline
    ) -> relations_pb2.AddRelationResponse:
        self._log("add_relation (dry run)" if request.dry_run else "add_relation")
        cross = request.cross_model if request.HasField("cross_model") else None
        relation = _draft(request.a, request.b, cross)
        self._admit(request.model_uuid, relation)
        if request.dry_run:
            return relations_pb2.AddRelationResponse(relation=relation)
        return relations_pb2.AddRelationResponse(
            relation=self._write(request.model_uuid, relation), sequence=1
        )

    def add_cross_model_relation(
        self, request: relations_pb2.AddCrossModelRelationRequest, deadline: Deadline
    ) -> relations_pb2.AddCrossModelRelationResponse:
        self._log("add_cross_model_relation")
        consumer, offerer = request.consumer, request.offerer
        mine, theirs = consumer.cross_model, offerer.cross_model
        if (mine.side, theirs.side) != (Half.CONSUMER, Half.OFFERER):
            raise errors.Invalid(
                "a cross-model relation needs the consumer's half and the offerer's half"
            )
        if mine.token != theirs.token:
            raise errors.Invalid("the two halves of a cross-model relation must share one token")
        if any(c.peer_controller or c.peer_address or c.peer_token for c in (mine, theirs)):
            raise errors.Invalid(
                "both halves are on this controller: neither may name a peer controller"
            )
        if theirs.source_model_uuid != consumer.model_uuid:
            raise errors.Invalid(
                "the offerer's half must name the consumer's half's model as the consuming model"
            )
        if (mine.status, mine.message) != (theirs.status, theirs.message):
            raise errors.Invalid(
                "the two halves of a cross-model relation must start in one status"
            )
        made = _draft(consumer.a, consumer.b, mine)
        offered = _draft(offerer.a, offerer.b, theirs)

        def seen(relation: relations_pb2.Relation, remote: bool) -> tuple[str, str, str]:
            e = next(e for e in relation.endpoints if e.remote == remote)
            return (e.name, e.role, e.interface)

        if (seen(offered, True), seen(offered, False)) != (seen(made, False), seen(made, True)):
            raise errors.Invalid(
                f'the halves relate different endpoints: "{made.key}" and "{offered.key}"'
            )
        if self.halves(mine.token):
            raise errors.AlreadyExists(
                f'cannot add relation "{made.key}": its token is taken by another '
                "cross-model relation"
            )
        self._admit(consumer.model_uuid, made)
        self._admit(offerer.model_uuid, offered)
        return relations_pb2.AddCrossModelRelationResponse(
            consumer=self._write(consumer.model_uuid, made),
            offerer=self._write(offerer.model_uuid, offered),
            sequence=2,
        )

    def remove_relation(
        self, request: relations_pb2.RemoveRelationRequest, deadline: Deadline
    ) -> relations_pb2.RemoveRelationResponse:
        self._log("remove_relation")
        if not request.by_id:
            raise errors.Invalid("the fake removes relations by id only")
        held = self.relations.get(request.model_uuid, [])
        found = next((r for r in held if r.id == request.id), None)
        if found is None:
            raise errors.NotFound(f"relation {request.id} not found")
        for model_uuid, half in [
            (request.model_uuid, found),
            *self.halves(found.cross_model.token),
        ]:
            if half in self.relations[model_uuid]:
                self.relations[model_uuid].remove(half)
        return relations_pb2.RemoveRelationResponse(relation=found, sequence=1)

    def update_egress(
        self, request: relations_pb2.UpdateEgressRequest, deadline: Deadline
    ) -> relations_pb2.UpdateEgressResponse:
        self._log("update_egress")
        found = next(
            (r for r in self.relations.get(request.model_uuid, []) if r.id == request.id), None
        )
        if found is None:
            raise errors.NotFound(f"relation {request.id} not found")
        if found.cross_model.side != Half.CONSUMER:
            raise errors.Refused(
                f'relation "{found.key}" does not consume an offer: it has no egress'
            )
        for _, half in self.halves(found.cross_model.token):
            half.cross_model.subnets[:] = request.subnets
            if half.suspended:
                continue
            if request.refused:
                half.status, half.message = "error", request.refused
            elif half.status == "error":
                half.status, half.message = "joined", ""
        return relations_pb2.UpdateEgressResponse(relation=found, sequence=1)

    def list_remote_halves(
        self, request: relations_pb2.ListRemoteHalvesRequest, deadline: Deadline
    ) -> relations_pb2.ListRemoteHalvesResponse:
        self._log("list_remote_halves")
        return relations_pb2.ListRemoteHalvesResponse(
            halves=[
                relations_pb2.RemoteHalf(model_uuid=model_uuid, relation=r)
                for model_uuid, held in self.relations.items()
                for r in held
                if r.cross_model.peer_controller and request.token in ("", r.cross_model.token)
            ]
        )

    def set_peer_token(
        self, request: relations_pb2.SetPeerTokenRequest, deadline: Deadline
    ) -> relations_pb2.SetPeerTokenResponse:
        self._log("set_peer_token")
        if not request.token or not request.peer_token:
            raise errors.Invalid("token and peer_token are required")
        for _, half in self.halves(request.token):
            half.cross_model.peer_token = request.peer_token
        return relations_pb2.SetPeerTokenResponse()

    def mirror_remote_state(
        self, request: relations_pb2.MirrorRemoteStateRequest, deadline: Deadline
    ) -> relations_pb2.MirrorRemoteStateResponse:
        self._log("mirror_remote_state")
        halves = [
            h
            for _, h in self.halves(request.token)
            if h.cross_model.side == Half.CONSUMER and h.cross_model.peer_controller
        ]
        if not halves:
            raise errors.NotFound(f'relation with token "{request.token}" not found')
        text = request.reason or FROM_REMOTE
        why = request.suspend_cause or relations_pb2.SUSPEND_CAUSE_REMOTE
        for half in halves:
            if request.suspended and (half.suspend_cause, half.message) != (why, text):
                half.suspended, half.suspended_reason, half.suspend_cause = True, text, why
                half.status, half.message = "suspended", text
            elif not request.suspended and half.suspended:
                half.suspended, half.suspended_reason = False, ""
                half.suspend_cause = relations_pb2.SUSPEND_CAUSE_UNSPECIFIED
                half.status, half.message = "joined", ""
        return relations_pb2.MirrorRemoteStateResponse(sequence=1)

    def add_peer_relations(
        self, request: relations_pb2.AddPeerRelationsRequest, deadline: Deadline
    ) -> relations_pb2.AddPeerRelationsResponse:
        self._log("add_peer_relations")
        self.peer_relations.append(request.application.application)
        return relations_pb2.AddPeerRelationsResponse()

    def remove_application_relations(
        self, request: relations_pb2.RemoveApplicationRelationsRequest, deadline: Deadline
    ) -> relations_pb2.RemoveApplicationRelationsResponse:
        self._log("remove_application_relations")
        self.removed_applications.append(request.application)
        return relations_pb2.RemoveApplicationRelationsResponse(removed=1)

    def sync(
        self, request: relations_pb2.SyncRequest, deadline: Deadline
    ) -> relations_pb2.SyncResponse:
        self._log("sync")
        self.synced.append((request.source, request.sequence))
        return relations_pb2.SyncResponse(sequence=request.sequence)


@dataclass
class Fakes:
    """The four fakes, sharing one journal, and the `Ports` bundling them."""

    journal: Journal
    placement: FakePlacement
    access: FakeAccess
    offers: FakeOffers
    relations: FakeRelations

    @classmethod
    def new(cls) -> Fakes:
        """Fresh fakes with an empty journal."""
        journal = Journal()
        # each fake implements what the use cases ask; the rest stays the Protocol's
        return cls(
            journal,
            FakePlacement(journal),  # type: ignore[abstract]
            FakeAccess(journal),  # type: ignore[abstract]
            FakeOffers(journal),  # type: ignore[abstract]
            FakeRelations(journal),  # type: ignore[abstract]
        )

    @property
    def ports(self) -> Ports:
        """The use cases' view of the fakes."""
        return Ports(
            placement=self.placement,
            access=self.access,
            offers=self.offers,
            relations=self.relations,
        )


def rpc_error(code: grpc.StatusCode, message: str, reason: str = "") -> grpc.RpcError:
    """A failed call as a stub raises it; with `reason`, as a cmr service's refusal carries it."""
    trailing = error_status(code, message, reason).trailing_metadata if reason else ()
    return LocalRpcError(code, message, trailing)


class PeerGateway:
    """Another controller's gateway, as a stub reaches it: canned answers, refusals, or down.

    Every call is kept in `requests` as `(method, request)`.
    """

    def __init__(self, *, uuid: str = "peer-uuid", name: str = "peer", down: bool = False) -> None:
        self.identity = gateway_pb2.GetControllerIdentityResponse(uuid=uuid, name=name)
        self.states: dict[str, gateway_pb2.GetRemoteRelationResponse] = {}
        """What GetRemoteRelation answers for each relation token; none: its half is gone."""
        self.registered = gateway_pb2.RegisterRemoteRelationResponse(
            relation_token="relation-token-from-peer", status="joined", relation_id=7
        )
        """What RegisterRemoteRelation answers."""
        self.refusals: dict[str, grpc.RpcError] = {}
        """What a call carrying each credential here raises (RenewToken too, renewing it)."""
        self.expired: set[str] = set()
        """Credentials answered with an expired token's refusal; RenewToken renews them."""
        self.down = down
        """Every call fails as a call to an address nobody answers at."""
        self.requests: list[tuple[str, Message]] = []

    def asked(self, kind: type[M]) -> list[M]:
        """The requests of one kind (`NudgeRequest`, ...), in order."""
        return [r for _, r in self.requests if isinstance(r, kind)]

    def _answer(
        self, method: str, request: Message, credential: str, *, renewing: bool = False
    ) -> None:
        sent = type(request)()
        sent.CopyFrom(request)  # as it went over the wire: later changes by the caller are not
        self.requests.append((method, sent))
        if self.down:
            raise rpc_error(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses")
        if credential in self.expired and not renewing:
            raise rpc_error(
                grpc.StatusCode.UNAUTHENTICATED,
                "offer token has expired",
                errors.Reason.TOKEN_EXPIRED,
            )
        refusal = self.refusals.get(credential)
        if refusal is not None:
            raise refusal

    def GetRemoteRelation(  # noqa: N802 - gRPC method name
        self, request: gateway_pb2.GetRemoteRelationRequest, timeout: float | None = None
    ) -> gateway_pb2.GetRemoteRelationResponse:
        self._answer("GetRemoteRelation", request, request.credential)
        return self.states.get(request.token, gateway_pb2.GetRemoteRelationResponse(exists=False))

    def Nudge(  # noqa: N802 - gRPC method name
        self, request: gateway_pb2.NudgeRequest, timeout: float | None = None
    ) -> gateway_pb2.NudgeResponse:
        self._answer("Nudge", request, request.credential)
        return gateway_pb2.NudgeResponse()

    def RegisterRemoteRelation(  # noqa: N802 - gRPC method name
        self, request: gateway_pb2.RegisterRemoteRelationRequest, timeout: float | None = None
    ) -> gateway_pb2.RegisterRemoteRelationResponse:
        self._answer("RegisterRemoteRelation", request, request.consume_token)
        return self.registered

    def RenewToken(  # noqa: N802 - gRPC method name
        self, request: gateway_pb2.RenewTokenRequest, timeout: float | None = None
    ) -> gateway_pb2.RenewTokenResponse:
        self._answer("RenewToken", request, request.token, renewing=True)
        return gateway_pb2.RenewTokenResponse(token=f"renewed-{request.token}")

    def GetControllerIdentity(  # noqa: N802 - gRPC method name
        self, request: gateway_pb2.GetControllerIdentityRequest, timeout: float | None = None
    ) -> gateway_pb2.GetControllerIdentityResponse:
        self._answer("GetControllerIdentity", request, "")
        return self.identity


class FakePeerControllers(PeerControllers):
    """Other controllers' gateways by address; an address with none is down.

    Only `stub` is replaced: the real `call` and `identity` run over the fake gateways.
    """

    def __init__(self) -> None:
        super().__init__()
        self.gateways: dict[str, PeerGateway] = {}

    def stub(self, address: str) -> gateway_pb2_grpc.CrossControllerServiceStub:
        gateway = self.gateways.get(address) or PeerGateway(down=True)
        return cast(gateway_pb2_grpc.CrossControllerServiceStub, gateway)
