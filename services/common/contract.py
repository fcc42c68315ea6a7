"""What the contracts say about each method: does it read or write, may it wait.

Read from the generated descriptors, so the protos are the one place that says it: a method with
`option idempotency_level = NO_SIDE_EFFECTS` only reads (a client may retry it and cache its
answer); `(cmr.common.v1.may_wait)` marks a method that may wait for a reactor or another
service, which an event-loop server runs off its loop.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable

from google.protobuf import descriptor_pb2, descriptor_pool

from cmr.common.v1 import options_pb2

_NO_SIDE_EFFECTS = descriptor_pb2.MethodOptions.IdempotencyLevel.NO_SIDE_EFFECTS


@functools.cache
def reads(service: str) -> frozenset[str]:
    """The methods of `service` (full name, `cmr.offers.v1.OfferService`) that change nothing."""
    found = descriptor_pool.Default().FindServiceByName(service)
    return frozenset(
        m.name for m in found.methods if m.GetOptions().idempotency_level == _NO_SIDE_EFFECTS
    )


@functools.cache
def waits(service: str) -> frozenset[str]:
    """The methods of `service` that may wait (for a reactor, for another service)."""
    found = descriptor_pool.Default().FindServiceByName(service)
    return frozenset(
        m.name for m in found.methods if m.GetOptions().Extensions[options_pb2.may_wait]
    )


def is_read(full_method: str) -> bool:
    """Whether `/package.Service/Method` changes nothing, by its contract."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return method in reads(service)


def retry_config(services: Iterable[str]) -> str:
    """A channel service config that retries the unary reads of `services` when unavailable.

    Reads are free of side effects by contract, so a second attempt cannot do anything twice;
    streams are left to their followers, which resume from a cursor.
    """
    pool = descriptor_pool.Default()
    names = [
        {"service": service, "method": m.name}
        for service in services
        for m in pool.FindServiceByName(service).methods
        if m.name in reads(service) and not m.server_streaming
    ]
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": names,
                    "retryPolicy": {
                        "maxAttempts": 3,
                        "initialBackoff": "0.1s",
                        "maxBackoff": "1s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )
