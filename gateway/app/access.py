"""Grants, revokes and the audit log of access changes."""

from __future__ import annotations

from collections.abc import Sequence

from cmr.access.v1 import access_pb2
from cmr.relations.v1 import relations_pb2
from gateway.auth import Caller
from gateway.ports import Ports
from gateway.resolve import CONTROLLER_TARGET, Resolver, model_target, offer_target
from kernel import errors
from kernel.access import ends_consume
from services.common.deadline import Deadline


class Access:
    """The access commands, for an authenticated caller; access decides who may change what."""

    def __init__(self, ports: Ports, resolve: Resolver) -> None:
        self._ports = ports
        self._resolve = resolve

    def targets(
        self, caller: Caller, refs: Sequence[str], deadline: Deadline
    ) -> list[access_pb2.Target]:
        """Resolve grant/revoke targets: none is the controller; offer URLs or model names.

        An argument is an offer URL exactly when it holds a `.`, which model names cannot. The
        caller must be able to see each.
        """
        if not refs:
            return [CONTROLLER_TARGET]
        urls = [r for r in refs if "." in r]
        if urls and len(urls) != len(refs):
            raise errors.Invalid("either specify model names or offer URLs but not both")
        if urls:
            return [
                offer_target(
                    self._resolve.offer(
                        caller, self._resolve.offer_url(caller, u, deadline), "read", deadline
                    ).offer
                )
                for u in urls
            ]
        return [model_target(self._resolve.model(caller, r, "read", deadline)) for r in refs]

    def grant(
        self, caller: Caller, user: str, level: str, refs: Sequence[str], deadline: Deadline
    ) -> None:
        """Grant `level` on every target, each resolved before any is changed."""
        for target in self.targets(caller, refs, deadline):
            self._ports.access.grant(
                access_pb2.GrantRequest(actor=caller.user, user=user, level=level, target=target),
                deadline,
            )

    def revoke(
        self, caller: Caller, user: str, level: str, refs: Sequence[str], deadline: Deadline
    ) -> None:
        """Revoke `level` on every target, each resolved before any is changed.

        A revoke that takes a user below consume on an offer suspends their relations to it
        (the relations context does, following access's feed): wait, under the deadline,
        until it has, so that they are suspended when `revoke` returns.
        """
        last = 0
        for target in self.targets(caller, refs, deadline):
            reply = self._ports.access.revoke(
                access_pb2.RevokeRequest(actor=caller.user, user=user, level=level, target=target),
                deadline,
            )
            if (
                target.kind == access_pb2.TARGET_KIND_OFFER
                and target.offer_uuid
                and ends_consume(reply.previous, reply.effective)
            ):
                last = max(last, reply.sequence)
        if last:
            self._ports.relations.sync(
                relations_pb2.SyncRequest(source="access", sequence=last), deadline
            )

    def audit(
        self, caller: Caller, ref: str, page_size: int, page_token: str, deadline: Deadline
    ) -> access_pb2.ListAuditResponse:
        """The audit log the caller may read, of one target or all."""
        target = self.targets(caller, [ref], deadline)[0] if ref else None
        return self._ports.access.list_audit(
            access_pb2.ListAuditRequest(
                actor=caller.user, target=target, page_size=page_size, page_token=page_token
            ),
            deadline,
        )
