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


def test_the_model_package_exports_every_public_name_of_its_modules() -> None:
    """``perf_pipeline.model`` is one module per topic; callers import from the package,
    so its ``__all__`` names everything the topic modules define for other layers (the
    same objects), and nothing else."""
    import importlib
    import pkgutil

    import perf_pipeline.model as model

    internal = {"check_finite"}  # the package's own helper
    defined: set[str] = set()
    for info in pkgutil.iter_modules(model.__path__):
        module = importlib.import_module(f"perf_pipeline.model.{info.name}")
        for name in set(module.__all__) - internal:
            assert getattr(model, name) is getattr(module, name), name
            defined.add(name)
    assert set(model.__all__) == defined
    assert len(model.__all__) == len(set(model.__all__))
