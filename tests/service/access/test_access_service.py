"""The access service over gRPC on port 0: every RPC's codes and messages, Watch, health."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cmr.access.v1 import access_pb2, access_pb2_grpc
from services.access.server import SERVICE_NAME, build_server
from services.common import config

START = datetime(2025, 1, 1, tzinfo=UTC)
PASSWORD = "s3cret"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Access:
    stub: access_pb2_grpc.AccessServiceStub
    channel: grpc.Channel
    clock: Clock


@pytest.fixture
def access(tmp_path: Path) -> Iterator[Access]:
    password_file = tmp_path / "admin-password"
    password_file.write_text(PASSWORD + "\n")
    cfg = config.Config(
        data_dir=tmp_path,
        controller_name="ctrl1",
        bootstrap_password_file=password_file,
        ports={**config.DEFAULT_PORTS, "access": 0},
    )
    clock = Clock()
    built = build_server(cfg, now=clock, session_ttl=timedelta(hours=1))
    built.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{built.port}") as channel:
            yield Access(access_pb2_grpc.AccessServiceStub(channel), channel, clock)
    finally:
        built.stop(None)


def _login(access: Access, user: str = "admin", password: str = PASSWORD) -> str:
    reply = access.stub.Login(access_pb2.LoginRequest(user=user, password=password), timeout=10)
    return reply.token


def test_login_returns_a_token_its_expiry_and_the_user(access: Access) -> None:
    reply = access.stub.Login(access_pb2.LoginRequest(user="admin", password=PASSWORD), timeout=10)
    assert len(reply.token) == 43
    assert reply.expires_at == "2025-01-01T01:00:00.000000Z"
    assert reply.user.name == "admin"
    assert reply.user.superuser
    assert reply.user.enabled


@pytest.mark.parametrize(
    ("user", "password", "code", "message"),
    [
        ("admin", "wrong", grpc.StatusCode.UNAUTHENTICATED, "invalid entity name or password"),
        ("bob", PASSWORD, grpc.StatusCode.UNAUTHENTICATED, "invalid entity name or password"),
        ("x", PASSWORD, grpc.StatusCode.INVALID_ARGUMENT, 'user name "x" not valid'),
        ("admin", "", grpc.StatusCode.INVALID_ARGUMENT, "password must not be empty"),
    ],
)
def test_login_refusals(
    access: Access, user: str, password: str, code: grpc.StatusCode, message: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        access.stub.Login(access_pb2.LoginRequest(user=user, password=password), timeout=10)
    err = caught.value
    assert isinstance(err, grpc.Call)
    assert err.code() == code
    assert err.details() == message


def test_authenticate_resolves_a_token_to_its_user(access: Access) -> None:
    token = _login(access)
    reply = access.stub.Authenticate(access_pb2.AuthenticateRequest(token=token), timeout=10)
    assert reply.user.name == "admin"
    assert reply.user.superuser
    assert reply.expires_at == "2025-01-01T01:00:00.000000Z"


@pytest.mark.parametrize("token", ["", "never-issued"])
def test_authenticate_refuses_unknown_tokens(access: Access, token: str) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        access.stub.Authenticate(access_pb2.AuthenticateRequest(token=token), timeout=10)
    err = caught.value
    assert isinstance(err, grpc.Call)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert err.details() == "invalid or expired token; log in again"


def test_authenticate_refuses_an_expired_token(access: Access) -> None:
    token = _login(access)
    access.clock.now = START + timedelta(hours=1)
    with pytest.raises(grpc.RpcError) as caught:
        access.stub.Authenticate(access_pb2.AuthenticateRequest(token=token), timeout=10)
    err = caught.value
    assert isinstance(err, grpc.Call)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert err.details() == "invalid or expired token; log in again"


def test_logout_ends_the_session(access: Access) -> None:
    token = _login(access)
    reply = access.stub.Logout(access_pb2.LogoutRequest(token=token), timeout=10)
    assert reply.sequence > 0
    with pytest.raises(grpc.RpcError) as caught:
        access.stub.Authenticate(access_pb2.AuthenticateRequest(token=token), timeout=10)
    assert isinstance(caught.value, grpc.Call)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    again = access.stub.Logout(access_pb2.LogoutRequest(token=token), timeout=10)
    assert again.sequence == 0


def test_get_user(access: Access) -> None:
    reply = access.stub.GetUser(access_pb2.GetUserRequest(name="admin"), timeout=10)
    assert reply.user.name == "admin"
    assert reply.user.superuser
    assert reply.user.created_at == "2025-01-01T00:00:00.000000Z"


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        ("bob", grpc.StatusCode.NOT_FOUND, 'user "bob" not found'),
        ("b", grpc.StatusCode.INVALID_ARGUMENT, 'user name "b" not valid'),
    ],
)
def test_get_user_refusals(access: Access, name: str, code: grpc.StatusCode, message: str) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        access.stub.GetUser(access_pb2.GetUserRequest(name=name), timeout=10)
    err = caught.value
    assert isinstance(err, grpc.Call)
    assert err.code() == code
    assert err.details() == message


def test_get_controller_info(access: Access) -> None:
    reply = access.stub.GetControllerInfo(access_pb2.GetControllerInfoRequest(), timeout=10)
    assert reply.name == "ctrl1"
    assert str(uuid.UUID(reply.uuid)) == reply.uuid


def test_watch_replays_user_added_then_follows_logout(access: Access) -> None:
    stream = access.stub.Watch(access_pb2.WatchRequest(after_sequence=0), timeout=30)
    try:
        first = next(iter(stream)).event
        assert (first.sequence, first.kind, first.entity) == (1, "user-added", "admin")
        assert first.attributes["superuser"] == "true"
        assert first.model_uuid == ""
        token = _login(access)
        seq = access.stub.Logout(access_pb2.LogoutRequest(token=token), timeout=10).sequence
        second = next(iter(stream)).event
        assert (second.sequence, second.kind, second.entity) == (seq, "logout", "admin")
    finally:
        stream.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs


def test_watch_refuses_a_negative_sequence(access: Access) -> None:
    stream = access.stub.Watch(access_pb2.WatchRequest(after_sequence=-1), timeout=10)
    with pytest.raises(grpc.RpcError) as caught:
        next(iter(stream))
    err = caught.value
    assert isinstance(err, grpc.Call)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_health_is_serving(access: Access) -> None:
    health = health_pb2_grpc.HealthStub(access.channel)
    for service in ("", SERVICE_NAME):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
