"""runner="uv": the target's own uv project at the commit, not perf_pipeline's environment.

The target here depends on pytest-benchmark only (no numpy, no perf_pipeline); our plugin
is staged on PYTHONPATH, so its figures and the target environment's fingerprint still
arrive. Needs `uv` and the package index (as CI has).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from perf_pipeline.config import load_settings
from perf_pipeline.measure import measure_commit
from perf_pipeline.model import RunStatus


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not on PATH")
def test_uv_runner_measures_in_the_targets_own_environment(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "uvtarget"\nversion = "0.1.0"\nrequires-python = ">=3.10"\n'
        'dependencies = ["pytest>=8", "pytest-benchmark>=5"]\n\n'
        '[tool.pytest.ini_options]\npythonpath = ["."]\n')
    (repo / "calc.py").write_text("def total(n):\n    return sum(range(n))\n")
    (repo / "tests" / "test_perf.py").write_text(
        "from calc import total\n\n\ndef test_total(benchmark):\n"
        "    assert benchmark(total, 10_000) == 49995000\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-qm", "init"], check=True)

    settings = load_settings(repo_path=repo, project_subdir=".", results_dir=tmp_path / "res",
                             benchmark_paths=["tests"], runner="uv", processes=1,
                             pytest_args=["--benchmark-max-time=0.05"])
    run = measure_commit(settings, "HEAD")
    assert run.status is RunStatus.SUCCESS, run.error
    (bench,) = run.benchmarks
    assert bench.median_s > 0 and "tracemalloc_peak_bytes" in dict(bench.extra)
    assert run.environment is not None
    packages = dict(run.environment.packages)
    assert packages["pytest-benchmark"] != "not installed"
    assert packages["numpy"] == "not installed"  # the target's env, not ours
