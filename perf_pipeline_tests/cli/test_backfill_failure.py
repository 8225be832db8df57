"""What `backfill` says about a commit whose run failed: once, with where the rest is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from perf_pipeline.measure import HistoryStep

MARKER = "MARKER-boom-in-benchmark"


def _break_a_benchmark(root: Path) -> None:
    tests = root / "tests" / "test_perf.py"
    tests.write_text(tests.read_text() + "\n\ndef test_boom(benchmark):\n"
                     "    benchmark(lambda: 1)\n"
                     f"    raise RuntimeError({MARKER!r})\n")


@pytest.mark.slow
def test_a_failed_commit_is_told_once_without_dagsters_log(tiny_target_factory,
                                                          tmp_path: Path) -> None:
    """A commit whose suite failed showed its output tail three times: Dagster logged
    the step failure and the run failure (each with the tail, and a stack trace) on
    stderr, then the commit's own line said it again."""
    target = tiny_target_factory(extra=(HistoryStep("Break a benchmark",
                                                    _break_a_benchmark),))
    config = target.write_config(tmp_path / "perf_pipeline.toml",
                                 results_dir=tmp_path / "results")
    env = {key: value for key, value in os.environ.items()
           if key not in {"PERFORMANCE_THRESHOLD", "SIGNIFICANCE_LEVEL",
                          "PERF_PIPELINE_RESULTS_DIR"}}
    env.update(PERF_PIPELINE_CONFIG=str(config), PERF_PIPELINE_PROFILE="off")
    home = tmp_path / "dagster_home"
    proc = subprocess.run(
        [sys.executable, "-m", "perf_pipeline", "backfill", "--last", "1",
         "--dagster-home", str(home)],
        env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "STEP_FAILURE" not in proc.stderr and "Stack Trace" not in proc.stderr
    assert (proc.stdout + proc.stderr).count(MARKER) == 1, proc.stdout + proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("output: "))
    run_json = Path(line.removeprefix("output: ").split(";")[0])
    assert run_json.name == "run.json" and MARKER in run_json.read_text()
    run_id = line.split("Dagster run ", 1)[1].split()[0]
    with dg.DagsterInstance.from_config(str(home)) as instance:  # Dagster's log is kept
        events = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    assert len(events) == 1 and MARKER in str(events[0].dagster_event)
