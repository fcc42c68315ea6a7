"""What the feeds of placement and access make relations do."""

from __future__ import annotations

from collections.abc import Mapping

from kernel.access import Level, ends_consume
from kernel.relation import REVOKED_MESSAGE
from services.relations.domain.halves import suspend_halves
from services.relations.domain.scope import sync_unit_scope
from services.relations.domain.store import Relations
from services.relations.domain.values import KnownUnit, SuspendCause


def access_event_matters(kind: str, attributes: Mapping[str, str]) -> bool:
    """Whether an access event can change relations: an offer revoke that ends consume.

    That is a revoke on an offer that takes a user from consume or more (`previous`, recorded)
    to below it (`effective`, implicit admin included). A user whose recorded level was
    already below consume had nothing that kept relations going but implicit admin, which an
    offer revoke does not take away.

    The gateway asks the same of a revoke's reply, to know whether to wait for this context.
    """
    return (
        kind == "access-revoked"
        and attributes.get("target-kind") == "offer"
        and bool(attributes.get("offer-uuid"))
        and ends_consume(
            attributes.get("previous", Level.CONSUME), attributes.get("effective", "")
        )
    )


def placement_event_matters(kind: str, attributes: Mapping[str, str]) -> bool:
    """Whether a placement event can change relations: a unit added or removed, a model gone."""
    return (
        kind in ("unit-added", "unit-removed") and bool(attributes.get("application"))
    ) or kind == "model-removed"


def apply_access_event(
    relations: Relations, source: str, sequence: int, kind: str, attributes: dict[str, str]
) -> int:
    """Apply one event of the access feed, idempotently, and advance the cursor with it.

    An `access-revoked` event on an offer whose `effective` level (implicit admins included)
    is below consume suspends every relation to that offer whose connection is that user's, as
    Juju does (juju/juju@3.6:state/applicationofferuser.go), for the cause `revoked` with Juju's
    reason `offer permission revoked`. Relations already suspended stay as they are, and a later
    grant resumes nothing. Other events only move the cursor.

    Returns:
        The number of relations suspended.
    """
    count = 0
    with relations.transaction():
        if sequence <= relations.cursor(source):
            return 0
        if access_event_matters(kind, attributes):
            for relation in relations.user_relations_of_offer(
                attributes["offer-uuid"], attributes.get("user", "")
            ):
                if not relation.suspended:
                    suspend_halves(relations, relation, SuspendCause.REVOKED, REVOKED_MESSAGE)
                    count += 1
        relations.set_cursor(source, sequence)
    return count


def apply_placement_event(
    relations: Relations,
    source: str,
    sequence: int,
    kind: str,
    model_uuid: str,
    entity: str,
    attributes: dict[str, str],
) -> int:
    """Apply one event of the placement feed, idempotently, and advance the cursor with it.

    `unit-added` records the unit and brings it (and, in container scope, its counterpart)
    into the scope of its application's relations; `unit-removed` takes it out of every scope
    and forgets it; `model-removed` forgets the model's units. Other events only move the
    cursor.

    Returns:
        The number of relations whose scope changed.
    """
    changed = 0
    with relations.transaction():
        if sequence <= relations.cursor(source):
            return 0
        if kind == "model-removed":
            relations.drop_model_units(model_uuid)
        elif placement_event_matters(kind, attributes):
            application = attributes["application"]
            unit = KnownUnit(
                model_uuid=model_uuid,
                name=entity,
                application=application,
                machine=attributes.get("machine", ""),
                principal=attributes.get("principal", ""),
            )
            if kind == "unit-added":
                relations.put_unit(unit)
            else:
                relations.drop_unit(model_uuid, entity)
            for relation in relations.list_relations(model_uuid, application):
                if sync_unit_scope(relations, relation, unit):
                    changed += 1
        relations.set_cursor(source, sequence)
    return changed
