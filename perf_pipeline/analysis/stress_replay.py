"""Replaying recorded stress runs of one commit through the stress gate.

A recording is many stress runs of ONE commit on one machine
(``benchmarks/stress_noise.py``): every pair of them is an unchanged commit judged
against its predecessor. ``replay_stress_gate`` draws a screen pair and, when the screen
flags something, fresh pairs for the confirmation, all from runs not used before in the
trial, and runs them through the product's own code (``compare_stress``, then
``confirm_stress``). ``inject_stress_change`` makes the candidate side of every pair
worse by a known amount, so the same replay measures power.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from perf_pipeline.analysis.stress import bucket_low, compare_stress
from perf_pipeline.analysis.stress_confirm import (
    STRESS_CONFIRM_PAIRS,
    confirm_stress,
    flagged_stress,
)
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import StressFigure, Verdict

__all__ = ["INJECTIONS", "StressGateRates", "inject_stress_change", "replay_stress_gate",
           "scale_histogram_json", "screen_pair_rates"]

#: The changes a stress calibration replays for power: (figure, factor), each about the
#: size of its rule (throughput ratio 1.3, p99 ratio 1.5, one step, exponent +0.25).
INJECTIONS = (("throughput_ops_s", 1.5), ("p99_s", 2.0), ("p99_s", 3.0),
              ("breaking_point", 2.0), ("exponent", 0.5))

Run = Sequence[StressFigure]


def _bucket_index(value_ns: int, sub_bits: int) -> int:
    exact, half = 1 << sub_bits, 1 << (sub_bits - 1)
    if value_ns < exact:
        return value_ns
    shift = value_ns.bit_length() - sub_bits
    return exact + (shift - 1) * half + ((value_ns >> shift) - half)


def scale_histogram_json(histogram_json: str, factor: float) -> str:
    """The stored latency histogram with every latency multiplied by ``factor``."""
    data = json.loads(histogram_json)
    sub_bits = int(data["sub_bits"])
    counts: dict[int, int] = {}
    for index, n in data["buckets"]:
        target = _bucket_index(int(bucket_low(int(index), sub_bits) * factor), sub_bits)
        counts[target] = counts.get(target, 0) + int(n)
    data["buckets"] = [[i, counts[i]] for i in sorted(counts)]
    data["total_ns"] = int(int(data.get("total_ns") or 0) * factor)
    for name in ("min_ns", "max_ns"):
        if data.get(name) is not None:
            data[name] = int(int(data[name]) * factor)
    return json.dumps(data, sort_keys=True)


def inject_stress_change(run: Run, figure: str, factor: float) -> tuple[StressFigure, ...]:
    """``run`` made worse in ``figure`` of every scenario that has it, by ``factor``:
    throughput divided (and its operation count), every latency of the p99's histogram
    multiplied, the breaking point divided (one step lower at ``factor`` 2), the scaling
    exponent and its interval raised by ``factor`` (an additive change), a leak set."""
    if not factor > 0:
        raise InvalidInputError(f"factor must be > 0, not {factor!r}")
    out = []
    for f in run:
        if f.figure != figure or f.value is None:
            out.append(f)
        elif figure == "throughput_ops_s":
            out.append(replace(f, value=f.value / factor,
                               count=None if f.count is None else int(f.count / factor)))
        elif figure == "p99_s":
            out.append(replace(f, value=f.value * factor, histogram_json=(
                scale_histogram_json(f.histogram_json, factor) if f.histogram_json
                else None)))
        elif figure == "breaking_point":
            out.append(replace(f, value=f.value / factor))
        elif figure == "exponent":
            out.append(replace(f, value=f.value + factor,
                               low=None if f.low is None else f.low + factor,
                               high=None if f.high is None else f.high + factor))
        elif figure == "leak":
            out.append(replace(f, value=1.0))
        else:
            raise InvalidInputError(f"no injection for stress figure {figure!r}")
    return tuple(out)


def screen_pair_rates(runs: Sequence[Run], *, alpha: float = 0.01
                      ) -> tuple[float, dict[tuple[str, str], float]]:
    """(share of ordered pairs of distinct runs with at least one screen "regression",
    {(scenario, figure): share of pairs flagging it}): the screen alone, every pair."""
    pairs = flagged = 0
    by_figure: dict[tuple[str, str], int] = {}
    for i, base in enumerate(runs):
        for j, current in enumerate(runs):
            if i == j:
                continue
            pairs += 1
            hits = {(c.scenario, c.figure) for c in compare_stress(base, current, alpha=alpha)
                    if c.verdict is Verdict.REGRESSION}
            flagged += bool(hits)
            for key in hits:
                by_figure[key] = by_figure.get(key, 0) + 1
    if not pairs:
        raise InvalidInputError("the screen's rates need at least two runs")
    return flagged / pairs, {k: v / pairs for k, v in sorted(
        by_figure.items(), key=lambda kv: -kv[1])}


@dataclass(frozen=True, slots=True)
class StressGateRates:
    """Per trial (one commit judged): how often the screen flagged anything, how often a
    regression survived the confirmation, and the pairs the confirmations used."""

    trials: int
    screen_flagged: float
    confirmed: float
    mean_pairs: float
    #: (test, scenario, figure) -> share of trials in which the screen flagged it.
    screen_by_figure: dict[tuple[str, str, str], float]
    #: Share of trials in which the injected figure (of some scenario) was confirmed.
    injected_confirmed: float | None = None


def replay_stress_gate(runs: Sequence[Run], rng: np.random.Generator, *, trials: int,
                       inject: tuple[str, float] | None = None,
                       max_pairs: int = STRESS_CONFIRM_PAIRS,
                       alpha: float = 0.01) -> StressGateRates:
    """Each trial draws distinct runs: a screen pair, then up to ``max_pairs`` fresh
    pairs; ``inject`` = (figure, factor) worsens every candidate side."""
    per_trial = 2 * (1 + max_pairs)
    if len(runs) < per_trial:
        raise InvalidInputError(f"a trial needs {per_trial} distinct runs; the recording "
                                f"has {len(runs)}")

    def candidate(run: Run) -> Run:
        return inject_stress_change(run, *inject) if inject else run

    flagged_n = confirmed_n = pairs_total = injected_n = 0
    by_figure: dict[tuple[str, str, str], int] = {}
    for _ in range(trials):
        order = rng.permutation(len(runs))[:per_trial]
        base, cur = runs[order[0]], candidate(runs[order[1]])
        flagged = flagged_stress(compare_stress(base, cur, alpha=alpha))
        if not flagged:
            continue
        flagged_n += 1
        for key in flagged:
            by_figure[key] = by_figure.get(key, 0) + 1
        fresh = [(runs[order[i]], candidate(runs[order[i + 1]]))
                 for i in range(2, per_trial, 2)]
        result = confirm_stress(flagged, fresh, max_pairs=max_pairs, alpha=alpha)
        pairs_total += result.pairs_used
        confirmed_n += bool(result.confirmed)
        injected_n += bool(inject) and any(t.key[2] == inject[0]  # type: ignore[index]
                                           for t in result.confirmed)
    return StressGateRates(trials=trials, screen_flagged=flagged_n / trials,
                           confirmed=confirmed_n / trials,
                           mean_pairs=pairs_total / flagged_n if flagged_n else 0.0,
                           screen_by_figure={k: v / trials for k, v in by_figure.items()},
                           injected_confirmed=injected_n / trials if inject else None)
