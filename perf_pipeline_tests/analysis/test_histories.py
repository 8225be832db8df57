"""Replayed histories (``analysis/histories.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from perf_pipeline.analysis.histories import replay_history
from perf_pipeline.errors import InvalidInputError


def test_a_recording_without_benchmarks_is_refused_by_name() -> None:
    with pytest.raises(InvalidInputError, match="`recording`"):  # was ValueError: high <= 0
        replay_history(np.zeros((5, 0)), np.random.default_rng(0))
