"""The exact null distribution of a sign-flip statistic with integer scores.

Under the null that each pair's two sides are exchangeable, each nonzero score enters
the statistic with a + or a - sign, all 2^m patterns equally likely. The sum ``S`` of the
scores that get a + has as many patterns as the coefficient of z^S in prod(1 + z^q):
exact integers, which one Python int holds as packed 64-bit words, so each factor is
one shift and one add in C. The signed-rank test (scores: twice the mid-ranks) and the
sequential A/B's clipped-score test share it. A float array updated per factor was 2-3x
slower, and scipy's permutation test of the signed-rank statistic with ties (2^n
resamples through the statistic) took 150 ms a call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["plus_sum_probabilities"]

#: Enough for ``confirm_max_rounds``' cap: 2^-m must not underflow to 0 in its words'
#: weights, and each probability stays a normal float.
MAX_SCORES = 1000


def plus_sum_probabilities(scores: Sequence[int]) -> np.ndarray:
    """P(S = s) for s = 0 .. sum(scores), S the sum of the scores signed + when each
    sign is a fair coin. Scores must be positive integers (a zero score has no sign to
    flip: leave it out)."""
    if len(scores) > MAX_SCORES:
        raise ValueError(f"at most {MAX_SCORES} scores, not {len(scores)}")
    if any(q <= 0 for q in scores):
        raise ValueError("scores must be positive integers")
    m, total = len(scores), int(sum(scores))
    words = m // 64 + 1  # a count is below 2^m
    poly = 1
    for score in scores:
        poly += poly << (int(score) * 64 * words)
    raw = np.frombuffer(poly.to_bytes((total + 1) * 8 * words, "little"), dtype="<u8")
    return raw.reshape(total + 1, words).astype(float) @ (2.0 ** (64 * np.arange(words) - m))
