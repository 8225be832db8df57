"""A prior for each benchmark's per-round spread in an A/B, from this machine's recorded noise.

At its first looks a sequential A/B estimates each benchmark's spread from 5 or 6 rounds:
4 or 5 degrees of freedom, and at the tiny level a look may spend (α 0.01 split over
the targets and the looks) the t's critical value is 13-14. A doubling whose rounds
happen to spread a little more than usual then waits for the next looks, whose levels
are thinner still. The machine's noise was recorded before (``perf-pipeline calibrate``:
interleaved pairs of one commit), so each benchmark's spread per round is known roughly
in advance. Pooling the rounds' variance with that prior, worth ``df`` rounds (the
moderated t of limma, Smyth 2004, with the prior from other data instead of from the
other benchmarks), gives the first look ``n - 1 + df`` degrees of freedom.

The prior keeps the recorded rounds' log-ratios, not just a spread per benchmark: a
target's residual spread depends on what its round's factor is taken from (the median of
two controls moves more than that of nine benchmarks), so the prior spread is computed
the way the A/B at hand computes its residuals (``log_variance``). It is the plain second
moment, tails included: the estimator of the rounds' own variance, so pooling averages
like with like (a robust spread, smaller on heavy-tailed timings, made an
earlier one-process design confirm unchanged code). A target the recording lacks, or
most of whose factor it lacks, keeps the plain t.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from perf_pipeline.errors import InvalidInputError

__all__ = ["MIN_PRIOR_ROUNDS", "PRIOR_DF", "VariancePrior", "variance_prior"]

#: What the prior is worth, in rounds' degrees of freedom. 4 decided every replayed
#: doubling at the first look at 5 and 9 benchmarks with no A/A alarm; 8 gave 1 alarm in
#: 600 (9 benchmarks).
PRIOR_DF = 4.0
#: Fewer recorded rounds than this make a spread too rough to lend anyone.
MIN_PRIOR_ROUNDS = 10


@dataclass(frozen=True, slots=True, eq=False)
class VariancePrior:
    """Recorded rounds of one commit against itself, as log-ratios (rounds x ``names``),
    worth ``df`` degrees of freedom; ``source`` says where they came from."""

    names: tuple[str, ...]
    log_ratios: np.ndarray = field(repr=False)
    df: float = PRIOR_DF
    source: str = ""
    _cache: dict[tuple[str, tuple[str, ...]], float | None] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = tuple(str(n) for n in self.names)
        d = np.array(self.log_ratios, dtype=float, copy=True)
        if d.ndim != 2 or d.shape[1] != len(names) or len(set(names)) != len(names):
            raise InvalidInputError(
                f"variance prior: {d.shape} log-ratios for {len(names)} distinct names")
        if d.shape[0] < MIN_PRIOR_ROUNDS:
            raise InvalidInputError(
                f"variance prior: {d.shape[0]} recorded round(s), at least "
                f"{MIN_PRIOR_ROUNDS} needed")
        if not np.isfinite(d).all():
            raise InvalidInputError("variance prior: a log-ratio is not finite")
        if not (math.isfinite(self.df) and self.df > 0):
            raise InvalidInputError(f"variance prior: df must be finite and > 0, got {self.df!r}")
        d.flags.writeable = False
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "log_ratios", d)

    @property
    def rounds(self) -> int:
        return int(self.log_ratios.shape[0])

    def log_variance(self, target: str, factor_from: Sequence[str]) -> float | None:
        """The recorded variance per round of ``target``'s log-ratio less the round's
        factor, the median of ``factor_from`` (none removed if empty), as the A/B removes
        it. The factor is taken from those of ``factor_from`` the recording has (a
        benchmark added since barely moves a median), if at least two and at least half
        of them. None when the recording lacks the target, or that much of the factor, or
        shows no spread (a zero prior would make every difference look certain)."""
        key = (target, tuple(sorted(factor_from)))
        if key not in self._cache:
            self._cache[key] = self._variance(target, key[1])
        return self._cache[key]

    def _variance(self, target: str, factor_from: tuple[str, ...]) -> float | None:
        index = {n: i for i, n in enumerate(self.names)}
        recorded = [index[n] for n in factor_from if n in index]
        if target not in index or (factor_from and (
                len(recorded) < 2 or 2 * len(recorded) < len(factor_from))):
            return None
        # When the target is in its own factor (no controls) and part of the factor is
        # not recorded, the median over fewer benchmarks absorbs more of the target's own
        # noise: 3 of 5 recorded gave a variance 13 % low, well within the slack the A/B
        # allows a prior before scaling it up (``ab_residuals.PRIOR_SLACK``).
        x = self.log_ratios[:, index[target]]
        if factor_from:
            x = x - np.median(self.log_ratios[:, recorded], axis=1)
        # The second moment about 0, not about the mean: the recording's pairs ran in one
        # order, the A/B draws each round's order at random, so an order effect of the
        # machine is part of the A/B's variance under no change.
        var = float(np.mean(x * x))
        return var if var > 0 else None


def variance_prior(rounds: Iterable[Mapping[str, tuple[float, float]]], *,
                   df: float = PRIOR_DF, source: str = "") -> VariancePrior:
    """The prior from recorded rounds ``{name: (base, candidate)}`` of one commit against
    itself, measured the way the A/B measures (same processes per side, same round value).

    Raises ``InvalidInputError`` with fewer than ``MIN_PRIOR_ROUNDS`` rounds, a round
    missing a benchmark of the first, or a value that is not a positive number.
    """
    rows: list[list[float]] = []
    names: tuple[str, ...] = ()
    for index, rnd in enumerate(rounds, start=1):
        if not rows:
            names = tuple(sorted(rnd))
        row = []
        for name in names:
            try:
                pair = rnd[name]
                if isinstance(pair, (str, bytes)):  # "12" unpacked as base 1, candidate 2
                    raise TypeError("a string is not a pair")
                base, cand = (float(v) for v in pair)
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidInputError(
                    f"variance prior: round {index} has no (base, candidate) pair for "
                    f"{name!r}") from exc
            if not (math.isfinite(base) and math.isfinite(cand) and base > 0 and cand > 0):
                raise InvalidInputError(
                    f"variance prior: round {index}, {name!r}: values must be finite and "
                    f"> 0, got ({base!r}, {cand!r})")
            row.append(math.log(cand) - math.log(base))
        rows.append(row)
    return VariancePrior(names=names, log_ratios=np.array(rows).reshape(len(rows), len(names)),
                         df=df, source=source)
