"""Access levels and their ladders, one per kind of target (juju/juju@3.6:core/permission).

- the controller: `login < add-model < superuser`;
- a model: `read < write < admin`;
- an offer: `read < consume < admin`.

A level includes every level below it on its ladder.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class TargetKind(StrEnum):
    """What a permission is on; the value is the access feed's `target-kind` attribute."""

    CONTROLLER = "controller"
    MODEL = "model"
    OFFER = "offer"


class Level(StrEnum):
    """Access levels of every kind; which are valid depends on the target (`LADDERS`)."""

    NONE = ""
    LOGIN = "login"
    ADD_MODEL = "add-model"
    SUPERUSER = "superuser"
    READ = "read"
    WRITE = "write"
    CONSUME = "consume"
    ADMIN = "admin"


LADDERS: Final[dict[TargetKind, tuple[Level, ...]]] = {
    TargetKind.CONTROLLER: (Level.LOGIN, Level.ADD_MODEL, Level.SUPERUSER),
    TargetKind.MODEL: (Level.READ, Level.WRITE, Level.ADMIN),
    TargetKind.OFFER: (Level.READ, Level.CONSUME, Level.ADMIN),
}
"""Each kind's levels, lowest first."""


def rank(kind: TargetKind, level: str) -> int:
    """A level's height on its kind's ladder: 0 for none (or a foreign level), then 1, 2, 3."""
    ladder = LADDERS[kind]
    return ladder.index(Level(level)) + 1 if level in ladder else 0


def at_least(kind: TargetKind, held: str, needed: str) -> bool:
    """True when `held` is `needed` or above on the ladder of `kind`."""
    return rank(kind, held) >= rank(kind, needed) > 0


def ends_consume(previous: str, effective: str) -> bool:
    """Whether an offer revoke from `previous` leaving `effective` takes consume away.

    A user whose recorded level was already below consume had nothing that kept relations
    going but implicit admin, which an offer revoke does not take away.
    """
    return at_least(TargetKind.OFFER, previous, Level.CONSUME) and not at_least(
        TargetKind.OFFER, effective, Level.CONSUME
    )
