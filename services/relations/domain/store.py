"""What the relations context's use cases need from its store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from kernel.relation import Role
from services.common.events import EventStore
from services.relations.domain.values import KnownUnit, Relation, RelationStatus, SuspendCause


class Relations(EventStore, Protocol):
    """What use cases need from the relations store; `SqliteRelations` implements it."""

    def next_relation_id(self, model_uuid: str) -> int:
        """Take the model's next relation id (0 first); an id is never handed out twice."""
        ...

    def add_relation(self, relation: Relation) -> None:
        """Insert a relation and its endpoints."""
        ...

    def count_relations(self, model_uuid: str, application: str) -> int:
        """Return how many relations of the model have an endpoint on `application`."""
        ...

    def relations_of_offer(self, offer_uuid: str) -> list[Relation]:
        """Return the offering-side halves that go through an offer, by model then id."""
        ...

    def relations_of_offers(self, offer_uuids: Sequence[str]) -> list[Relation]:
        """Return the offering-side halves of several offers, by model then id."""
        ...

    def user_relations_of_offer(self, offer_uuid: str, username: str) -> list[Relation]:
        """Return the offering-side halves of an offer whose connection is `username`'s."""
        ...

    def halves(self, token: str) -> list[Relation]:
        """Return every half of the cross-model relation `token` this store holds."""
        ...

    def set_state(
        self,
        model_uuid: str,
        relation_id: int,
        *,
        status: RelationStatus,
        message: str,
        suspended: bool,
        suspended_reason: str,
        suspend_cause: SuspendCause | None,
    ) -> None:
        """Set a relation's status, message and suspension (its cause None when not suspended)."""
        ...

    def put_unit(self, unit: KnownUnit) -> None:
        """Record a unit placement reported (idempotent)."""
        ...

    def drop_unit(self, model_uuid: str, unit: str) -> None:
        """Forget a unit."""
        ...

    def drop_model_units(self, model_uuid: str) -> None:
        """Forget every unit of a removed model."""
        ...

    def units_of(self, model_uuid: str, applications: Sequence[str]) -> list[KnownUnit]:
        """The known units of some applications of a model, by name."""
        ...

    def in_scope(self, model_uuid: str, relation_id: int) -> list[str]:
        """The units in a relation's scope, by name."""
        ...

    def in_scope_among(self, model_uuid: str, relation_id: int, names: Iterable[str]) -> set[str]:
        """Which of `names` are in a relation's scope."""
        ...

    def units_in_container(self, model_uuid: str, container: str) -> list[KnownUnit]:
        """The known units in one container: the principal unit and its subordinates."""
        ...

    def enter_scope(self, model_uuid: str, relation_id: int, unit: KnownUnit, role: Role) -> bool:
        """Put a unit in a relation's scope; False when it already was."""
        ...

    def leave_scope(self, model_uuid: str, relation_id: int, unit: str) -> None:
        """Take a unit out of a relation's scope."""
        ...

    def set_subnets(self, model_uuid: str, relation_id: int, subnets: Sequence[str]) -> None:
        """Replace a relation's egress (consumer) or ingress (offerer) subnets."""
        ...

    def remote_halves(self, token: str = "") -> list[Relation]:
        """The halves whose other half is on another controller; only `token`'s if given."""
        ...

    def set_peer_token(self, token: str, peer_token: str) -> None:
        """Replace the credential kept for the peer of the halves with this token."""
        ...

    def cursor(self, source: str) -> int:
        """Return the last sequence of `source`'s feed this context applied (0 for none)."""
        ...

    def set_cursor(self, source: str, sequence: int) -> None:
        """Record that `source`'s feed is applied up to `sequence`."""
        ...

    def remove_relation(self, model_uuid: str, relation_id: int) -> None:
        """Delete a relation with its endpoints and the units in its scope."""
        ...

    def get_relation(self, model_uuid: str, relation_id: int) -> Relation | None:
        """Return a relation with its endpoints, or None."""
        ...

    def relation_with_key(self, model_uuid: str, key: str) -> Relation | None:
        """Return the model's relation with this key, or None."""
        ...

    def count_endpoint_relations(self, model_uuid: str, application: str, endpoint: str) -> int:
        """Return how many relations of the model use the endpoint `application:endpoint`."""
        ...

    def list_relations(self, model_uuid: str, application: str = "") -> list[Relation]:
        """Return the model's relations by id, with endpoints; only `application`'s if given."""
        ...
