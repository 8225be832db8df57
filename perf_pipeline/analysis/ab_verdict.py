"""A target's verdict in a sequential A/B's result, from its last evidence.

A target was tested at its own look level, a fraction of ``alpha``; its p is scaled so
that "adjusted p < alpha" holds exactly when it beat that level, and the result reads
like any other comparison. How the run ended for the target then overrides what ``judge``
would say of its evidence alone: a target cleared by its interval is unchanged, one
given up for futility or no longer measured is inconclusive (never a reason to throw the
run away), and one left open when too few benchmarks remained to remove a round's suite
factor is inconclusive too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from perf_pipeline.analysis.baseline import SUITE_SHIFT_NAME
from perf_pipeline.analysis.own_change import OwnRatio, judge_by_own_ratio, own_estimate
from perf_pipeline.analysis.verdict import Estimate, judge
from perf_pipeline.model import BenchmarkComparison, Comparison, Verdict

__all__ = ["final_comparison", "lost_comparison", "own_calls_if_shift_called"]


def _judged(est: Estimate, p: float, level: float, *, threshold: float,
            alpha: float) -> Comparison:
    # Scale p so that "adjusted p < alpha" holds exactly when p beat its look level.
    return judge(est, threshold=threshold, alpha=alpha, adjusted_p=min(1.0, p * alpha / level))


def lost_comparison(est: Estimate, p: float, level: float, *, threshold: float,
                    alpha: float, lost_at: int) -> Comparison:
    """A target no longer measured on both sides from round ``lost_at`` on, undecided at
    its last look (``est``, ``p`` and ``level`` are that look's)."""
    comp = _judged(est, p, level, threshold=threshold, alpha=alpha)
    return replace(comp, verdict=Verdict.INCONCLUSIVE, reason=(
        f"not measured on both sides from round {lost_at} on; undecided at "
        f"its last look; {comp.reason}"))


def final_comparison(est: Estimate, p: float, level: float, *, threshold: float,
                     alpha: float, note: str | None,
                     unjudgeable_after: int | None = None) -> Comparison:
    """A target measured to the end. ``note``: None while undecided, else why it was
    decided ("" when significant); ``unjudgeable_after``: the rounds after which the run
    stopped because no later round could count (an undecided target only)."""
    comp = _judged(est, p, level, threshold=threshold, alpha=alpha)
    if unjudgeable_after is not None:
        comp = replace(comp, verdict=Verdict.INCONCLUSIVE, significant=False, reason=(
            f"stopped after round {unjudgeable_after}: too few benchmarks were still "
            f"measured to remove a round's suite factor; undecided at its last look; "
            f"{comp.reason}"))
    if note is not None and ("ruled out" in note or comp.verdict not in (
            Verdict.REGRESSION, Verdict.IMPROVEMENT)):
        # Ruled out by its interval: unchanged; stopped for futility: not confirmed.
        ruled_out = "ruled out" in note
        comp = replace(comp, verdict=Verdict.UNCHANGED if ruled_out else
                       Verdict.INCONCLUSIVE, reason=f"{note}; {comp.reason}",
                       # a cleared target is decided: no "rounds that would decide"
                       samples_needed=None if ruled_out else comp.samples_needed,
                       significant=False)
    return comp


def own_calls_if_shift_called(
        results: list[BenchmarkComparison], own_seen: Mapping[str, OwnRatio | None],
        lost: Mapping[str, int], tested: tuple[str, ...], share: np.ndarray, *,
        threshold: float, alpha: float, alternative: str) -> list[BenchmarkComparison]:
    """With the suite-wide shift called, each benchmark's own call at its last look, at
    its whole share of ``alpha`` (``own_change.judge_by_own_ratio``)."""
    shift = next((r.comparison for r in results if r.name == SUITE_SHIFT_NAME), None)
    if shift is None or shift.verdict not in (Verdict.REGRESSION, Verdict.IMPROVEMENT):
        return results
    out = []
    for r in results:
        own = own_seen.get(r.name)
        if r.name != SUITE_SHIFT_NAME and r.name not in lost and own is not None:
            level = float(share[tested.index(r.name)]) * alpha
            est = own_estimate(own, level)
            if est is not None:
                own_comp = final_comparison(est, est.p_value, level, threshold=threshold,
                                            alpha=alpha, note=None)
                if alternative == "two-sided" or own_comp.verdict is Verdict.REGRESSION:
                    r = replace(r, comparison=judge_by_own_ratio(r.comparison, own_comp,
                                                                 shift))
        out.append(r)
    return out
