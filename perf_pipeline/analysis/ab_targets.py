"""What a sequential A/B decides, and what each target may spend of the level.

The targets (every benchmark of the first round and the suite-wide shift, or those
asked for) share ``alpha`` by weighted Bonferroni, so the family-wise level stays
``alpha`` without a closed-testing procedure across looks; the weights, and the changes
the futility rule projects (``expected``), must be fixed before the rounds. These are
checked here, once, when the first round names the benchmarks.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

import numpy as np

from perf_pipeline.analysis.baseline import SUITE_SHIFT_NAME
from perf_pipeline.analysis.runlevel import MIN_BENCHMARKS_FOR_SHIFT
from perf_pipeline.errors import InvalidInputError

__all__ = ["MAX_EXPECTED_RATIO", "choose_targets", "log_expected_ratios", "target_shares"]

#: The largest change the futility rule projects from ``expected`` (a big one is decided
#: in a few rounds anyway).
MAX_EXPECTED_RATIO = 1.5


def log_expected_ratios(expected: Mapping[str, float] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, ratio in (expected or {}).items():
        if not (isinstance(ratio, (int, float)) and math.isfinite(ratio) and ratio > 0):
            raise InvalidInputError(
                f"`expected`: the ratio of {name!r} must be finite and > 0, got {ratio!r}")
        out[name] = math.log(min(ratio, MAX_EXPECTED_RATIO))
    return out


def target_shares(tested: tuple[str, ...], weights: Mapping[str, float] | None) -> np.ndarray:
    """Each target's share of the level: its weight over the sum (equal without weights)."""
    if weights is None:
        return np.full(len(tested), 1.0 / len(tested))
    unknown = sorted(set(weights) - set(tested))
    if unknown:
        raise InvalidInputError(f"`weights`: {unknown[0]!r} is not a target")
    w = np.array([weights.get(t, math.nan) for t in tested], dtype=float)
    missing = [t for t, v in zip(tested, w, strict=True) if not math.isfinite(v)]
    if missing or np.any(w <= 0):
        raise InvalidInputError(
            "`weights` must give every target a finite weight > 0"
            + (f" ({missing[0]!r} has none)" if missing else ""))
    return w / w.sum()


def choose_targets(names: tuple[str, ...], targets: Collection[str] | None) -> tuple[str, ...]:
    if targets is None:
        chosen = list(names)
        if len(names) >= MIN_BENCHMARKS_FOR_SHIFT:
            chosen.append(SUITE_SHIFT_NAME)
        return tuple(chosen)
    unknown = sorted(set(targets) - set(names) - {SUITE_SHIFT_NAME})
    if unknown:
        raise InvalidInputError(f"`targets`: {unknown[0]!r} is not a benchmark of the rounds")
    if not targets:
        raise InvalidInputError("`targets` is empty: nothing to decide")
    if SUITE_SHIFT_NAME in targets and len(names) < MIN_BENCHMARKS_FOR_SHIFT:
        raise InvalidInputError(
            f"the suite-wide shift needs at least {MIN_BENCHMARKS_FOR_SHIFT} benchmarks per "
            f"round, the rounds have {len(names)}")
    return tuple(sorted(targets, key=lambda t: (t == SUITE_SHIFT_NAME, t)))
