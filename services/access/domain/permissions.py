"""Permissions: grant, revoke, check and list levels on the controller, models and offers.

The ladders of levels are `kernel.access`'s. Superusers and the admins of an offering model
are admins without a recorded level (implicit admins).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from kernel import errors
from kernel.access import LADDERS, Level, TargetKind, rank
from services.access.domain.store import Access
from services.access.domain.users import (
    check_user_name,
    enabled_user,
    existing_user,
    is_external,
    same_user,
)
from services.access.domain.values import (
    CONTROLLER,
    PERMISSION_DENIED,
    AuditEntry,
    Clock,
    Permission,
    Target,
    User,
    quote,
    utc_now,
)

EVERYONE: Final = "everyone@external"
"""The group of every external user: not a user row, but a valid offer grantee; an external
user's effective offer level is at least the group's."""

CONTROLLER_ACTOR: Final = "controller"
"""The actor recorded in the audit log for changes the controller makes itself (DropTarget)."""


_REVOKE_WRAPPERS: Final[dict[TargetKind, tuple[str, ...]]] = {
    # Juju's wrappers, by the rung revoked: revoking the lowest rung removes the access,
    # revoking a higher one sets the access to the rung below.
    TargetKind.CONTROLLER: (
        "could not revoke controller access",
        "could not set controller access to login",
        "could not set controller access to add-model",
    ),
    TargetKind.MODEL: (
        "could not revoke model access",
        "could not set model access to read-only",
        "could not set model access to read-write",
    ),
    TargetKind.OFFER: (
        "could not revoke offer access",
        "could not set offer access to read-only",
        "could not set offer access to read-consume",
    ),
}


def check_target(target: Target) -> Target:
    """Return the target with only the fields its kind uses (the controller labelled so).

    Raises:
        Invalid: a model without its UUID, or an offer without its UUID or its model's.
    """
    if target.kind is TargetKind.CONTROLLER:
        return CONTROLLER
    if not target.model_uuid:
        raise errors.Invalid(f"{target.kind} target needs the model_uuid")
    if target.kind is TargetKind.MODEL:
        return Target(kind=TargetKind.MODEL, model_uuid=target.model_uuid, label=target.label)
    if not target.offer_uuid:
        raise errors.Invalid("offer target needs the offer_uuid")
    return target


def check_level(target: Target, level: str) -> Level:
    """Return `level` when it is on the ladder of the target's kind.

    Raises:
        Invalid: `"<level>" offer access not valid` (`model access`, `controller access`).
    """
    if level not in LADDERS[target.kind]:
        raise errors.Invalid(f"{quote(level)} {target.kind} access not valid")
    return Level(level)


def _higher(kind: TargetKind, a: str, b: str) -> str:
    return a if rank(kind, a) >= rank(kind, b) else b


def effective_level(access: Access, user: str, target: Target) -> str:
    """Return a user's effective level on a target, implicit admins included; empty for none.

    Rules (juju/juju@3.6:apiserver/common/crossmodel/auth.go):

    - an unknown local user, or a disabled user, has none;
    - a superuser is `superuser` on the controller and `admin` on every model and offer;
    - on the controller and on a model, the recorded level;
    - on an offer, the highest of the recorded level, `admin` when the user administers the
      offering model (`Target.model_uuid`), and for an external user (`name@domain`, who need
      not be a user row) the level of `everyone@external`.
    """
    found = access.get_user(user)
    if found is None and not is_external(user):
        return ""
    if found is not None:
        if not found.enabled:
            return ""
        if found.superuser:
            return LADDERS[target.kind][-1]
        user = found.name
    level = access.level(user, target)
    if target.kind is TargetKind.OFFER:
        model = Target(kind=TargetKind.MODEL, model_uuid=target.model_uuid)
        if access.level(user, model) == Level.ADMIN:
            level = Level.ADMIN
        if is_external(user):
            level = _higher(target.kind, level, access.level(EVERYONE, target))
    return level


def check_access(access: Access, user: str, targets: Sequence[Target]) -> list[str]:
    """Return the user's effective level on each target, in order (see `effective_level`).

    Raises:
        Invalid: the user name is malformed, or a target lacks its UUIDs.
    """
    check_user_name(user)
    checked = [check_target(t) for t in targets]
    with access.transaction():
        return [effective_level(access, user, t) for t in checked]


def _administrator(access: Access, actor: str, target: Target) -> User:
    # Who may grant and revoke: a superuser on anything; on a model, its admins; on an offer,
    # its admins, implicit ones (admins of the offering model) included. Only superusers
    # change controller levels.
    me = enabled_user(access, actor)
    if me is not None and (
        me.superuser
        or (
            target.kind is not TargetKind.CONTROLLER
            and effective_level(access, me.name, target) == Level.ADMIN
        )
    ):
        return me
    raise errors.Forbidden(PERMISSION_DENIED)


def _record(
    access: Access,
    *,
    actor: str,
    action: str,
    user: str,
    target: Target,
    level: str,
    previous: str,
    now: Clock,
) -> tuple[int, str]:
    # One audit entry and one feed event per permission changed, in the caller's transaction.
    # Returns the event's sequence and the user's effective level afterwards.
    access.add_audit(
        AuditEntry(time=now(), actor=actor, action=action, user=user, level=level, target=target)
    )
    raised = rank(target.kind, level) > rank(target.kind, previous)
    effective = effective_level(access, user, target)
    sequence = access.append_event(
        "access-granted" if raised else "access-revoked",
        model_uuid=target.model_uuid,
        entity=user,
        attributes={
            "user": user,
            "level": level,
            "previous": previous,
            "target-kind": str(target.kind),
            "model-uuid": target.model_uuid,
            "offer-uuid": target.offer_uuid,
            "label": target.label,
            # The level the user is left with, implicit admin included: the relations reactor
            # suspends only when this is below `consume` (an implicit admin keeps relations).
            "effective": effective,
        },
    )
    return sequence, effective


def grant(
    access: Access, actor: str, user: str, level: str, target: Target, *, now: Clock = utc_now
) -> int:
    """Raise a user's level on a target.

    Rules, checked in this order:

    1. the level must be on the target kind's ladder;
    2. the actor must administer the target (see `_administrator`): superusers anything, model
       admins their models and those models' offers, offer admins their offers; only
       superusers grant controller levels;
    3. nobody changes their own access;
    4. the user must exist; on an offer, `everyone@external` and other external names
       (`name@domain`) need no user row;
    5. grant only raises: holding the level or a higher one already is refused.

    Audited as `grant`; feed event `access-granted`.

    Returns:
        The sequence of the `access-granted` event.

    Raises:
        Invalid: `"superuser" offer access not valid`, a malformed name or target.
        Forbidden: `permission denied`.
        Refused: `cannot change your own access`; `user already has "consume" access or
            greater`.
        NotFound: `could not grant offer access: user "foobar" not found`.
    """
    target = check_target(target)
    wanted = check_level(target, level)
    check_user_name(user)
    with access.transaction():
        me = _administrator(access, actor, target)
        if same_user(me.name, user):
            raise errors.Refused("cannot change your own access")
        found = access.get_user(user)
        if found is None and not (target.kind is TargetKind.OFFER and is_external(user)):
            raise errors.NotFound(
                f"could not grant {target.kind} access: user {quote(user)} not found"
            )
        holder = found.name if found is not None else user
        previous = access.level(holder, target)
        if rank(target.kind, previous) >= rank(target.kind, wanted):
            raise errors.Refused(f"user already has {quote(wanted)} access or greater")
        access.set_level(holder, target, wanted)
        sequence, _ = _record(
            access,
            actor=me.name,
            action="grant",
            user=holder,
            target=target,
            level=wanted,
            previous=previous,
            now=now,
        )
        return sequence


class Revoked(NamedTuple):
    """What a revoke did."""

    level: str
    """The user's recorded level afterwards; empty for none."""
    sequence: int
    """The `access-revoked` event's sequence."""
    previous: str
    """The user's recorded level before."""
    effective: str
    """The user's effective level afterwards, implicit admin included (as the event says)."""


def revoke(
    access: Access, actor: str, user: str, level: str, target: Target, *, now: Clock = utc_now
) -> Revoked:
    """Revoke a level: the user steps down to the rung below it.

    Revoking the lowest rung (`read`, `login`) removes the access; revoking a higher one sets
    it to the rung below (`revoke consume` leaves `read`), even from a user who held more
    (`revoke read` from an admin removes everything, as in Juju). Who may: as for `grant`.
    Implicit admins keep what they hold implicitly: only recorded levels change. Audited as
    `revoke`; feed event `access-revoked`.

    Returns:
        The user's recorded level afterwards (empty for none), the event's sequence, the
        recorded level before and the effective level afterwards.

    Raises:
        Invalid: a level not on the kind's ladder, a malformed name or target.
        Forbidden: `permission denied`.
        Refused: `cannot change your own access`; the user holds a lower level than the one
            revoked (`cannot revoke "admin" offer access: user "bob" holds only "consume"`).
        NotFound: the user holds nothing there, with Juju's wrappers:
            `could not revoke offer access: offer user "bob" does not exist`,
            `could not set offer access to read-only: offer user "bob" does not exist`, ...
    """
    target = check_target(target)
    revoked = check_level(target, level)
    check_user_name(user)
    with access.transaction():
        me = _administrator(access, actor, target)
        if same_user(me.name, user):
            raise errors.Refused("cannot change your own access")
        found = access.get_user(user)
        holder = found.name if found is not None else user
        previous = access.level(holder, target)
        ladder = LADDERS[target.kind]
        rung = ladder.index(revoked)
        if not previous:
            wrapper = _REVOKE_WRAPPERS[target.kind][rung]
            raise errors.NotFound(f"{wrapper}: {target.kind} user {quote(user)} does not exist")
        if rank(target.kind, previous) <= rung:
            raise errors.Refused(
                f"cannot revoke {quote(revoked)} {target.kind} access: user {quote(user)}"
                f" holds only {quote(previous)}"
            )
        new = ladder[rung - 1] if rung else Level.NONE
        access.set_level(holder, target, new)
        seq, effective = _record(
            access,
            actor=me.name,
            action="revoke",
            user=holder,
            target=target,
            level=new,
            previous=previous,
            now=now,
        )
        return Revoked(level=str(new), sequence=seq, previous=str(previous), effective=effective)


def _owned_target(target: Target) -> Target:
    target = check_target(target)
    if target.kind is TargetKind.CONTROLLER:
        raise errors.Invalid("target must be a model or an offer")
    return target


def init_target(access: Access, target: Target, owner: str, *, now: Clock = utc_now) -> int:
    """Record the owner of a new model or offer as its admin.

    Rules: the owner gets `admin`; on an offer `everyone@external` also gets `read`. Levels
    already at or above those stay, so a retried call changes nothing. Audited as
    `init-target` with the owner as actor; feed events `access-granted`.

    Returns:
        The sequence of the last event written, or 0 when nothing changed.

    Raises:
        Invalid: the target is the controller or lacks its UUIDs; the owner name is malformed.
        NotFound: `user "bob" not found`: the owner.
    """
    target = _owned_target(target)
    check_user_name(owner)
    with access.transaction():
        found = existing_user(access, owner)
        wanted = [(found.name, Level.ADMIN)]
        if target.kind is TargetKind.OFFER:
            wanted.append((EVERYONE, Level.READ))
        seq = 0
        for holder, level in wanted:
            previous = access.level(holder, target)
            if rank(target.kind, previous) >= rank(target.kind, level):
                continue
            access.set_level(holder, target, level)
            seq, _ = _record(
                access,
                actor=found.name,
                action="init-target",
                user=holder,
                target=target,
                level=level,
                previous=previous,
                now=now,
            )
        return seq


def drop_target(access: Access, target: Target, *, now: Clock = utc_now) -> int:
    """Delete every permission on a removed model or offer.

    Rules: for a model, the permissions on the offers of that model (those whose
    `Target.model_uuid` is it) go too. Each deletion is audited as `drop-target` with actor
    `controller` and is a feed event `access-revoked` with an empty level.

    Returns:
        The sequence of the last event written, or 0 when nothing was held.

    Raises:
        Invalid: the target is the controller or lacks its UUIDs.
    """
    target = _owned_target(target)
    with access.transaction():
        held = access.holders(target)
        if target.kind is TargetKind.MODEL:
            held += access.offer_holders_in_model(target.model_uuid)
        seq = 0
        for permission in held:
            access.set_level(permission.user, permission.target, Level.NONE)
            seq, _ = _record(
                access,
                actor=CONTROLLER_ACTOR,
                action="drop-target",
                user=permission.user,
                target=permission.target,
                level=Level.NONE,
                previous=permission.level,
                now=now,
            )
        return seq


def list_access(access: Access, target: Target) -> list[Permission]:
    """Return who holds which level on a target, by user name (implicit admins not listed).

    Raises:
        Invalid: the target lacks its UUIDs.
    """
    target = check_target(target)
    with access.transaction():
        return access.holders(target)
