"""The cost of judging interleaved rounds: the exact tests against what they replaced.

    uv run python benchmarks/judging_speed.py [--calls 200] [--seed 1]

The replay studies (``detection.py``, ``analysis/test_replay.py``) judge hundreds of
thousands of looks, so the per-call cost of the paired tests decides how many trials
fit in a run. Prints, timed in this one run on the same inputs:

* the signed-rank p-value of 5-13 rounds whose log-ratios tie (timings resampled from a
  recording tie often): ``compare.signed_rank_p`` against ``scipy.stats.wilcoxon``,
  which enumerates all 2^n sign patterns through its statistic when rounds tie, and
  checks that both give the same p-value;
* the sign-flip distribution of 20 and 100 clipped scores: ``plus_sum_probabilities``
  (one packed Python int) against a float array updated per score (the former code);
* one ``sequential_ab`` of 9 benchmarks over 20 rounds, as a replay runs it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from scipy import stats

from perf_pipeline.analysis import sequential_ab
from perf_pipeline.analysis.compare import signed_rank_p
from perf_pipeline.analysis.sign_flip import plus_sum_probabilities


def _per_call_us(fn: Callable[[object], object], inputs: list) -> float:
    start = time.perf_counter()
    for x in inputs:
        fn(x)
    return (time.perf_counter() - start) / len(inputs) * 1e6


def _float_array_distribution(scores: list[int]) -> np.ndarray:
    """The former way: a float array of P(sum of ± scores), shifted once per score."""
    total = sum(scores)
    dist = np.zeros(2 * total + 1)
    dist[total] = 1.0
    for q in scores:
        shifted = np.zeros_like(dist)
        shifted[q:] += dist[:-q]
        shifted[:-q] += dist[q:]
        dist = 0.5 * shifted
    return dist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    tied = [np.round(rng.normal(0.03, 0.05, int(rng.integers(5, 14))), 2)
            for _ in range(args.calls)]
    tied = [d for d in tied if np.any(d != 0)]
    ours = _per_call_us(lambda d: signed_rank_p(d, greater=True), tied)
    theirs = _per_call_us(
        lambda d: stats.wilcoxon(d, alternative="greater", zero_method="pratt"), tied)
    worst = max(abs(signed_rank_p(d, greater=True) - float(
        stats.wilcoxon(d, alternative="greater", zero_method="pratt").pvalue)) for d in tied)
    print(f"signed-rank p, 5-13 tied rounds: {ours:9.1f} us a call; scipy.stats.wilcoxon "
          f"{theirs:9.1f} us (x{theirs / ours:.0f}); largest difference in p {worst:.1e}")

    for n in (20, 100):
        scores = [[int(q) for q in rng.integers(1, 25, n)] for _ in range(args.calls)]
        packed = _per_call_us(plus_sum_probabilities, scores)
        floats = _per_call_us(_float_array_distribution, scores)
        print(f"sign-flip distribution of {n:3d} scores: {packed:9.1f} us a call; float "
              f"array per score {floats:9.1f} us (x{floats / packed:.1f})")

    names = [f"b{i}" for i in range(9)]
    looks = []
    for _ in range(max(args.calls // 10, 5)):
        factor = rng.normal(0, 0.03, 20)
        looks.append([{name: (1.0, float(np.exp(f + rng.normal(0, 0.02)))) for name in names}
                      for f in factor])
    per_ab = _per_call_us(lambda rounds: sequential_ab(rounds, threshold=1.0, alpha=0.01),
                          looks)
    print(f"sequential_ab, 9 benchmarks, up to 20 rounds: {per_ab / 1000:9.1f} ms a call")


if __name__ == "__main__":
    main()
