"""Replayed histories (``analysis/histories.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from perf_pipeline.analysis.histories import inject, replay_history
from perf_pipeline.errors import InvalidInputError


def test_a_recording_without_benchmarks_is_refused_by_name() -> None:
    with pytest.raises(InvalidInputError, match="`recording`"):  # was ValueError: high <= 0
        replay_history(np.zeros((5, 0)), np.random.default_rng(0))


def test_a_pulse_is_a_change_undone_length_commits_later() -> None:
    out = inject(np.ones((8, 2)), kind="pulse", at=2, ratio=1.5, length=3)
    assert out[:, 0].tolist() == [1.0, 1.0, 1.5, 1.5, 1.5, 1.0, 1.0, 1.0]
    assert (out[:, 1] == out[:, 0]).all()
    with pytest.raises(InvalidInputError, match="length"):
        inject(np.ones(8), kind="pulse", at=2, ratio=1.5, length=0)
