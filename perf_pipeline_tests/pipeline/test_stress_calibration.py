"""calibrate_stress over injected pairs: the corpus, the replay, a recording cut short."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError, MeasurementError
from perf_pipeline.measure.git import resolve_commit
from perf_pipeline.model import StressFigure
from perf_pipeline.pipeline.stress_calibration import calibrate_stress
from perf_pipeline.store.stress_corpus import load_stress_corpus
from perf_pipeline.workspace import Workspace


def _run(rng: np.random.Generator) -> tuple[StressFigure, ...]:
    throughput = 1000.0 * math.exp(rng.normal(0, 0.1))
    return (StressFigure(test="t.py::test_x", scenario="flood", kind="closed",
                         figure="throughput_ops_s", value=throughput,
                         count=int(3 * throughput)),)


def _pairs(n: int, fail_at: int | None = None):
    rng = np.random.default_rng(8)
    for i in range(n):
        if i == fail_at:
            raise MeasurementError("pair 3, base side: the suite timed out")
        yield _run(rng), _run(rng)


def test_a_recording_is_kept_and_replayed(tmp_path: Path) -> None:
    ws = Workspace(Settings(results_dir=tmp_path / "results"))
    outcome = calibrate_stress(ws, pairs=11, seed=2, trials=50, source=_pairs(100))
    assert outcome.runs == 22 == len(load_stress_corpus(outcome.corpus_path))
    assert outcome.corpus_path.parent == tmp_path / "results" / "noise"
    assert outcome.null is not None and outcome.null.trials == 50
    # Throughput within x1.3 run to run: the screen never flags; a /1.5 drop is confirmed.
    assert outcome.screen_pairs < 0.05 and outcome.null.confirmed == 0
    assert dict(((f, k), s) for f, k, s in outcome.power)[("throughput_ops_s", 1.5)] >= 0.9
    assert {f for f, _, _ in outcome.power} == {"throughput_ops_s"}  # only its figures
    assert outcome.sha == resolve_commit(ws.settings.repo_path, "HEAD")


def test_a_recording_cut_short_keeps_its_runs_and_says_why(tmp_path: Path) -> None:
    ws = Workspace(Settings(results_dir=tmp_path / "results"))
    outcome = calibrate_stress(ws, pairs=11, seed=2, trials=50,
                               source=_pairs(100, fail_at=3))
    assert outcome.runs == 6 and outcome.null is None and outcome.runs_needed == 22
    assert outcome.stopped is not None and "timed out" in outcome.stopped
    with pytest.raises(MeasurementError, match="recorded 0 run"):
        calibrate_stress(ws, pairs=3, source=_pairs(100, fail_at=0))
    with pytest.raises(InvalidInputError, match="exists already"):
        calibrate_stress(ws, pairs=2, source=_pairs(5), out=outcome.corpus_path)
