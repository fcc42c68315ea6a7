"""The audit log: who may read which of its entries.

Each change of a user, a password or a permission writes one entry per user or permission it
touches, in the change's own transaction.
"""

from __future__ import annotations

from kernel import errors
from kernel.access import Level, TargetKind
from services.access.domain.permissions import check_target
from services.access.domain.store import Access
from services.access.domain.users import enabled_user
from services.access.domain.values import (
    PERMISSION_DENIED,
    AuditEntry,
    AuditScope,
    Target,
    User,
    decode_cursor,
    encode_cursor,
)
from services.common.paging import page_size


def _audit_scope(access: Access, user: User) -> AuditScope:
    held = [p for p in access.held_by(user.name) if p.level == Level.ADMIN]
    return AuditScope(
        user=user.name,
        model_uuids=frozenset(
            p.target.model_uuid for p in held if p.target.kind is TargetKind.MODEL
        ),
        offer_uuids=frozenset(
            p.target.offer_uuid for p in held if p.target.kind is TargetKind.OFFER
        ),
    )


def list_audit(
    access: Access, actor: str, target: Target | None, size: int, token: str
) -> tuple[list[AuditEntry], str]:
    """One page of the audit log, newest first, and the next page's token.

    Rules: a superuser reads every entry. Anyone else reads the entries about them or made by
    them, and those on the models and offers they administer now (explicitly; a model's
    admins also read its offers' entries). `target` narrows either to one target.

    Raises:
        Forbidden: `permission denied`: the actor is unknown or disabled.
        Invalid: a negative page size, a page token no previous page returned, a target
            without its UUIDs.
    """
    limit = page_size(size)
    before = decode_cursor(token, int)
    if target is not None:
        target = check_target(target)
    with access.transaction():
        me = enabled_user(access, actor)
        if me is None:
            raise errors.Forbidden(PERMISSION_DENIED)
        scope = None if me.superuser else _audit_scope(access, me)
        found = access.audit(scope, target, int(before or 0), limit + 1)
    more = len(found) > limit
    found = found[:limit]
    return found, encode_cursor(found[-1].id) if more else ""
