"""Values of the relations context: relations, their endpoints and the units in scope.

The dataclasses the store maps, the relation key rule, the store protocol and the use cases
the offers context needs (list and remove the relations of an offer); later issues add
add-relation, remove-relation, suspend, resume and the scope reactors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol

from services.common import errors
from services.common.events import EventStore


class Role(StrEnum):
    """An endpoint's role (`provides` = provider, `requires` = requirer, `peers` = peer)."""

    REQUIRER = "requirer"
    PROVIDER = "provider"
    PEER = "peer"


class Scope(StrEnum):
    """A relation's scope: container if either endpoint is container-scoped."""

    GLOBAL = "global"
    CONTAINER = "container"
    """Pairs units in one container only; needs a subordinate on one side."""


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

    def __str__(self) -> str:
        return f"{self.application}:{self.name}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Relation:
    """A relation of one model; a cross-model relation exists once in each model."""

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
    """`joining` until a unit on this side is in scope."""
    message: str = ""
    """Status message: the suspend reason, or the error."""
    suspended: bool = False
    """Set by suspend-relation or a revoke; only resume-relation clears it."""
    suspended_reason: str = ""
    """The suspend message, such as `maintenance`."""
    offer_uuid: str = ""
    """The offer the relation goes through; empty for a relation inside one model."""
    created_at: str = ""
    """RFC 3339 UTC."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RelationSummary:
    """A relation as other contexts see it."""

    model_uuid: str
    id: int
    key: str
    status: RelationStatus


def relation_key(endpoints: Iterable[Endpoint]) -> str:
    """Return a relation's key: endpoints by role (requirer, provider, peer), then `app:ep`.

    `wordpress:db mysql:server`, `logging:info mysql:juju-info`, `riak:ring`.
    """
    ordered = sorted(endpoints, key=lambda e: (_ROLE_ORDER[e.role], str(e)))
    return " ".join(str(e) for e in ordered)


class Relations(EventStore, Protocol):
    """What use cases need from the relations store; implemented by `store.SqliteRelations`."""

    def next_relation_id(self, model_uuid: str) -> int:
        """Take the model's next relation id (0 first); an id is never handed out twice."""
        ...

    def add_relation(self, relation: Relation) -> None:
        """Insert a relation and its endpoints."""
        ...

    def count_relations(self, model_uuid: str, application: str) -> int:
        """Return how many relations of the model have an endpoint on `application`."""
        ...

    def relations_of_offer(self, offer_uuid: str) -> list[RelationSummary]:
        """Return the relations that go through an offer, by model then id."""
        ...

    def remove_relation(self, model_uuid: str, relation_id: int) -> None:
        """Delete a relation with its endpoints and the units in its scope."""
        ...


def offer_relations(relations: Relations, offer_uuid: str) -> list[RelationSummary]:
    """The relations that use an offer, by id.

    Raises:
        Invalid: no offer UUID.
    """
    if not offer_uuid:
        raise errors.Invalid("offer_uuid is required")
    return relations.relations_of_offer(offer_uuid)


def remove_offer_relations(relations: Relations, offer_uuid: str) -> tuple[int, int]:
    """Remove every relation that uses an offer, in one transaction (`remove-offer --force`).

    Each relation goes with its endpoints and relation units, and gets a `relation-removed`
    event (attributes `offer-uuid`, `key`).

    Returns:
        How many relations went, and the sequence of the last event (0 when none went).

    Raises:
        Invalid: no offer UUID.
    """
    if not offer_uuid:
        raise errors.Invalid("offer_uuid is required")
    seq = 0
    with relations.transaction():
        found = relations.relations_of_offer(offer_uuid)
        for rel in found:
            relations.remove_relation(rel.model_uuid, rel.id)
            seq = relations.append_event(
                "relation-removed",
                model_uuid=rel.model_uuid,
                entity=str(rel.id),
                attributes={"offer-uuid": offer_uuid, "key": rel.key},
            )
    return len(found), seq
