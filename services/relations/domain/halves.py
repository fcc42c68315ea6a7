"""The two halves of a cross-model relation: suspend, resume, egress and the remote half.

Suspending or resuming one half does the same to every half this store holds with its token:
within one controller both halves, in one transaction; across controllers the gateways carry
the change to the other half.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from kernel import errors
from kernel.relation import Half
from services.relations.domain.scope import clear_scope, sync_scope
from services.relations.domain.store import Relations
from services.relations.domain.values import (
    Relation,
    RelationStatus,
    SuspendCause,
    cross_attributes,
    require_model,
)

FROM_REMOTE: Final = "suspending after update from remote model"
"""The consumer's status message when the offerer suspends without a reason."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Changed:
    """Relations after suspend or resume, with the feed sequence of the last event."""

    relations: list[Relation]
    sequence: int = 0
    """0 when nothing changed (every relation was already in the asked state)."""


def _offered(relations: Relations, model_uuid: str, ids: Sequence[int]) -> list[Relation]:
    """The offering-side halves with these ids, all checked before any change."""
    require_model(model_uuid)
    if not ids:
        raise errors.Invalid("no relation ids specified")
    found: list[Relation] = []
    for relation_id in ids:
        if relation_id < 0:
            raise errors.Invalid(f'relation ID "{relation_id}" not valid')
        relation = relations.get_relation(model_uuid, relation_id)
        if relation is None:
            raise errors.NotFound(f"relation {relation_id} not found")
        if relation.side != Half.OFFERER:
            raise errors.Refused(
                f'cannot set suspend status for "{relation.key}" which is not associated with '
                "an offer"
            )
        found.append(relation)
    return found


def _transition(
    relations: Relations,
    half: Relation,
    steps: Sequence[tuple[str, RelationStatus]],
    *,
    message: str,
    cause: SuspendCause | None,
    write: bool = True,
) -> tuple[int, Relation]:
    """Move one half through `steps` (event name, status), one event each.

    Only the last step's state is written (`write=False`: none): the steps between are seen
    on the feed, never in the store, since they all commit together. The half ends suspended
    for `cause`, or not suspended when it is None (cause and reason cleared).

    Returns:
        The last event's sequence, and the half as it now is.
    """
    seq = 0
    status = half.status
    for event, status in steps:
        seq = relations.append_event(
            event,
            model_uuid=half.model_uuid,
            entity=str(half.id),
            attributes={"key": half.key, "status": str(status), **cross_attributes(half)},
        )
    suspended = cause is not None
    reason = message if suspended else ""
    if write:
        relations.set_state(
            half.model_uuid,
            half.id,
            status=status,
            message=message,
            suspended=suspended,
            suspended_reason=reason,
            suspend_cause=cause,
        )
    return seq, replace(
        half,
        status=status,
        message=message,
        suspended=suspended,
        suspended_reason=reason,
        suspend_cause=cause,
    )


_SUSPEND: Final = (
    ("relation-suspending", RelationStatus.SUSPENDING),
    ("relation-suspended", RelationStatus.SUSPENDED),
)
_RESUME: Final = (
    ("relation-resuming", RelationStatus.JOINING),
    ("relation-resumed", RelationStatus.JOINED),
)


def suspend_halves(
    relations: Relations, offered: Relation, cause: SuspendCause, reason: str = ""
) -> tuple[int, Relation]:
    """Suspend the offerer's half and its consumer half (`suspending`, then `suspended`).

    cmr runs no agents, so the departed and broken hooks that end `suspending` in Juju are
    done at once; the feed still shows both steps. Both halves record `cause`. The consumer's
    half shows the reason, or Juju's `suspending after update from remote model` when there is
    none.

    Returns:
        The last event's sequence, and the offerer's half as it now is.
    """
    seq = 0
    now = offered
    for half in relations.halves(offered.token) or [offered]:
        text = reason if half.side == Half.OFFERER else (reason or FROM_REMOTE)
        seq, done = _suspend_half(relations, half, text, cause)
        if half.id == offered.id and half.model_uuid == offered.model_uuid:
            now = done
    return seq, now


def _suspend_half(
    relations: Relations, half: Relation, text: str, cause: SuspendCause
) -> tuple[int, Relation]:
    """One half: `suspending` (on the feed only), its units leave scope, then `suspended`."""
    _transition(relations, half, _SUSPEND[:1], message=text, cause=cause, write=False)
    clear_scope(relations, half)
    return _transition(relations, half, _SUSPEND[1:], message=text, cause=cause)


def _resume_half(relations: Relations, half: Relation) -> tuple[int, Relation]:
    """One half: `joining`, then `joined`, and its units enter scope again."""
    seq, now = _transition(relations, half, _RESUME, message="", cause=None)
    return sync_scope(relations, now) or seq, now


def _once(relations: Sequence[Relation]) -> list[Relation]:
    """Each relation once, in order (an id given twice is changed once)."""
    return list({r.id: r for r in relations}.values())


def suspend_relations(
    relations: Relations, model_uuid: str, ids: Sequence[int], message: str = ""
) -> Changed:
    """Suspend cross-model relations of the offering model (`suspend-relation`).

    Every id is checked first; one already suspended is left as it is.

    Raises:
        Invalid: no ids or a negative one.
        NotFound: no such relation in the model.
        Refused: a relation that is not the offerer's half of a cross-model relation.
    """
    seq = 0
    after: dict[int, Relation] = {}
    with relations.transaction():
        for relation in _once(_offered(relations, model_uuid, ids)):
            if relation.suspended:
                after[relation.id] = relation
            else:
                seq, after[relation.id] = suspend_halves(
                    relations, relation, SuspendCause.USER, message
                )
    return Changed(relations=[after[i] for i in ids], sequence=seq)


def resume_relations(
    relations: Relations,
    model_uuid: str,
    ids: Sequence[int],
    refused: Mapping[int, str] | None = None,
) -> Changed:
    """Resume suspended cross-model relations, both halves (`joining`, then `joined`).

    A relation that is not suspended is left as it is. Whether the connection's user may still
    consume, and whether the offerer's allow-list still admits its ingress, are the gateway's
    checks (access and offers own them), made before this is called: an id in `refused`
    resumes into `error` with its message, and its units stay out of scope.

    Raises:
        Invalid, NotFound, Refused: as `suspend_relations`.
    """
    seq = 0
    refused = refused or {}
    after: dict[int, Relation] = {}
    with relations.transaction():
        for relation in _once(_offered(relations, model_uuid, ids)):
            after[relation.id] = relation
            if not relation.suspended:
                continue
            why = refused.get(relation.id, "")
            for half in relations.halves(relation.token) or [relation]:
                if why:
                    steps = (_RESUME[0], ("relation-error", RelationStatus.ERROR))
                    seq, now = _transition(relations, half, steps, message=why, cause=None)
                else:
                    seq, now = _resume_half(relations, half)
                if half.id == relation.id and half.model_uuid == relation.model_uuid:
                    after[relation.id] = now
    return Changed(relations=[after[i] for i in ids], sequence=seq)


def update_egress(
    relations: Relations,
    model_uuid: str,
    relation_id: int,
    subnets: Sequence[str],
    refused: str = "",
) -> Changed:
    """Record the consumer's new egress on both halves, with the offerer's verdict.

    Refused, a live relation goes to `error` with the message (units leave scope); admitted, a
    relation in `error` goes back to `joined` (units enter scope). A suspended relation only
    records the subnets: resume checks them again.

    Raises:
        Invalid: no model or a negative id.
        NotFound: no such relation.
        Refused: not the consumer's half of a cross-model relation.
    """
    require_model(model_uuid)
    if relation_id < 0:
        raise errors.Invalid(f'relation ID "{relation_id}" not valid')
    seq = 0
    with relations.transaction():
        relation = relations.get_relation(model_uuid, relation_id)
        if relation is None:
            raise errors.NotFound(f"relation {relation_id} not found")
        if relation.side != Half.CONSUMER:
            raise errors.Refused(
                f'relation "{relation.key}" does not consume an offer: it has no egress'
            )
        for half in relations.halves(relation.token) or [relation]:
            if list(half.subnets) != list(subnets):
                relations.set_subnets(half.model_uuid, half.id, subnets)
                seq = relations.append_event(
                    "relation-subnets-changed",
                    model_uuid=half.model_uuid,
                    entity=str(half.id),
                    attributes={"key": half.key, "subnets": ",".join(subnets)},
                )
            if half.suspended:
                continue
            if refused and (half.status, half.message) != (RelationStatus.ERROR, refused):
                seq, _ = _transition(
                    relations,
                    half,
                    (("relation-error", RelationStatus.ERROR),),
                    message=refused,
                    cause=None,
                )
                seq = clear_scope(relations, half) or seq
            elif not refused and half.status is RelationStatus.ERROR:
                seq, now = _transition(
                    relations,
                    half,
                    (("relation-joined", RelationStatus.JOINED),),
                    message="",
                    cause=None,
                )
                seq = sync_scope(relations, now) or seq
        after = relations.get_relation(model_uuid, relation_id) or relation
    return Changed(relations=[after], sequence=seq)


def mirror_remote_state(
    relations: Relations,
    token: str,
    suspended: bool,
    reason: str,
    cause: SuspendCause | None = None,
) -> int:
    """Make the local half of a cross-controller relation follow the offerer's suspension.

    Only a consumer's half mirrors (the offerer decides suspension). Suspended, it records the
    offerer's cause (`remote` when it gave none) and shows the offerer's reason, or Juju's
    `suspending after update from remote model`; resumed, it goes `joining` then `joined`.
    Nothing changes when it already matches.

    Returns:
        The sequence of the last event, or 0 when nothing changed.

    Raises:
        NotFound: no such half here.
    """
    seq = 0
    with relations.transaction():
        halves = [h for h in relations.remote_halves(token) if h.side == Half.CONSUMER]
        if not halves:
            raise errors.NotFound(f'relation with token "{token}" not found')
        text = reason or FROM_REMOTE
        why = cause or SuspendCause.REMOTE
        for half in halves:
            # the message is mirrored state (a new reason from the offerer is shown), never read
            if suspended and (half.suspend_cause, half.message) != (why, text):
                seq, _ = _suspend_half(relations, half, text, why)
            elif not suspended and half.suspended:
                seq, _ = _resume_half(relations, half)
    return seq
