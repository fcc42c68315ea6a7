"""Operation mixes: parsing, checking against a service, and seeded weighted choice."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from load.mix import Mix, MixError, parse_mix
from load.ops import OPERATIONS, Params, missing_params, needs_session


def test_parse_mix() -> None:
    assert parse_mix("ping=3,status=1", "gateway") == {"ping": 3, "status": 1}
    assert parse_mix(" ping = 2 , whoami=5 ", "gateway") == {"ping": 2, "whoami": 5}
    assert parse_mix("ping=1", "relations") == {"ping": 1}
    assert list(parse_mix("whoami=1,ping=1", "gateway")) == ["whoami", "ping"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ping=0", "weight of 'ping' must be a positive integer, got '0'"),
        ("ping=-1", "weight of 'ping' must be a positive integer, got '-1'"),
        ("ping=1.5", "weight of 'ping' must be a positive integer, got '1.5'"),
        ("ping=x", "weight of 'ping' must be a positive integer, got 'x'"),
        ("ping=", "weight of 'ping' must be a positive integer, got 'nothing'"),
        ("ping", "mix entry 'ping' is not NAME=WEIGHT"),
        ("=3", "mix entry '=3' is not NAME=WEIGHT"),
        ("ping=1,,status=1", "has an empty entry"),
        ("", "has an empty entry"),
        ("ping=1,ping=2", "operation 'ping' appears twice"),
    ],
)
def test_parse_mix_rejects(text: str, message: str) -> None:
    with pytest.raises(MixError) as caught:
        parse_mix(text, "gateway")
    assert message in str(caught.value)


def test_unknown_operation_lists_the_valid_ones() -> None:
    with pytest.raises(MixError) as caught:
        parse_mix("ping=1,list-users=1", "gateway")
    assert str(caught.value) == (
        "unknown operation 'list-users' for service gateway; "
        "valid: ping, status, show-offer, list-models, whoami"
    )
    with pytest.raises(MixError, match=r"valid: ping, list-users$"):
        parse_mix("whoami=1", "access")


def test_every_service_has_ping_and_one_read() -> None:
    assert {service: sorted(ops) for service, ops in OPERATIONS.items()} == {
        "gateway": ["list-models", "ping", "show-offer", "status", "whoami"],
        "placement": ["get-model-status", "ping"],
        "access": ["list-users", "ping"],
        "offers": ["find-offers", "ping"],
        "relations": ["list-relations", "ping"],
    }


def test_required_options_and_sessions() -> None:
    assert missing_params("gateway", ["ping", "status", "show-offer"], Params()) == [
        "--model (for status)",
        "--offer (for show-offer)",
    ]
    assert missing_params("gateway", ["status"], Params(model="prod")) == []
    assert missing_params("placement", ["get-model-status"], Params()) == [
        "--model-uuid (for get-model-status)"
    ]
    assert needs_session("gateway", ["ping", "whoami"])
    assert not needs_session("gateway", ["ping"])
    assert not needs_session("access", ["ping", "list-users"])


def test_pick_follows_weights_and_seed() -> None:
    mix = Mix.of({"ping": 3, "status": 1})
    assert mix.cum_weights == (3, 4)
    picks = [mix.pick(random.Random(7)) for _ in range(3)]  # noqa: S311
    assert len(set(picks)) == 1  # same seed, same first pick
    rng = random.Random(0)  # noqa: S311
    first = [mix.pick(rng) for _ in range(4000)]
    rng = random.Random(0)  # noqa: S311
    assert [mix.pick(rng) for _ in range(4000)] == first
    counts = Counter(first)
    assert set(counts) == {"ping", "status"}
    assert 0.70 < counts["ping"] / 4000 < 0.80


def test_single_op_mix_always_picks_it() -> None:
    mix = Mix.of({"ping": 1})
    rng = random.Random(1)  # noqa: S311
    assert {mix.pick(rng) for _ in range(50)} == {"ping"}


@pytest.mark.parametrize("weights", [{}, {"ping": 0}])
def test_mix_of_rejects_empty_or_zero(weights: dict[str, int]) -> None:
    with pytest.raises(MixError):
        Mix.of(weights)
