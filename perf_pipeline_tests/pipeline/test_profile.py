"""perf-pipeline profile on a real temporary git repo; profiling stays out of timed runs."""

from __future__ import annotations

import json
import pstats
import re
import statistics
from pathlib import Path
from urllib.parse import unquote

import pytest
from scipy import stats

from perf_pipeline.cli import main
from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import measure_profiles, run_suite
from perf_pipeline.measure.profiling import PROFILE_DIR_ENV
from perf_pipeline.pipeline import ProfileOutcome, run_profile
from perf_pipeline.store import read_profile_comparison, write_profile_comparison
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.pipeline.profile_target import CACHE_LINE, build_profile_target


def _settings(repo: Path, results: Path) -> Settings:
    return Settings(repo_path=repo, project_subdir="proj", benchmark_paths=("tests",),
                    results_dir=results, suite_timeout_s=180.0,
                    pytest_args=("--benchmark-min-rounds=3", "--benchmark-max-time=0.02"))


@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, ProfileOutcome]:
    root = tmp_path_factory.mktemp("profile")
    repo, base, candidate = build_profile_target(root)
    settings = _settings(repo, root / "results")
    return settings, run_profile(Workspace(settings), base, candidate, repeats=3, min_s=0.1)


def _diff(outcome: ProfileOutcome, test: str):
    assert outcome.comparison is not None
    return next(d for d in outcome.comparison.diffs if d.benchmark.endswith(test))


@pytest.mark.slow
def test_quadratic_helper_tops_the_time_diff(profiled) -> None:
    _, outcome = profiled
    diff = _diff(outcome, "::test_pipeline")
    top = diff.functions[0]
    assert top.key == "proj/mod.py:_unique_slow", [f.key for f in diff.functions[:5]]
    assert top.status == "new" and top.beyond_spread
    assert top.candidate_calls == pytest.approx(1.0)
    assert diff.candidate_total_s.median > 5 * diff.base_total_s.median
    # Moved by the edit, but the same function: matched, not "new" and "vanished".
    pipeline = next(f for f in diff.functions if f.key == "proj/mod.py:pipeline")
    assert pipeline.status == "changed"


@pytest.mark.slow
def test_cache_line_tops_the_memory_diff(profiled) -> None:
    _, outcome = profiled
    diff = _diff(outcome, "::test_remember")
    top = diff.allocations[0]
    assert top.site == f"proj/mod.py:{CACHE_LINE}" and top.beyond_spread
    assert top.delta_bytes > 5_000  # 700 floats kept per call


@pytest.mark.slow
def test_prof_files_open_with_pstats_and_reports_show_the_diff(profiled) -> None:
    settings, outcome = profiled
    assert outcome.comparison is not None and outcome.files is not None
    raw = Path(outcome.comparison.raw_dir or "")
    profs = sorted(raw.glob("*-*/*.prof"))
    assert len(profs) == 2 * 3 * 2  # sides x repeats x benchmarks
    for prof in profs:
        assert pstats.Stats(str(prof)).total_calls > 0  # type: ignore[attr-defined]
    assert len(list(raw.glob("*.memory.png"))) == 2
    manifest = json.loads((raw / "profile.json").read_text())
    assert manifest["repeats"] == 3
    md = outcome.files.markdown.read_text(encoding="utf-8")  # type: ignore[union-attr]
    assert "Where the time went" in md and "\\_unique\\_slow" in md
    assert "none yet" not in md and "| Base commit |" in md  # a profile's base is a commit
    assert md.index("\\_unique\\_slow") < md.index("normalise")
    # File links are relative to the page: they survive a moved results dir (a CI
    # artifact) and tell no reader about this machine's disk.
    md_dir = outcome.files.markdown.parent  # type: ignore[union-attr]
    links = re.findall(r"\]\(([^)]+\.(?:prof|png))\)", md)
    assert len(links) == 3 * 2, links  # base .prof, candidate .prof, memory plot
    for link in links:
        assert not Path(link).is_absolute() and (md_dir / unquote(link)).is_file(), link
    html = outcome.files.html.read_text(encoding="utf-8")
    html_links = re.findall(r'<a href="([^"]+\.(?:prof|png))"', html)
    assert len(html_links) == 3 * 2, html_links
    for link in html_links:
        assert (outcome.files.html.parent / unquote(link)).is_file(), link
    assert "<dt>Base commit</dt>" in html and "none yet" not in html
    assert 'id="flame-0"' in html and 'id="profile-data"' in html and "icicle" in html
    # The comparison survives the file round trip the commit report reads it through.
    path = settings.results_dir / "profile" / "x.json"
    write_profile_comparison(path, outcome.comparison)
    assert read_profile_comparison(path) == outcome.comparison


@pytest.mark.slow
def test_report_links_work_with_a_relative_results_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default results dir is relative (``test-results``): the .prof and memory-plot
    links were then written relative to the working directory, not to the report."""
    repo, base, candidate = build_profile_target(tmp_path)
    monkeypatch.chdir(tmp_path)
    settings = _settings(repo, Path("results"))
    outcome = run_profile(Workspace(settings), base, candidate, repeats=1, min_s=0.02)
    assert outcome.files is not None and outcome.files.markdown is not None
    md = outcome.files.markdown.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)]+\.(?:prof|png))\)", md)
    assert links
    for link in links:
        assert not Path(link).is_absolute()
        assert (outcome.files.markdown.parent / unquote(link)).is_file(), link


def test_option_like_selectors_and_refs_are_refused(tmp_path: Path) -> None:
    repo, base, candidate = build_profile_target(tmp_path)
    settings = _settings(repo, tmp_path / "results")
    for kwargs in ({"keyword": "--collect-only"}, {"node_ids": ("-p evil",)},
                   {"node_ids": ("../outside.py::test_x",)}, {"keyword": "a\nb"}):
        with pytest.raises(InvalidInputError):
            measure_profiles(settings, base, candidate, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="must not start with '-'"):
        measure_profiles(settings, "--upload-pack=touch /tmp/x", candidate)
    assert not (tmp_path / "results" / "raw" / "profile").exists()
    code = main(["profile", base, candidate, "-k=--co", "--repo", str(repo),
                 "--results-dir", str(tmp_path / "results")])
    assert code == 2
    for top in ("0", "-2"):  # printed nothing, or all rows but the last two
        assert main(["profile", base, candidate, "--top", top, "--repo", str(repo),
                     "--results-dir", str(tmp_path / "results")]) == 2
    assert not (tmp_path / "results" / "raw" / "profile").exists()


def _median_s(json_path: Path) -> float:
    bench = json.loads(json_path.read_text())["benchmarks"]
    return statistics.median(next(b for b in bench if b["name"] == "test_pipeline")
                             ["stats"]["data"])


@pytest.mark.slow
def test_timed_runs_are_the_same_with_and_without_a_profile_step(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A profile step (and a profile directory leaked into the environment) leaves the
    timed rounds alone: no profile is written by a timed run, and its timings come from
    the same distribution as those of runs with no profiling anywhere near them."""
    repo, _, candidate = build_profile_target(tmp_path)
    settings = _settings(repo, tmp_path / "results")
    project = tmp_path / "timed"
    from perf_pipeline_tests.measure.conftest import git

    git(repo, "worktree", "add", "--detach", str(project), candidate)
    leaked = tmp_path / "leaked"
    plain, after_profile = [], []
    for i in range(5):
        for with_profile in (i % 2 == 0, i % 2 == 1):
            if with_profile:
                measure_profiles(settings, candidate, candidate, node_ids=(
                    "tests/test_perf.py::test_pipeline",), repeats=1, min_s=0.05)
                monkeypatch.setenv(PROFILE_DIR_ENV, str(leaked))
            out = tmp_path / f"timed-{i}-{int(with_profile)}.json"
            outcome = run_suite(project / "proj", paths=("tests",), json_path=out,
                                timeout_s=120, extra_args=("--benchmark-min-rounds=20",))
            monkeypatch.delenv(PROFILE_DIR_ENV, raising=False)
            assert outcome.ok, outcome.error
            (after_profile if with_profile else plain).append(_median_s(out))
    assert not leaked.exists()  # the timed runs never profiled
    ratio = statistics.median(after_profile) / statistics.median(plain)
    assert 0.5 < ratio < 2.0, (plain, after_profile)
    # Generous: 5 vs 5 process medians; only a complete separation (p = 0.008) fails.
    assert stats.mannwhitneyu(plain, after_profile).pvalue > 0.005, (plain, after_profile)


@pytest.mark.slow
def test_a_benchmark_new_at_the_candidate_is_said_to_have_no_base_side_profile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """``profile -k`` selecting a benchmark the candidate added printed nothing about it
    (with another selected) or failed at the base with pytest's "collected no tests"
    (alone)."""
    from perf_pipeline_tests.measure.conftest import commit_files

    repo, base, _ = build_profile_target(tmp_path)
    added = commit_files(repo, {"proj/tests/test_added.py": (
        "from mod import pipeline\n\n\ndef test_added(benchmark):\n"
        "    assert benchmark(pipeline, list(range(50))) > 0\n")}, "add a benchmark")
    config = tmp_path / "perf_pipeline.toml"
    config.write_text('project_subdir = "proj"\nbenchmark_paths = ["tests"]\n'
                      'pytest_args = ["--benchmark-min-rounds=3", '
                      '"--benchmark-max-time=0.02"]\n')
    monkeypatch.setenv("PERF_PIPELINE_CONFIG", str(config))
    results = tmp_path / "results"
    common = ["--repeats", "1", "--repo", str(repo), "--results-dir", str(results)]
    assert main(["profile", base, added, "-k", "test_pipeline or test_added", *common]) == 0
    out = capsys.readouterr().out
    assert "test_pipeline: " in out and "per call (profiled)" in out
    assert (f"test_added: no base-side profile: not at the base commit "
            f"{base[:12]} (profiled at the candidate only)") in out.replace("\n", "")
    [md] = (results / "reports" / "profile").glob("*/profile-report.md")
    assert "No base-side profile" in md.read_text(encoding="utf-8")
    # Selected alone: nothing to diff, said as such (not pytest's "collected no tests").
    assert main(["profile", base, added, "-k", "test_added", *common]) == 2
    err = capsys.readouterr().err
    assert "no benchmark was profiled at both commits: No base-side profile" in err
    assert "test_added" in err and "collected no tests" not in err
    # A selection that matches nothing at either commit is still an error.
    assert main(["profile", base, added, "-k", "test_nothing_like_it", *common]) == 2
    assert "no benchmark ran at either commit" in capsys.readouterr().err


def test_a_results_dir_that_cannot_hold_the_profile_is_bad_input_not_a_crash(
        tmp_path: Path) -> None:
    """``raw/profile`` that cannot be made (a read-only results dir; here a file in its
    place) ended ``profile`` as an internal error (exit 3, "a bug") with an OSError."""
    repo, base, candidate = build_profile_target(tmp_path)
    settings = _settings(repo, tmp_path / "results")
    (tmp_path / "results" / "raw").mkdir(parents=True)
    (tmp_path / "results" / "raw" / "profile").write_text("not a folder")
    with pytest.raises(InvalidInputError, match=r"profile raw folder .*: cannot create it"):
        measure_profiles(settings, base, candidate)


@pytest.mark.slow
def test_a_node_id_new_at_the_candidate_leaves_the_others_profiled(tmp_path: Path) -> None:
    """``profile --node-id X`` with X not at the base commit (a test the candidate added
    to an existing file, or in a new file) failed the whole profile with pytest's exit
    code 4 ("not found", "file or directory not found") instead of profiling the others
    and saying which one is new. A node id at neither commit is still an error."""
    from perf_pipeline_tests.measure.conftest import commit_files

    repo, base, _ = build_profile_target(tmp_path)
    tests = (repo / "proj/tests/test_perf.py").read_text()
    added = commit_files(repo, {
        "proj/tests/test_perf.py": tests + (
            "\n\ndef test_new_in_file(benchmark):\n"
            "    assert benchmark(pipeline, DATA) > 0\n"),
        "proj/tests/test_added.py": (
            "from mod import pipeline\n\n\ndef test_added(benchmark):\n"
            "    assert benchmark(pipeline, list(range(50))) > 0\n")}, "add benchmarks")
    settings = _settings(repo, tmp_path / "results")
    run = measure_profiles(settings, base, added, repeats=1, min_s=0.02, node_ids=(
        "tests/test_perf.py::test_pipeline", "tests/test_perf.py::test_new_in_file",
        "tests/test_added.py::test_added"))
    assert run.benchmarks == ("tests/test_perf.py::test_pipeline",)
    assert run.candidate_only == ("tests/test_added.py::test_added",
                                  "tests/test_perf.py::test_new_in_file")
    assert run.base_only == ()
    # Reversed (the candidate removed them): profiled at the base only.
    back = measure_profiles(settings, added, base, repeats=1, min_s=0.02, node_ids=(
        "tests/test_perf.py::test_pipeline", "tests/test_perf.py::test_new_in_file"))
    assert back.base_only == ("tests/test_perf.py::test_new_in_file",)
    for typo in ("tests/test_perf.py::test_pipelin", "tests/test_nothing.py::test_x"):
        with pytest.raises(InvalidInputError, match="is at neither commit"):
            measure_profiles(settings, base, added, repeats=1, min_s=0.02, node_ids=(
                "tests/test_perf.py::test_pipeline", typo))
    # A file at neither commit is refused before anything runs or is written.
    assert len(list((tmp_path / "results" / "raw" / "profile").iterdir())) == 3


@pytest.mark.slow
def test_a_suite_run_with_benchmark_only_can_be_profiled(tmp_path: Path) -> None:
    """A suite whose pytest settings say ``--benchmark-only`` (the target's addopts, or
    our ``pytest_args``) measured fine, but every profile failed: pytest-benchmark
    refuses it beside the ``--benchmark-disable`` of a profiling process (exit code 4).
    What it means is kept: a test without a benchmark is skipped, not run."""
    from dataclasses import replace

    from perf_pipeline_tests.measure.conftest import commit_files

    repo, _, candidate = build_profile_target(tmp_path)
    only = commit_files(repo, {
        "proj/pytest.ini": "[pytest]\naddopts = --benchmark-only\n",
        "proj/tests/test_plain.py": "def test_plain():\n    assert False, 'not a benchmark'\n",
    }, "benchmarks only")
    settings = _settings(repo, tmp_path / "results")
    run = measure_profiles(settings, only, only, repeats=1, min_s=0.02,
                           keyword="test_pipeline or test_plain")
    assert run.benchmarks == ("tests/test_perf.py::test_pipeline",)
    in_args = replace(settings, pytest_args=("--benchmark-only", *settings.pytest_args))
    run = measure_profiles(in_args, candidate, candidate, repeats=1, min_s=0.02,
                           keyword="test_pipeline")
    assert run.benchmarks == ("tests/test_perf.py::test_pipeline",)
