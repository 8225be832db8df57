"""Alpha spending of the sequential A/B: what each look, and each of its two tests, may spend.

The looks' levels add up to the level (a union bound: valid whatever the correlation
between looks); ``analysis.sequential`` says why the spending is Pocock-like and why the
sign-flip test looks late only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from perf_pipeline.errors import InvalidInputError

__all__ = [
    "SPENDING_GAMMA",
    "T_SHARE",
    "LookLevels",
    "level_plan",
    "look_levels",
    "sign_flip_looks",
]

#: Share of each target's level the t spends (over every look); the sign-flip test
#: spends the rest over ``sign_flip_looks``.
T_SHARE = 0.5
#: The sign-flip test looks at the last look, then back from it by this factor ...
SIGN_FLIP_LADDER = 1.5
#: ... down to this many rounds (it needs 2^-n below its level: 2^-12 = 2.4e-4).
SIGN_FLIP_FIRST_ROUNDS = 12
#: Shape of the alpha-spending function (Hwang-Shih-DeCani): 1 spends early like
#: Pocock's design, -4 saves the level for the last look like O'Brien-Fleming's.
SPENDING_GAMMA = 1.0


def _spent(alpha: float, t: float, gamma: float) -> float:
    """Hwang-Shih-DeCani spending: alpha (1 - e^(-gamma t)) / (1 - e^(-gamma))."""
    if gamma == 0:
        return alpha * t
    return alpha * (1.0 - math.exp(-gamma * t)) / (1.0 - math.exp(-gamma))


def look_levels(*, alpha: float, min_rounds: int, max_rounds: int, block: int,
                gamma: float = SPENDING_GAMMA) -> tuple[tuple[int, float], ...]:
    """(rounds, level spent at that look) for every look; the levels sum to ``alpha``."""
    looks = list(range(min_rounds, max_rounds + 1, block))
    if looks[-1] != max_rounds:
        looks.append(max_rounds)
    spent = 0.0
    out = []
    for n in looks:
        g = _spent(alpha, n / max_rounds, gamma)
        out.append((n, g - spent))
        spent = g
    return tuple(out)


def sign_flip_looks(looks: Sequence[int]) -> tuple[int, ...]:
    """The looks at which the sign-flip test is applied: the last, and the first look at
    or after each of last / 1.5, last / 1.5^2, ... down to ``SIGN_FLIP_FIRST_ROUNDS``."""
    if not looks:
        raise InvalidInputError("`looks` is empty")
    chosen = {looks[-1]}
    x = looks[-1] / SIGN_FLIP_LADDER
    while round(x) >= SIGN_FLIP_FIRST_ROUNDS:
        chosen.add(min(n for n in looks if n >= round(x)))
        x /= SIGN_FLIP_LADDER
    return tuple(sorted(chosen))


@dataclass(frozen=True, slots=True)
class LookLevels:
    """What one target may spend at one look: the t's level and the sign-flip test's."""

    t: float
    sign_flip: float

    @property
    def total(self) -> float:
        return self.t + self.sign_flip


def level_plan(*, alpha: float, min_rounds: int, max_rounds: int, block: int,
               gamma: float = SPENDING_GAMMA
               ) -> tuple[tuple[int, float, float], ...]:
    """(rounds, t's level, sign-flip test's level) per look, for a target whose share is
    the whole ``alpha`` and that has a sign-flip test; both columns sum to ``alpha``."""
    looks = look_levels(alpha=alpha, min_rounds=min_rounds, max_rounds=max_rounds,
                        block=block, gamma=gamma)
    ladder = sign_flip_looks([n for n, _ in looks])
    per_look = (1.0 - T_SHARE) * alpha / len(ladder)
    return tuple((n, T_SHARE * level, per_look if n in ladder else 0.0)
                 for n, level in looks)
