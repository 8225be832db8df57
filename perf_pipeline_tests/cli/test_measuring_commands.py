"""Measuring commands take turns with every other measuring process on the machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from perf_pipeline.config import MEASURING_LOCK_ENV
from perf_pipeline_tests.lock_holder import hold_lock, release


def test_run_waits_for_another_measuring_process_says_so_then_measures(
        tiny_target, tmp_path: Path) -> None:
    """``perf-pipeline run`` measured beside a Dagster step, another ``run`` or an A/B of
    another results dir: overlapping measurements corrupt each other."""
    config = tiny_target.write_config(tmp_path / "perf_pipeline.toml",
                                      results_dir=tmp_path / "results")
    lock = tmp_path / "machine" / "measuring.lock"
    holder = hold_lock(lock, measuring=True)
    env = {**os.environ, MEASURING_LOCK_ENV: str(lock), "PERF_PIPELINE_CONFIG": str(config),
           "PERF_PIPELINE_PROCESSES": "1"}
    command = subprocess.Popen(
        [sys.executable, "-m", "perf_pipeline", "run", tiny_target.shas[0]], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert command.stderr is not None
    try:
        said = ""
        while "waiting" not in said:  # read until it says it waits, or it ends
            line = command.stderr.readline()
            if not line:
                break
            said += line
        assert (f"another measuring process on this machine holds {lock} (pid {holder.pid}, "
                "python -c, since ") in said and "; waiting for it to finish" in said
        assert command.poll() is None
        assert not any((tmp_path / "results" / "raw").rglob("run.json"))
    finally:
        release(holder)
    _, err = command.communicate(timeout=120)
    assert command.returncode == 0, said + err
    assert any((tmp_path / "results" / "raw").rglob("run.json"))



def test_run_at_a_commit_without_the_suite_says_nothing_was_measured(
        tiny_target, tmp_path: Path, capsys, monkeypatch) -> None:
    """A commit with no suite is a ``no_suite`` run: ``run`` exits 2 and says nothing
    was measured there, rather than printing an empty run as a success."""
    from perf_pipeline.cli import main

    config = tiny_target.write_config(tmp_path / "perf_pipeline.toml",
                                      results_dir=tmp_path / "results")
    config.write_text(config.read_text().replace('benchmark_paths = ["tests"]',
                                                 'benchmark_paths = ["benchmarks"]'))
    monkeypatch.setenv("PERF_PIPELINE_CONFIG", str(config))
    monkeypatch.delenv("PERF_PIPELINE_RESULTS_DIR", raising=False)
    code = main(["run", tiny_target.shas[0]])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"nothing measured at {tiny_target.shas[0]}" in err
    assert "['benchmarks']" in err and "suite failed" not in err
