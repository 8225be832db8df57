"""measure_commit end to end on a real temporary repo, and results-dir ingestion.

Tests of which commits have a suite, and of what reaches a suite, measure one process
(``processes=1``): the default three ran pytest three times per measured commit for
nothing they assert. Pooling over processes is test_processes.py's, and the processes'
disagreements are the ``processes=3`` tests here.
"""

from __future__ import annotations

import gzip
import json
import math
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from perf_pipeline.config import Settings
from perf_pipeline.errors import Interrupted, InvalidInputError
from perf_pipeline.measure import ingest_results_dir, load_results, measure_commit
from perf_pipeline.model import RunStatus
from perf_pipeline.store import HistoryStore
from perf_pipeline_tests.measure.conftest import BENCH_V1, DATA_DIR, commit_files, git

STRESS = '''
import os
import pytest

@pytest.mark.stress
def test_stress(benchmark):
    benchmark.extra_info["multiplier"] = os.environ.get("STRESS_MULTIPLIER")
    benchmark(sum, range(10))
'''

#: Like the example target's stress tests: plain tests, no ``benchmark`` fixture.
PLAIN_STRESS = '''
import os
import pytest

@pytest.mark.stress
def test_plain_stress():
    assert os.environ["STRESS_MULTIPLIER"] == "1"
'''


def test_measure_commit_runs_stores_and_keeps_raw_files(
        target_repo: Path, make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    settings = make_settings(target_repo)
    with HistoryStore.open(tmp_path / "h.db") as store:
        run = measure_commit(settings, "main", store=store)
        assert store.has_run(run.run_id)
    assert run.status is RunStatus.SUCCESS, run.error
    assert run.sha == git(target_repo, "rev-parse", "HEAD")
    assert run.commit is not None and run.commit.branch == "main"
    assert run.commit.subject == "third: docs only"
    assert {b.name for b in run.benchmarks} == {"tests/test_perf.py::test_work",
                                               "tests/test_perf.py::test_more"}
    assert run.environment is not None and run.environment.python_version
    run_dir = settings.raw_dir / run.sha / run.run_id
    assert run.raw_path == str(run_dir)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["schema_version"] == 1 and record["status"] == "success"
    # the first-parent ordinal orders commits that share a commit time (a rebase)
    ordinal = int(git(target_repo, "rev-list", "--count", "--first-parent", "HEAD"))
    assert record["commit"]["ancestry_ordinal"] == ordinal == run.commit.ancestry_ordinal
    with HistoryStore.open(tmp_path / "h.db") as store:
        stored = store.get_run(run.run_id).commit
        assert stored is not None and stored.ancestry_ordinal == ordinal
    assert (run_dir / "benchmark.json.gz").is_file()
    # the worktree is kept for reuse, the main checkout is untouched
    assert (settings.worktrees_dir / run.sha).is_dir()
    assert git(target_repo, "status", "--porcelain") == ""


def test_stress_suite_gets_marker_and_multiplier(
        target_repo: Path, make_settings: Callable[..., Settings]) -> None:
    commit_files(target_repo, {"proj/tests/test_stress.py": STRESS}, "add stress test")
    settings = make_settings(target_repo, stress_paths=("tests",), stress_multiplier=2.5,
                             processes=1)
    run = measure_commit(settings, "HEAD", suite="stress")
    assert run.status is RunStatus.SUCCESS, run.error
    assert [b.name for b in run.benchmarks] == ["tests/test_stress.py::test_stress"]
    raw = json.loads(gzip.decompress((Path(run.raw_path or "") / "benchmark.json.gz")
                                     .read_bytes()))
    assert raw["benchmarks"][0]["extra_info"]["multiplier"] == "2.5"


def test_stress_suite_of_plain_tests_succeeds_in_one_process(
        target_repo: Path, make_settings: Callable[..., Settings]) -> None:
    commit_files(target_repo, {"proj/tests/test_stress.py": PLAIN_STRESS}, "plain stress")
    settings = make_settings(target_repo, stress_paths=("tests/test_stress.py",),
                             processes=3)
    run = measure_commit(settings, "HEAD", suite="stress")
    assert (run.status, run.benchmarks, run.error) == (RunStatus.SUCCESS, (), None)
    record = json.loads((Path(run.raw_path or "") / "run.json").read_text())
    assert (record["processes"], record["benchmark_files"]) == (1, 0)
    assert "1 passed" in record["stdout_tail"]


#: A stress test that asserts on what it measured, as the example's do, and one that passes.
FAILING_STRESS = '''
import pytest

@pytest.mark.stress
def test_steady(stress):
    stress.closed_loop("noop", lambda: None, duration_s=0.05)

@pytest.mark.stress
def test_asserts_on_its_figures(stress):
    r = stress.closed_loop("fails", lambda: 1 / 0, duration_s=0.05)
    assert r["errors"] == 0, "errors under load"
'''


def test_a_stress_run_whose_tests_fail_keeps_and_records_their_figures(
        target_repo: Path, make_settings: Callable[..., Settings]) -> None:
    """A failed assertion threw away every figure of the run (the leak or the errors it
    had measured included), so "a leak appeared" could never fire on such a suite."""
    from perf_pipeline.pipeline.stress import analyze_stress_commit
    from perf_pipeline.workspace import Workspace

    commit_files(target_repo, {"proj/tests/test_stress.py": FAILING_STRESS}, "stress")
    settings = make_settings(target_repo, stress_paths=("tests/test_stress.py",))
    with HistoryStore.open(settings.db_path) as store:
        run = measure_commit(settings, "HEAD", suite="stress", store=store)
        figures = store.stress_figures(run.run_id)
    assert run.status is RunStatus.FAILED
    assert (run.error or "").startswith("tests failed (pytest exit code 1)")
    assert {f.scenario for f in figures} == {"noop", "fails"}
    rate = next(f for f in figures if f.scenario == "fails" and f.figure == "error_rate")
    assert rate.value == 1.0
    assert len(list((Path(run.raw_path or "") / "stress").glob("*.stress.json"))) == 2
    with Workspace(settings) as ws:
        outcome = analyze_stress_commit(ws, run.sha)
    assert outcome.run_id == run.run_id and outcome.baseline_run_id is None
    assert "This stress run failed (tests failed" in outcome.markdown


def test_benchmark_suite_of_plain_tests_is_no_suite_not_a_success(
        target_repo: Path, make_settings: Callable[..., Settings]) -> None:
    """No collected test uses the ``benchmark`` fixture (a commit from before the
    benchmarks, or paths that name none): nothing measured, and no failure either."""
    commit_files(target_repo, {"proj/tests/test_plain.py": "def test_plain():\n    pass\n"},
                 "a plain test")
    settings = make_settings(target_repo, benchmark_paths=("tests/test_plain.py",))
    run = measure_commit(settings, "HEAD", suite="benchmarks")
    assert run.status is RunStatus.NO_SUITE and run.benchmarks == ()
    assert "benchmark fixture" in (run.error or "") and "benchmark paths" in (run.error or "")


def test_commits_from_before_the_suite_existed_are_no_suite_runs_not_failures(
        tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    """A backfill that starts before the benchmarks existed recorded each such commit as
    a failed run ("pytest exited with code 4: file or directory not found"), retried on
    every backfill and listed as a failure. A suite that exists and breaks at collection
    stays a failure."""
    repo = tmp_path / "young"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    no_folder = commit_files(repo, {"README": "v1\n"}, "no project folder yet")
    no_tests = commit_files(repo, {"proj/README": "v1\n"}, "a project without tests")
    plain = commit_files(repo, {"proj/tests/test_perf.py": "def test_unit():\n    pass\n"},
                         "unit tests only")
    broken = commit_files(repo, {"proj/tests/test_perf.py": "import nowhere_to_be_found\n"
                                 + BENCH_V1}, "benchmarks that cannot be collected")
    good = commit_files(repo, {"proj/tests/test_perf.py": BENCH_V1}, "benchmarks")
    settings = make_settings(repo, processes=1)
    with HistoryStore.open(tmp_path / "h.db") as store:
        runs = {sha: measure_commit(settings, sha, store=store)
                for sha in (no_folder, no_tests, plain, broken, good)}
        stored = {r.commit.sha: r.status for r in store.list_runs(suite="benchmarks")
                  if r.commit is not None}
        failed = store.list_runs(suite="benchmarks", status=RunStatus.FAILED)
    assert [runs[s].status for s in (no_folder, no_tests, plain, broken, good)] == [
        RunStatus.NO_SUITE, RunStatus.NO_SUITE, RunStatus.NO_SUITE, RunStatus.FAILED,
        RunStatus.SUCCESS]
    assert stored == {s: r.status for s, r in runs.items()}  # the store reads it back
    assert [r.commit.sha for r in failed if r.commit] == [broken]
    assert "project directory 'proj'" in (runs[no_folder].error or "")
    assert "none of its paths ['tests/test_perf.py']" in (runs[no_tests].error or "")
    assert "nowhere_to_be_found" in (runs[broken].error or "")
    record = json.loads((Path(runs[no_tests].raw_path or "") / "run.json").read_text())
    assert record["status"] == "no_suite" and record["benchmark_files"] == 0
    assert load_results(Path(runs[no_tests].raw_path or "")).status is RunStatus.NO_SUITE


def test_a_suite_with_no_paths_is_no_suite_not_an_error(
        target_repo: Path, make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    """``stress_paths = []`` is how a target without a stress suite says so; its stress
    run (the nightly job's ``stress_results``) raised "no benchmark paths given for
    <worktree>" instead, failing every night and naming neither the suite nor the
    setting. It is a run without the suite, as one whose paths are all missing."""
    settings = make_settings(target_repo, stress_paths=())
    with HistoryStore.open(tmp_path / "h.db") as store:
        run = measure_commit(settings, "main", suite="stress", store=store)
    assert run.status is RunStatus.NO_SUITE, run.error
    assert "`stress_paths` setting is empty" in (run.error or "")


def test_a_commit_that_removes_the_suite_is_a_failure_not_a_commit_without_one(
        tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    """No suite is a verdict on a commit from *before* the suite: a commit whose measured
    ancestor had it removed or moved it, and passing it with nothing measured would let
    a PR that drops the benchmarks through the gate."""
    repo = tmp_path / "moved"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    before = commit_files(repo, {"proj/README": "v1\n"}, "before the benchmarks")
    good = commit_files(repo, {"proj/tests/test_perf.py": BENCH_V1}, "benchmarks")
    git(repo, "mv", "proj/tests", "proj/bench")
    git(repo, "commit", "-q", "-m", "move the benchmarks")
    moved = git(repo, "rev-parse", "HEAD")
    settings = make_settings(repo, processes=1)
    with HistoryStore.open(tmp_path / "h.db") as store:
        assert measure_commit(settings, good, store=store).status is RunStatus.SUCCESS
        gone = measure_commit(settings, moved, store=store)
        old = measure_commit(settings, before, store=store)  # measured after its child
    assert gone.status is RunStatus.FAILED
    assert f"its ancestor {good} had one" in (gone.error or "")
    assert "none of its paths ['tests/test_perf.py']" in (gone.error or "")
    assert old.status is RunStatus.NO_SUITE, old.error


def test_a_stress_suite_sharing_the_benchmarks_folder_is_no_suite_before_it_was_written(
        tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    """Stress tests added later to the benchmarks' folder: each older commit's stress run
    was a failure ("pytest collected no tests with -m 'stress'": the benchmarks there,
    deselected, counted as the suite's tests). It is no stress suite now; stress tests
    that cannot be collected, or are gone after a commit whose stress run passed, are
    still failures."""
    repo = tmp_path / "shared"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    bench_only = commit_files(repo, {"proj/tests/test_perf.py": BENCH_V1}, "benchmarks")
    broken = commit_files(repo, {"proj/tests/test_stress.py": "import nowhere_to_be_found\n"
                                 + PLAIN_STRESS}, "stress tests that cannot be collected")
    good = commit_files(repo, {"proj/tests/test_stress.py": PLAIN_STRESS}, "stress tests")
    git(repo, "rm", "-q", "proj/tests/test_stress.py")
    git(repo, "commit", "-q", "-m", "remove the stress tests")
    removed = git(repo, "rev-parse", "HEAD")
    settings = make_settings(repo, stress_paths=("tests",))
    with HistoryStore.open(tmp_path / "h.db") as store:
        runs = {sha: measure_commit(settings, sha, suite="stress", store=store)
                for sha in (bench_only, broken, good, removed)}
    assert [runs[s].status for s in (bench_only, broken, good, removed)] == [
        RunStatus.NO_SUITE, RunStatus.FAILED, RunStatus.SUCCESS, RunStatus.FAILED]
    assert "no stress suite at this commit" in (runs[bench_only].error or "")
    assert "nowhere_to_be_found" in (runs[broken].error or "")
    assert f"its ancestor {good} had one" in (runs[removed].error or "")


def test_a_commit_recorded_without_the_suite_is_measured_again_once_an_ancestor_had_it(
        tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    """``known_without_suite`` spares a commit recorded without the suite a new
    measurement, unless an ancestor has been measured with the suite since: the commit
    then removed it, and measuring it again records the failure it is."""
    from perf_pipeline.measure import known_without_suite, local_machine_id

    repo = tmp_path / "removed"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    good = commit_files(repo, {"proj/tests/test_perf.py": BENCH_V1}, "benchmarks")
    git(repo, "rm", "-q", "-r", "proj/tests")
    git(repo, "commit", "-q", "-m", "remove the benchmarks")
    removed = git(repo, "rev-parse", "HEAD")
    settings = make_settings(repo, processes=1)
    here = local_machine_id(settings)
    with HistoryStore.open(tmp_path / "h.db") as store:
        first = measure_commit(settings, removed, store=store)  # the tip, measured first
        assert first.status is RunStatus.NO_SUITE, first.error
        known = known_without_suite(repo, removed, "benchmarks", store, machine_id=here)
        assert known is not None and known.run_id == first.run_id
        assert known_without_suite(repo, removed, "stress", store, machine_id=here) is None
        assert known_without_suite(repo, removed, "benchmarks", store,
                                   machine_id="another machine") is None
        assert measure_commit(settings, good, store=store).status is RunStatus.SUCCESS
        assert known_without_suite(repo, removed, "benchmarks", store, machine_id=here) is None
        assert measure_commit(settings, removed, store=store).status is RunStatus.FAILED


def test_failing_commit_is_a_failed_run_not_an_exception(
        target_repo: Path, make_settings: Callable[..., Settings]) -> None:
    commit_files(target_repo, {"proj/tests/test_perf.py":
                               "def test_bad(benchmark):\n    benchmark(lambda: 1 / 0)\n"},
                 "break the suite")
    settings = make_settings(target_repo)
    run = measure_commit(settings, "HEAD")
    assert run.status is RunStatus.FAILED and run.benchmarks == ()
    assert "exit code 1" in (run.error or "") and "ZeroDivisionError" in (run.error or "")
    assert not list(Path(run.raw_path or "").glob("benchmark*"))


def test_unknown_ref_and_suite_raise(target_repo: Path,
                                     make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(target_repo)
    with pytest.raises(InvalidInputError, match="nope"):
        measure_commit(settings, "nope")
    with pytest.raises(InvalidInputError, match="--upload-pack"):
        measure_commit(settings, "--upload-pack=touch /tmp/pwned")
    with pytest.raises(InvalidInputError, match="suite"):
        measure_commit(settings, "HEAD", suite="load")
    assert not settings.raw_dir.exists()


def test_ingest_results_dir_loads_raw_and_foreign_files_and_reports_bad_ones(
        tmp_path: Path) -> None:
    from perf_pipeline.measure import write_raw_run

    results = tmp_path / "results"
    record = {"run_id": "20240101T000000Z-00000001", "suite": "benchmarks", "status": "success",
              "commit": {"sha": "b" * 40}, "started_at": "2024-01-01T00:00:00+00:00"}
    write_raw_run(results / "raw", record, benchmark_json=DATA_DIR / "pytest_benchmark_good.json")
    autosave = results / ".benchmarks" / "Linux-CPython-3.11-64bit"
    autosave.mkdir(parents=True)
    shutil.copy(DATA_DIR / "pytest_benchmark_autosave.json", autosave / "0001_x.json")
    shutil.copy(DATA_DIR / "pytest_benchmark_truncated.json", results / "broken.json")
    for skipped in ("baseline", "reports", "worktrees"):
        (results / skipped).mkdir()
        shutil.copy(DATA_DIR / "pytest_benchmark_nan.json", results / skipped / "x.json")
    with HistoryStore.open(tmp_path / "h.db") as store:
        first = ingest_results_dir(results, store)
        second = ingest_results_dir(results, store)
    assert len(first.ingested) == 2 and "20240101T000000Z-00000001" in first.ingested
    assert [Path(p).name for p, _ in first.errors] == ["broken.json"]
    assert "not valid JSON" in first.errors[0][1]
    assert second.ingested == () and sorted(second.skipped) == sorted(first.ingested)


def test_an_interrupted_run_is_recorded_as_failed_without_benchmark_files(
        target_repo: Path, make_settings: Callable[..., Settings],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM (as the CLI raises it) in process 2 of 3: process 1's JSON is not kept, the
    record says how many processes ran and that the run has no benchmark files."""
    import signal

    from perf_pipeline.measure import session
    from perf_pipeline.measure.runner import SuiteOutcome

    def fake_run(settings, sha, suite, json_path, extra_args, **_):
        if json_path.name != "benchmark-1.json":
            raise Interrupted(signal.SIGTERM)
        shutil.copy(DATA_DIR / "pytest_benchmark_good.json", json_path)
        return SuiteOutcome(returncode=0, timed_out=False, duration_s=0.1, stdout_tail="",
                            stderr_tail="", json_path=json_path)

    monkeypatch.setattr(session, "run_in_worktree", fake_run)
    settings = make_settings(target_repo, processes=3)
    with pytest.raises(Interrupted):
        measure_commit(settings, "HEAD")
    [run_json] = settings.raw_dir.rglob("run.json")
    record = json.loads(run_json.read_text())
    assert (record["status"], record["error"]) == ("failed", "interrupted by signal SIGTERM")
    assert (record["processes"], record["benchmark_files"]) == (2, 0)
    assert sorted(p.name for p in run_json.parent.iterdir()) == ["run.json"]
    run = load_results(run_json.parent)
    assert (run.status, run.benchmarks) == (RunStatus.FAILED, ())


#: A benchmark that skips itself in the second process that runs it (a flaky skip): the
#: count of runs so far lives in a file outside the worktree.
FLAKY_SKIP = '''
import os
import pytest

COUNT = {count!r}

def test_steady(benchmark):
    benchmark(sum, range(10))

def test_flaky(benchmark):
    n = int(open(COUNT).read()) if os.path.exists(COUNT) else 0
    with open(COUNT, "w") as f:
        f.write(str(n + 1))
    if n == 1:
        pytest.skip("resource not available this time")
    benchmark(sorted, [3, 2, 1])
'''


def test_a_benchmark_skipped_in_one_process_only_is_a_failed_run_that_loads(
        target_repo: Path, make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    """The run was written as a success whose processes disagree, which the loader
    (``merge_processes``) refuses: measure_commit raised, nothing reached the history, and
    every later ingest of the results dir failed on that directory."""
    commit_files(target_repo, {"proj/tests/test_perf.py": FLAKY_SKIP.format(
        count=str(tmp_path / "count"))}, "a flaky benchmark")
    settings = make_settings(target_repo, processes=3)
    with HistoryStore.open(settings.db_path) as store:
        run = measure_commit(settings, "HEAD", store=store)
        assert store.has_run(run.run_id)
        again = ingest_results_dir(settings.results_dir, store)
    assert (run.status, run.benchmarks) == (RunStatus.FAILED, ())
    error = run.error or ""
    assert error.startswith("process 2 of 3: benchmarks measured in process 1 but not in "
                            "this one: ['tests/test_perf.py::test_flaky']"), error
    assert "1 skipped" in error  # the process's own output says why
    run_dir = Path(run.raw_path or "")
    assert sorted(p.name for p in run_dir.iterdir()) == ["run.json"]  # nothing partial
    assert json.loads((run_dir / "run.json").read_text())["processes"] == 2
    assert load_results(run_dir) == run
    assert again.errors == ()


def test_a_benchmark_only_a_later_process_measured_fails_the_run_too(
        target_repo: Path, make_settings: Callable[..., Settings],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from perf_pipeline.measure import session
    from perf_pipeline.measure.runner import SuiteOutcome

    full = json.loads((DATA_DIR / "pytest_benchmark_good.json").read_text())
    skipped = full["benchmarks"][-1]["fullname"]

    def fake_run(settings, sha, suite, json_path, extra_args, **_):
        doc = json.loads(json.dumps(full))
        if json_path.name == "benchmark-1.json":  # process 1 skipped the last one
            doc["benchmarks"].pop()
        json_path.write_text(json.dumps(doc))
        return SuiteOutcome(returncode=0, timed_out=False, duration_s=0.1, stdout_tail="",
                            stderr_tail="", json_path=json_path)

    monkeypatch.setattr(session, "run_in_worktree", fake_run)
    run = measure_commit(make_settings(target_repo, processes=3), "HEAD")
    assert run.status is RunStatus.FAILED
    assert (run.error or "").startswith(
        f"process 2 of 3: benchmarks measured in this process but not in process 1: "
        f"[{skipped!r}]"), run.error
    assert load_results(Path(run.raw_path or "")) == run


NAN_EXTRA_INFO = '''
def test_cache(benchmark):
    benchmark.extra_info["hit_rate"] = float("nan")  # 0 hits of 0 lookups
    benchmark(sum, range(10))
'''


def test_nan_in_extra_info_is_kept_and_the_run_recorded(
        target_repo: Path, make_settings: Callable[..., Settings]) -> None:
    """pytest-benchmark writes NaN into the file; keeping it crashed the run (exit 3)
    after it was measured, leaving an empty raw directory and no run."""
    commit_files(target_repo, {"proj/tests/test_perf.py": NAN_EXTRA_INFO}, "nan figure")
    settings = make_settings(target_repo, processes=1)
    with HistoryStore.open(settings.db_path) as store:
        run = measure_commit(settings, "HEAD", store=store)
        assert store.has_run(run.run_id)
    assert run.status is RunStatus.SUCCESS, run.error
    assert [b.name for b in run.benchmarks] == ["tests/test_perf.py::test_cache"]
    raw = json.loads(gzip.decompress((Path(run.raw_path or "") / "benchmark.json.gz")
                                     .read_bytes()))
    assert math.isnan(raw["benchmarks"][0]["extra_info"]["hit_rate"])  # as recorded


def test_a_tag_named_like_a_branch_does_not_lend_the_branch_its_name(
        target_repo: Path, make_settings: Callable[..., Settings],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """git resolves ``main`` to a tag ``main`` before the branch; the run of that tag's
    commit was recorded on branch main, so an unmerged commit entered the main branch's
    rolling baseline (which picks runs by branch)."""
    from perf_pipeline.measure import session
    from perf_pipeline.measure.runner import SuiteOutcome

    def fake_run(settings, sha, suite, json_path, extra_args, **_):
        shutil.copy(DATA_DIR / "pytest_benchmark_good.json", json_path)
        return SuiteOutcome(returncode=0, timed_out=False, duration_s=0.1, stdout_tail="",
                            stderr_tail="", json_path=json_path)

    monkeypatch.setattr(session, "run_in_worktree", fake_run)
    git(target_repo, "checkout", "-q", "-b", "experiment")
    side = commit_files(target_repo, {"proj/README": "experimental\n"}, "never merged")
    git(target_repo, "checkout", "-q", "main")
    git(target_repo, "tag", "main", side)
    settings = make_settings(target_repo, processes=1)
    # git would take the tag: the short name is refused, naming both (measure/git.py)
    with pytest.raises(InvalidInputError, match="ambiguous"):
        measure_commit(settings, "main")
    run = measure_commit(settings, "refs/tags/main")
    assert run.sha == side
    assert run.commit is not None and run.commit.branch is None
    on_main = measure_commit(settings, "refs/heads/main~1")
    assert on_main.commit is not None and on_main.commit.branch == "main"
    experiment = measure_commit(settings, "experiment")
    assert experiment.commit is not None and experiment.commit.branch == "experiment"


def test_a_run_killed_before_it_was_stored_is_stored_by_the_next_measuring_run(
        target_repo: Path, make_settings: Callable[..., Settings], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """SIGKILL between writing the raw run dir and storing the run left a measured run
    that only an explicit ``ingest`` stored; the next ``run`` (or backfill) stores it and
    says so. Interrupted writes (no run.json) and foreign files are left alone."""
    from perf_pipeline.measure import session, write_raw_run
    from perf_pipeline.measure.runner import SuiteOutcome

    def fake_run(settings, sha, suite, json_path, extra_args, **_):
        shutil.copy(DATA_DIR / "pytest_benchmark_good.json", json_path)
        return SuiteOutcome(returncode=0, timed_out=False, duration_s=0.1, stdout_tail="",
                            stderr_tail="", json_path=json_path)

    monkeypatch.setattr(session, "run_in_worktree", fake_run)
    settings = make_settings(target_repo, processes=1)
    orphan = {"run_id": "20240101T000000Z-0000000a", "suite": "benchmarks",
              "status": "success", "commit": {"sha": "a" * 40},
              "started_at": "2024-01-01T00:00:00+00:00"}
    write_raw_run(settings.raw_dir, orphan, benchmark_json=DATA_DIR / "pytest_benchmark_good.json")
    (settings.raw_dir / ("c" * 40) / "20240101T000000Z-0000000c").mkdir(parents=True)
    shutil.copy(DATA_DIR / "pytest_benchmark_good.json", settings.results_dir / "foreign.json")
    with HistoryStore.open(tmp_path / "h.db") as store, caplog.at_level("WARNING"):
        run = measure_commit(settings, "HEAD", store=store)
        again = measure_commit(settings, "HEAD", store=store)
        stored = {r.run_id for r in store.list_runs()}
    assert stored == {orphan["run_id"], run.run_id, again.run_id}
    notes = [r.getMessage() for r in caplog.records if "never stored" in r.getMessage()]
    assert len(notes) == 1 and orphan["run_id"] in notes[0]


def test_a_results_dir_that_cannot_be_written_is_refused_before_measuring(
        target_repo: Path, make_settings: Callable[..., Settings], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only results dir ended ``run`` in an OSError at the worktree lock (exit 3,
    "a bug in perf_pipeline"), or after the measuring at the raw files."""
    import os

    from perf_pipeline.measure import session

    def never(*_a: object, **_k: object) -> None:
        raise AssertionError("measured although the results could not be kept")

    monkeypatch.setattr(session, "run_in_worktree", never)
    settings = make_settings(target_repo)
    settings.results_dir.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: (
        False if Path(p).absolute() == settings.results_dir.absolute()
        else real_access(p, mode)))
    with pytest.raises(InvalidInputError,
                       match=rf"raw run folder .*: cannot write in {settings.results_dir}"):
        measure_commit(settings, "HEAD")


def test_a_commit_without_the_project_directory_names_the_setting(
        target_repo: Path, make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    """The built-in ``project_subdir`` is the example target's folder: a new user's first
    config (only ``repo_path``) failed with "has no project directory
    'examples/ml_pipeline'" and nothing naming the setting that sets it."""
    settings = make_settings(target_repo, project_subdir="examples/ml_pipeline")
    with HistoryStore.open(tmp_path / "h.db") as store:
        run = measure_commit(settings, "main", store=store)
    assert run.status is RunStatus.NO_SUITE
    assert "'examples/ml_pipeline'" in (run.error or "")
    assert "`project_subdir` setting, PERF_PIPELINE_PROJECT_DIR" in (run.error or "")


def test_a_file_added_to_benchmark_paths_later_is_left_out_at_older_commits(
        tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    """``benchmark_paths = [a, b]`` with ``b`` written later: pytest refused the missing
    ``b`` (exit code 4), so every commit before it failed, and every backfill measured
    them all again. A path missing at HEAD too (a typo) still fails the run."""
    repo = tmp_path / "grows"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    old = commit_files(repo, {"proj/tests/test_perf.py": BENCH_V1}, "first benchmarks")
    new = commit_files(repo, {"proj/tests/test_more.py": BENCH_V1.replace(
        "test_work", "test_other")}, "more benchmarks")
    settings = make_settings(repo, benchmark_paths=("tests/test_perf.py",
                                                    "tests/test_more.py"), processes=1)
    runs = {sha: measure_commit(settings, sha) for sha in (old, new)}
    assert runs[old].status is RunStatus.SUCCESS, runs[old].error
    assert [b.name.rsplit("::", 1)[-1] for b in runs[old].benchmarks] == ["test_work"]
    assert runs[new].status is RunStatus.SUCCESS
    assert len(runs[new].benchmarks) == 2
    typo = measure_commit(replace(settings, benchmark_paths=("tests/test_perf.py",
                                                             "tests/test_mroe.py")), new)
    assert typo.status is RunStatus.FAILED
    assert "code 4" in (typo.error or "")
