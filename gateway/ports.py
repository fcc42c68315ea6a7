"""What the gateway asks of each service: one typed port per service.

A port's method is the service's RPC of the same name (snake case): it takes the contract's
request and a `Deadline`, returns the contract's reply, and raises `kernel.errors` kinds (a
refusal keeps the service's message and reason). Whether it reads or writes is the contract's
(`services.common.contract`). `gateway.adapters` implements them over gRPC or an in-process
channel; unit tests implement them in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

from cmr.access.v1 import access_pb2
from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from cmr.relations.v1 import relations_pb2
from kernel import errors
from services.common.deadline import Deadline

T = TypeVar("T")
R = TypeVar("R")


def pages(
    fetch: Callable[[str], R], items: Callable[[R], Iterable[T]], limit: int = 10_000
) -> Iterator[T]:
    """Every item of a paged list RPC: `fetch(token)` returns a reply with `next_page_token`."""
    token = ""
    for _ in range(limit):
        reply = fetch(token)
        yield from items(reply)
        token = str(getattr(reply, "next_page_token", ""))
        if not token:
            return


def or_none(call: Callable[[], T]) -> T | None:
    """The reply of `call`, or None when it answers NOT_FOUND."""
    try:
        return call()
    except errors.NotFound:
        return None


class Calls(Protocol):
    """The one path every port's call takes: `gateway.peers.Peers`, maybe behind the cache."""

    def call_with(
        self, service: str, method: Callable[..., T], request: object, deadline: Deadline
    ) -> T:
        """Call `method` of `service` (a stub's method) with `request` within `deadline`."""
        ...


class PlacementPort(Protocol):
    """The placement service, as the gateway uses it."""

    def add_model(
        self, request: placement_pb2.AddModelRequest, deadline: Deadline
    ) -> placement_pb2.AddModelResponse:
        """Creates a model with the lowest free address pool `10.<k>.0.0/16` (k from 1)."""
        ...

    def list_models(
        self, request: placement_pb2.ListModelsRequest, deadline: Deadline
    ) -> placement_pb2.ListModelsResponse:
        """Lists models, ordered by owner then name, one page at a time."""
        ...

    def get_model(
        self, request: placement_pb2.GetModelRequest, deadline: Deadline
    ) -> placement_pb2.GetModelResponse:
        """Returns one model, by UUID or by owner and name."""
        ...

    def destroy_model(
        self, request: placement_pb2.DestroyModelRequest, deadline: Deadline
    ) -> placement_pb2.DestroyModelResponse:
        """Destroys a model with everything in it, in one transaction."""
        ...

    def get_model_config(
        self, request: placement_pb2.GetModelConfigRequest, deadline: Deadline
    ) -> placement_pb2.GetModelConfigResponse:
        """Returns a model's configuration (every key, defaults included)."""
        ...

    def set_model_config(
        self, request: placement_pb2.SetModelConfigRequest, deadline: Deadline
    ) -> placement_pb2.SetModelConfigResponse:
        """Sets model configuration keys."""
        ...

    def deploy(
        self, request: placement_pb2.DeployRequest, deadline: Deadline
    ) -> placement_pb2.DeployResponse:
        """Deploys a charm as a new application, with its units and, where needed, new machines."""
        ...

    def get_application(
        self, request: placement_pb2.GetApplicationRequest, deadline: Deadline
    ) -> placement_pb2.GetApplicationResponse:
        """Returns one application with its charm and endpoints."""
        ...

    def remove_application(
        self, request: placement_pb2.RemoveApplicationRequest, deadline: Deadline
    ) -> placement_pb2.RemoveApplicationResponse:
        """Removes an application and all its units."""
        ...

    def add_unit(
        self, request: placement_pb2.AddUnitRequest, deadline: Deadline
    ) -> placement_pb2.AddUnitResponse:
        """Adds units to a principal application, each on a new machine unless `to` names one."""
        ...

    def remove_unit(
        self, request: placement_pb2.RemoveUnitRequest, deadline: Deadline
    ) -> placement_pb2.RemoveUnitResponse:
        """Removes units, with their subordinate units."""
        ...

    def add_machine(
        self, request: placement_pb2.AddMachineRequest, deadline: Deadline
    ) -> placement_pb2.AddMachineResponse:
        """Adds empty machines to a model."""
        ...

    def remove_machine(
        self, request: placement_pb2.RemoveMachineRequest, deadline: Deadline
    ) -> placement_pb2.RemoveMachineResponse:
        """Removes machines."""
        ...

    def get_model_status(
        self, request: placement_pb2.GetModelStatusRequest, deadline: Deadline
    ) -> placement_pb2.GetModelStatusResponse:
        """Returns everything placement knows about one model, for `status`: one read per table."""
        ...

    def sync(
        self, request: placement_pb2.SyncRequest, deadline: Deadline
    ) -> placement_pb2.SyncResponse:
        """Waits until placement's reactor has applied the relations feed up to `sequence`."""
        ...


class AccessPort(Protocol):
    """The access service, as the gateway uses it."""

    def login(
        self, request: access_pb2.LoginRequest, deadline: Deadline
    ) -> access_pb2.LoginResponse:
        """Checks a user's password and opens a session."""
        ...

    def authenticate(
        self, request: access_pb2.AuthenticateRequest, deadline: Deadline
    ) -> access_pb2.AuthenticateResponse:
        """Resolves a session token to its user."""
        ...

    def logout(
        self, request: access_pb2.LogoutRequest, deadline: Deadline
    ) -> access_pb2.LogoutResponse:
        """Ends a session; its token stops working."""
        ...

    def get_controller_info(
        self, request: access_pb2.GetControllerInfoRequest, deadline: Deadline
    ) -> access_pb2.GetControllerInfoResponse:
        """Returns the controller's identity (name and UUID, fixed when the store was created)."""
        ...

    def add_user(
        self, request: access_pb2.AddUserRequest, deadline: Deadline
    ) -> access_pb2.AddUserResponse:
        """Adds a local user and returns a one-time registration secret."""
        ...

    def register(
        self, request: access_pb2.RegisterRequest, deadline: Deadline
    ) -> access_pb2.RegisterResponse:
        """Sets a new user's password with the secret from AddUser and opens a session."""
        ...

    def change_password(
        self, request: access_pb2.ChangePasswordRequest, deadline: Deadline
    ) -> access_pb2.ChangePasswordResponse:
        """Changes a password: the user's own, or anyone's for a superuser."""
        ...

    def set_user_enabled(
        self, request: access_pb2.SetUserEnabledRequest, deadline: Deadline
    ) -> access_pb2.SetUserEnabledResponse:
        """Disables or enables a user (superuser only)."""
        ...

    def list_users(
        self, request: access_pb2.ListUsersRequest, deadline: Deadline
    ) -> access_pb2.ListUsersResponse:
        """Lists users with their controller access, by name."""
        ...

    def init_target(
        self, request: access_pb2.InitTargetRequest, deadline: Deadline
    ) -> access_pb2.InitTargetResponse:
        """Records the owner of a new model or offer as its admin."""
        ...

    def drop_target(
        self, request: access_pb2.DropTargetRequest, deadline: Deadline
    ) -> access_pb2.DropTargetResponse:
        """Deletes every permission on a model or offer that no longer exists."""
        ...

    def grant(
        self, request: access_pb2.GrantRequest, deadline: Deadline
    ) -> access_pb2.GrantResponse:
        """Grants `level` on a target to a user."""
        ...

    def revoke(
        self, request: access_pb2.RevokeRequest, deadline: Deadline
    ) -> access_pb2.RevokeResponse:
        """Revokes `level`: the user steps down to the level below it."""
        ...

    def check_access(
        self, request: access_pb2.CheckAccessRequest, deadline: Deadline
    ) -> access_pb2.CheckAccessResponse:
        """Returns a user's effective level on each target."""
        ...

    def issue_offer_token(
        self, request: access_pb2.IssueOfferTokenRequest, deadline: Deadline
    ) -> access_pb2.IssueOfferTokenResponse:
        """Signs a short-lived offer token for a user who has consume."""
        ...

    def verify_offer_token(
        self, request: access_pb2.VerifyOfferTokenRequest, deadline: Deadline
    ) -> access_pb2.VerifyOfferTokenResponse:
        """Checks an offer token: signed here, unexpired, used within its scope."""
        ...

    def renew_offer_token(
        self, request: access_pb2.RenewOfferTokenRequest, deadline: Deadline
    ) -> access_pb2.RenewOfferTokenResponse:
        """Renews an offer token this controller signed, even expired; re-checks consume access."""
        ...

    def list_access(
        self, request: access_pb2.ListAccessRequest, deadline: Deadline
    ) -> access_pb2.ListAccessResponse:
        """Lists who holds which level on a target."""
        ...

    def list_audit(
        self, request: access_pb2.ListAuditRequest, deadline: Deadline
    ) -> access_pb2.ListAuditResponse:
        """Lists the audit log of access changes, newest first."""
        ...


class OffersPort(Protocol):
    """The offers service, as the gateway uses it."""

    def create_offer(
        self, request: offers_pb2.CreateOfferRequest, deadline: Deadline
    ) -> offers_pb2.CreateOfferResponse:
        """Creates an offer, or replaces the endpoints of the offer of that name (upsert)."""
        ...

    def get_offer(
        self, request: offers_pb2.GetOfferRequest, deadline: Deadline
    ) -> offers_pb2.GetOfferResponse:
        """Returns one offer by UUID, or by model UUID and offer name."""
        ...

    def list_offers(
        self, request: offers_pb2.ListOffersRequest, deadline: Deadline
    ) -> offers_pb2.ListOffersResponse:
        """Lists the offers of one model, by name, with optional filters."""
        ...

    def find_offers(
        self, request: offers_pb2.FindOffersRequest, deadline: Deadline
    ) -> offers_pb2.FindOffersResponse:
        """Searches offers across every model of the controller; every filter given must match."""
        ...

    def delete_offer(
        self, request: offers_pb2.DeleteOfferRequest, deadline: Deadline
    ) -> offers_pb2.DeleteOfferResponse:
        """Removes an offer."""
        ...

    def consume(
        self, request: offers_pb2.ConsumeRequest, deadline: Deadline
    ) -> offers_pb2.ConsumeResponse:
        """Creates a SAAS for an offer in the consuming model, or returns the existing one."""
        ...

    def get_saas(
        self, request: offers_pb2.GetSaasRequest, deadline: Deadline
    ) -> offers_pb2.GetSaasResponse:
        """Returns one SAAS by model and name."""
        ...

    def list_saas(
        self, request: offers_pb2.ListSaasRequest, deadline: Deadline
    ) -> offers_pb2.ListSaasResponse:
        """Lists a model's SAAS, by name."""
        ...

    def set_saas_status(
        self, request: offers_pb2.SetSaasStatusRequest, deadline: Deadline
    ) -> offers_pb2.SetSaasStatusResponse:
        """Sets a SAAS's status (a remote controller unreachable, or back)."""
        ...

    def remove_saas(
        self, request: offers_pb2.RemoveSaasRequest, deadline: Deadline
    ) -> offers_pb2.RemoveSaasResponse:
        """Removes a SAAS record (its relations are removed first by the caller)."""
        ...

    def set_firewall_rule(
        self, request: offers_pb2.SetFirewallRuleRequest, deadline: Deadline
    ) -> offers_pb2.SetFirewallRuleResponse:
        """Sets the allow-list of a well-known service of a model."""
        ...

    def list_firewall_rules(
        self, request: offers_pb2.ListFirewallRulesRequest, deadline: Deadline
    ) -> offers_pb2.ListFirewallRulesResponse:
        """Lists the firewall rules of a model: both well-known services, defaults included."""
        ...

    def check_ingress(
        self, request: offers_pb2.CheckIngressRequest, deadline: Deadline
    ) -> offers_pb2.CheckIngressResponse:
        """Checks ingress subnets against the offering model's firewall rule."""
        ...


class RelationsPort(Protocol):
    """The relations service, as the gateway uses it."""

    def add_relation(
        self, request: relations_pb2.AddRelationRequest, deadline: Deadline
    ) -> relations_pb2.AddRelationResponse:
        """Relates two applications of one model, inferring endpoints as Juju does."""
        ...

    def add_cross_model_relation(
        self, request: relations_pb2.AddCrossModelRelationRequest, deadline: Deadline
    ) -> relations_pb2.AddCrossModelRelationResponse:
        """Writes both halves of a same-controller cross-model relation, or neither."""
        ...

    def add_peer_relations(
        self, request: relations_pb2.AddPeerRelationsRequest, deadline: Deadline
    ) -> relations_pb2.AddPeerRelationsResponse:
        """Creates the peer relation of each `peers:` endpoint of a new application."""
        ...

    def remove_relation(
        self, request: relations_pb2.RemoveRelationRequest, deadline: Deadline
    ) -> relations_pb2.RemoveRelationResponse:
        """Removes a relation, named by its two endpoints or by its id."""
        ...

    def list_relations(
        self, request: relations_pb2.ListRelationsRequest, deadline: Deadline
    ) -> relations_pb2.ListRelationsResponse:
        """Lists a model's relations, by id, with their endpoints."""
        ...

    def remove_application_relations(
        self, request: relations_pb2.RemoveApplicationRelationsRequest, deadline: Deadline
    ) -> relations_pb2.RemoveApplicationRelationsResponse:
        """Removes every relation of an application (it is being removed); returns how many."""
        ...

    def suspend_relation(
        self, request: relations_pb2.SuspendRelationRequest, deadline: Deadline
    ) -> relations_pb2.SuspendRelationResponse:
        """Suspends cross-model relations of the offering model, both halves."""
        ...

    def resume_relation(
        self, request: relations_pb2.ResumeRelationRequest, deadline: Deadline
    ) -> relations_pb2.ResumeRelationResponse:
        """Resumes suspended cross-model relations of the offering model, both halves."""
        ...

    def update_egress(
        self, request: relations_pb2.UpdateEgressRequest, deadline: Deadline
    ) -> relations_pb2.UpdateEgressResponse:
        """Records new egress subnets of a consumer's half of a cross-model relation."""
        ...

    def list_remote_halves(
        self, request: relations_pb2.ListRemoteHalvesRequest, deadline: Deadline
    ) -> relations_pb2.ListRemoteHalvesResponse:
        """Lists the halves whose other half is on another controller (`peer_controller` set)."""
        ...

    def set_peer_token(
        self, request: relations_pb2.SetPeerTokenRequest, deadline: Deadline
    ) -> relations_pb2.SetPeerTokenResponse:
        """Replaces the credential kept for a half's peer (after a renewal)."""
        ...

    def mirror_remote_state(
        self, request: relations_pb2.MirrorRemoteStateRequest, deadline: Deadline
    ) -> relations_pb2.MirrorRemoteStateResponse:
        """Mirrors the other controller's suspension of a relation onto the local half."""
        ...

    def sync(
        self, request: relations_pb2.SyncRequest, deadline: Deadline
    ) -> relations_pb2.SyncResponse:
        """Waits until this service's reactor has applied the feed of `source` up to `sequence`."""
        ...


@dataclass(frozen=True, slots=True)
class Ports:
    """The four services, as one controller's gateway reaches them."""

    placement: PlacementPort
    access: AccessPort
    offers: OffersPort
    relations: RelationsPort
