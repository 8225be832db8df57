"""The Workspace: one settings + layout + store per invocation, and every command works
after every other one on the same results dir (issue 9).

The command chain runs the real CLI in-process on a tiny real git target (two fast
benchmarks, one process per run, few rounds), so the whole chain stays cheap.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import fields
from pathlib import Path

import pytest

from perf_pipeline.cli import main
from perf_pipeline.config import Settings, load_settings
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import HistoryStep, build_history
from perf_pipeline.workspace import Workspace

CODE = "def work(n):\n    return sum(i * i for i in range(n))\n"
TESTS = textwrap.dedent('''
    from code_under_test import work


    def test_small(benchmark):
        assert benchmark(work, 200) > 0


    def test_large(benchmark):
        assert benchmark(work, 2_000) > 0
''')
FAST = ["--benchmark-min-rounds=5", "--benchmark-max-time=0.01",
        "--benchmark-warmup=off"]


def _reword(root: Path) -> None:
    (root / "code_under_test.py").write_text("# reworded\n" + CODE)


@pytest.fixture(scope="module")
def two_commits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[str, ...]]:
    root = tmp_path_factory.mktemp("ws")
    src = root / "src"
    (src / "tests").mkdir(parents=True)
    (src / "code_under_test.py").write_text(CODE)
    (src / "tests" / "test_perf.py").write_text(TESTS)
    (src / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    repo = root / "repo"
    shas = build_history(repo, src, [HistoryStep("Add work"), HistoryStep("Reword", _reword)])
    return repo, shas


@pytest.fixture
def configured(two_commits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A results dir for the tiny target; its settings come from a config file."""
    repo, _ = two_commits
    results = tmp_path / "results"
    config = tmp_path / "perf_pipeline.toml"
    config.write_text(
        "[perf_pipeline]\n"
        f"repo_path = {json.dumps(str(repo))}\n"
        'project_subdir = "."\n'
        f"results_dir = {json.dumps(str(results))}\n"
        'benchmark_paths = ["tests"]\n'
        f"pytest_args = {json.dumps(FAST)}\n"
        "processes = 1\n"
        'confirm = "off"\n')
    for var in ("PERFORMANCE_THRESHOLD", "SIGNIFICANCE_LEVEL", "PERF_PIPELINE_RESULTS_DIR",
                "PERF_PIPELINE_PROCESSES", "PERF_PIPELINE_RUNNER", "PERF_PIPELINE_CONFIRM",
                "PERF_PIPELINE_REPO"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PERF_PIPELINE_CONFIG", str(config))
    monkeypatch.chdir(tmp_path)
    return results


@pytest.mark.slow
def test_every_command_works_after_every_other_on_one_results_dir(
        two_commits, configured: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, (first, second) = two_commits
    results = configured
    report = str(results.parent / "report.md")
    # calibrate is left out to keep this cheap (~17 s loaded); its files (raw/calibrate/,
    # noise/) are covered by test_layout's discovery test.
    steps: list[tuple[str, list[str]]] = [
        ("run", ["run", first]),
        ("analyze", ["analyze", "--report", report]),  # seeds the baseline
        ("run", ["run", second]),
        ("analyze", ["analyze", "--report", report]),  # after run: a verdict
        ("ingest", ["ingest"]),  # after analyze: baseline/, reports/ are not results
        ("ab", ["ab", first, second, "--rounds", "2", "--seed", "1",
                "--report", str(results.parent / "ab.md")]),
        ("visualize", ["visualize"]),  # after ab: raw/ab/, reports/ab/ are not results
        ("analyze", ["analyze", "--report", report]),  # after visualize
        ("ingest", ["ingest"]),
    ]
    for i, (name, argv) in enumerate(steps):
        capsys.readouterr()
        code = main([*argv, "--results-dir", str(results)])
        out, err = capsys.readouterr()
        after = steps[i - 1][0] if i else "nothing"
        assert code in (0, 1), f"{name} after {after} exited {code}: {out[-800:]}{err[-800:]}"
        assert "error:" not in err, f"{name} after {after}: {err[-800:]}"
        if name == "ingest":
            assert "0 bad file(s)" in out
        if name == "analyze" and i > 1:
            assert "verdict:" in out
    # Everything went to the one results dir the layout names, and only runs are history.
    assert sorted(p.name for p in results.iterdir()) == [
        "baseline", "perf_history.db", "raw", "reports", "worktrees"]
    with Workspace(load_settings(results_dir=results)) as ws:
        runs = ws.store.list_runs()
    # the two `run`s; A/B rounds are not history
    assert {r.commit.sha for r in runs if r.commit} == {first, second}


def test_the_store_opens_on_first_use_only(tmp_path: Path) -> None:
    settings = load_settings(results_dir=tmp_path / "results", environ={})
    with Workspace(settings) as ws:
        assert ws.layout == settings.layout and not ws.store_is_open
        assert not (tmp_path / "results").exists()  # a typo stays an error, not a new db
        assert ws.store is ws.store  # one store per Workspace
        assert ws.layout.db_path.is_file()
    assert not ws.store_is_open


def test_ingest_of_a_missing_results_dir_creates_nothing(tmp_path: Path) -> None:
    from perf_pipeline.pipeline import ingest_results

    with Workspace.load(results_dir=tmp_path / "typo", environ={}) as ws, \
            pytest.raises(InvalidInputError, match="typo"):
        ingest_results(ws)
    assert not (tmp_path / "typo").exists()


def test_the_dagster_resource_carries_every_setting(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """One resource, so nothing is kept in step by hand: every Settings field is config."""
    from perf_pipeline.defs.resources import WorkspaceResource

    monkeypatch.delenv("PERF_PIPELINE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    names = {f.name for f in fields(Settings)}
    assert names <= set(WorkspaceResource.model_fields)
    settings = load_settings(
        results_dir=tmp_path, repo_path=tmp_path, threshold=1.4, alpha=0.05,
        baseline_file=tmp_path / "b.json", gate_metrics=("time_s",), confirm="off",
        pytest_args=("-q",))
    with WorkspaceResource.of(settings).open() as ws:
        assert ws.settings == settings
    # An unset (None) field cannot override what the config file sets: said, not dropped.
    config = tmp_path / "other.toml"
    config.write_text(f'[perf_pipeline]\nbaseline_file = "{tmp_path / "x.json"}"\n')
    monkeypatch.setenv("PERF_PIPELINE_CONFIG", str(config))
    with pytest.raises(InvalidInputError, match="baseline_file"):
        WorkspaceResource.of(load_settings(results_dir=tmp_path, environ={}))


@pytest.mark.parametrize(("setting", "secret", "url"), [
    # The history URL, password and all, was stored in every run's job snapshot: in a
    # fleet, a database others read.
    ("history_url", "S3cretPassw0rd", "postgresql://perf:S3cretPassw0rd@db.example:5432/perf"),
    # Slack and Discord hook URLs carry their secret in the path.
    ("webhook_url", "T0S3cretHookPath42",
     "https://hooks.slack.com/services/T0000/B0000/T0S3cretHookPath42"),
])
def test_a_secret_never_reaches_the_dagster_instance(
        setting: str, secret: str, url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's and backfill's resource (``WorkspaceResource.of``) once stored these
    settings whole in every run's job snapshot."""
    import dagster as dg
    from dagster._serdes import serialize_value

    from perf_pipeline.defs.resources import WorkspaceResource

    for var in ("PERF_PIPELINE_CONFIG", "PERF_PIPELINE_HISTORY_URL",
                "PERF_PIPELINE_WEBHOOK_URL", "PERF_PIPELINE_MEASURING_LOCK"):
        monkeypatch.setenv(var, "")  # so monkeypatch restores what `of` sets
        monkeypatch.delenv(var)
    settings = load_settings(environ={}, repo_path=tmp_path, results_dir=tmp_path / "r",
                             **{setting: url})
    seen: list[str | None] = []

    @dg.asset(required_resource_keys={"workspace"})
    def probe(context) -> None:  # untyped: a type imported locally cannot resolve
        seen.append(getattr(context.resources.workspace.settings(), setting))

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([probe], instance=instance,
                            resources={"workspace": WorkspaceResource.of(settings)})
    assert result.success and seen == [url]
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    stored = serialize_value(instance.get_job_snapshot(run.job_snapshot_id))
    assert secret not in stored + serialize_value(run.run_config)
