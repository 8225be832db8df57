"""The exact distribution of sums of randomly signed integer scores."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from perf_pipeline.analysis.sign_flip import MAX_SCORES, plus_sum_probabilities


@pytest.mark.parametrize("scores", [[], [1], [3, 3], [1, 2, 5, 5, 9], [24] * 7 + [1, 2]])
def test_probabilities_are_the_enumerated_patterns(scores: list[int]) -> None:
    prob = plus_sum_probabilities(scores)
    sums = [sum(q for q, plus in zip(scores, signs, strict=True) if plus)
            for signs in itertools.product((False, True), repeat=len(scores))]
    expected = np.bincount(sums, minlength=sum(scores) + 1) / 2 ** len(scores)
    assert prob == pytest.approx(expected, abs=1e-15)


def test_many_scores_stay_exact_and_sum_to_one() -> None:
    """Counts pass 2^64 after 64 scores: several words per count, and no overflow at the
    limit."""
    from scipy import stats

    prob = plus_sum_probabilities([1] * 300)
    assert prob == pytest.approx(stats.binom.pmf(np.arange(301), 300, 0.5), rel=1e-9)
    assert plus_sum_probabilities([24] * MAX_SCORES).sum() == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("scores", [[0], [2, -1], [1] * (MAX_SCORES + 1)])
def test_bad_scores_are_refused(scores: list[int]) -> None:
    with pytest.raises(ValueError, match="scores"):
        plus_sum_probabilities(scores)
