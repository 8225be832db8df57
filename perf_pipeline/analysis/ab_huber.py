"""The robust half of a look at an A/B's rounds: Huber-clipped residuals, their location
and the exact sign-flip test of their scores.

Real timings have heavy tails: one disturbed round inflates the t's variance, and a
small change then waits for rounds it may never get. Clipping each residual at
``HUBER_C`` robust scales bounds what one round can weigh. ``ab_residuals`` computes
both per target at each look; ``ab_look`` weighs them against the t.
"""

from __future__ import annotations

import math

import numpy as np

from perf_pipeline.analysis.sign_flip import plus_sum_probabilities

__all__ = ["HUBER_C", "SCORE_GRID", "huber_location", "median_abs_scale",
           "sign_flip_p_values"]

#: Huber's clipping constant, in robust scale units, of the sign-flip test's scores.
HUBER_C = 1.5
#: Grid of the scores (per scale unit): integer scores make the sign-flip distribution
#: exact by convolution, and rounding a function of |x| keeps the test exact.
SCORE_GRID = 16


def median_abs_scale(x: np.ndarray) -> np.ndarray:
    """1.4826 * median |x| of each column (of a 1-D ``x``: one number): a function of |x|
    only, the same under every swap of sides."""
    return 1.4826 * np.median(np.abs(x), axis=0)


def sign_flip_p_values(x: np.ndarray, scale: float | None = None) -> tuple[float, float]:
    """(one-sided "greater", two-sided) exact p-values of the sign-flip test of clipped
    scores ``sum(sign(x) * q)``, ``q = round(SCORE_GRID * min(|x| / s, HUBER_C))``.

    Under the null that each round's two sides are exchangeable, a round's residuals
    change sign together when its sides swap (the round's factor, a median, swaps
    with them), and ``q`` depends on |x| only: the 2^n equally likely sign patterns give
    the statistic's exact distribution, whatever the noise's tails. Clipping at
    ``HUBER_C`` scales keeps one disturbed round from drowning the others, which the
    t statistic's variance cannot avoid on heavy-tailed real timings. ``scale`` is
    ``median_abs_scale(x)`` when the caller has it already (``huber_location`` of the same
    columns): the median was a fifth of a replay's time.
    """
    s = median_abs_scale(x) if scale is None else scale
    if not s > 0:
        return 1.0, 1.0
    q = np.rint(SCORE_GRID * np.minimum(np.abs(x) / s, HUBER_C)).astype(np.int64)
    stat = int(np.sum(np.sign(x).astype(np.int64) * q))
    scores = q[q > 0].tolist()
    total = sum(scores)
    prob = plus_sum_probabilities(scores)  # the statistic is 2 S - total
    greater = float(prob[(stat + total) // 2:].sum())
    a = abs(stat)
    two = float(prob[(a + total) // 2:].sum() + prob[:(total - a) // 2 + 1].sum())
    if stat == 0:
        two = 1.0
    return min(1.0, greater), min(1.0, two)


def huber_location(x: np.ndarray, scale: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(location, sandwich standard error) of each column of ``x`` (rounds x targets),
    Huber's psi. All columns at once, each iterated until its own step is negligible:
    one column at a time, the small numpy calls of this loop were 30 % of a replay.
    ``scale``: ``median_abs_scale(x)``, if the caller has it."""
    n = x.shape[0]
    s = median_abs_scale(x) if scale is None else scale
    mu = np.median(x, axis=0)
    spread = s > 0
    scale = np.where(spread, s, 1.0)
    # Every column is stepped at each pass, a converged one by exactly 0.0: the same
    # arithmetic per column as stepping the live ones alone, without indexing them out
    # (ufuncs, not their wrappers: np.mean is this sum over n; a fifth of a replay).
    live = spread.copy()
    bound = 1e-12 * scale
    for _ in range(50):
        if not live.any():
            break
        psi = np.maximum(np.minimum((x - mu) / scale, HUBER_C), -HUBER_C)
        step = np.where(live, scale * (np.add.reduce(psi, axis=0) / n), 0.0)
        mu += step
        live &= ~(np.abs(step) < bound)
    u = (x - mu) / scale
    inside = np.maximum(np.mean(np.abs(u) < HUBER_C, axis=0), 1.0 / n)
    psi = np.clip(u, -HUBER_C, HUBER_C)
    se = scale * np.sqrt(np.mean(psi * psi, axis=0)) / inside / math.sqrt(n)
    return mu, np.where(spread, se, 0.0)
