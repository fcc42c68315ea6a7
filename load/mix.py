"""Operation mixes: `NAME=WEIGHT,...` parsed, checked against a service, and sampled."""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass

from load.ops import OPERATIONS

DEFAULT_MIX = "ping=1"


class MixError(ValueError):
    """A mix that cannot be used; the message says why and what would do."""


def parse_mix(text: str, service: str) -> dict[str, int]:
    """Parse `NAME=WEIGHT[,NAME=WEIGHT...]` for `service` into names and weights, in order.

    Weights are positive integers; each name at most once; every name must be an operation of
    the service (the error lists the valid ones).
    """
    valid = OPERATIONS[service]
    weights: dict[str, int] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            raise MixError(f"mix {text!r} has an empty entry; write NAME=WEIGHT[,NAME=WEIGHT...]")
        name, sep, weight_text = (part.strip() for part in item.partition("="))
        if not sep or not name:
            raise MixError(f"mix entry {item!r} is not NAME=WEIGHT")
        if name not in valid:
            raise MixError(
                f"unknown operation {name!r} for service {service}; valid: {', '.join(valid)}"
            )
        if name in weights:
            raise MixError(f"operation {name!r} appears twice in the mix")
        if not weight_text.isdigit() or int(weight_text) < 1:
            raise MixError(
                f"weight of {name!r} must be a positive integer, got {weight_text or 'nothing'!r}"
            )
        weights[name] = int(weight_text)
    return weights


@dataclass(frozen=True)
class Mix:
    """Names and cumulative weights, ready for `random.Random.choices`."""

    names: tuple[str, ...]
    cum_weights: tuple[int, ...]

    @classmethod
    def of(cls, weights: Mapping[str, int]) -> Mix:
        """A mix from names and positive weights."""
        if not weights or any(weight < 1 for weight in weights.values()):
            raise MixError("a mix needs at least one operation, each with a positive weight")
        return cls(tuple(weights), tuple(itertools.accumulate(weights.values())))

    def pick(self, rng: random.Random) -> str:
        """One operation name, drawn with probability proportional to its weight."""
        return rng.choices(self.names, cum_weights=self.cum_weights)[0]
