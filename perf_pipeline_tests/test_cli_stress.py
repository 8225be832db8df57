"""``perf-pipeline stress``: a commit's stress run judged (and confirmed) from the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf_pipeline.cli import main
from perf_pipeline.model import StressFigure
from perf_pipeline_tests.measure.conftest import commit_files, git
from perf_pipeline_tests.pipeline.stress_history import record_stress_runs


def _figures(throughput: float) -> tuple[StressFigure, ...]:
    return (StressFigure(test="tests/test_stress.py::test_flood", scenario="flood",
                         kind="closed", figure="throughput_ops_s", value=throughput,
                         count=int(throughput * 3)),)


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """A repo of three commits; the first two have stress runs, the second at 0.4 of the
    first's throughput."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shas = [commit_files(repo, {"a.txt": str(i)}, f"commit {i}") for i in range(3)]
    results = tmp_path / "results"
    record_stress_runs(results / "perf_history.db",
                       [(shas[0], _figures(1000.0)), (shas[1], _figures(400.0))])
    return repo, results, shas


def test_a_stress_regression_exits_1_and_writes_the_report(
        history: tuple[Path, Path, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    repo, results, shas = history
    code = main(["stress", shas[1], "--confirm", "off", "--repo", str(repo),
                 "--results-dir", str(results)])
    printed = capsys.readouterr().out
    assert code == 1, printed
    assert "regression" in printed and "flood throughput_ops_s: throughput x0.40" in printed
    assert "1 flagged by the screen, 1 regression(s) (confirm=off: the screen decides)" \
        in printed
    assert (results / "reports" / "commits" / shas[1] / "stress-report.md").is_file()
    assert main(["stress", shas[0], "--confirm", "off", "--repo", str(repo),
                 "--results-dir", str(results)]) == 0  # the first: nothing to compare


def test_a_commit_without_a_stress_run_is_bad_input(
        history: tuple[Path, Path, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    repo, results, shas = history
    assert main(["stress", shas[2], "--repo", str(repo), "--results-dir", str(results)]) == 2
    assert "no stress run with figures" in capsys.readouterr().err
    assert main(["stress", "no-such-ref", "--repo", str(repo),
                 "--results-dir", str(results)]) == 2


def test_a_commit_from_before_the_stress_tests_is_no_suite_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Stress tests that will live beside the benchmarks, at a commit from before them:
    `run --suite stress` failed ("pytest collected no tests with -m 'stress'", a failed
    run in the history) and `stress` then said only that there was no stress run."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    sha = commit_files(repo, {"tests/test_perf.py": "def test_b(benchmark):\n"
                                                    "    benchmark(sum, range(9))\n"},
                       "benchmarks only")
    config = tmp_path / "perf_pipeline.toml"
    config.write_text('[perf_pipeline]\nproject_subdir = "."\nstress_paths = ["tests"]\n'
                      'benchmark_paths = ["tests"]\n')
    monkeypatch.setenv("PERF_PIPELINE_CONFIG", str(config))
    results = tmp_path / "results"
    where = ["--repo", str(repo), "--results-dir", str(results)]
    assert main(["run", "--suite", "stress", sha, *where]) == 2  # nothing measured
    assert "no stress suite at this commit" in capsys.readouterr().err
    assert main(["stress", sha, *where]) == 2
    err = capsys.readouterr().err
    assert f"commit {sha}: nothing to judge: pytest collected no stress test" in err


STRESS_SUITE = '''
import pytest

import calc

pytestmark = pytest.mark.stress


def test_steady(stress):
    stress.closed_loop("steady", calc.handle, workers=1, duration_s=0.1)
'''


@pytest.mark.slow
def test_calibrate_stress_records_pairs_and_replays_the_gate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit_files(repo, {"calc.py": "def handle():\n    return sum(range(200))\n",
                        "tests/test_stress.py": STRESS_SUITE,
                        "pytest.ini": "[pytest]\nmarkers =\n    stress: load\n"
                                      "pythonpath = .\n"}, "one")
    config = tmp_path / "perf_pipeline.toml"
    config.write_text('[perf_pipeline]\nproject_subdir = "."\nstress_paths = ["tests"]\n'
                      "alpha = 0.15\nstress_confirm_pairs = 3\n")
    monkeypatch.setenv("PERF_PIPELINE_CONFIG", str(config))
    results = tmp_path / "results"
    code = main(["calibrate", "--suite", "stress", "--seed", "4", "--repo", str(repo),
                 "--results-dir", str(results)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    # Default pairs: stress_confirm_pairs + 1 = 4 pairs, 8 runs, the replay's minimum.
    assert "8 stress runs of" in printed
    assert "the screen alone flags" in printed
    assert "screen + confirmation (400 replayed commits, seed 4)" in printed
    assert "throughput_ops_s /1.5 in every scenario: confirmed" in printed
    [corpus] = (results / "noise").glob("*.stress.jsonl.gz")
    from perf_pipeline.store.stress_corpus import load_stress_corpus

    assert len(load_stress_corpus(corpus)) == 8
    assert list((results / "raw" / "calibrate").glob("*-stress-*/pairs.jsonl"))
    # Options of the benchmark calibration are refused, not dropped.
    assert main(["calibrate", "--suite", "stress", "--max-age", "3", "--repo", str(repo),
                 "--results-dir", str(results)]) == 2
