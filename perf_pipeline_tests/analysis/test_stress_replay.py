"""The stress gate on recorded real noise: 64 stress runs of one commit of the example,
recorded on a shared 2-core machine (``benchmarks/stress_noise.py``), replayed through
the product's screen and confirmation, with known injected changes.

The README's figures come from seed 1; these tests use other seeds and margins.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from perf_pipeline.analysis.stress import compare_stress
from perf_pipeline.analysis.stress_replay import (
    INJECTIONS,
    inject_stress_change,
    replay_stress_gate,
    scale_histogram_json,
)
from perf_pipeline.measure.latency_histogram import LatencyHistogram
from perf_pipeline.model import StressFigure, Verdict
from perf_pipeline.store.stress_corpus import load_stress_corpus

CORPUS = (Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "noise"
          / "example-stress-runs.jsonl.gz")


@pytest.fixture(scope="module")
def runs() -> tuple[tuple[StressFigure, ...], ...]:
    return load_stress_corpus(CORPUS)


def test_a_scaled_histogram_is_the_histogram_of_the_scaled_latencies() -> None:
    rng = np.random.default_rng(11)
    values = rng.lognormal(-7, 1.0, size=5000)
    scaled = LatencyHistogram.from_dict(json.loads(scale_histogram_json(
        json.dumps(LatencyHistogram.of_seconds(values).to_dict()), 2.0)))
    direct = LatencyHistogram.of_seconds(values * 2.0)
    assert scaled.count == direct.count
    for q in (0.5, 0.9, 0.99):
        assert scaled.value_at_quantile_s(q) == pytest.approx(
            direct.value_at_quantile_s(q), rel=0.01)


def test_an_injected_change_moves_only_its_figure(runs) -> None:
    run = runs[0]
    worse = {f.key: f for f in inject_stress_change(run, "throughput_ops_s", 2.0)}
    for f in run:
        if f.figure == "throughput_ops_s":
            assert worse[f.key].value == pytest.approx(f.value / 2)  # type: ignore[operator]
        else:
            assert worse[f.key] == f


def test_the_screen_alone_cries_wolf_on_real_noise(runs) -> None:
    """Why the confirmation exists: one same-commit run against another "regresses"."""
    flagged = sum(any(c.verdict is Verdict.REGRESSION for c in compare_stress(a, b))
                  for a, b in zip(runs[::2], runs[1::2], strict=False))
    assert flagged / (len(runs) // 2) >= 0.2


@pytest.mark.slow
@pytest.mark.parametrize("seed", [101, 202])
def test_unchanged_commits_are_almost_never_confirmed(runs, seed: int) -> None:
    rates = replay_stress_gate(runs, np.random.default_rng(seed), trials=1000)
    assert rates.screen_flagged >= 0.5  # the screen flags most runs ...
    assert rates.confirmed <= 0.01      # ... and the confirmation clears them
    assert rates.mean_pairs <= 6        # an unchanged figure costs a few pairs


@pytest.mark.slow
@pytest.mark.parametrize(("figure", "factor", "power"), [
    ("throughput_ops_s", 1.5, 0.9), ("breaking_point", 2.0, 0.9), ("exponent", 0.5, 0.9),
    ("p99_s", 3.0, 0.8)])
def test_real_changes_are_confirmed(runs, figure: str, factor: float, power: float) -> None:
    rates = replay_stress_gate(runs, np.random.default_rng(303), trials=120,
                               inject=(figure, factor))
    assert rates.injected_confirmed is not None and rates.injected_confirmed >= power


@pytest.mark.slow
def test_the_readme_stress_table_is_what_its_command_prints(runs) -> None:
    """The README quotes ``stress_noise.py replay <corpus> 1000 1``: its table must be
    what that command prints (its p99 rows had gone stale: 62.0 % quoted, 56.4 % printed).
    The same calls as the script, in its order, since the injections share one rng."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    rows = {"throughput ÷1.5": ("throughput_ops_s", 1.5), "p99 ×3": ("p99_s", 3.0),
            "p99 ×2": ("p99_s", 2.0), "breaking point one load step lower":
            ("breaking_point", 2.0), "scaling exponent +0.5": ("exponent", 0.5)}
    quoted = {}
    for label, injection in rows.items():
        line = next(x for x in readme.splitlines() if x.startswith(f"| {label}"))
        quoted[injection] = float(line.rstrip(" |").rsplit("|", 1)[1].strip(" %"))
    rng = np.random.default_rng(1)
    unchanged = replay_stress_gate(runs, rng, trials=1000)
    assert f"| **{100 * unchanged.confirmed:.2f} %** of runs |" in readme
    assert f"| {unchanged.mean_pairs:.1f} on average |" in readme
    for injection in INJECTIONS:
        rates = replay_stress_gate(runs, rng, trials=250, inject=injection)
        assert rates.injected_confirmed is not None
        assert round(100 * rates.injected_confirmed, 1) == quoted[injection], injection
