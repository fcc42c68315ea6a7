"""The loopback rule."""

from __future__ import annotations

import pytest

from load.target import TargetError, check_loopback, is_loopback


@pytest.mark.parametrize(
    ("target", "address"),
    [
        ("127.0.0.1:17070", "127.0.0.1:17070"),
        ("127.1.2.3:1", "127.1.2.3:1"),
        ("127.255.255.255:65535", "127.255.255.255:65535"),
        ("localhost:17070", "localhost:17070"),
        ("LocalHost:17070", "localhost:17070"),
        ("[::1]:17070", "[::1]:17070"),
        ("[0:0:0:0:0:0:0:1]:80", "[0:0:0:0:0:0:0:1]:80"),
    ],
)
def test_loopback_targets_pass(target: str, address: str) -> None:
    assert check_loopback(target) == address


@pytest.mark.parametrize(
    "target",
    [
        "10.0.0.1:17070",
        "0.0.0.0:17070",
        "192.168.1.10:17070",
        "128.0.0.1:17070",
        "example.com:17070",
        "localhost.example.com:17070",
        "127.0.0.1.nip.io:17070",
        "[::]:17070",
        "[::ffff:127.0.0.1]:17070",
        "[2001:db8::1]:17070",
    ],
)
def test_other_hosts_are_refused(target: str) -> None:
    with pytest.raises(TargetError, match="is not a loopback address: cmr-load only generates"):
        check_loopback(target)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("127.0.0.1", "is not HOST:PORT"),
        (":17070", "is not HOST:PORT"),
        ("127.0.0.1:", "port must be a number from 1 to 65535"),
        ("127.0.0.1:0", "port must be a number from 1 to 65535"),
        ("127.0.0.1:65536", "port must be a number from 1 to 65535"),
        ("127.0.0.1:http", "port must be a number from 1 to 65535"),
        ("::1:17070", "write an IPv6 address in brackets"),
        ("[::1]17070", "is not HOST:PORT"),
        ("[::1", "is not HOST:PORT"),
    ],
)
def test_malformed_targets(target: str, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        check_loopback(target)


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("")
    assert not is_loopback("::")
    assert not is_loopback("ip6-localhost")
