"""The access service's gRPC edge: proto <-> domain, and `build_server`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import grpc

from cmr.access.v1 import access_pb2, access_pb2_grpc
from services.access import domain
from services.access.store import SqliteAccess
from services.common import feed, status
from services.common.config import Config
from services.common.server import Built, new_server_owning

log = logging.getLogger(__name__)

SERVICE_NAME = access_pb2.DESCRIPTOR.services_by_name["AccessService"].full_name


def _user(user: domain.User) -> access_pb2.User:
    return access_pb2.User(
        name=user.name,
        display_name=user.display_name,
        superuser=user.superuser,
        enabled=user.enabled,
        created_at=domain.rfc3339(user.created_at),
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
        )
        return access_pb2.LoginResponse(
            token=done.token,
            expires_at=domain.rfc3339(done.session.expires_at),
            user=_user(done.session.user),
        )

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

    @status.streaming
    def Watch(  # noqa: N802 - gRPC method name
        self, request: access_pb2.WatchRequest, context: grpc.ServicerContext
    ) -> Iterator[access_pb2.WatchResponse]:
        for ev in feed.follow(self._store, request.after_sequence, context):
            yield access_pb2.WatchResponse(event=ev)


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
    now: domain.Clock = domain.utc_now,
    session_ttl: timedelta = domain.SESSION_TTL,
) -> Built:
    """Build the access server on `config.bind_address("access")`, its store prepared.

    Args:
        config: the controller's settings.
        now: the clock (tests inject one to expire sessions).
        session_ttl: how long a session token works.

    Raises:
        Invalid: see `open_store`.
        RuntimeError: the address cannot be bound.
    """
    store = open_store(config, now=now)
    servicer = AccessServicer(store, now=now, session_ttl=session_ttl)
    return new_server_owning(
        SERVICE_NAME,
        lambda s: access_pb2_grpc.add_AccessServiceServicer_to_server(servicer, s),
        config.bind_address("access"),
        store.close,
    )
