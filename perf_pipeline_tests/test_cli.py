"""The documented CLI (`analyze`, `visualize`) on plain pytest-benchmark files.

The results dir here holds nothing but pytest-benchmark JSON from "someone else's
project": no commits, no perf_pipeline plugin data. Exit codes: 0 no significant
regression, 1 significant regression, 2 bad usage or input.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from perf_pipeline.cli import main

NAMES = [f"tests/test_ops.py::test_op_{i}" for i in range(8)]


def write_pytest_benchmark_json(path: Path, *, day: int, seed: int,
                                slow: dict[str, float] | None = None) -> Path:
    """A file shaped like `pytest --benchmark-json` output (pytest-benchmark 5)."""
    rng = np.random.default_rng(seed)
    machine = 1.0 + rng.normal(0, 0.01)  # run-level noise shared by the whole run
    benchmarks = []
    for i, name in enumerate(NAMES):
        level = 1e-3 * (1 + i) * machine * (slow or {}).get(name, 1.0)
        data = (level * np.exp(rng.normal(0, 0.02, 30))).tolist()
        q1, med, q3 = np.percentile(data, [25, 50, 75])
        benchmarks.append({
            "group": None, "name": name.split("::")[1], "fullname": name, "params": None,
            "param": None, "extra_info": {}, "options": {},
            "stats": {"min": min(data), "max": max(data), "mean": float(np.mean(data)),
                      "stddev": float(np.std(data, ddof=1)), "rounds": len(data),
                      "median": float(med), "iqr": float(q3 - q1), "q1": float(q1),
                      "q3": float(q3), "iterations": 1, "ops": 1 / float(np.mean(data)),
                      "data": data}})
    doc = {"machine_info": {"node": "ci", "python_version": "3.11.7", "system": "Linux",
                            "machine": "x86_64", "cpu": {"brand_raw": "Test CPU", "count": 2}},
           "commit_info": {}, "benchmarks": benchmarks,
           "datetime": f"2026-11-{day:02d}T10:00:00+00:00", "version": "5.3.1"}
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("PERFORMANCE_THRESHOLD", "SIGNIFICANCE_LEVEL", "PERF_PIPELINE_RESULTS_DIR",
                "PERF_PIPELINE_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    d = tmp_path / "test-results"
    d.mkdir()
    return d


def _analyze(results: Path, *extra: str) -> int:
    return main(["analyze", "--results-dir", str(results),
                 "--report", str(results.parent / "performance-report.md"), *extra])


def test_first_run_creates_the_baseline_and_exits_0(results: Path, capsys) -> None:
    write_pytest_benchmark_json(results / "run1.json", day=1, seed=1)
    assert _analyze(results) == 0
    out = capsys.readouterr().out
    assert "no baseline yet" in out
    assert (results / "baseline" / "performance_baseline.json").is_file()
    report = (results.parent / "performance-report.md").read_text()
    assert "baseline" in report.splitlines()[1].lower()


def test_update_baseline_on_the_first_run_pins_it(results: Path, capsys) -> None:
    """``analyze --update-baseline`` ("...and pin it as the baseline") on a history with
    no baseline yet wrote a *rolling* file and said updated: false, so the run the user
    pinned was replaced by the rolling baseline of the later commits."""
    write_pytest_benchmark_json(results / "run1.json", day=1, seed=1)
    assert _analyze(results, "--confirm", "off", "--update-baseline", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["baseline"]["created"] and doc["baseline"]["updated"]
    pinned = json.loads((results / "baseline" / "performance_baseline.json").read_text())
    assert pinned["policy"] == "pinned" and len(pinned["source_run_ids"]) == 1
    for day in (2, 3):
        write_pytest_benchmark_json(results / f"run{day}.json", day=day, seed=day)
        assert _analyze(results, "--confirm", "off", "--json") == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["baseline"]["run_ids"] == pinned["source_run_ids"]  # run1 alone


@pytest.mark.slow
def test_regression_exits_1_and_flags_only_that_benchmark(results: Path, capsys,
                                                          monkeypatch) -> None:
    write_pytest_benchmark_json(results / "run1.json", day=1, seed=1)
    assert _analyze(results) == 0
    write_pytest_benchmark_json(results / "run2.json", day=2, seed=2)
    assert _analyze(results) == 0
    write_pytest_benchmark_json(results / "run3.json", day=3, seed=3, slow={NAMES[3]: 2.0})
    assert _analyze(results) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "test_op_3" in out
    assert out.count("REGRESSION") == 1
    report = (results.parent / "performance-report.md").read_text()
    assert "test\\_op\\_3" in report
    # Flags beat the environment, and both beat the defaults.
    monkeypatch.setenv("PERFORMANCE_THRESHOLD", "3.0")
    assert _analyze(results) == 0
    assert _analyze(results, "--threshold", "1.1") == 1
    monkeypatch.delenv("PERFORMANCE_THRESHOLD")
    # Accepting the slowdown as the new baseline clears the gate for the next run.
    assert _analyze(results, "--update-baseline") == 1
    write_pytest_benchmark_json(results / "run4.json", day=4, seed=4, slow={NAMES[3]: 2.0})
    assert _analyze(results) == 0


def test_corrupt_file_is_a_clear_error_and_loses_nothing(results: Path, capsys) -> None:
    write_pytest_benchmark_json(results / "good.json", day=1, seed=1)
    (results / "broken.json").write_text('{"benchmarks": [{"name": "x", "stats": {"da')
    assert _analyze(results) == 2
    err = capsys.readouterr().err
    assert "broken.json" in err
    assert (results / "broken.json").read_text().startswith('{"benchmarks"')
    assert (results / "baseline" / "performance_baseline.json").is_file()


@pytest.mark.parametrize("args, message", [
    (["--significance", "2"], "alpha"),
    (["--threshold", "0.5"], "threshold"),
])
def test_bad_options_exit_2(results: Path, capsys, args, message) -> None:
    write_pytest_benchmark_json(results / "run1.json", day=1, seed=1)
    assert _analyze(results, *args) == 2
    assert message in capsys.readouterr().err


def test_empty_results_dir_exits_2(results: Path, capsys) -> None:
    assert _analyze(results) == 2
    assert "no benchmark results" in capsys.readouterr().err


def test_unknown_command_is_bad_usage() -> None:
    assert main(["no-such-command"]) == 2


def test_visualize_plain_files_and_empty_history(results: Path, capsys) -> None:
    assert main(["visualize", "--results-dir", str(results)]) == 0  # empty: still a report
    assert (results / "reports" / "performance_report.html").is_file()
    write_pytest_benchmark_json(results / "a.json", day=1, seed=1)
    write_pytest_benchmark_json(results / "b.json", day=2, seed=2)
    assert main(["visualize", "--results-dir", str(results)]) == 0
    out = capsys.readouterr().out
    assert "2 run(s)" in out
    html = (results / "reports" / "performance_report.html").read_text()
    assert "test_op_7" in html
    assert list((results / "reports").glob("*.png"))


def test_cli_runs_as_a_module_in_a_subprocess(results: Path) -> None:
    write_pytest_benchmark_json(results / "run1.json", day=1, seed=1)
    proc = subprocess.run([sys.executable, "-m", "perf_pipeline", "analyze", "--results-dir",
                           str(results), "--report", str(results / "r.md")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (results / "r.md").read_text().startswith("<!-- perf-pipeline-report -->")


def test_a_history_path_that_does_not_exist_is_said_to_be_new(tmp_path, capsys) -> None:
    """A mistyped --history created a new, empty db without a word."""
    from perf_pipeline.cli import main

    results = tmp_path / "results"
    results.mkdir()
    typo = results / "perf_histroy.db"
    main(["visualize", "--results-dir", str(results), "--history", str(typo)])
    assert f"note: {typo} does not exist: read as an empty history" in capsys.readouterr().err
    main(["visualize", "--results-dir", str(results), "--history", str(typo)])
    assert "does not exist" not in capsys.readouterr().err  # exists now: no note


def test_a_baseline_named_that_does_not_exist_is_an_error(results: Path, capsys) -> None:
    """A mistyped --baseline was read as "no pinned file": the run was judged against the
    rolling baseline of the history, exit 0, without a word."""
    write_pytest_benchmark_json(results / "run1.json", day=1, seed=1)
    assert _analyze(results, "--confirm", "off") == 0
    write_pytest_benchmark_json(results / "run2.json", day=2, seed=2)
    typo = results.parent / "baselnie" / "performance_baseline.json"
    capsys.readouterr()
    assert _analyze(results, "--confirm", "off", "--baseline", str(typo)) == 2
    err = capsys.readouterr().err
    assert f"--baseline {typo} does not exist" in err
    assert not typo.exists() and not typo.parent.exists()
    # Pinning the run there is what --update-baseline asks for: still allowed.
    assert _analyze(results, "--confirm", "off", "--baseline", str(typo),
                    "--update-baseline") == 0
    assert json.loads(typo.read_text())["policy"] == "pinned"


def test_a_rolling_baseline_named_is_judged_against_and_kept(results: Path, capsys) -> None:
    """A rolling baseline file (what analyze seeds and CI uploads) named with --baseline
    was passed over: in a fresh history "no baseline yet", and the file overwritten."""
    elsewhere = results.parent / "ci-results"
    elsewhere.mkdir()
    write_pytest_benchmark_json(elsewhere / "run1.json", day=1, seed=1)
    assert _analyze(elsewhere, "--confirm", "off") == 0
    downloaded = results.parent / "downloaded_baseline.json"
    downloaded.write_bytes((elsewhere / "baseline" / "performance_baseline.json").read_bytes())
    assert json.loads(downloaded.read_text())["policy"] == "rolling"
    before = downloaded.read_bytes()
    write_pytest_benchmark_json(results / "mine.json", day=3, seed=3, slow={NAMES[3]: 2.0})
    capsys.readouterr()
    assert _analyze(results, "--confirm", "off", "--baseline", str(downloaded)) == 1
    out = capsys.readouterr().out
    assert "REGRESSION test_op_3" in out and "no baseline yet" not in out
    assert downloaded.read_bytes() == before
    assert not (downloaded.parent / "history").exists()


def _strict_json(text: str) -> dict:
    def refuse(constant: str) -> float:
        raise AssertionError(f"{constant} in the JSON output")
    return json.loads(text, parse_constant=refuse)


def test_a_file_with_a_zero_sample_is_ingested_judged_and_reported(
        results: Path, capsys, caplog) -> None:
    """One round of one benchmark read 0.0 s (below the timer's resolution): the whole
    file was refused at ingest ("sample 7 is 0.0; it must be > 0"), so the run and its
    three other benchmarks were lost and ``analyze`` judged an older run. Now the run is
    ingested and judged; that benchmark's time is left out of judging, said in a note
    (stdout, JSON, report), and no statistic is NaN or infinite."""
    data = Path(__file__).parent / "data"
    (results / "a_good.json").write_bytes((data / "pytest_benchmark_good.json").read_bytes())
    assert _analyze(results, "--confirm", "off") == 0  # seeds the baseline
    capsys.readouterr()
    zero = data / "pytest_benchmark_zero_sample.json"
    (results / "b_zero.json").write_bytes(zero.read_bytes())
    with caplog.at_level("WARNING"):
        assert _analyze(results, "--confirm", "off", "--json") == 0
    doc = _strict_json(capsys.readouterr().out)
    assert doc["ingest"]["errors"] == [] and doc["run"]["sha"] == "e" * 40
    timed = {r["name"] for r in doc["comparison"]["results"] if r["metric"] == "time_s"}
    assert timed == {"test_fx.py::test_sort[100]", "test_fx.py::test_sort[1000]",
                     "test_fx.py::test_alloc"}
    fib_note = ("Not judged on time: 'test_fx.py::test_fib': 1 of 8 samples are 0.0 s, "
                "below the timer's resolution")
    assert any(n.startswith(fib_note) for n in doc["notes"])
    assert any("b_zero.json" in r.getMessage() and "test_fx.py::test_fib" in r.getMessage()
               for r in caplog.records if r.levelname == "WARNING")
    report = (results.parent / "performance-report.md").read_text()
    assert "Not judged on time: 'test\\_fx.py::test\\_fib': 1 of 8 samples are 0.0 s" in report
    assert (results / "reports" / "performance_report.html").is_file()

    # The next clean run: the zero run gives its other benchmarks' times to the
    # baseline, not test_fib's; test_fib is judged against the run that has one.
    later = json.loads((data / "pytest_benchmark_good.json").read_text())
    later["commit_info"].update(id="f" * 40, time="2026-11-30T11:39:04+00:00",
                                author_time="2026-11-30T11:39:04+00:00")
    later["datetime"] = "2026-11-30T11:39:04+00:00"
    (results / "c_later.json").write_text(json.dumps(later))
    assert _analyze(results, "--confirm", "off", "--json") == 0
    doc = _strict_json(capsys.readouterr().out)
    assert doc["run"]["sha"] == "f" * 40 and len(doc["baseline"]["run_ids"]) == 2
    times = {r["name"]: r["comparison"] for r in doc["comparison"]["results"]
             if r["metric"] == "time_s"}
    assert times["test_fx.py::test_fib"]["n_baseline"] == 1
    assert times["test_fx.py::test_sort[100]"]["n_baseline"] == 2
    assert not [n for n in doc["notes"] if n.startswith("Not judged on time")]
