"""The relations context's values: relations, their endpoints, statuses and known units."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from kernel import errors
from kernel.relation import Half, Role, Scope


class RelationStatus(StrEnum):
    """Juju's relation status values (juju/juju@3.6:state/relation.go)."""

    JOINING = "joining"
    JOINED = "joined"
    SUSPENDING = "suspending"
    SUSPENDED = "suspended"
    BROKEN = "broken"
    """Terminal: nothing leaves it."""
    ERROR = "error"
    """Always with a message (such as a refused ingress subnet)."""


class SuspendCause(StrEnum):
    """Why a relation is suspended: status and the gateway decide by this, never by the message."""

    USER = "user"
    """An offer admin's `suspend-relation`; the message is theirs, or empty."""
    REVOKED = "revoked"
    """The consuming user lost consume access: a revoke on the offer, or the offering controller
    refusing the consumer's credential. The message is `kernel.relation.REVOKED_MESSAGE`."""
    REMOTE = "remote"
    """The offering controller suspended the relation without saying why (the consumer's half,
    mirrored from a controller that does not report causes)."""


_ROLE_ORDER: Final = {Role.REQUIRER: 0, Role.PROVIDER: 1, Role.PEER: 2}


@dataclass(frozen=True, kw_only=True, slots=True)
class Endpoint:
    """One end of a relation."""

    application: str
    """An application, a SAAS or a consumer proxy (`remote-<hex>`) of this model."""
    name: str
    """The endpoint name in the application's charm."""
    role: Role
    """Provider and requirer pair up; a peer relation has one endpoint."""
    interface: str
    """Compared as an exact string."""
    scope: Scope = Scope.GLOBAL
    """The endpoint's declared scope."""
    remote: bool = False
    """True when `application` is a SAAS or a consumer proxy."""

    def __str__(self) -> str:
        return f"{self.application}:{self.name}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Relation:
    """A relation of one model; a cross-model relation exists once in each model.

    A cross-model relation is two halves sharing a `token`, one per model. The consumer's half
    relates a local application to a SAAS; the offerer's half relates the offered application to
    the consumer proxy `remote-<hex>` and carries the offer connection (user, consuming model,
    ingress subnets, `offer_uuid`). Only the offerer's half names the offer, so a connection is
    counted once.
    """

    model_uuid: str
    """The model it belongs to."""
    id: int
    """From a per-model counter starting at 0, never reused; independent in each model."""
    key: str
    """`relation_key(endpoints)`, unique within the model."""
    endpoints: tuple[Endpoint, ...]
    """One (peer) or two."""
    scope: Scope = Scope.GLOBAL
    """Container when either endpoint is container-scoped."""
    status: RelationStatus = RelationStatus.JOINING
    """`joining` until a unit on this side is in scope.

    In Juju a relation is `joined` once a unit on this side is in scope, and stays `joining`
    while an application has no units. cmr runs no agents and add-relation carries no unit
    counts, so a relation it adds starts `joined`.
    """
    message: str = ""
    """Status message: the suspend reason, or the error."""
    suspended: bool = False
    """Set by suspend-relation or a revoke; only resume-relation clears it."""
    suspended_reason: str = ""
    """The suspend message, such as `maintenance`: for people; decide by `suspend_cause`."""
    suspend_cause: SuspendCause | None = None
    """Why it is suspended; None exactly when `suspended` is false."""
    offer_uuid: str = ""
    """The offer the relation goes through; set on the offerer's half only."""
    via: tuple[str, ...] = ()
    """`--via` subnets (the consumer's half)."""
    token: str = ""
    """Shared by both halves of a cross-model relation; empty within one model."""
    side: str = ""
    """`consumer` or `offerer` for a cross-model half; empty within one model."""
    username: str = ""
    """The consuming user (the offer connection's owner)."""
    source_model_uuid: str = ""
    """The consuming model."""
    subnets: tuple[str, ...] = ()
    """The consumer's egress, which is the offerer's ingress."""
    peer_controller: str = ""
    """UUID of the controller holding the other half; empty when this store holds both."""
    peer_address: str = ""
    """Where that controller's gateway answers."""
    peer_token: str = ""
    """The credential this side presents there (a token that controller issued)."""
    created_at: str = ""
    """RFC 3339 UTC."""

    @property
    def offered_endpoint(self) -> str:
        """On the offerer's half, the offered application's endpoint; else empty."""
        if self.side != Half.OFFERER:
            return ""
        return next((e.name for e in self.endpoints if not e.remote), "")

    @property
    def consumer_application(self) -> str:
        """On the offerer's half, the consumer proxy `remote-<hex>`; else empty."""
        if self.side != Half.OFFERER:
            return ""
        return next((e.application for e in self.endpoints if e.remote), "")

    @property
    def interface(self) -> str:
        """The interface both ends share."""
        return self.endpoints[0].interface if self.endpoints else ""

    @property
    def is_peer(self) -> bool:
        """True for a peer relation (one endpoint); users never add or remove those."""
        return any(e.role is Role.PEER for e in self.endpoints)


@dataclass(frozen=True, kw_only=True, slots=True)
class KnownUnit:
    """A unit as the placement feed reported it; scope membership is decided from these."""

    model_uuid: str
    name: str
    application: str
    machine: str = ""
    principal: str = ""
    """The principal unit whose container a subordinate unit shares; empty for a principal."""

    @property
    def container(self) -> str:
        """The container the unit runs in, named by its principal unit."""
        return self.principal or self.name


@dataclass(frozen=True, kw_only=True, slots=True)
class CrossModel:
    """What makes a new relation one half of a cross-model relation."""

    token: str
    """Shared by both halves."""
    side: str
    """`consumer` or `offerer`."""
    offer_uuid: str = ""
    username: str = ""
    source_model_uuid: str = ""
    subnets: tuple[str, ...] = ()
    status: RelationStatus = RelationStatus.JOINED
    """`joined`, or `error` when the offerer refused the ingress."""
    message: str = ""
    via: tuple[str, ...] = ()
    peer_controller: str = ""
    """Set when the other half is on another controller (its UUID)."""
    peer_address: str = ""
    peer_token: str = ""


def relation_key(endpoints: Iterable[Endpoint]) -> str:
    """Return a relation's key: endpoints by role (requirer, provider, peer), then `app:ep`.

    `wordpress:db mysql:server`, `logging:info mysql:juju-info`, `riak:ring`.
    """
    return " ".join(str(e) for e in in_key_order(endpoints))


def in_key_order(endpoints: Iterable[Endpoint]) -> tuple[Endpoint, ...]:
    """Return endpoints in the relation key's order: requirer, provider, peer, then `app:ep`."""
    return tuple(sorted(endpoints, key=lambda e: (_ROLE_ORDER[e.role], str(e))))


def cross_attributes(relation: Relation) -> dict[str, str]:
    """The attributes that mark a relation's feed events as a cross-model half's.

    `offer-uuid` on the offerer's half; `token` and `side` on either half; none within a model.
    """
    out = {"offer-uuid": relation.offer_uuid} if relation.offer_uuid else {}
    if relation.token:
        out.update(token=relation.token, side=relation.side)
    return out


def require_model(model_uuid: str) -> None:
    """Refuse a request that names no model.

    Raises:
        Invalid: `model_uuid` is empty.
    """
    if not model_uuid:
        raise errors.Invalid("model_uuid is required")
