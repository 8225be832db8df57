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

from dataclasses import replace

from perf_pipeline.analysis.verdict import Estimate, judge
from perf_pipeline.model import Comparison, Verdict

__all__ = ["final_comparison", "lost_comparison"]


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
