"""Keeping this controller's halves of cross-controller relations in step with their peers.

**State, not events.** The two halves are kept in step by pulling: `reconcile` asks the peer for
its half (`GetRemoteRelation`) and applies what it hears. A missing peer half removes the local
one (Juju's removal cascades); on the consumer's side the offerer's suspension is
mirrored with its cause, a refused credential means consume was revoked (cause `revoked`,
`offer permission revoked`, SAAS `error`), and an unreachable offerer puts the SAAS in
`error` / `cannot connect to external controller: ...` until it answers again. After a local
command changes or removes a half, the gateway `Nudge`s the peer, which pulls at once; a
periodic pass catches what a nudge missed (a peer that was down), so both sides converge
without any outbox of their own.

**A new relation is made offerer first.** The offerer registers its half and answers; only then
does the consumer write its own. In between, the offerer's periodic pass would find no consumer
half and drop the new one, so it leaves an offerer half it registered less than
`REGISTER_GRACE_S` ago alone until it has once found the consumer's half; a nudge from the
consumer (it failed to write its half) is definitive and drops it at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import grpc

from cmr.access.v1 import access_pb2
from cmr.gateway.v1 import gateway_pb2 as pb
from cmr.offers.v1 import offers_pb2
from cmr.relations.v1 import relations_pb2
from gateway.ports import Ports, or_none
from gateway.remote import CALL_TIMEOUT_S, PeerControllers
from gateway.resolve import find_application, find_saas
from kernel import errors
from kernel.relation import REVOKED_MESSAGE, Half
from services.common.deadline import Deadline

REGISTER_GRACE_S: Final = 2 * CALL_TIMEOUT_S
"""How long the periodic pass waits for the consumer's half of a relation registered here."""

log = logging.getLogger(__name__)


class Reconciler:
    """Keeps this controller's halves of cross-controller relations in step with their peers."""

    def __init__(self, ports: Ports, remote: PeerControllers) -> None:
        self._ports = ports
        self._remote = remote
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._registered: dict[str, float] = {}  # token -> when its offerer half was made

    def registered(self, token: str) -> None:
        """The offerer's half of relation `token` was just made here, for a consumer elsewhere."""
        now = time.monotonic()
        with self._lock:
            for old in [t for t, at in self._registered.items() if now - at > REGISTER_GRACE_S]:
                del self._registered[old]
            self._registered[token] = now

    def _settling(self, token: str) -> bool:
        """Whether the consumer of relation `token` may still be writing its half."""
        with self._lock:
            at = self._registered.get(token)
        return at is not None and time.monotonic() - at <= REGISTER_GRACE_S

    # -- local lookups ---------------------------------------------------------------------

    def halves(self, deadline: Deadline, token: str = "") -> list[relations_pb2.RemoteHalf]:
        """This controller's halves whose peer is elsewhere; only `token`'s if given."""
        return list(
            self._ports.relations.list_remote_halves(
                relations_pb2.ListRemoteHalvesRequest(token=token), deadline
            ).halves
        )

    def _saas_of(
        self, half: relations_pb2.RemoteHalf, deadline: Deadline
    ) -> offers_pb2.Saas | None:
        remote = next((e for e in half.relation.endpoints if e.remote), None)
        if remote is None:
            return None
        return find_saas(self._ports, half.model_uuid, remote.application, deadline)

    def verify(
        self,
        credential: str,
        token: str,
        deadline: Deadline,
        *,
        authentic_only: bool = False,
    ) -> relations_pb2.RemoteHalf | None:
        """Check a peer's credential for relation `token`; return the local half, if any.

        The offerer's half expects the relation token it issued (consume re-checked); the
        consumer's half the callback token it issued. With no half left, or `authentic_only`,
        the credential need only be one this controller signed.

        Raises:
            Unauthenticated, Forbidden: as access says.
        """
        found = self.halves(deadline, token)
        half = found[0] if found else None
        request = access_pb2.VerifyOfferTokenRequest(token=credential)
        if half is not None and not authentic_only:
            cross = half.relation.cross_model
            if cross.side == Half.OFFERER:
                request.kind = "relation"
                request.offer_model_uuid = half.model_uuid
                request.offer_uuid = cross.offer_uuid
            else:
                saas = self._saas_of(half, deadline)
                request.kind = "callback"
                request.offer_uuid = saas.offer_uuid if saas is not None else ""
            request.relation = token
        self._ports.access.verify_offer_token(request, deadline)
        return half

    def state(
        self, credential: str, token: str, deadline: Deadline
    ) -> pb.GetRemoteRelationResponse:
        """This controller's half of relation `token`, as its peer asks after it.

        On the offering side it tells the offered application's status, which the consumer's
        SAAS mirrors.

        Raises:
            Unauthenticated, Forbidden: the peer's credential, as access says.
        """
        half = self.verify(credential, token, deadline)
        if half is None:
            return pb.GetRemoteRelationResponse(exists=False)
        offered = ""
        if half.relation.cross_model.side == Half.OFFERER:
            local = next((e for e in half.relation.endpoints if not e.remote), None)
            app = (
                find_application(self._ports, half.model_uuid, local.application, deadline)
                if local is not None
                else None
            )
            offered = app.status if app is not None else ""
        return pb.GetRemoteRelationResponse(
            exists=True,
            suspended=half.relation.suspended,
            reason=half.relation.suspended_reason,
            suspend_cause=half.relation.suspend_cause,
            status=half.relation.status,
            application_status=offered,
        )

    # -- reconcile -------------------------------------------------------------------------

    def reconcile(self, deadline: Deadline, token: str = "", *, background: bool = False) -> None:
        """Pull the peer's state of each cross-controller half (or of `token`'s) and apply it.

        `background` for the periodic pass, which leaves a half it registered alone while its
        consumer may still be writing its own; a nudge is definitive.
        """
        for half in self.halves(deadline, token):
            try:
                self._reconcile_one(half, deadline, background)
            except (errors.CmrError, grpc.RpcError) as err:
                log.info("reconciling relation %s: %s", half.relation.cross_model.token, err)

    def _reconcile_one(
        self, half: relations_pb2.RemoteHalf, deadline: Deadline, background: bool
    ) -> None:
        cross = half.relation.cross_model
        saas = self._saas_of(half, deadline) if cross.side == Half.CONSUMER else None

        def renewed(fresh: str) -> None:
            self._ports.relations.set_peer_token(
                relations_pb2.SetPeerTokenRequest(token=cross.token, peer_token=fresh), deadline
            )

        try:
            state = self._remote.call(
                cross.peer_address,
                lambda stub, credential: stub.GetRemoteRelation(
                    pb.GetRemoteRelationRequest(credential=credential, token=cross.token),
                    timeout=CALL_TIMEOUT_S,
                ),
                cross.peer_token,
                renewed=renewed,
            )
        except errors.Unavailable as err:
            if saas is not None:
                self._saas_status(saas, "error", err.message, deadline)
            return
        except grpc.RpcError as err:
            refused = isinstance(err, grpc.Call) and err.code() in (
                grpc.StatusCode.PERMISSION_DENIED,
                grpc.StatusCode.UNAUTHENTICATED,
            )
            if refused and cross.side == Half.CONSUMER:
                self._mirror(
                    cross.token,
                    True,
                    REVOKED_MESSAGE,
                    relations_pb2.SUSPEND_CAUSE_REVOKED,
                    deadline,
                )
                if saas is not None:
                    self._saas_status(saas, "error", REVOKED_MESSAGE, deadline)
                return
            raise
        if state.exists:
            with self._lock:
                self._registered.pop(cross.token, None)  # the consumer's half is there
        else:
            if background and self._settling(cross.token):
                return  # the consumer has not written its half yet (see the module's notes)
            or_none(
                lambda: self._ports.relations.remove_relation(
                    relations_pb2.RemoveRelationRequest(
                        model_uuid=half.model_uuid, id=half.relation.id, by_id=True
                    ),
                    deadline,
                )
            )
            return
        if cross.side == Half.CONSUMER:
            self._mirror(cross.token, state.suspended, state.reason, state.suspend_cause, deadline)
            if saas is not None:
                # the SAAS mirrors the offered application once the offerer answers again
                self._saas_status(saas, state.application_status or "unknown", "", deadline)

    def _mirror(
        self,
        token: str,
        suspended: bool,
        reason: str,
        cause: relations_pb2.SuspendCause.ValueType,
        deadline: Deadline,
    ) -> None:
        self._ports.relations.mirror_remote_state(
            relations_pb2.MirrorRemoteStateRequest(
                token=token, suspended=suspended, reason=reason, suspend_cause=cause
            ),
            deadline,
        )

    def _saas_status(
        self,
        saas: offers_pb2.Saas,
        status: str,
        message: str,
        deadline: Deadline,
    ) -> None:
        if (saas.status, saas.status_message) == (status, message):
            return
        self._ports.offers.set_saas_status(
            offers_pb2.SetSaasStatusRequest(
                model_uuid=saas.model_uuid, name=saas.name, status=status, message=message
            ),
            deadline,
        )

    # -- nudges ----------------------------------------------------------------------------

    @contextmanager
    def nudging(self, deadline: Deadline) -> Iterator[None]:
        """Around a local command: afterwards, nudge the peer of every half it changed."""
        before = {h.relation.cross_model.token: h for h in self.halves(deadline)}
        yield
        if not before:
            return
        after = {h.relation.cross_model.token: h for h in self.halves(deadline)}
        for token, half in before.items():
            now = after.get(token)
            if now is not None and (now.relation.suspended, now.relation.status) == (
                half.relation.suspended,
                half.relation.status,
            ):
                continue
            self.nudge(half.relation.cross_model, token)

    def nudge(self, cross: relations_pb2.CrossModel, token: str) -> None:
        """Ask the peer to look at relation `token` again; best effort (it also polls)."""
        try:
            self._remote.call(
                cross.peer_address,
                lambda stub, credential: stub.Nudge(
                    pb.NudgeRequest(credential=credential, token=token), timeout=CALL_TIMEOUT_S
                ),
                cross.peer_token,
            )
        except (errors.CmrError, grpc.RpcError) as err:
            log.info("nudging the peer of relation %s: %s", token, err)

    # -- the periodic pass -----------------------------------------------------------------

    def start(self, interval: float) -> None:
        """Reconcile every `interval` seconds in a daemon thread (0 disables it)."""
        if interval <= 0:
            return
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), name="gateway-reconciler", daemon=True
        )
        self._thread.start()

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.reconcile(Deadline.after(CALL_TIMEOUT_S), background=True)
            except Exception:
                log.exception("reconciling cross-controller relations failed")

    def stop(self) -> None:
        """Stop the periodic pass."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
