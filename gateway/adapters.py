"""The services' ports over a channel: gRPC to another process, or in-process.

Each adapter calls the generated stub with the deadline's timeout, and turns a failure into the
`kernel.errors` kind of its code (message and reason kept); a service that cannot be reached is
`Unavailable` naming it. What the gateway's write fence and read cache must know of each call
goes through `Calls`: `gateway.peers.Peers`, behind the read cache (`gateway.cache.CachedCalls`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from cmr.access.v1 import access_pb2
from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from cmr.relations.v1 import relations_pb2
from gateway.peers import Peers
from gateway.ports import Calls, Ports
from services.common.deadline import Deadline

Req = TypeVar("Req")
Resp = TypeVar("Resp")


class PlacementClient:
    """`PlacementPort` over the placement stub of `peers` (gRPC or in-process)."""

    def __init__(self, peers: Peers, calls: Calls) -> None:
        self._peers = peers
        self._calls = calls

    def _call(self, method: Callable[..., Resp], request: object, deadline: Deadline) -> Resp:
        return self._calls.call_with("placement", method, request, deadline)

    def add_model(
        self, request: placement_pb2.AddModelRequest, deadline: Deadline
    ) -> placement_pb2.AddModelResponse:
        """Creates a model with the lowest free address pool `10.<k>.0.0/16` (k from 1)."""
        return self._call(self._peers.placement.AddModel, request, deadline)

    def list_models(
        self, request: placement_pb2.ListModelsRequest, deadline: Deadline
    ) -> placement_pb2.ListModelsResponse:
        """Lists models, ordered by owner then name, one page at a time."""
        return self._call(self._peers.placement.ListModels, request, deadline)

    def get_model(
        self, request: placement_pb2.GetModelRequest, deadline: Deadline
    ) -> placement_pb2.GetModelResponse:
        """Returns one model, by UUID or by owner and name."""
        return self._call(self._peers.placement.GetModel, request, deadline)

    def destroy_model(
        self, request: placement_pb2.DestroyModelRequest, deadline: Deadline
    ) -> placement_pb2.DestroyModelResponse:
        """Destroys a model with everything in it, in one transaction."""
        return self._call(self._peers.placement.DestroyModel, request, deadline)

    def get_model_config(
        self, request: placement_pb2.GetModelConfigRequest, deadline: Deadline
    ) -> placement_pb2.GetModelConfigResponse:
        """Returns a model's configuration (every key, defaults included)."""
        return self._call(self._peers.placement.GetModelConfig, request, deadline)

    def set_model_config(
        self, request: placement_pb2.SetModelConfigRequest, deadline: Deadline
    ) -> placement_pb2.SetModelConfigResponse:
        """Sets model configuration keys."""
        return self._call(self._peers.placement.SetModelConfig, request, deadline)

    def deploy(
        self, request: placement_pb2.DeployRequest, deadline: Deadline
    ) -> placement_pb2.DeployResponse:
        """Deploys a charm as a new application, with its units and, where needed, new machines."""
        return self._call(self._peers.placement.Deploy, request, deadline)

    def get_application(
        self, request: placement_pb2.GetApplicationRequest, deadline: Deadline
    ) -> placement_pb2.GetApplicationResponse:
        """Returns one application with its charm and endpoints."""
        return self._call(self._peers.placement.GetApplication, request, deadline)

    def remove_application(
        self, request: placement_pb2.RemoveApplicationRequest, deadline: Deadline
    ) -> placement_pb2.RemoveApplicationResponse:
        """Removes an application and all its units."""
        return self._call(self._peers.placement.RemoveApplication, request, deadline)

    def add_unit(
        self, request: placement_pb2.AddUnitRequest, deadline: Deadline
    ) -> placement_pb2.AddUnitResponse:
        """Adds units to a principal application, each on a new machine unless `to` names one."""
        return self._call(self._peers.placement.AddUnit, request, deadline)

    def remove_unit(
        self, request: placement_pb2.RemoveUnitRequest, deadline: Deadline
    ) -> placement_pb2.RemoveUnitResponse:
        """Removes units, with their subordinate units."""
        return self._call(self._peers.placement.RemoveUnit, request, deadline)

    def add_machine(
        self, request: placement_pb2.AddMachineRequest, deadline: Deadline
    ) -> placement_pb2.AddMachineResponse:
        """Adds empty machines to a model."""
        return self._call(self._peers.placement.AddMachine, request, deadline)

    def remove_machine(
        self, request: placement_pb2.RemoveMachineRequest, deadline: Deadline
    ) -> placement_pb2.RemoveMachineResponse:
        """Removes machines."""
        return self._call(self._peers.placement.RemoveMachine, request, deadline)

    def get_model_status(
        self, request: placement_pb2.GetModelStatusRequest, deadline: Deadline
    ) -> placement_pb2.GetModelStatusResponse:
        """Returns everything placement knows about one model, for `status`: one read per table."""
        return self._call(self._peers.placement.GetModelStatus, request, deadline)

    def sync(
        self, request: placement_pb2.SyncRequest, deadline: Deadline
    ) -> placement_pb2.SyncResponse:
        """Waits until placement's reactor has applied the relations feed up to `sequence`."""
        return self._call(self._peers.placement.Sync, request, deadline)


class AccessClient:
    """`AccessPort` over the access stub of `peers` (gRPC or in-process)."""

    def __init__(self, peers: Peers, calls: Calls) -> None:
        self._peers = peers
        self._calls = calls

    def _call(self, method: Callable[..., Resp], request: object, deadline: Deadline) -> Resp:
        return self._calls.call_with("access", method, request, deadline)

    def login(
        self, request: access_pb2.LoginRequest, deadline: Deadline
    ) -> access_pb2.LoginResponse:
        """Checks a user's password and opens a session."""
        return self._call(self._peers.access.Login, request, deadline)

    def authenticate(
        self, request: access_pb2.AuthenticateRequest, deadline: Deadline
    ) -> access_pb2.AuthenticateResponse:
        """Resolves a session token to its user."""
        return self._call(self._peers.access.Authenticate, request, deadline)

    def logout(
        self, request: access_pb2.LogoutRequest, deadline: Deadline
    ) -> access_pb2.LogoutResponse:
        """Ends a session; its token stops working."""
        return self._call(self._peers.access.Logout, request, deadline)

    def get_controller_info(
        self, request: access_pb2.GetControllerInfoRequest, deadline: Deadline
    ) -> access_pb2.GetControllerInfoResponse:
        """Returns the controller's identity (name and UUID, fixed when the store was created)."""
        return self._call(self._peers.access.GetControllerInfo, request, deadline)

    def add_user(
        self, request: access_pb2.AddUserRequest, deadline: Deadline
    ) -> access_pb2.AddUserResponse:
        """Adds a local user and returns a one-time registration secret."""
        return self._call(self._peers.access.AddUser, request, deadline)

    def register(
        self, request: access_pb2.RegisterRequest, deadline: Deadline
    ) -> access_pb2.RegisterResponse:
        """Sets a new user's password with the secret from AddUser and opens a session."""
        return self._call(self._peers.access.Register, request, deadline)

    def change_password(
        self, request: access_pb2.ChangePasswordRequest, deadline: Deadline
    ) -> access_pb2.ChangePasswordResponse:
        """Changes a password: the user's own, or anyone's for a superuser."""
        return self._call(self._peers.access.ChangePassword, request, deadline)

    def set_user_enabled(
        self, request: access_pb2.SetUserEnabledRequest, deadline: Deadline
    ) -> access_pb2.SetUserEnabledResponse:
        """Disables or enables a user (superuser only)."""
        return self._call(self._peers.access.SetUserEnabled, request, deadline)

    def list_users(
        self, request: access_pb2.ListUsersRequest, deadline: Deadline
    ) -> access_pb2.ListUsersResponse:
        """Lists users with their controller access, by name."""
        return self._call(self._peers.access.ListUsers, request, deadline)

    def init_target(
        self, request: access_pb2.InitTargetRequest, deadline: Deadline
    ) -> access_pb2.InitTargetResponse:
        """Records the owner of a new model or offer as its admin."""
        return self._call(self._peers.access.InitTarget, request, deadline)

    def drop_target(
        self, request: access_pb2.DropTargetRequest, deadline: Deadline
    ) -> access_pb2.DropTargetResponse:
        """Deletes every permission on a model or offer that no longer exists."""
        return self._call(self._peers.access.DropTarget, request, deadline)

    def grant(
        self, request: access_pb2.GrantRequest, deadline: Deadline
    ) -> access_pb2.GrantResponse:
        """Grants `level` on a target to a user."""
        return self._call(self._peers.access.Grant, request, deadline)

    def revoke(
        self, request: access_pb2.RevokeRequest, deadline: Deadline
    ) -> access_pb2.RevokeResponse:
        """Revokes `level`: the user steps down to the level below it."""
        return self._call(self._peers.access.Revoke, request, deadline)

    def check_access(
        self, request: access_pb2.CheckAccessRequest, deadline: Deadline
    ) -> access_pb2.CheckAccessResponse:
        """Returns a user's effective level on each target."""
        return self._call(self._peers.access.CheckAccess, request, deadline)

    def issue_offer_token(
        self, request: access_pb2.IssueOfferTokenRequest, deadline: Deadline
    ) -> access_pb2.IssueOfferTokenResponse:
        """Signs a short-lived offer token for a user who has consume."""
        return self._call(self._peers.access.IssueOfferToken, request, deadline)

    def verify_offer_token(
        self, request: access_pb2.VerifyOfferTokenRequest, deadline: Deadline
    ) -> access_pb2.VerifyOfferTokenResponse:
        """Checks an offer token: signed here, unexpired, used within its scope."""
        return self._call(self._peers.access.VerifyOfferToken, request, deadline)

    def renew_offer_token(
        self, request: access_pb2.RenewOfferTokenRequest, deadline: Deadline
    ) -> access_pb2.RenewOfferTokenResponse:
        """Renews an offer token this controller signed, even expired; re-checks consume access."""
        return self._call(self._peers.access.RenewOfferToken, request, deadline)

    def list_access(
        self, request: access_pb2.ListAccessRequest, deadline: Deadline
    ) -> access_pb2.ListAccessResponse:
        """Lists who holds which level on a target."""
        return self._call(self._peers.access.ListAccess, request, deadline)

    def list_audit(
        self, request: access_pb2.ListAuditRequest, deadline: Deadline
    ) -> access_pb2.ListAuditResponse:
        """Lists the audit log of access changes, newest first."""
        return self._call(self._peers.access.ListAudit, request, deadline)


class OffersClient:
    """`OffersPort` over the offers stub of `peers` (gRPC or in-process)."""

    def __init__(self, peers: Peers, calls: Calls) -> None:
        self._peers = peers
        self._calls = calls

    def _call(self, method: Callable[..., Resp], request: object, deadline: Deadline) -> Resp:
        return self._calls.call_with("offers", method, request, deadline)

    def create_offer(
        self, request: offers_pb2.CreateOfferRequest, deadline: Deadline
    ) -> offers_pb2.CreateOfferResponse:
        """Creates an offer, or replaces the endpoints of the offer of that name (upsert)."""
        return self._call(self._peers.offers.CreateOffer, request, deadline)

    def get_offer(
        self, request: offers_pb2.GetOfferRequest, deadline: Deadline
    ) -> offers_pb2.GetOfferResponse:
        """Returns one offer by UUID, or by model UUID and offer name."""
        return self._call(self._peers.offers.GetOffer, request, deadline)

    def list_offers(
        self, request: offers_pb2.ListOffersRequest, deadline: Deadline
    ) -> offers_pb2.ListOffersResponse:
        """Lists the offers of one model, by name, with optional filters."""
        return self._call(self._peers.offers.ListOffers, request, deadline)

    def find_offers(
        self, request: offers_pb2.FindOffersRequest, deadline: Deadline
    ) -> offers_pb2.FindOffersResponse:
        """Searches offers across every model of the controller; every filter given must match."""
        return self._call(self._peers.offers.FindOffers, request, deadline)

    def delete_offer(
        self, request: offers_pb2.DeleteOfferRequest, deadline: Deadline
    ) -> offers_pb2.DeleteOfferResponse:
        """Removes an offer."""
        return self._call(self._peers.offers.DeleteOffer, request, deadline)

    def consume(
        self, request: offers_pb2.ConsumeRequest, deadline: Deadline
    ) -> offers_pb2.ConsumeResponse:
        """Creates a SAAS for an offer in the consuming model, or returns the existing one."""
        return self._call(self._peers.offers.Consume, request, deadline)

    def get_saas(
        self, request: offers_pb2.GetSaasRequest, deadline: Deadline
    ) -> offers_pb2.GetSaasResponse:
        """Returns one SAAS by model and name."""
        return self._call(self._peers.offers.GetSaas, request, deadline)

    def list_saas(
        self, request: offers_pb2.ListSaasRequest, deadline: Deadline
    ) -> offers_pb2.ListSaasResponse:
        """Lists a model's SAAS, by name."""
        return self._call(self._peers.offers.ListSaas, request, deadline)

    def set_saas_status(
        self, request: offers_pb2.SetSaasStatusRequest, deadline: Deadline
    ) -> offers_pb2.SetSaasStatusResponse:
        """Sets a SAAS's status (a remote controller unreachable, or back)."""
        return self._call(self._peers.offers.SetSaasStatus, request, deadline)

    def remove_saas(
        self, request: offers_pb2.RemoveSaasRequest, deadline: Deadline
    ) -> offers_pb2.RemoveSaasResponse:
        """Removes a SAAS record (its relations are removed first by the caller)."""
        return self._call(self._peers.offers.RemoveSaas, request, deadline)

    def set_firewall_rule(
        self, request: offers_pb2.SetFirewallRuleRequest, deadline: Deadline
    ) -> offers_pb2.SetFirewallRuleResponse:
        """Sets the allow-list of a well-known service of a model."""
        return self._call(self._peers.offers.SetFirewallRule, request, deadline)

    def list_firewall_rules(
        self, request: offers_pb2.ListFirewallRulesRequest, deadline: Deadline
    ) -> offers_pb2.ListFirewallRulesResponse:
        """Lists the firewall rules of a model: both well-known services, defaults included."""
        return self._call(self._peers.offers.ListFirewallRules, request, deadline)

    def check_ingress(
        self, request: offers_pb2.CheckIngressRequest, deadline: Deadline
    ) -> offers_pb2.CheckIngressResponse:
        """Checks ingress subnets against the offering model's firewall rule."""
        return self._call(self._peers.offers.CheckIngress, request, deadline)


class RelationsClient:
    """`RelationsPort` over the relations stub of `peers` (gRPC or in-process)."""

    def __init__(self, peers: Peers, calls: Calls) -> None:
        self._peers = peers
        self._calls = calls

    def _call(self, method: Callable[..., Resp], request: object, deadline: Deadline) -> Resp:
        return self._calls.call_with("relations", method, request, deadline)

    def add_relation(
        self, request: relations_pb2.AddRelationRequest, deadline: Deadline
    ) -> relations_pb2.AddRelationResponse:
        """Relates two applications of one model, inferring endpoints as Juju does."""
        return self._call(self._peers.relations.AddRelation, request, deadline)

    def add_cross_model_relation(
        self, request: relations_pb2.AddCrossModelRelationRequest, deadline: Deadline
    ) -> relations_pb2.AddCrossModelRelationResponse:
        """Writes both halves of a same-controller cross-model relation, or neither."""
        return self._call(self._peers.relations.AddCrossModelRelation, request, deadline)

    def add_peer_relations(
        self, request: relations_pb2.AddPeerRelationsRequest, deadline: Deadline
    ) -> relations_pb2.AddPeerRelationsResponse:
        """Creates the peer relation of each `peers:` endpoint of a new application."""
        return self._call(self._peers.relations.AddPeerRelations, request, deadline)

    def remove_relation(
        self, request: relations_pb2.RemoveRelationRequest, deadline: Deadline
    ) -> relations_pb2.RemoveRelationResponse:
        """Removes a relation, named by its two endpoints or by its id."""
        return self._call(self._peers.relations.RemoveRelation, request, deadline)

    def list_relations(
        self, request: relations_pb2.ListRelationsRequest, deadline: Deadline
    ) -> relations_pb2.ListRelationsResponse:
        """Lists a model's relations, by id, with their endpoints."""
        return self._call(self._peers.relations.ListRelations, request, deadline)

    def remove_application_relations(
        self, request: relations_pb2.RemoveApplicationRelationsRequest, deadline: Deadline
    ) -> relations_pb2.RemoveApplicationRelationsResponse:
        """Removes every relation of an application (it is being removed); returns how many."""
        return self._call(self._peers.relations.RemoveApplicationRelations, request, deadline)

    def suspend_relation(
        self, request: relations_pb2.SuspendRelationRequest, deadline: Deadline
    ) -> relations_pb2.SuspendRelationResponse:
        """Suspends cross-model relations of the offering model, both halves."""
        return self._call(self._peers.relations.SuspendRelation, request, deadline)

    def resume_relation(
        self, request: relations_pb2.ResumeRelationRequest, deadline: Deadline
    ) -> relations_pb2.ResumeRelationResponse:
        """Resumes suspended cross-model relations of the offering model, both halves."""
        return self._call(self._peers.relations.ResumeRelation, request, deadline)

    def update_egress(
        self, request: relations_pb2.UpdateEgressRequest, deadline: Deadline
    ) -> relations_pb2.UpdateEgressResponse:
        """Records new egress subnets of a consumer's half of a cross-model relation."""
        return self._call(self._peers.relations.UpdateEgress, request, deadline)

    def list_remote_halves(
        self, request: relations_pb2.ListRemoteHalvesRequest, deadline: Deadline
    ) -> relations_pb2.ListRemoteHalvesResponse:
        """Lists the halves whose other half is on another controller (`peer_controller` set)."""
        return self._call(self._peers.relations.ListRemoteHalves, request, deadline)

    def set_peer_token(
        self, request: relations_pb2.SetPeerTokenRequest, deadline: Deadline
    ) -> relations_pb2.SetPeerTokenResponse:
        """Replaces the credential kept for a half's peer (after a renewal)."""
        return self._call(self._peers.relations.SetPeerToken, request, deadline)

    def mirror_remote_state(
        self, request: relations_pb2.MirrorRemoteStateRequest, deadline: Deadline
    ) -> relations_pb2.MirrorRemoteStateResponse:
        """Mirrors the other controller's suspension of a relation onto the local half."""
        return self._call(self._peers.relations.MirrorRemoteState, request, deadline)

    def sync(
        self, request: relations_pb2.SyncRequest, deadline: Deadline
    ) -> relations_pb2.SyncResponse:
        """Waits until this service's reactor has applied the feed of `source` up to `sequence`."""
        return self._call(self._peers.relations.Sync, request, deadline)


def over(peers: Peers, calls: Calls | None = None) -> Ports:
    """The four ports over `peers`' channels, each call through `calls` (default: `peers`)."""
    through = calls or peers
    return Ports(
        placement=PlacementClient(peers, through),
        access=AccessClient(peers, through),
        offers=OffersClient(peers, through),
        relations=RelationsClient(peers, through),
    )
