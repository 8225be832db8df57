"""Sequential interleaved A/B: pull rounds until every target benchmark is decided.

A confirmation run should cost what the question needs: a doubling is obvious after a few
rounds, a 5 % change needs many. Looking at the data after every block of rounds and
stopping when it is clear is only honest if the test stays valid under repeated looks, so:

* **Looks.** After ``min_rounds`` rounds, then every ``block`` rounds, up to ``max_rounds``.
* **Alpha spending.** Look ``j`` may spend ``alpha * (g(t_j) - g(t_{j-1}))`` with the
  Pocock-type spending function ``g(t) = ln(1 + (e - 1) t)`` (Lan & DeMets), ``t`` the
  fraction of ``max_rounds`` seen. The looks' levels add up to at most ``alpha``, so by the
  union bound the chance of any false stop is at most ``alpha`` whatever the correlation
  between looks (conservative; exact group-sequential boundaries would need a normal
  model the heavy tails of real timings do not follow). Pocock-type spending keeps most
  of the level for early looks, where large changes are decided.
* **Several targets.** Each target gets a share of ``alpha`` (Bonferroni over the
  targets; equal shares, or ``weights`` fixed before the rounds, e.g. from the screen):
  the family-wise level of a confirmation stays ``alpha`` without a closed-testing
  procedure across looks.
* **The statistic.** Per round, the log-ratio of each benchmark (candidate over base) minus
  the round's suite-wide factor (the median log-ratio over every benchmark of the round,
  controls included: a process carries its own factor that slows all of its benchmarks
  together, and pairing alone does not cancel it). Each target's mean residual is tested
  with a t statistic whose variance is moderated across the round's benchmarks by
  empirical Bayes (as the run-level screen does), so a handful of rounds already has
  useful degrees of freedom. The suite-wide shift (``SUITE_SHIFT_NAME``) is the mean of
  the factors, tested on their own spread.
* **Stopping.** A target is decided when it is significant at its look level (a
  regression or an improvement, as ``judge`` decides with the threshold) or *cleared*:
  the upper bound of its interval at that level lies below ``clear_ratio`` (default: the
  threshold, or ``1 + min_effect`` when that is larger). Clearing is futility stopping: it
  can only lose power, never add false alarms. The run stops when every target is
  decided or at ``max_rounds``; what is undecided then is inconclusive, with an estimate
  of the rounds that would decide it.

The function is pure: ``rounds`` is any iterable (a generator that measures a round per
``next``, or a recorded corpus), pulled only as far as needed.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from perf_pipeline.analysis.baseline import SUITE_SHIFT_NAME
from perf_pipeline.analysis.runlevel import MIN_BENCHMARKS_FOR_SHIFT, _moderate
from perf_pipeline.analysis.tails import norm_isf, norm_sf, t_isf, t_sf
from perf_pipeline.analysis.verdict import Estimate, judge
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import TIME_METRIC, BenchmarkComparison, SuiteComparison, Verdict

__all__ = [
    "DEFAULT_MAX_ROUNDS",
    "DEFAULT_MIN_EFFECT",
    "DEFAULT_MIN_ROUNDS",
    "SequentialResult",
    "look_levels",
    "sequential_ab",
]

DEFAULT_MIN_ROUNDS = 5
DEFAULT_MAX_ROUNDS = 20
#: Smallest slowdown a confirmation tries to rule out before it clears a benchmark.
DEFAULT_MIN_EFFECT = 0.05
#: One-sided level of the interval that clears a benchmark (futility; no alpha is spent).
CLEAR_LEVEL = 0.05
#: Shape of the alpha-spending function (Hwang-Shih-DeCani): 1 spends early like
#: Pocock's design, -4 saves the level for the last look like O'Brien-Fleming's.
SPENDING_GAMMA = 1.0
#: A target whose conditional power at the last look falls below this is cleared.
FUTILITY_POWER = 0.02


@dataclass(frozen=True, slots=True)
class SequentialResult:
    """A sequential A/B comparison and how far it went."""

    comparison: SuiteComparison
    rounds_used: int
    looks: tuple[int, ...]  # rounds after which the data were looked at
    decided_at: Mapping[str, int]  # target -> the round count at which it was decided
    stopped: str  # "decided", "max_rounds" or "exhausted" (the rounds ran out)

    @property
    def undecided(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.comparison.results if r.name not in self.decided_at)


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


def _check_args(threshold: float, alpha: float, min_rounds: int, max_rounds: int, block: int,
                min_effect: float) -> None:
    if not (math.isfinite(threshold) and threshold >= 1.0):
        raise InvalidInputError(f"`threshold` must be a finite number >= 1, got {threshold!r}")
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError(f"`alpha` must be in (0, 1), got {alpha!r}")
    if not 2 <= min_rounds <= max_rounds:
        raise InvalidInputError(
            f"`min_rounds` must be at least 2 and at most `max_rounds` ({max_rounds}), "
            f"got {min_rounds!r}")
    if block < 1:
        raise InvalidInputError(f"`block` must be at least 1, got {block!r}")
    if not (math.isfinite(min_effect) and min_effect >= 0):
        raise InvalidInputError(f"`min_effect` must be >= 0, got {min_effect!r}")


def _log_ratios(rnd: Mapping[str, tuple[float, float]], names: tuple[str, ...], index: int
                ) -> np.ndarray:
    missing = [n for n in names if n not in rnd]
    if missing:
        raise InvalidInputError(f"round {index}: benchmark {missing[0]!r} is missing")
    out = np.empty(len(names))
    for i, name in enumerate(names):
        try:
            base, cand = (float(v) for v in rnd[name])
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"round {index}, benchmark {name!r}: expected a (base, candidate) pair") from exc
        if not (math.isfinite(base) and math.isfinite(cand) and base > 0 and cand > 0):
            raise InvalidInputError(
                f"round {index}, benchmark {name!r}: values must be finite and > 0, "
                f"got ({base!r}, {cand!r})")
        out[i] = math.log(cand) - math.log(base)
    return out


@dataclass(frozen=True, slots=True)
class _Look:
    mean: np.ndarray  # per tested name (targets order)
    se: np.ndarray
    df: np.ndarray
    n: int


def _analyse(d: np.ndarray, names: tuple[str, ...], targets: tuple[str, ...]) -> _Look:
    """Mean residual log-ratio, its standard error and df, per target (``d``: rounds x B)."""
    n = d.shape[0]
    use_factor = len(names) >= MIN_BENCHMARKS_FOR_SHIFT
    factor = np.median(d, axis=1) if use_factor else np.zeros(n)
    resid = d - factor[:, None]
    var = np.var(resid, axis=0, ddof=1)
    # Removing a median that each benchmark took part in leaves slightly less spread than
    # there is; the moderation across the suite then pools what is left.
    mod_var, mod_df = _moderate(var[None, :], np.full((1, len(names)), n - 1.0))
    mod_var, mod_df = mod_var[0], mod_df[0]
    means, ses, dfs = [], [], []
    for target in targets:
        if target == SUITE_SHIFT_NAME:
            means.append(float(np.mean(factor)))
            ses.append(float(np.std(factor, ddof=1) / math.sqrt(n)))
            dfs.append(float(n - 1))
            continue
        i = names.index(target)
        means.append(float(np.mean(resid[:, i])))
        ses.append(float(math.sqrt(max(mod_var[i], 0.0) / n)))
        dfs.append(float(mod_df[i]) if np.isfinite(mod_df[i]) and mod_df[i] > 0 else n - 1.0)
    return _Look(mean=np.array(means), se=np.array(ses), df=np.array(dfs), n=n)


def _p_value(mean: float, se: float, df: float, alternative: str) -> float:
    if alternative == "greater":
        if se <= 0:
            return 0.0 if mean > 0 else 1.0
        return t_sf(mean / se, df)
    if se <= 0:
        return 1.0 if mean == 0 else 0.0
    return 2.0 * t_sf(abs(mean) / se, df)


def _futile(look: _Look, i: int, final_level: float, max_rounds: int, log_effect: float,
            alternative: str) -> bool:
    """Conditional power below ``FUTILITY_POWER``: even if the change went on at least as
    large as ``log_effect`` (or as observed, if larger), the last look would most likely
    not find it. Non-binding: stopping here can only lose power, never add false alarms."""
    n = look.n
    if n >= max_rounds:
        return False
    mean, se = float(look.mean[i]), float(look.se[i])
    if se <= 0:
        return False
    sd = se * math.sqrt(n)  # per round
    level = final_level if alternative == "greater" else final_level / 2.0
    crit = norm_isf(level) * sd * math.sqrt(max_rounds)
    rest = max_rounds - n
    drift = max(mean, log_effect) * rest
    power = norm_sf((crit - mean * n - drift) / (sd * math.sqrt(rest)))
    return power < FUTILITY_POWER


def _estimate(look: _Look, i: int, level: float, p: float, n_rounds: int,
              alternative: str) -> Estimate:
    mean, se, df = float(look.mean[i]), float(look.se[i]), float(look.df[i])
    side = level if alternative == "greater" else level / 2.0
    q = float(t_isf(side, df)) if se > 0 else 0.0
    return Estimate(
        log_ratio=mean, log_ci_low=mean - q * se, log_ci_high=mean + q * se, p_value=p,
        n_baseline=n_rounds, n_current=n_rounds,
        method="sequential interleaved A/B: per-round log-ratios, round's suite factor "
               "removed, moderated t, Pocock-type alpha spending",
        note=f"{n_rounds} rounds", n_units=n_rounds, unit="rounds",
        var_scalable=se * se * n_rounds)


def sequential_ab(
    rounds: Iterable[Mapping[str, tuple[float, float]]],
    *,
    threshold: float = 1.2,
    alpha: float = 0.01,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    min_rounds: int = DEFAULT_MIN_ROUNDS,
    block: int = 1,
    targets: Collection[str] | None = None,
    min_effect: float = DEFAULT_MIN_EFFECT,
    alternative: str = "two-sided",
    weights: Mapping[str, float] | None = None,
) -> SequentialResult:
    """Decide ``targets`` (default: every benchmark of the first round, and the shift).

    Benchmarks of a round that are not targets are controls: they only help estimate
    the round's suite-wide factor. Every round must carry every benchmark of the first.
    ``weights`` (positive, by target; default equal) split the level between the targets
    (weighted Bonferroni): a target with weight ``w`` gets ``alpha * w / sum(weights)``.
    They must not depend on the rounds (e.g. the screen's evidence, from other processes).
    Raises ``InvalidInputError`` for bad options or values, naming the round and benchmark.
    """
    _check_args(threshold, alpha, min_rounds, max_rounds, block, min_effect)
    if alternative not in ("two-sided", "greater"):
        raise InvalidInputError(
            f"`alternative` must be 'two-sided' or 'greater', got {alternative!r}")
    looks = look_levels(alpha=alpha, min_rounds=min_rounds, max_rounds=max_rounds, block=block,
                        gamma=SPENDING_GAMMA)
    look_at = dict(looks)
    final_level = looks[-1][1]
    rows: list[np.ndarray] = []
    names: tuple[str, ...] = ()
    tested: tuple[str, ...] = ()
    share = np.empty(0)
    decided: dict[str, tuple[int, Estimate, float, float, str]] = {}
    last: tuple[_Look, float] | None = None
    log_clear = math.log(max(threshold, 1.0 + min_effect))
    stopped = "exhausted"
    seen_looks: list[int] = []
    iterator = iter(rounds)
    while len(rows) < max_rounds:
        try:
            rnd = next(iterator)
        except StopIteration:
            break
        if not rows:
            names = tuple(sorted(rnd))
            tested = _targets(names, targets)
            share = _shares(tested, weights)
        rows.append(_log_ratios(rnd, names, len(rows) + 1))
        n = len(rows)
        if n not in look_at:
            continue
        seen_looks.append(n)
        look = _analyse(np.array(rows), names, tested)
        last = (look, look_at[n])
        for i, target in enumerate(tested):
            if target in decided:
                continue
            level = look_at[n] * share[i]
            p = _p_value(float(look.mean[i]), float(look.se[i]), float(look.df[i]),
                         alternative)
            est = _estimate(look, i, level, p, n, alternative)
            verdict = judge(est, threshold=threshold, alpha=level).verdict
            clear_high = float(look.mean[i]) + float(
                t_isf(CLEAR_LEVEL, float(look.df[i]))) * float(look.se[i])
            if verdict in (Verdict.REGRESSION, Verdict.IMPROVEMENT):
                decided[target] = (n, est, p, level, "")
            elif clear_high < log_clear:
                decided[target] = (n, est, p, level, (
                    f"cleared after {n} rounds: a slowdown beyond {math.exp(log_clear):.3g}x "
                    f"is ruled out ({1 - CLEAR_LEVEL:.0%} upper bound "
                    f"{math.exp(clear_high):.3f})"))
            elif _futile(look, i, final_level * share[i], max_rounds, log_clear,
                         alternative):
                decided[target] = (n, est, p, level, (
                    f"cleared after {n} rounds: even a slowdown of "
                    f"{math.exp(max(float(look.mean[i]), log_clear)):.3g}x from here on "
                    f"would most likely not be significant by round {max_rounds} "
                    f"(conditional power < {FUTILITY_POWER:.0%})"))
        if len(decided) == len(tested):
            stopped = "decided"
            break
    else:
        stopped = "max_rounds"
    if not rows:
        raise InvalidInputError("`rounds` gave no round at all")
    if last is None:
        raise InvalidInputError(
            f"`rounds` gave {len(rows)} round(s), fewer than `min_rounds` ({min_rounds})")
    look, look_level = last
    results = []
    for i, target in enumerate(tested):
        if target in decided:
            _, est, p, lvl, _ = decided[target]
        else:
            lvl = look_level * share[i]
            p = _p_value(float(look.mean[i]), float(look.se[i]), float(look.df[i]),
                         alternative)
            est = _estimate(look, i, lvl, p, look.n, alternative)
        # Scale p so that "adjusted p < alpha" holds exactly when p beat its look level.
        adjusted = min(1.0, p * alpha / lvl)
        comp = judge(est, threshold=threshold, alpha=alpha, adjusted_p=adjusted)
        if target in decided and comp.verdict not in (Verdict.REGRESSION, Verdict.IMPROVEMENT):
            # Ruled out by its interval: unchanged; stopped for futility: not confirmed.
            ruled_out = "ruled out" in decided[target][4]
            comp = replace(comp, verdict=Verdict.UNCHANGED if ruled_out else
                           Verdict.INCONCLUSIVE, reason=f"{decided[target][4]}; {comp.reason}")
        results.append(BenchmarkComparison(name=target, metric=TIME_METRIC, comparison=comp))
    comparison = SuiteComparison(results=tuple(results), correction="sequential-bonferroni",
                                 alpha=alpha)
    return SequentialResult(comparison=comparison, rounds_used=len(rows),
                            looks=tuple(seen_looks),
                            decided_at={t: v[0] for t, v in decided.items()},
                            stopped=stopped)


def _shares(tested: tuple[str, ...], weights: Mapping[str, float] | None) -> np.ndarray:
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


def _targets(names: tuple[str, ...], targets: Collection[str] | None) -> tuple[str, ...]:
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
