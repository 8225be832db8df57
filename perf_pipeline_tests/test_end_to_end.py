"""End to end: a real git repo with three commits → `dagster asset materialize` → reports.

Baseline, a neutral change, and a real slowdown of one function (an index loop instead
of ``sum(map(abs, ...))``). The third commit must be flagged — that benchmark only —
and make `dagster asset materialize` exit 1; the second must pass with exit 0; the
report of the third must exist although its regression gate failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perf_pipeline.cli import main
from perf_pipeline.config import load_settings
from perf_pipeline.model import Verdict
from perf_pipeline.pipeline import analysis_path, commit_report_dir

SELECTION = "benchmark_results,performance_baseline,regression_analysis,performance_report"


def _materialize(sha: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    dagster = Path(sys.executable).parent / "dagster"
    return subprocess.run(
        [str(dagster), "asset", "materialize", "-m", "perf_pipeline.definitions",
         "--select", SELECTION, "--partition", sha],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
def test_three_commits_flag_only_the_real_slowdown(tiny_target, tmp_path: Path) -> None:
    results = tmp_path / "results"
    config = tiny_target.write_config(tmp_path / "perf_pipeline.toml", results_dir=results)
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home), "PERF_PIPELINE_CONFIG": str(config)}
    for var in ("PERFORMANCE_THRESHOLD", "SIGNIFICANCE_LEVEL", "PERF_PIPELINE_RESULTS_DIR"):
        env.pop(var, None)

    base, neutral, slow = tiny_target.shas
    assert main(["register-commit", "--repo", str(tiny_target.repo), "--dagster-home",
                 str(home), base, neutral, slow]) == 0

    codes = {}
    for sha in (base, neutral, slow):
        proc = _materialize(sha, env, tmp_path)
        codes[sha] = proc.returncode
        assert proc.returncode in (0, 1), proc.stderr[-3000:]
    assert codes == {base: 0, neutral: 0, slow: 1}

    settings = load_settings(config_file=config)
    second = json.loads(analysis_path(settings, neutral).read_text())
    assert not [r for r in second["comparison"]["results"]
                if r["comparison"]["verdict"] == Verdict.REGRESSION]
    third = json.loads(analysis_path(settings, slow).read_text())
    flagged = [r["name"] for r in third["comparison"]["results"]
               if r["comparison"]["verdict"] == Verdict.REGRESSION]
    assert flagged == [f"tests/test_perf.py::{tiny_target.slowed}"]

    report_dir = commit_report_dir(settings, slow)
    markdown = (report_dir / "performance-report.md").read_text()
    assert "regression" in markdown.splitlines()[1].lower()
    assert tiny_target.slowed.replace("_", "\\_") in markdown
    assert (report_dir / "performance_report.html").stat().st_size > 10_000
