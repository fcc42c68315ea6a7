"""Who is in the scope of which relation: units entering and leaving scope."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kernel.relation import Scope
from services.relations.domain.store import Relations
from services.relations.domain.values import KnownUnit, Relation, RelationStatus


def scope_members(relation: Relation, units: Sequence[KnownUnit]) -> list[KnownUnit]:
    """The local units that belong in a relation's scope.

    None while the relation is suspended or in error. In a global relation, every unit of a
    local end. In a container-scoped one, a unit only with a counterpart of the other
    application in its own container (a principal and its subordinate, or two subordinates of
    one principal).
    """
    if relation.suspended or relation.status is RelationStatus.ERROR:
        return []
    local = {e.application for e in relation.endpoints if not e.remote}
    mine = [u for u in units if u.application in local]
    if relation.scope is Scope.GLOBAL or relation.is_peer:
        return mine
    return [
        u
        for u in mine
        if any(v.container == u.container and v.application != u.application for v in mine)
    ]


def _scope_event(relations: Relations, kind: str, relation: Relation, unit: str) -> int:
    return relations.append_event(
        kind,
        model_uuid=relation.model_uuid,
        entity=unit,
        attributes={"relation-id": str(relation.id), "key": relation.key},
    )


def clear_scope(relations: Relations, relation: Relation) -> int:
    """Take every unit out of a relation's scope, one `unit-left-scope` event each.

    Returns:
        The sequence of the last event, or 0 when the scope was empty.
    """
    seq = 0
    for unit in relations.in_scope(relation.model_uuid, relation.id):
        relations.leave_scope(relation.model_uuid, relation.id, unit)
        seq = _scope_event(relations, "unit-left-scope", relation, unit)
    return seq


def _resync(
    relations: Relations, relation: Relation, units: Sequence[KnownUnit], in_scope: Iterable[str]
) -> int:
    """Bring the scope among `units` (those of `in_scope` included) to `scope_members`.

    Returns:
        The sequence of the last event, or 0 when nothing changed.
    """
    roles = {e.application: e.role for e in relation.endpoints if not e.remote}
    wanted = {u.name: u for u in scope_members(relation, units)}
    seq = 0
    for name in sorted(in_scope):
        if name not in wanted:
            relations.leave_scope(relation.model_uuid, relation.id, name)
            seq = _scope_event(relations, "unit-left-scope", relation, name)
    for unit in wanted.values():
        if relations.enter_scope(relation.model_uuid, relation.id, unit, roles[unit.application]):
            seq = _scope_event(relations, "unit-entered-scope", relation, unit.name)
    return seq


def sync_scope(relations: Relations, relation: Relation) -> int:
    """Make a relation's scope match `scope_members`; one event per unit entering or leaving.

    Returns:
        The sequence of the last event, or 0 when nothing changed.
    """
    local = sorted({e.application for e in relation.endpoints if not e.remote})
    units = relations.units_of(relation.model_uuid, local)
    return _resync(
        relations, relation, units, relations.in_scope(relation.model_uuid, relation.id)
    )


def sync_unit_scope(relations: Relations, relation: Relation, unit: KnownUnit) -> int:
    """`sync_scope` for the part of a relation's scope one unit's arrival or departure touches.

    In a global relation, that unit alone; in a container-scoped one, the units of its
    container. The work is bounded by the container, not by the application's size.

    Returns:
        The sequence of the last event, or 0 when nothing changed.
    """
    local = {e.application for e in relation.endpoints if not e.remote}
    container = relation.scope is Scope.CONTAINER and not relation.is_peer
    around = [
        u
        for u in relations.units_in_container(
            relation.model_uuid, unit.container if container else unit.name
        )
        if u.application in local and (container or u.name == unit.name)
    ]
    names = {u.name for u in around} | {unit.name}
    in_scope = relations.in_scope_among(relation.model_uuid, relation.id, names)
    return _resync(relations, relation, around, in_scope)
