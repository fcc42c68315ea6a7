"""In-memory fakes of the services' ports, for the gateway's use cases.

Each keeps just enough state to answer as its service would for what the use cases ask, and
records every call as `(service, method)` in one shared journal, so tests can say what was
asked, in what order, and that a refusal wrote nothing. A method a fake does not implement is
the Protocol's own and answers None: a use case that calls it fails the test loudly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cmr.access.v1 import access_pb2
from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from cmr.relations.v1 import relations_pb2
from gateway.ports import AccessPort, OffersPort, PlacementPort, Ports, RelationsPort
from kernel import errors
from services.common.deadline import Deadline

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
        "add_relation",
        "add_peer_relations",
        "remove_relation",
        "remove_application_relations",
    }
)
"""The methods the fakes implement that change something."""


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
    """Models, their config, applications (with charm endpoints), units and machines."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.models: dict[str, placement_pb2.Model] = {}
        self.config: dict[str, dict[str, str]] = {}
        self.applications: dict[tuple[str, str], placement_pb2.Application] = {}
        self.charms: dict[str, placement_pb2.Charm] = {}
        """What deploying each metadata document makes (by the document's text)."""
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

    def sync(
        self, request: placement_pb2.SyncRequest, deadline: Deadline
    ) -> placement_pb2.SyncResponse:
        self._log("sync")
        self.synced.append(request.sequence)
        return placement_pb2.SyncResponse(sequence=request.sequence)


class FakeAccess(AccessPort):
    """Levels by (user, target), the controller's identity, grants and revokes."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.levels: dict[tuple[str, str], str] = {}
        self.revoked: dict[tuple[str, str], tuple[str, str]] = {}
        """What a revoke of (user, target) answers: previous and effective level."""
        self.sequence = 0

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
    """Offers and SAAS by model."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.offers: dict[str, offers_pb2.Offer] = {}
        self.saas: dict[tuple[str, str], offers_pb2.Saas] = {}

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
        raise errors.NotFound(f'application offer "{request.name}" not found')

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


class FakeRelations(RelationsPort):
    """Relations by model; what was removed and synced."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.relations: dict[str, list[relations_pb2.Relation]] = {}
        self.peer_relations: list[str] = []
        self.removed_applications: list[str] = []
        self.synced: list[tuple[str, int]] = []

    def _log(self, method: str) -> None:
        self.journal.calls.append(("relations", method))

    def list_relations(
        self, request: relations_pb2.ListRelationsRequest, deadline: Deadline
    ) -> relations_pb2.ListRelationsResponse:
        self._log("list_relations")
        return relations_pb2.ListRelationsResponse(
            relations=self.relations.get(request.model_uuid, [])
        )

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
