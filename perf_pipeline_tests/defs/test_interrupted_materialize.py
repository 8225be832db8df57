"""SIGTERM or Ctrl-C during an in-process materialization (``backfill``, ``demo``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_SCRIPT = textwrap.dedent("""
    import os, signal, sys, time
    import dagster as dg
    from perf_pipeline.cli.exits import SignalGuard
    from perf_pipeline.defs import launch, measurement
    from perf_pipeline.defs.resources import WorkspaceResource
    from perf_pipeline.errors import Interrupted

    sig = getattr(signal, sys.argv[2])
    def measure(*args, **kwargs):  # the suite runs; the signal arrives
        os.kill(os.getpid(), sig)
        time.sleep(5)
        raise AssertionError("not interrupted")
    measurement.measure_commit = measure
    calls = []
    with SignalGuard() as guard, dg.instance_for_test() as instance:
        ours = signal.getsignal(signal.SIGTERM)
        for sha in ("a" * 40, "b" * 40):  # a backfill of two commits
            try:
                launch.materialize_commit(
                    instance=instance, sha=sha, selection=["benchmark_results"],
                    workspace=WorkspaceResource(results_dir=sys.argv[1], machine_id="box"))
            except KeyboardInterrupt as exc:  # Interrupted is one
                print("stopped", type(exc).__name__, getattr(exc, "exit_code", 130))
                break
            calls.append(sha)
        print("measured after it:", len(calls))
        print("handler kept:", signal.getsignal(signal.SIGTERM) == ours)
""")


@pytest.mark.parametrize(("sig", "stopped"), [("SIGTERM", "stopped Interrupted 143"),
                                             ("SIGINT", "stopped KeyboardInterrupt 130")])
def test_a_signal_during_an_in_process_run_stops_the_backfill(
        tmp_path: Path, sig: str, stopped: str) -> None:
    """Dagster turns SIGTERM/SIGINT inside a step into its own
    ``DagsterExecutionInterruptedError``, which only failed the run: ``perf-pipeline
    backfill`` went on measuring the next commits and exited 2 (documented: 143 or
    130), and Dagster left SIGTERM mapped to SIGINT's handler, so the CLI's own
    handler was gone for the rest of the backfill."""
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path / "r"), sig],
                          capture_output=True, text=True, timeout=120)
    assert stopped in proc.stdout, proc.stdout + proc.stderr[-3000:]
    assert "measured after it: 0" in proc.stdout
    assert "handler kept: True" in proc.stdout
