"""What a sequential A/B returns: the comparison, how far the rounds went, and why.

A confirmation's verdicts alone do not say what it cost or why it stopped, and callers
(the gate, ``perf-pipeline ab``, the replay studies) report both; nor whether the
machine was noisier than its variance prior promised, which a user should hear about
since it makes small changes harder to find. So the result carries them, beside the
``SuiteComparison``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from perf_pipeline.analysis.ab_left_out import LeftOut
from perf_pipeline.model import SuiteComparison

__all__ = ["STALE_PRIOR_NOTE", "SequentialResult"]

#: From this variance ratio on, a result says the machine was noisier than its recording
#: (``SequentialResult.stale_prior_note``). Higher than ``PRIOR_SLACK``: with a correct
#: prior, the median ratio of three benchmarks at a first look (4 degrees of freedom each)
#: passes 1.5 by chance in about 10 % of A/Bs, 2 in about 2.4 % (chi-squared with 4 df,
#: Gaussian rounds: computed, not replayed).
STALE_PRIOR_NOTE = 2.0


@dataclass(frozen=True, slots=True)
class SequentialResult:
    """A sequential A/B comparison and how far it went."""

    comparison: SuiteComparison
    rounds_used: int
    looks: tuple[int, ...]  # rounds after which the data were looked at
    decided_at: Mapping[str, int]  # target -> the round count at which it was decided
    #: "decided", "max_rounds", "exhausted" (the rounds ran out), "lost" (what was
    #: still open was no longer measured on both sides) or "unjudgeable" (too few
    #: benchmarks were still measured to remove a round's suite factor, so no later
    #: round could count).
    stopped: str
    #: Rounds summed over the targets still open in each (what a narrowing run measured).
    target_rounds: int = 0
    #: At the last look, the rounds' variance over the variance prior's (the median over
    #: the benchmarks; None without a prior or a benchmark the prior knows). Above
    #: ``PRIOR_SLACK`` the prior's variances were scaled up to the machine's noise.
    noise_over_prior: float | None = None
    #: Benchmarks left out of the A/B, neither judged nor controls (``ab_left_out``: a
    #: round of 0.0 s), in the order met; not in ``comparison``.
    left_out: tuple[LeftOut, ...] = ()

    @property
    def undecided(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.comparison.results if r.name not in self.decided_at)

    @property
    def stale_prior_note(self) -> str | None:
        """What a user should know when the machine was noisier than its recording: the
        verdicts still hold (the prior was scaled up), but small changes are harder to
        find than the recording promised, and the recording may be out of date."""
        k = self.noise_over_prior
        if k is None or k < STALE_PRIOR_NOTE:
            return None
        return (f"This machine was noisier in this A/B than in its noise recording: "
                f"{k:.1f}x the recorded variance per round (spread x{math.sqrt(k):.1f}), so "
                f"the variance prior was scaled up to it. The verdicts hold; small changes "
                f"are harder to find than the recording promised. If this persists, record "
                f"again (`perf-pipeline calibrate`).")

