"""Change points and drifts of many seeded histories, exactly as committed.

The scans are tuned on studies, and a speed-up must not move a single result: the
change points (index, size, interval, scan p-value) and the drifts (span, size, interval,
p-value) of each history below are compared with ``data/history_golden.json``, written
by the code they were tuned with: indices exactly, floats (stored as ``float.hex``) to
``REL_TOL``. On the machine that wrote the file they are equal bit for bit; the margin
is for another CPU, whose numpy may take its vectorised ``exp`` and ``log`` and its BLAS
kernels, and round a last bit differently. A change of any rule moves far more. The
histories are
regenerated from seeds: flat, steps, pulses, re-landed slowdowns, ramps, heavy-tailed
noise, coarse timers (ties), short histories, replicates (also ragged), replayed
synthetic recordings with load waves, and non-default options.

A deliberate change of a rule rewrites the file (and says so in its commit)::

    uv run python -m perf_pipeline_tests.analysis.test_history_golden --write
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perf_pipeline.analysis import detect_change_points, detect_drifts, unexplained_drifts
from perf_pipeline.analysis.histories import inject, replay_history
from perf_pipeline.analysis.simulation import NoiseModel, simulate_recording

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "history_golden.json"

Case = tuple[str, Any, dict[str, Any], dict[str, Any]]  # label, values, cp opts, drift opts
#: Floats agree to this relative difference (about 4,500 units in the last place).
REL_TOL = 1e-12


def _noise(rng: np.random.Generator, n: int, cv: float = 0.03) -> np.ndarray:
    return np.exp(rng.normal(0.0, cv, n))


def _cases() -> Iterator[Case]:
    """Every history of the corpus, in a fixed order, from fixed seeds."""
    rng = np.random.default_rng(20261203)
    for n in (3, 5, 8, 10, 12, 15, 20, 29, 30, 35, 47, 60, 90, 120, 200, 300, 600, 1000):
        for _ in range(3):
            yield f"flat {n}", _noise(rng, n), {}, {}
    for _ in range(30):
        n = int(rng.integers(30, 400))
        v = _noise(rng, n, float(rng.uniform(0.005, 0.05)))
        for _ in range(int(rng.integers(1, 4))):
            v = inject(v, kind="step", at=int(rng.integers(1, n)),
                       ratio=float(rng.choice([0.8, 0.9, 0.95, 1.05, 1.1, 1.2, 1.5])))
        yield f"steps {n}", v, {}, {}
    for _ in range(25):
        n = int(rng.integers(40, 300))
        length = int(rng.integers(2, 31))
        v = inject(_noise(rng, n, 0.02), kind="pulse", at=int(rng.integers(5, n - length)),
                   ratio=float(rng.choice([0.8, 1.1, 1.2, 1.3])), length=length)
        yield f"pulse {n}/{length}", v, {}, {}
    for _ in range(30):
        n = int(rng.integers(60, 250))
        since = int(rng.integers(1, 40))  # commits since the re-land
        at = n - since - 12 - 15 - int(rng.integers(0, 20))
        v = inject(inject(_noise(rng, n, float(rng.uniform(0.01, 0.03))), kind="pulse",
                          at=at, ratio=1.25, length=15),
                   kind="step", at=n - since, ratio=1.25)
        yield f"re-landed {n}/{since}", v, {}, {}
    for _ in range(25):
        n = int(rng.integers(40, 200))
        since, length, gap = (int(x) for x in rng.integers((1, 5, 3), (12, 25, 25)))
        v = inject(_noise(rng, n, float(rng.uniform(0.005, 0.03))), kind="pulse",
                   at=n - since - length, ratio=float(rng.choice([1.2, 1.3, 0.8])),
                   length=length)
        if rng.random() < 0.5:  # and an earlier slowdown fixed, or a step before it
            v = inject(v, kind=("pulse", "step")[int(rng.integers(0, 2))],
                       at=max(1, n - since - length - gap - 10), ratio=1.2, length=10)
        yield f"fixed recently {n}/{since}", v, {}, {}
    for _ in range(25):
        n = int(rng.integers(20, 400))
        v = inject(_noise(rng, n, 0.01), kind="ramp", at=int(rng.integers(0, n - 5)),
                   ratio=float(rng.choice([0.85, 1.1, 1.2, 1.4])),
                   length=int(rng.integers(5, 60)))
        yield f"ramp {n}", v, {}, {}
    for _ in range(20):
        n = int(rng.integers(20, 500))
        v = np.exp(0.02 * rng.standard_t(2, n))
        spikes = rng.random(n) < 0.05
        v[spikes] *= rng.uniform(1.5, 4.0, int(spikes.sum()))
        if rng.random() < 0.5:
            v = inject(v, kind="step", at=int(rng.integers(1, n)), ratio=1.15)
        yield f"heavy-tailed {n}", v, {}, {}
    for _ in range(25):
        n = int(rng.integers(10, 400))
        v = _noise(rng, n, 0.03)
        if rng.random() < 0.6:
            v = inject(v, kind="step", at=int(rng.integers(1, n)), ratio=1.1)
        yield f"ties {n}", np.round(v * 50.0) / 50.0 + 1.0, {}, {}
    yield "constant", np.full(100, 2.0), {}, {}
    yield "two constants", np.r_[np.full(40, 2.0), np.full(40, 3.0)], {}, {}
    for _ in range(15):
        n = int(rng.integers(15, 200))
        reps = _noise(rng, 3 * n).reshape(n, 3)
        reps = inject(reps, kind="step", at=int(rng.integers(1, n)), ratio=1.1)
        yield f"replicates {n}x3", reps, {}, {}
    for _ in range(5):
        n = int(rng.integers(15, 100))
        ragged = [list(_noise(rng, int(rng.integers(1, 5)))) for _ in range(n)]
        yield f"ragged {n}", ragged, {}, {}
    rec = simulate_recording(rng, n_pairs=300, model=NoiseModel(n_benchmarks=3))
    log_med = rec.log_medians()
    for i in range(30):
        n = int(rng.integers(60, 1001))
        v = replay_history(log_med, rng, n_commits=n, processes_per_commit=1 + i % 3,
                           block=int(rng.choice([30, 1000])))
        kind = ("step", "pulse", "ramp", "spike", None)[i % 5]
        if kind is not None:
            v = inject(v, kind=kind, at=int(rng.integers(15, n - 30)), ratio=1.15,
                       length=15)
        yield f"replayed {kind} {n}", v, {}, {}
    options = ({"min_size": 3}, {"min_size": 8}, {"alpha": 0.01}, {"min_ratio": 1.05},
               {"min_size": 2, "alpha": 0.05})
    for i in range(20):
        n = int(rng.integers(20, 300))
        v = inject(_noise(rng, n, 0.02), kind=("step", "pulse")[i % 2],
                   at=int(rng.integers(3, n - 3)), ratio=1.12, length=10)
        yield f"options {n}", v, options[i % len(options)], {
            "window": (10, 20, 50, 30)[i % 4], "min_ratio": (1.02, 1.05)[i % 2],
            "alpha": (0.01, 0.05)[i % 2]}


def _hex(x: float) -> str:
    return float(x).hex()


def _outcome(values: Any, cp_opts: dict[str, Any], drift_opts: dict[str, Any]
             ) -> dict[str, list[list[int | str]]]:
    shifts = detect_change_points(values, **cp_opts)
    left = unexplained_drifts(values, shifts, **drift_opts)
    drifts = detect_drifts(values, **drift_opts)
    return {
        "change_points": [[s.index, _hex(s.ratio), _hex(s.ratio_low), _hex(s.ratio_high),
                           _hex(s.p_value)] for s in shifts],
        "unexplained_drifts": [[d.start, d.end, _hex(d.ratio), _hex(d.ratio_low),
                                _hex(d.ratio_high), _hex(d.p_value)] for d in left],
        "drifts": [[d.start, d.end, _hex(d.ratio), _hex(d.ratio_low), _hex(d.ratio_high),
                    _hex(d.p_value)] for d in drifts],
    }


def _outcomes() -> list[dict[str, Any]]:
    return [{"label": label, **_outcome(values, cp_opts, drift_opts)}
            for label, values, cp_opts, drift_opts in _cases()]


@pytest.fixture(scope="module")
def outcomes() -> list[dict[str, Any]]:
    return _outcomes()


def test_the_corpus_covers_what_it_claims() -> None:
    golden = json.loads(GOLDEN.read_text())
    assert golden["schema_version"] == 1
    cases = golden["cases"]
    assert sum(bool(c["change_points"]) for c in cases) > 100
    assert sum(not c["change_points"] for c in cases) > 50
    assert sum(bool(c["unexplained_drifts"]) for c in cases) > 10
    assert sum(len(c["change_points"]) >= 2 for c in cases) > 20


def _same(got: Any, want: Any) -> bool:
    """Equal lists, ints exactly, hex floats to ``REL_TOL``."""
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(map(_same, got, want))
    if isinstance(got, str) and isinstance(want, str) and got.startswith(("0x", "-0x")):
        a, b = float.fromhex(got), float.fromhex(want)
        return a == b or math.isclose(a, b, rel_tol=REL_TOL, abs_tol=0.0)
    return bool(got == want)


def test_every_history_has_its_committed_change_points_and_drifts(
        outcomes: list[dict[str, Any]]) -> None:
    golden = json.loads(GOLDEN.read_text())["cases"]
    assert len(outcomes) == len(golden)
    moved = [f"{i} {got['label']}: {want} -> {got}"
             for i, (got, want) in enumerate(zip(outcomes, golden, strict=True))
             if got.keys() != want.keys() or not all(
                 _same(got[key], want[key]) for key in want)]
    assert not moved, f"{len(moved)} of {len(golden)} histories moved:\n" + "\n".join(
        moved[:5])


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m perf_pipeline_tests.analysis.test_history_golden --write")
    GOLDEN.write_text(json.dumps({"schema_version": 1, "cases": _outcomes()}, indent=None,
                                 separators=(",", ":")) + "\n")
