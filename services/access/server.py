"""The access service's gRPC edge: proto <-> domain, and `build_server`."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Final

import grpc

from cmr.access.v1 import access_pb2, access_pb2_grpc
from kernel import errors, tokens
from kernel.access import TargetKind
from services.access import domain
from services.access.store import SqliteAccess
from services.common import feed, status
from services.common.config import Config
from services.common.local import LocalTarget
from services.common.server import Bound, Built, binding

log = logging.getLogger(__name__)

SERVICE_NAME = access_pb2.DESCRIPTOR.services_by_name["AccessService"].full_name
SERVICE_NAMES: Final = (SERVICE_NAME,)
"""The services it serves on its port."""


def _user(user: domain.User) -> access_pb2.User:
    return access_pb2.User(
        name=user.name,
        display_name=user.display_name,
        superuser=user.superuser,
        enabled=user.enabled,
        created_at=domain.rfc3339(user.created_at),
    )


_KINDS: dict[int, TargetKind] = {
    access_pb2.TARGET_KIND_CONTROLLER: TargetKind.CONTROLLER,
    access_pb2.TARGET_KIND_MODEL: TargetKind.MODEL,
    access_pb2.TARGET_KIND_OFFER: TargetKind.OFFER,
}
_KIND_PB: dict[TargetKind, access_pb2.TargetKind.ValueType] = {
    TargetKind.CONTROLLER: access_pb2.TARGET_KIND_CONTROLLER,
    TargetKind.MODEL: access_pb2.TARGET_KIND_MODEL,
    TargetKind.OFFER: access_pb2.TARGET_KIND_OFFER,
}


def _target(target: access_pb2.Target) -> domain.Target:
    kind = _KINDS.get(target.kind)
    if kind is None:
        raise errors.Invalid("target kind must be controller, model or offer")
    return domain.Target(
        kind=kind,
        model_uuid=target.model_uuid,
        offer_uuid=target.offer_uuid,
        label=target.label,
    )


def _target_pb(target: domain.Target) -> access_pb2.Target:
    return access_pb2.Target(
        kind=_KIND_PB[target.kind],
        model_uuid=target.model_uuid,
        offer_uuid=target.offer_uuid,
        label=target.label,
    )


def _login_pb(done: domain.LoggedIn) -> access_pb2.LoginResponse:
    return access_pb2.LoginResponse(
        token=done.token,
        expires_at=domain.rfc3339(done.session.expires_at),
        user=_user(done.session.user),
    )


class AccessServicer(access_pb2_grpc.AccessServiceServicer):
    """Serves `cmr.access.v1.AccessService` from one store."""

    def __init__(
        self,
        store: SqliteAccess,
        *,
        now: domain.Clock = domain.utc_now,
        session_ttl: timedelta = domain.SESSION_TTL,
        new_token: domain.TokenFactory = domain.new_token,
    ) -> None:
        self._store = store
        self._now = now
        self._ttl = session_ttl
        self._new_token = new_token
        self._throttle = domain.LoginThrottle()

    @status.unary
    def Ping(  # noqa: N802 - gRPC method name
        self, request: access_pb2.PingRequest, context: grpc.ServicerContext
    ) -> access_pb2.PingResponse:
        """Answer at once: the benchmarks' baseline."""
        return access_pb2.PingResponse()

    @status.unary
    def Login(  # noqa: N802 - gRPC method name
        self, request: access_pb2.LoginRequest, context: grpc.ServicerContext
    ) -> access_pb2.LoginResponse:
        done = domain.login(
            self._store,
            request.user,
            request.password,
            now=self._now,
            ttl=self._ttl,
            token=self._new_token,
            throttle=self._throttle,
        )
        return _login_pb(done)

    @status.unary
    def Authenticate(  # noqa: N802 - gRPC method name
        self, request: access_pb2.AuthenticateRequest, context: grpc.ServicerContext
    ) -> access_pb2.AuthenticateResponse:
        session = domain.authenticate(self._store, request.token, now=self._now)
        return access_pb2.AuthenticateResponse(
            user=_user(session.user), expires_at=domain.rfc3339(session.expires_at)
        )

    @status.unary
    def Logout(  # noqa: N802 - gRPC method name
        self, request: access_pb2.LogoutRequest, context: grpc.ServicerContext
    ) -> access_pb2.LogoutResponse:
        return access_pb2.LogoutResponse(sequence=domain.logout(self._store, request.token))

    @status.unary
    def GetUser(  # noqa: N802 - gRPC method name
        self, request: access_pb2.GetUserRequest, context: grpc.ServicerContext
    ) -> access_pb2.GetUserResponse:
        return access_pb2.GetUserResponse(user=_user(domain.get_user(self._store, request.name)))

    @status.unary
    def GetControllerInfo(  # noqa: N802 - gRPC method name
        self, request: access_pb2.GetControllerInfoRequest, context: grpc.ServicerContext
    ) -> access_pb2.GetControllerInfoResponse:
        info = domain.controller_info(self._store)
        return access_pb2.GetControllerInfoResponse(name=info.name, uuid=info.uuid)

    @status.unary
    def AddUser(  # noqa: N802 - gRPC method name
        self, request: access_pb2.AddUserRequest, context: grpc.ServicerContext
    ) -> access_pb2.AddUserResponse:
        added = domain.add_user(
            self._store, request.actor, request.name, request.display_name, now=self._now
        )
        return access_pb2.AddUserResponse(
            user=_user(added.user), secret=added.secret, sequence=added.sequence
        )

    @status.unary
    def Register(  # noqa: N802 - gRPC method name
        self, request: access_pb2.RegisterRequest, context: grpc.ServicerContext
    ) -> access_pb2.RegisterResponse:
        done = domain.register(
            self._store,
            request.user,
            request.secret,
            request.password,
            now=self._now,
            ttl=self._ttl,
            token=self._new_token,
        )
        return access_pb2.RegisterResponse(session=_login_pb(done))

    @status.unary
    def ChangePassword(  # noqa: N802 - gRPC method name
        self, request: access_pb2.ChangePasswordRequest, context: grpc.ServicerContext
    ) -> access_pb2.ChangePasswordResponse:
        seq = domain.change_password(
            self._store, request.actor, request.user, request.password, now=self._now
        )
        return access_pb2.ChangePasswordResponse(sequence=seq)

    @status.unary
    def SetUserEnabled(  # noqa: N802 - gRPC method name
        self, request: access_pb2.SetUserEnabledRequest, context: grpc.ServicerContext
    ) -> access_pb2.SetUserEnabledResponse:
        seq = domain.set_user_enabled(
            self._store, request.actor, request.user, request.enabled, now=self._now
        )
        return access_pb2.SetUserEnabledResponse(sequence=seq)

    @status.unary
    def ListUsers(  # noqa: N802 - gRPC method name
        self, request: access_pb2.ListUsersRequest, context: grpc.ServicerContext
    ) -> access_pb2.ListUsersResponse:
        found, token = domain.list_users(
            self._store, request.include_disabled, request.page_size, request.page_token
        )
        return access_pb2.ListUsersResponse(
            users=[access_pb2.UserEntry(user=_user(u), controller_access=lv) for u, lv in found],
            next_page_token=token,
        )

    @status.unary
    def InitTarget(  # noqa: N802 - gRPC method name
        self, request: access_pb2.InitTargetRequest, context: grpc.ServicerContext
    ) -> access_pb2.InitTargetResponse:
        seq = domain.init_target(
            self._store, _target(request.target), request.owner, now=self._now
        )
        return access_pb2.InitTargetResponse(sequence=seq)

    @status.unary
    def DropTarget(  # noqa: N802 - gRPC method name
        self, request: access_pb2.DropTargetRequest, context: grpc.ServicerContext
    ) -> access_pb2.DropTargetResponse:
        seq = domain.drop_target(self._store, _target(request.target), now=self._now)
        return access_pb2.DropTargetResponse(sequence=seq)

    @status.unary
    def Grant(  # noqa: N802 - gRPC method name
        self, request: access_pb2.GrantRequest, context: grpc.ServicerContext
    ) -> access_pb2.GrantResponse:
        seq = domain.grant(
            self._store,
            request.actor,
            request.user,
            request.level,
            _target(request.target),
            now=self._now,
        )
        return access_pb2.GrantResponse(sequence=seq)

    @status.unary
    def Revoke(  # noqa: N802 - gRPC method name
        self, request: access_pb2.RevokeRequest, context: grpc.ServicerContext
    ) -> access_pb2.RevokeResponse:
        revoked = domain.revoke(
            self._store,
            request.actor,
            request.user,
            request.level,
            _target(request.target),
            now=self._now,
        )
        return access_pb2.RevokeResponse(
            level=revoked.level,
            sequence=revoked.sequence,
            previous=revoked.previous,
            effective=revoked.effective,
        )

    @status.unary
    def CheckAccess(  # noqa: N802 - gRPC method name
        self, request: access_pb2.CheckAccessRequest, context: grpc.ServicerContext
    ) -> access_pb2.CheckAccessResponse:
        levels = domain.check_access(
            self._store, request.user, [_target(t) for t in request.targets]
        )
        return access_pb2.CheckAccessResponse(levels=levels)

    @status.unary
    def IssueOfferToken(  # noqa: N802 - gRPC method name
        self, request: access_pb2.IssueOfferTokenRequest, context: grpc.ServicerContext
    ) -> access_pb2.IssueOfferTokenResponse:
        token, expires = domain.issue_offer_token(
            self._store,
            user=request.user,
            offer_model_uuid=request.offer_model_uuid,
            claims=tokens.Claims(
                issuer="",
                kind=request.kind,
                user=request.user,
                offer_uuid=request.offer_uuid,
                source_model_uuid=request.source_model_uuid,
                relation=request.relation,
            ),
            now=time.time(),
        )
        return access_pb2.IssueOfferTokenResponse(token=token, expires=expires)

    @status.unary
    def RenewOfferToken(  # noqa: N802 - gRPC method name
        self, request: access_pb2.RenewOfferTokenRequest, context: grpc.ServicerContext
    ) -> access_pb2.RenewOfferTokenResponse:
        token, expires = domain.renew_offer_token(
            self._store, request.token, offer_model_uuid=request.offer_model_uuid, now=time.time()
        )
        return access_pb2.RenewOfferTokenResponse(token=token, expires=expires)

    @status.unary
    def VerifyOfferToken(  # noqa: N802 - gRPC method name
        self, request: access_pb2.VerifyOfferTokenRequest, context: grpc.ServicerContext
    ) -> access_pb2.VerifyOfferTokenResponse:
        claims = domain.verify_offer_token(
            self._store,
            request.token,
            kind=request.kind,
            offer_model_uuid=request.offer_model_uuid,
            offer_uuid=request.offer_uuid,
            relation=request.relation,
            source_model_uuid=request.source_model_uuid,
            now=time.time(),
        )
        return access_pb2.VerifyOfferTokenResponse(
            claims=access_pb2.OfferTokenClaims(
                issuer=claims.issuer,
                kind=claims.kind,
                user=claims.user,
                offer_uuid=claims.offer_uuid,
                source_model_uuid=claims.source_model_uuid,
                relation=claims.relation,
                expires=claims.expires,
            )
        )

    @status.unary
    def ListAccess(  # noqa: N802 - gRPC method name
        self, request: access_pb2.ListAccessRequest, context: grpc.ServicerContext
    ) -> access_pb2.ListAccessResponse:
        held = domain.list_access(self._store, _target(request.target))
        return access_pb2.ListAccessResponse(
            entries=[
                access_pb2.AccessEntry(user=p.user, display_name=p.display_name, level=p.level)
                for p in held
            ]
        )

    @status.unary
    def ListAudit(  # noqa: N802 - gRPC method name
        self, request: access_pb2.ListAuditRequest, context: grpc.ServicerContext
    ) -> access_pb2.ListAuditResponse:
        target = _target(request.target) if request.HasField("target") else None
        entries, token = domain.list_audit(
            self._store, request.actor, target, request.page_size, request.page_token
        )
        return access_pb2.ListAuditResponse(
            entries=[
                access_pb2.AuditEntry(
                    time=domain.rfc3339(e.time),
                    actor=e.actor,
                    action=e.action,
                    user=e.user,
                    level=e.level,
                    target=_target_pb(e.target),
                )
                for e in entries
            ],
            next_page_token=token,
        )

    @status.streaming
    def Watch(  # noqa: N802 - gRPC method name
        self, request: access_pb2.WatchRequest, context: grpc.ServicerContext
    ) -> Iterator[access_pb2.WatchResponse]:
        yield from feed.serve_watch(self._store, request, context, access_pb2.WatchResponse)


def read_bootstrap_password(path: Path | None) -> str | None:
    """Return the bootstrap password from its file, or None when there is no file.

    One trailing newline (`echo pw > file`) is not part of the password.
    """
    if path is None or not path.exists():
        return None
    return path.read_text().removesuffix("\n").removesuffix("\r")


def open_store(
    config: Config, *, now: domain.Clock = domain.utc_now, new_uuid: str | None = None
) -> SqliteAccess:
    """Open the access store and prepare it: controller identity, then the bootstrap admin.

    Args:
        config: the controller's settings (data directory, controller name, password file).
        now: the clock.
        new_uuid: the controller UUID to use if the store is new (random when None).

    Raises:
        Invalid: the controller name is not valid, or the store has no users and the
            bootstrap password file is empty.
    """
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteAccess(config.db_path("access"))
    try:
        domain.ensure_controller(
            store, config.controller_name, lambda: new_uuid or str(uuid.uuid4())
        )
        password = read_bootstrap_password(config.bootstrap_password_file)
        if password is not None and domain.bootstrap_admin(store, password, now=now):
            log.info("created the bootstrap user %r", domain.ADMIN)
    except BaseException:
        store.close()
        raise
    return store


def build_server(
    config: Config,
    *,
    bound: Bound | None = None,
    local: Mapping[str, LocalTarget] | None = None,
    now: domain.Clock = domain.utc_now,
    session_ttl: timedelta = domain.SESSION_TTL,
) -> Built:
    """Build the access server, its store prepared, on `bound` or `config.bind_address`.

    Args:
        config: the controller's settings.
        bound: its server, bound by the composition root; bound here when None.
        local: the services built in this process (access calls none).
        now: the clock (tests inject one to expire sessions).
        session_ttl: how long a session token works.

    Raises:
        Invalid: see `open_store`.
        RuntimeError: the address cannot be bound.
    """
    address = config.bind_address("access")
    with binding(bound, SERVICE_NAME, address, on_loop=config.event_loop) as bound:
        store = open_store(config, now=now)
        servicer = AccessServicer(store, now=now, session_ttl=session_ttl)
        return bound.build(servicer, closers=(store.close,))
