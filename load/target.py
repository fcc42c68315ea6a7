"""The loopback rule: `cmr-load` only ever talks to this machine."""

from __future__ import annotations

import ipaddress
from typing import Final

LOOPBACK_V4: Final = ipaddress.IPv4Network("127.0.0.0/8")
LOOPBACK_V6: Final = ipaddress.IPv6Address("::1")


class TargetError(ValueError):
    """A target that is malformed or not a loopback address."""


def _split(target: str) -> tuple[str, str]:
    if target.startswith("["):
        host, sep, rest = target[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise TargetError(f"target {target!r} is not HOST:PORT (IPv6: [::1]:PORT)")
        return host, rest[1:]
    host, sep, port = target.rpartition(":")
    if not sep or not host:
        raise TargetError(f"target {target!r} is not HOST:PORT")
    if ":" in host:
        raise TargetError(f"target {target!r}: write an IPv6 address in brackets, [::1]:PORT")
    return host, port


def is_loopback(host: str) -> bool:
    """True for `localhost`, an IPv4 address in 127.0.0.0/8, or `::1`; nothing else."""
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return address in LOOPBACK_V4
    return address == LOOPBACK_V6


def check_loopback(target: str) -> str:
    """Return `target` as a gRPC address when it is a loopback `HOST:PORT`; else TargetError.

    A load generator pointed at another machine is a denial-of-service tool, so only
    `localhost`, 127.0.0.0/8 and `::1` are accepted; names other than `localhost` are refused
    even when they would resolve to loopback, because what they resolve to can change.
    """
    host, port_text = _split(target.strip())
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise TargetError(f"target {target!r}: port must be a number from 1 to 65535")
    if not is_loopback(host):
        raise TargetError(
            f"target host {host!r} is not a loopback address: cmr-load only generates load "
            "against this machine (localhost, 127.0.0.0/8 or [::1])"
        )
    port = int(port_text)
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host.lower()}:{port}"
