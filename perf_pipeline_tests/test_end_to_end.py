"""End to end: a real git repo → `dagster asset materialize` per commit → two-stage gate.

History: a baseline, three neutral commits, one commit that makes ``mean_abs`` do 60 %
more of the same work (a deterministic extra pass: the same operations on 60 % more
numbers, so the ratio does not depend on the machine), and one more neutral commit.
Not +15 %: with four baseline commits, on a shared 2-core VM the screen missed a +15 %
change in two of five runs and the A/B in one (README, "How well it works"); this test
must not depend on the machine's mood, the replay tests measure the power.
Each commit is materialized through Dagster (measure, baseline, screen, confirmation,
report). Exactly one confirmed regression must come out — the slowed benchmark at the
slowed commit — and the blocking check must fail only there (exit 1), with the report
written anyway and showing both stages. The screen may flag neutral commits (it is
loose on purpose); their confirmation must not confirm anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest

from perf_pipeline.analysis import SUITE_SHIFT_NAME
from perf_pipeline.cli import main
from perf_pipeline.config import Settings, load_settings
from perf_pipeline.measure import HistoryStep, build_history
from perf_pipeline.model import TIME_METRIC, Verdict
from perf_pipeline_tests.conftest import CALC, TESTS

SELECTION = ("benchmark_results,performance_baseline,regression_analysis,"
             "regression_confirmation,regression_profile,performance_report")
SLOWED = "tests/test_perf.py::test_mean_abs"
#: The confirmation's cap on rounds (see ``_config``).
MAX_ROUNDS = 16

#: Short rounds: each pytest process takes about two seconds for the six benchmarks.
PYTEST_ARGS = ("--benchmark-min-rounds=15", "--benchmark-max-time=0.15",
               "--benchmark-warmup=on", "--benchmark-warmup-iterations=2")


def _note(text: str):
    def edit(root: Path) -> None:
        readme = root / "README.md"
        readme.write_text((readme.read_text() if readme.exists() else "") + text + "\n")
    return edit


def _mean_abs_does_60_percent_more(root: Path) -> None:
    calc = root / "calc.py"
    text = calc.read_text()
    old = "def mean_abs(values):\n    return sum(map(abs, values)) / len(values)\n"
    new = textwrap.dedent('''\
        def mean_abs(values):
            total = sum(map(abs, values))
            # Cross-check on the first 60 % of the values: the same work again, dropped.
            sum(map(abs, values[: len(values) * 60 // 100]))
            return total / len(values)
        ''')
    assert old in text
    calc.write_text(text.replace(old, new))


def _target(dest: Path) -> tuple[Path, tuple[str, ...]]:
    src = dest.parent / "src"
    (src / "tests").mkdir(parents=True)
    (src / "calc.py").write_text(CALC)
    (src / "tests" / "test_perf.py").write_text(TESTS)
    (src / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    steps = (HistoryStep("Add calc"), HistoryStep("Docs: usage", _note("Usage: import calc.")),
             HistoryStep("Docs: tests", _note("Run pytest.")),
             HistoryStep("Docs: license", _note("MIT.")),
             HistoryStep("mean_abs: cross-check a part", _mean_abs_does_60_percent_more),
             HistoryStep("Docs: changelog", _note("Changelog.")))
    return dest, build_history(dest, src, steps)


def _config(path: Path, repo: Path, results: Path) -> Path:
    path.write_text(
        "[perf_pipeline]\n"
        f"repo_path = {json.dumps(str(repo))}\n"
        'project_subdir = "."\n'
        f"results_dir = {json.dumps(str(results))}\n"
        'benchmark_paths = ["tests"]\n'
        f"pytest_args = {json.dumps(list(PYTEST_ARGS))}\n"
        # The default threshold (1.2): the screen (alpha 0.5) flags a benchmark at nearly
        # every neutral commit, and its A/B clears it once a slowdown beyond the
        # threshold is ruled out, at the first look here; at 1.05 each took the 10
        # rounds of the futility rule (8 minutes of this test on CI's runner).
        'confirm = "auto"\n'
        # At most 16 rounds (the product's default is 100): on 2026-12-02, beside the
        # demo test on CI's two cores, the x1.6 slowdown measured x1.78 but was still
        # undecided after 10 rounds (interval [1.19, 2.69], "about 1 more round would
        # decide"). A clear flag costs no more; the budget below still bounds each A/B.
        f"confirm_max_rounds = {MAX_ROUNDS}\n"
        "confirm_budget_s = 240\n"
        # Two processes per side, the default: this machine has bursts of a second or
        # so in which everything runs x1.6 slower. With one process per side a burst
        # lands in a round's value, and on 2026-12-02 every neutral flag took 10 rounds
        # to clear and the x1.6 slowdown stayed undecided after 10 (residual sd 0.28 per
        # round). The fastest sample of two processes seldom comes from a burst.
        "ab_processes = 2\n")
    return path


def _materialize(sha: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    dagster = Path(sys.executable).parent / "dagster"
    return subprocess.run(
        [str(dagster), "asset", "materialize", "-m", "perf_pipeline.definitions",
         "--select", SELECTION, "--partition", sha],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)


def _why(sha: str, settings: Settings, stderr: str) -> str:
    """What the confirmation of ``sha`` decided (or the end of its log, if none)."""
    path = settings.layout.confirmation_path(sha)
    if not path.exists():
        return f"{sha[:12]}: no confirmation file; stderr ends: {stderr[-2000:]}"
    data = json.loads(path.read_text())
    rows = [f"{r['name']} {r['comparison']['verdict']} x{r['comparison']['ratio']:.3f}: "
            f"{r['comparison']['reason'][:200]}" for r in data["final"]["results"]]
    base = str(data.get("base_sha"))[:12]
    return (f"{sha[:12]}: {data['status']}, flagged {data['flagged']}, suspects "
            f"{data['suspects']}, base {base}, {data['rounds_used']} rounds; "
            + "; ".join(rows))


@pytest.mark.slow
def test_only_the_real_slowdown_is_confirmed_and_fails_the_gate(tmp_path: Path) -> None:
    repo, shas = _target(tmp_path / "repo")
    results = tmp_path / "results"
    config = _config(tmp_path / "perf_pipeline.toml", repo, results)
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home), "PERF_PIPELINE_CONFIG": str(config)}
    for var in ("PERFORMANCE_THRESHOLD", "SIGNIFICANCE_LEVEL", "PERF_PIPELINE_RESULTS_DIR",
                "PERF_PIPELINE_CONFIRM", "PERF_PIPELINE_CONFIRM_BASE"):
        env.pop(var, None)
    assert main(["register-commit", "--repo", str(repo), "--dagster-home", str(home),
                 *shas]) == 0

    codes, stderr = {}, {}
    for sha in shas:
        proc = _materialize(sha, env, tmp_path)
        codes[sha], stderr[sha] = proc.returncode, proc.stderr
        assert proc.returncode in (0, 1), proc.stderr[-3000:]
    slow = shas[4]
    settings = load_settings(config_file=config)
    expected = {sha: 1 if sha == slow else 0 for sha in shas}
    # A wrong exit code once went unexplained: say what the gate saw for each wrong one.
    assert codes == expected, "\n".join(
        _why(sha, settings, stderr[sha]) for sha in shas if codes[sha] != expected[sha])

    confirmed = {}
    for sha in shas[1:]:
        data = json.loads(settings.layout.confirmation_path(sha).read_text())
        confirmed[sha] = [r["name"] for r in data["final"]["results"]
                          if r["comparison"]["verdict"] == Verdict.REGRESSION]
        if data["status"] == "confirmed":
            # Only the flagged benchmarks, the suspects and a few controls ran, within the
            # maximum.
            assert 1 <= data["rounds_used"] <= MAX_ROUNDS
            assert len(data["flagged"]) + len(data["suspects"]) + len(data["controls"]) >= 5
    assert confirmed == {sha: [SLOWED] if sha == slow else [] for sha in shas[1:]}
    slow_data = json.loads(settings.layout.confirmation_path(slow).read_text())
    assert slow_data["status"] == "confirmed"
    # The A/B tested the slowed benchmark: flagged by the screen, or a suspect of the
    # whole-suite A/B when a noisy run's suite-wide shift took part of the slowdown
    # (2026-12-02: the screen saw the shift x1.27 and test_mean_abs x1.14 beyond it, p 0.22,
    # not flagged; the A/B confirmed it x1.67 at round 5).
    assert SLOWED in slow_data["flagged"] or (
        SUITE_SHIFT_NAME in slow_data["flagged"] and SLOWED in slow_data["suspects"])
    (row,) = [r for r in slow_data["final"]["results"]
              if r["name"] == SLOWED and r["metric"] == TIME_METRIC]
    assert 1.25 < row["comparison"]["ratio"] < 2.0
    # Every round's JSON is kept with the manifest, under the A/B's raw dir.
    raw = Path(slow_data["raw_dir"])
    manifest = json.loads((raw / "ab.json").read_text())
    assert manifest["rounds_done"] == slow_data["rounds_used"]
    # Only the flagged benchmarks and controls, or the whole suite when the (uncorrected)
    # screen also flagged the suite-wide shift.
    if SUITE_SHIFT_NAME in slow_data["flagged"]:
        assert manifest["selection"]["node_ids"] == []
    else:
        assert SLOWED in manifest["selection"]["node_ids"]

    # The blocking check failed for the slow commit only; the screen's check never blocks.
    failed_gates, screen_severities = set(), set()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs():
            for record in instance.all_logs(
                    run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
                evaluation = record.dagster_event.event_specific_data  # type: ignore[union-attr]
                if evaluation.check_name == "no_confirmed_regressions" and not evaluation.passed:
                    failed_gates.add(run.tags["dagster/partition"])
                if evaluation.check_name == "no_significant_regressions":
                    screen_severities.add(evaluation.severity)
        assert instance.get_materialized_partitions(dg.AssetKey("performance_report")) == set(shas)
    assert failed_gates == {slow}
    assert screen_severities <= {dg.AssetCheckSeverity.WARN}

    # The report exists although the gate failed, and shows both stages.
    report_dir = settings.layout.commit_report_dir(slow)
    markdown = (report_dir / "performance-report.md").read_text()
    assert "regression" in markdown.splitlines()[1].lower()
    assert "### Screen" in markdown and "### Confirmation" in markdown
    assert "test\\_mean\\_abs" in markdown
    html = (report_dir / "performance_report.html").read_text()
    assert 'id="confirmation"' in html
    # The same run profiled the confirmed regression, and only it, before the report
    # was written: "Where the time went" is in both renderings.
    assert "Where the time went" in markdown and 'id="profiles"' in html
    profile = json.loads(settings.layout.commit_profile_path(slow).read_text())
    assert [d["benchmark"] for d in profile["diffs"]] == [SLOWED]
    assert profile["base_sha"] == slow_data["base_sha"]
    assert not any(settings.layout.commit_profile_path(sha).exists() for sha in shas if sha != slow)
