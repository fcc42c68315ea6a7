"""Certificates of a controller's CA work for gRPC mutual TLS, and those of another CA do not."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.common import pki

T = 10


@pytest.fixture
def ca(tmp_path: Path) -> pki.ControllerCA:
    return pki.ControllerCA.ensure(tmp_path / "ctrl", "ctrl")


@pytest.fixture
def served(ca: pki.ControllerCA) -> Iterator[int]:
    """A health server demanding a client certificate of `ca`, as a service will."""
    part = ca.issue("placement", ["127.0.0.1"])
    credentials = grpc.ssl_server_credentials(
        [(part.key, part.cert)], root_certificates=ca.cert_pem, require_client_auth=True
    )
    server = grpc.server(futures.ThreadPoolExecutor(2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        yield port
    finally:
        server.stop(None).wait()


def _check(port: int, root: bytes, client: pki.Issued | None) -> health_pb2.HealthCheckResponse:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=root,
        private_key=client.key if client else None,
        certificate_chain=client.cert if client else None,
    )
    with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return stub.Check(health_pb2.HealthCheckRequest(), timeout=T)


def test_a_part_of_the_same_controller_is_answered(ca: pki.ControllerCA, served: int) -> None:
    reply = _check(served, ca.cert_pem, ca.issue("gateway", []))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_no_client_certificate_never_gets_past_the_handshake(
    ca: pki.ControllerCA, served: int
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        _check(served, ca.cert_pem, None)
    assert isinstance(raised.value, grpc.Call)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_certificate_of_another_controllers_ca_is_refused(
    ca: pki.ControllerCA, served: int, tmp_path: Path
) -> None:
    other = pki.ControllerCA.ensure(tmp_path / "other", "ctrl")
    with pytest.raises(grpc.RpcError) as raised:
        _check(served, ca.cert_pem, other.issue("gateway", []))
    assert isinstance(raised.value, grpc.Call)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_client_pinned_to_another_ca_refuses_the_server(
    ca: pki.ControllerCA, served: int, tmp_path: Path
) -> None:
    other = pki.ControllerCA.ensure(tmp_path / "other", "ctrl")
    with pytest.raises(grpc.RpcError) as raised:
        _check(served, other.cert_pem, ca.issue("gateway", []))
    assert isinstance(raised.value, grpc.Call)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
