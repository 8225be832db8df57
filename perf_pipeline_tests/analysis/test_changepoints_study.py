"""The change-point study (``benchmarks/changepoints.py``) on short histories."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "benchmarks" / "data" / "noise" / "example-suite-pinned.json.gz"


def _study(commits: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "changepoints.py"), "--corpus",
         f"ex={CORPUS}", "--trials", "1", "--commits", str(commits), "--no-synthetic",
         "--no-timing", "--per-commit", "1"],
        capture_output=True, text=True, timeout=300, check=False)


def test_a_history_too_short_for_the_relanded_slowdown_is_refused_by_name() -> None:
    """--commits 50 ran before the re-landed scenario (27 commits long, 15 from either
    end) was added; then it died with numpy's "ValueError: low >= high" after the first
    scenarios. Now it is refused up front, naming the shortest history that fits."""
    done = _study(50)
    assert done.returncode == 2, done.stderr
    assert "--commits must be at least 58" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_shortest_history_that_fits_runs_every_scenario() -> None:
    done = _study(58)
    assert done.returncode == 0, done.stderr
    assert "re-landed +20 %: found" in done.stdout


def test_timing_only_times_ours_and_its_two_parts_without_a_corpus() -> None:
    """The 5 ms budget is measured with ``--timing-only`` (no corpus, no tables): it must
    run without Otava or asv and name ours and its two parts (figures not asserted)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "changepoints.py"), "--timing-only"],
        capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "target for ours: 5 ms CPU" in done.stdout
    for name in ("ours", "ours: change points", "ours: drifts"):
        assert f"- {name}: " in done.stdout
    assert "###" not in done.stdout.split("### ms per")[0]  # no study table before it
