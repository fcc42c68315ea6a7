"""Access ladders: what includes what, and when a revoke takes consume away."""

from __future__ import annotations

import pytest

from kernel.access import LADDERS, Level, TargetKind, at_least, ends_consume, rank


@pytest.mark.parametrize(
    ("kind", "held", "needed", "expected"),
    [
        (TargetKind.OFFER, "admin", "consume", True),
        (TargetKind.OFFER, "consume", "consume", True),
        (TargetKind.OFFER, "read", "consume", False),
        (TargetKind.OFFER, "", "read", False),
        (TargetKind.MODEL, "write", "read", True),
        (TargetKind.MODEL, "consume", "read", False),
        (TargetKind.CONTROLLER, "superuser", "add-model", True),
        (TargetKind.CONTROLLER, "login", "add-model", False),
    ],
)
def test_a_level_includes_every_level_below_it_on_its_own_ladder(
    kind: TargetKind, held: str, needed: str, expected: bool
) -> None:
    assert at_least(kind, held, needed) is expected


def test_a_level_foreign_to_a_ladder_ranks_as_none() -> None:
    assert rank(TargetKind.MODEL, Level.CONSUME) == 0
    assert [rank(TargetKind.OFFER, level) for level in LADDERS[TargetKind.OFFER]] == [1, 2, 3]


@pytest.mark.parametrize(
    ("previous", "effective", "expected"),
    [
        ("consume", "read", True),
        ("admin", "", True),
        ("admin", "consume", False),
        ("read", "", False),
        ("consume", "admin", False),
    ],
)
def test_a_revoke_ends_consume_only_when_it_crosses_below_consume(
    previous: str, effective: str, expected: bool
) -> None:
    assert ends_consume(previous, effective) is expected
