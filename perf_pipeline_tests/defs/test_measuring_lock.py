"""Measuring steps of in-process runs take turns (``measure/measuring_lock.py``); the
lock itself is tested in ``measure/test_measuring_lock.py``."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from perf_pipeline.config import machine_measuring_lock
from perf_pipeline.defs import measurement
from perf_pipeline.defs.launch import materialize_commit
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import measuring_lock
from perf_pipeline_tests.lock_holder import hold_lock, release


def test_an_in_process_run_measures_only_when_no_other_step_measures(
        tmp_path: Path, monkeypatch) -> None:
    """Two in-process materializations (``backfill``, ``demo``, ``dagster asset
    materialize``) of two commits measured at the same time: the ``benchmark_machine``
    pool only holds runs the run queue starts."""
    import threading

    results = tmp_path / "results"
    called = threading.Event()

    def measure(*args: object, **kwargs: object) -> None:
        called.set()
        raise InvalidInputError("stop here")  # the timing is all this test needs

    monkeypatch.setattr(measurement, "measure_commit", measure)
    holder = hold_lock(machine_measuring_lock())  # conftest.py's, this worker's
    outcomes = []
    with dg.instance_for_test() as instance:
        step = threading.Thread(target=lambda: outcomes.append(materialize_commit(
            instance=instance, sha="a" * 40, selection=["benchmark_results"],
            workspace=WorkspaceResource(results_dir=str(results), machine_id="box"))))
        step.start()
        measured_beside = called.wait(8)  # Dagster's start-up takes a second or two
        release(holder)  # the other step ends
        step.join(600)  # a loaded CI machine took over 60 s to wind the run down
    assert not step.is_alive(), "the step never ended"
    assert not measured_beside, "it measured while another step held the lock"
    assert called.is_set()  # and once that step ended, it did
    assert not outcomes[0].success and "stop here" in (outcomes[0].error or "")


def test_a_lock_that_cannot_be_made_is_a_failure_naming_it(tmp_path: Path) -> None:
    """benchmark_results where the measuring lock cannot be created failed with a bare
    OSError (NotADirectoryError, PermissionError, EROFS), not a ``dg.Failure`` naming
    it."""
    import pytest

    from perf_pipeline.config import Settings

    (tmp_path / "locks").write_text("not a folder")
    lock = tmp_path / "locks" / "measuring.lock"
    with pytest.raises(InvalidInputError, match=r"measuring lock .*: cannot create it"), \
            measuring_lock(lock):
        pass
    settings = Settings(results_dir=tmp_path, repo_path=tmp_path, measuring_lock=lock)
    context = dg.build_asset_context(partition_key="a" * 40)
    with pytest.raises(dg.Failure, match="measuring lock"):
        # a generator: run it through
        list(measurement.benchmark_results(context, WorkspaceResource.of(settings)))
