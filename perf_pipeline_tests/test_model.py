"""The data classes between the layers refuse what no backend may store."""

from __future__ import annotations

import pytest

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import RunStatus, SuiteRun


@pytest.mark.parametrize("duration", [float("nan"), float("inf"), -1.0, True, "3"])
def test_a_run_refuses_a_duration_no_backend_stores_alike(duration: object) -> None:
    # SQLite stored NaN as NULL and failed with a StoreError that stopped the whole
    # ingest; PostgreSQL stored it.
    with pytest.raises(InvalidInputError, match="duration_s"):
        SuiteRun(run_id="r", suite="benchmarks", started_at="2026-01-01T00:00:00+00:00",
                 status=RunStatus.FAILED, duration_s=duration)  # type: ignore[arg-type]


def test_a_run_takes_a_zero_or_whole_duration() -> None:
    for duration in (0, 0.0, 12.5):
        run = SuiteRun(run_id="r", suite="benchmarks",
                       started_at="2026-01-01T00:00:00+00:00", status=RunStatus.FAILED,
                       duration_s=duration)
        assert run.duration_s == duration
