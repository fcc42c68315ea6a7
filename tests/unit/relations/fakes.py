"""An in-memory relations store implementing `services.relations.domain.Relations`."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from kernel.relation import Role
from services.common.db import Event, now_rfc3339
from services.common.engine import Conflict, Constraint
from services.relations.domain import (
    KnownUnit,
    Relation,
    RelationStatus,
    SuspendCause,
    in_key_order,
)


@dataclass
class _State:
    relations: dict[tuple[str, int], Relation] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    cursors: dict[str, int] = field(default_factory=dict)
    units: dict[tuple[str, str], KnownUnit] = field(default_factory=dict)
    scopes: dict[tuple[str, int], dict[str, Role]] = field(default_factory=dict)
    events: list[tuple[str, str, str, dict[str, str]]] = field(default_factory=list)
    """Each event's kind, model, entity and attributes, as the unit tests compare them."""
    feed: list[Event] = field(default_factory=list)
    """The same events whole, as `events_after` reads them."""


class InMemoryRelations:
    """Dicts instead of tables; a failed outermost transaction restores the previous state.

    What the SQLite store's constraints refuse, it refuses too (a typed `Conflict`).
    """

    def __init__(self) -> None:
        self.state = _State()
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        saved = copy.deepcopy(self.state) if self._depth == 0 else None
        self._depth += 1
        try:
            yield
        except BaseException:
            if saved is not None:
                self.state = saved
            raise
        finally:
            self._depth -= 1

    def append_event(
        self,
        kind: str,
        *,
        model_uuid: str = "",
        entity: str = "",
        attributes: Mapping[str, str] | None = None,
    ) -> int:
        if self._depth == 0:
            raise RuntimeError("append_event must run inside transaction()")
        facts = dict(attributes or {})
        self.state.events.append((kind, model_uuid, entity, facts))
        sequence = len(self.state.events)
        self.state.feed.append(
            Event(
                sequence=sequence,
                kind=kind,
                model_uuid=model_uuid,
                entity=entity,
                attributes=facts,
                time=now_rfc3339(),
            )
        )
        return sequence

    def events_after(self, sequence: int) -> list[Event]:
        return [e for e in self.state.feed if e.sequence > sequence]

    def last_sequence(self) -> int:
        return len(self.state.events)

    def close(self) -> None:
        pass

    def next_relation_id(self, model_uuid: str) -> int:
        taken = self.state.counters.get(model_uuid, 0)
        self.state.counters[model_uuid] = taken + 1
        return taken

    def add_relation(self, relation: Relation) -> None:
        assert self._depth > 0
        if (relation.model_uuid, relation.id) in self.state.relations or self.relation_with_key(
            relation.model_uuid, relation.key
        ):
            raise Conflict(Constraint.UNIQUE)
        # As the SQLite store reads them back: endpoints in key order, a creation time.
        self.state.relations[(relation.model_uuid, relation.id)] = replace(
            relation,
            endpoints=in_key_order(relation.endpoints),
            created_at=relation.created_at or now_rfc3339(),
        )

    def count_relations(self, model_uuid: str, application: str) -> int:
        return len(self.list_relations(model_uuid, application))

    def relations_of_offer(self, offer_uuid: str) -> list[Relation]:
        return self.relations_of_offers([offer_uuid])

    def relations_of_offers(self, offer_uuids: Sequence[str]) -> list[Relation]:
        return [r for _, r in sorted(self.state.relations.items()) if r.offer_uuid in offer_uuids]

    def user_relations_of_offer(self, offer_uuid: str, username: str) -> list[Relation]:
        return [r for r in self.relations_of_offer(offer_uuid) if r.username == username]

    def halves(self, token: str) -> list[Relation]:
        if not token:
            return []
        return [r for _, r in sorted(self.state.relations.items()) if r.token == token]

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
        assert self._depth > 0
        key = (model_uuid, relation_id)
        self.state.relations[key] = replace(
            self.state.relations[key],
            status=status,
            message=message,
            suspended=suspended,
            suspended_reason=suspended_reason,
            suspend_cause=suspend_cause,
        )

    def put_unit(self, unit: KnownUnit) -> None:
        self.state.units[(unit.model_uuid, unit.name)] = unit

    def drop_unit(self, model_uuid: str, unit: str) -> None:
        self.state.units.pop((model_uuid, unit), None)

    def drop_model_units(self, model_uuid: str) -> None:
        for key in [k for k in self.state.units if k[0] == model_uuid]:
            del self.state.units[key]

    def units_of(self, model_uuid: str, applications: Sequence[str]) -> list[KnownUnit]:
        return [
            u
            for (m, _), u in sorted(self.state.units.items())
            if m == model_uuid and u.application in applications
        ]

    def in_scope_among(self, model_uuid: str, relation_id: int, names: Iterable[str]) -> set[str]:
        return set(self.state.scopes.get((model_uuid, relation_id), {})) & set(names)

    def units_in_container(self, model_uuid: str, container: str) -> list[KnownUnit]:
        return [
            u
            for (m, _), u in sorted(self.state.units.items())
            if m == model_uuid and container in (u.name, u.principal)
        ]

    def in_scope(self, model_uuid: str, relation_id: int) -> list[str]:
        return sorted(self.state.scopes.get((model_uuid, relation_id), {}))

    def enter_scope(self, model_uuid: str, relation_id: int, unit: KnownUnit, role: Role) -> bool:
        assert self._depth > 0
        scope = self.state.scopes.setdefault((model_uuid, relation_id), {})
        if unit.name in scope:
            return False
        scope[unit.name] = role
        return True

    def leave_scope(self, model_uuid: str, relation_id: int, unit: str) -> None:
        assert self._depth > 0
        self.state.scopes.get((model_uuid, relation_id), {}).pop(unit, None)

    def set_subnets(self, model_uuid: str, relation_id: int, subnets: Sequence[str]) -> None:
        assert self._depth > 0
        key = (model_uuid, relation_id)
        self.state.relations[key] = replace(self.state.relations[key], subnets=tuple(subnets))

    def remote_halves(self, token: str = "") -> list[Relation]:
        return [
            r
            for _, r in sorted(self.state.relations.items())
            if r.peer_controller and token in ("", r.token)
        ]

    def set_peer_token(self, token: str, peer_token: str) -> None:
        for key, r in list(self.state.relations.items()):
            if r.token == token:
                self.state.relations[key] = replace(r, peer_token=peer_token)

    def cursor(self, source: str) -> int:
        return self.state.cursors.get(source, 0)

    def set_cursor(self, source: str, sequence: int) -> None:
        assert self._depth > 0
        self.state.cursors[source] = sequence

    def remove_relation(self, model_uuid: str, relation_id: int) -> None:
        assert self._depth > 0
        self.state.relations.pop((model_uuid, relation_id), None)
        self.state.scopes.pop((model_uuid, relation_id), None)

    def get_relation(self, model_uuid: str, relation_id: int) -> Relation | None:
        return self.state.relations.get((model_uuid, relation_id))

    def relation_with_key(self, model_uuid: str, key: str) -> Relation | None:
        return next(
            (
                r
                for r in self.state.relations.values()
                if r.model_uuid == model_uuid and r.key == key
            ),
            None,
        )

    def count_endpoint_relations(self, model_uuid: str, application: str, endpoint: str) -> int:
        return sum(
            1
            for r in self.state.relations.values()
            if r.model_uuid == model_uuid
            for e in r.endpoints
            if (e.application, e.name) == (application, endpoint)
        )

    def list_relations(self, model_uuid: str, application: str = "") -> list[Relation]:
        return [
            r
            for (model, _), r in sorted(self.state.relations.items())
            if model == model_uuid
            and (not application or any(e.application == application for e in r.endpoints))
        ]
