"""Measuring steps of in-process runs take turns (``measure/measuring_lock.py``)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from perf_pipeline.defs import measurement
from perf_pipeline.defs.launch import materialize_commit
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import measuring_lock

_HOLD = """
import fcntl, pathlib, sys, time
path = pathlib.Path(sys.argv[1]); path.parent.mkdir(parents=True, exist_ok=True)
with open(path, "a+b") as fh:
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    print(time.monotonic(), flush=True)  # about to let go (CLOCK_MONOTONIC: system-wide)
"""


def _hold_lock(worktrees: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the measuring lock for ``seconds``."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD,
                             str(worktrees / ".locks" / "measuring.lock"), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_the_lock_waits_for_another_process_and_says_so(tmp_path: Path) -> None:
    holder = _hold_lock(tmp_path, 0.5)
    waited: list[bool] = []
    with measuring_lock(tmp_path, on_wait=lambda: waited.append(True)):
        got = time.monotonic()
    holder.wait()
    assert holder.stdout is not None and got >= float(holder.stdout.readline())
    assert waited == [True]
    with measuring_lock(tmp_path, on_wait=lambda: waited.append(True)):
        pass  # free: no wait
    assert waited == [True]


_HOLD_UNTIL_EOF = """
import fcntl, pathlib, sys
path = pathlib.Path(sys.argv[1]); path.parent.mkdir(parents=True, exist_ok=True)
with open(path, "a+b") as fh:
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
    print("held", flush=True)
    sys.stdin.read()
"""


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
    holder = subprocess.Popen(  # another measuring step, until its stdin closes
        [sys.executable, "-c", _HOLD_UNTIL_EOF,
         str(results / "worktrees" / ".locks" / "measuring.lock")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    outcomes = []
    with dg.instance_for_test() as instance:
        step = threading.Thread(target=lambda: outcomes.append(materialize_commit(
            instance=instance, sha="a" * 40, selection=["benchmark_results"],
            workspace=WorkspaceResource(results_dir=str(results), machine_id="box"))))
        step.start()
        measured_beside = called.wait(8)  # Dagster's start-up takes a second or two
        assert holder.stdin is not None
        holder.stdin.close()  # the other step ends
        step.join(60)
    assert holder.wait() == 0
    assert not measured_beside, "it measured while another step held the lock"
    assert called.is_set()  # and once that step ended, it did
    assert not outcomes[0].success and "stop here" in (outcomes[0].error or "")


def test_a_results_dir_where_the_lock_cannot_be_made_is_a_failure_naming_it(
        tmp_path: Path) -> None:
    """benchmark_results on a results dir whose worktrees folder cannot be written
    failed with a bare OSError (NotADirectoryError, PermissionError, EROFS) from the
    measuring lock, not a ``dg.Failure`` naming the folder."""
    import pytest

    from perf_pipeline.config import Settings

    (tmp_path / "worktrees").write_text("not a folder")
    with pytest.raises(InvalidInputError, match=r"measuring lock .*: cannot create it"), \
            measuring_lock(tmp_path / "worktrees"):
        pass
    settings = Settings(results_dir=tmp_path, repo_path=tmp_path)
    context = dg.build_asset_context(partition_key="a" * 40)
    with pytest.raises(dg.Failure, match="measuring lock"):
        measurement.benchmark_results(context, WorkspaceResource.of(settings))
