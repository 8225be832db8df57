"""The lazy A/B round generator: one round per next(), the manifest however it ends.

The pytest processes are replaced by a fake that copies a recorded pytest-benchmark file
(the git repo and worktree logic stay real), so these tests are fast.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from perf_pipeline.errors import InvalidInputError, MeasurementError
from perf_pipeline.measure import ab_rounds as rounds_module
from perf_pipeline.measure.ab import AB_MANIFEST, ABSelection, iter_ab_rounds
from perf_pipeline.measure.runner import SuiteOutcome
from perf_pipeline_tests.measure.conftest import DATA_DIR, FAST_ARGS


class FakeRunner:
    """Stands in for ``run_in_worktree``: records its arguments, writes a recorded file."""

    def __init__(self, *, fail_on_call: int | None = None) -> None:
        self.calls: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
        self.fail_on_call = fail_on_call
        self.now_s = 0.0  # a fake clock: each side "takes" 10 s

    def clock(self) -> float:
        return self.now_s

    def __call__(self, settings, sha: str, suite: str, json_path: Path,
                 extra_args: Sequence[str], *, paths: Sequence[str] | None = None
                 ) -> SuiteOutcome:
        self.calls.append((sha, tuple(paths or ()), tuple(extra_args)))
        self.now_s += 10.0
        if self.fail_on_call == len(self.calls):
            return SuiteOutcome(returncode=1, timed_out=False, duration_s=0.1,
                                stdout_tail="FAILED test_fib", stderr_tail="",
                                json_path=None, error="benchmark tests failed")
        shutil.copyfile(DATA_DIR / "pytest_benchmark_good.json", json_path)
        return SuiteOutcome(returncode=0, timed_out=False, duration_s=0.1, stdout_tail="",
                            stderr_tail="", json_path=json_path)


@pytest.fixture
def fake_runner(monkeypatch: pytest.MonkeyPatch) -> FakeRunner:
    runner = FakeRunner()
    monkeypatch.setattr(rounds_module, "run_in_worktree", runner)
    return runner


@pytest.fixture
def one_process(make_settings):
    """One process per side: the tests of the round mechanics count pytest calls."""
    return lambda repo, **kw: make_settings(repo, ab_processes=1, **kw)


def _manifest(raw_dir: Path) -> dict:
    return json.loads((raw_dir / AB_MANIFEST).read_text())


def test_one_round_per_next_and_the_manifest_on_early_close(target_repo, one_process,
                                                            fake_runner: FakeRunner) -> None:
    settings = one_process(target_repo)
    select = ABSelection(node_ids=("tests/test_perf.py::test_work",), keyword="work")
    rounds = iter_ab_rounds(settings, "HEAD~1", "HEAD", max_rounds=10, select=select, seed=4)
    assert fake_runner.calls == []  # nothing is measured before the first next()
    first = next(rounds)
    assert first.index == 1 and len(fake_runner.calls) == 2
    assert {first.base.commit.sha, first.candidate.commit.sha} == {  # type: ignore[union-attr]
        rounds.base.sha, rounds.candidate.sha}
    # The selection reaches pytest as separate arguments: node ids as paths, -k EXPR.
    assert {c[1:] for c in fake_runner.calls} == {
        (("tests/test_perf.py::test_work",), ("-k", "work"))}
    next(rounds)
    assert not (rounds.raw_dir / AB_MANIFEST).exists()
    rounds.close()  # the consumer has decided: stop early
    manifest = _manifest(rounds.raw_dir)
    assert manifest["rounds_done"] == 2 and manifest["stopped"] == "closed"
    assert manifest["rounds_planned"] == 10 and manifest["error"] is None
    assert manifest["selection"] == {"node_ids": ["tests/test_perf.py::test_work"],
                                     "keyword": "work", "controls": []}
    assert len(manifest["orders"]) == 2 and manifest["seed"] == 4
    kept = sorted(p.name for p in rounds.raw_dir.glob("round-*.json.gz"))
    assert kept == ["round-001-base.json.gz", "round-001-candidate.json.gz",
                    "round-002-base.json.gz", "round-002-candidate.json.gz"]
    assert all(not (rounds.raw_dir / k).stat().st_mode & 0o222 for k in kept)
    assert list(rounds) == []  # a closed generator gives nothing more
    assert len(fake_runner.calls) == 4


def test_closing_before_the_first_round_still_writes_the_manifest(target_repo, one_process,
                                                                  fake_runner) -> None:
    with iter_ab_rounds(one_process(target_repo), "HEAD~2", "HEAD", max_rounds=3) as rounds:
        pass
    assert _manifest(rounds.raw_dir)["rounds_done"] == 0
    assert fake_runner.calls == []


def test_the_budget_stops_before_a_round_that_would_overrun(target_repo, one_process,
                                                            fake_runner) -> None:
    rounds = iter_ab_rounds(one_process(target_repo), "HEAD~1", "HEAD", max_rounds=10,
                            budget_s=50, clock=fake_runner.clock)
    done = list(rounds)
    # A round takes 20 s of the fake clock: a third would end at 60 s, past the budget.
    assert len(done) == 2 and rounds.stopped == "budget"
    assert _manifest(rounds.raw_dir)["stopped"] == "budget"


def test_all_rounds_then_stop(target_repo, one_process, fake_runner) -> None:
    rounds = iter_ab_rounds(one_process(target_repo), "HEAD~1", "HEAD", max_rounds=3, seed=1)
    assert [r.index for r in rounds] == [1, 2, 3]
    assert rounds.stopped == "max_rounds" and _manifest(rounds.raw_dir)["rounds_done"] == 3


def test_a_failing_side_raises_and_keeps_the_manifest(target_repo, one_process,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rounds_module, "run_in_worktree", FakeRunner(fail_on_call=3))
    rounds = iter_ab_rounds(one_process(target_repo), "HEAD~1", "HEAD", max_rounds=5, seed=2)
    next(rounds)
    with pytest.raises(MeasurementError, match="round 2"):
        next(rounds)
    manifest = _manifest(rounds.raw_dir)
    assert manifest["rounds_done"] == 1 and manifest["stopped"] == "error"
    assert "benchmark tests failed" in manifest["error"]


def test_narrowing_measures_only_what_is_still_open_from_the_next_round(
        target_repo, one_process, fake_runner: FakeRunner) -> None:
    ids = ("tests/test_perf.py::test_a", "tests/test_perf.py::test_b",
           "tests/test_perf.py::test_c")
    rounds = iter_ab_rounds(one_process(target_repo), "HEAD~1", "HEAD", max_rounds=5,
                            select=ABSelection(node_ids=ids), seed=3)
    next(rounds)
    with pytest.raises(InvalidInputError, match="not in its selection"):
        rounds.narrow(["tests/test_perf.py::test_other"])
    with pytest.raises(InvalidInputError, match="to nothing"):
        rounds.narrow([])
    rounds.narrow(ids[1:])
    next(rounds)
    rounds.close()
    assert [c[1] for c in fake_runner.calls] == [ids, ids, ids[1:], ids[1:]]
    manifest = _manifest(rounds.raw_dir)
    assert manifest["selection"]["node_ids"] == list(ids)  # the first selection
    assert manifest["narrowed"] == [{"from_round": 2, "node_ids": list(ids[1:])}]


def test_a_whole_suite_selection_cannot_be_narrowed(target_repo, one_process,
                                                    fake_runner: FakeRunner) -> None:
    with (iter_ab_rounds(one_process(target_repo), "HEAD~1", "HEAD", max_rounds=3) as rounds,
          pytest.raises(InvalidInputError, match="only a selection of node ids")):
        rounds.narrow(["tests/test_perf.py::test_a"])


def test_controls_are_measured_with_the_node_ids_and_validated_like_them() -> None:
    select = ABSelection(node_ids=("tests/t.py::test_a",),
                         controls=("tests/t.py::test_b", "tests/t.py::TestC"))
    assert select.paths(["tests"]) == ("tests/t.py::test_a", "tests/t.py::test_b",
                                       "tests/t.py::TestC")
    assert select.is_control("tests/t.py::test_b")
    assert select.is_control("tests/t.py::TestC::test_d")  # a class covers its tests
    assert select.is_control("tests/t.py::test_b[param]")  # a test covers its parameters
    assert not select.is_control("tests/t.py::test_a")
    assert not select.is_control("tests/t.py::test_bb")  # a prefix is not a match
    # Without node ids the whole configured suite is measured; the controls are in it.
    assert ABSelection(controls=("tests/t.py::test_b",)).paths(["tests"]) == ("tests",)
    with pytest.raises(InvalidInputError, match="cannot be combined with a -k"):
        ABSelection(keyword="a", controls=("tests/t.py::test_b",))
    with pytest.raises(InvalidInputError, match="both a benchmark to test and a control"):
        ABSelection(node_ids=("tests/t.py::test_b",), controls=("tests/t.py::test_b",))
    with pytest.raises(InvalidInputError, match="control '--co' must not start"):
        ABSelection(controls=("--co",))
    with pytest.raises(InvalidInputError, match=r"control '/etc/x\.py' must be a path inside"):
        ABSelection(controls=("/etc/x.py",))


def test_each_side_runs_in_several_processes_alternating_and_pooled(
        target_repo, make_settings, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = FakeRunner()
    monkeypatch.setattr(rounds_module, "run_in_worktree", runner)
    settings = make_settings(target_repo, ab_processes=3)
    with iter_ab_rounds(settings, "HEAD~1", "HEAD", max_rounds=4, seed=5) as rounds:
        first = next(rounds)
    first_sha = {"base": rounds.base.sha, "candidate": rounds.candidate.sha}[first.order[0]]
    other_sha = ({rounds.base.sha, rounds.candidate.sha} - {first_sha}).pop()
    # ABABAB in the round's order: a busy spell hits both sides alike.
    assert [c[0] for c in runner.calls] == [first_sha, other_sha] * 3
    kept = sorted(p.name for p in rounds.raw_dir.glob("round-*.json.gz"))
    assert kept == ["round-001-base-2.json.gz", "round-001-base-3.json.gz",
                    "round-001-base.json.gz", "round-001-candidate-2.json.gz",
                    "round-001-candidate-3.json.gz", "round-001-candidate.json.gz"]
    single = rounds_module.load_results(rounds.raw_dir / "round-001-base.json.gz")
    for side in (first.base, first.candidate):
        for bench in side.benchmarks:  # the samples of the three processes, pooled
            one = single.benchmark(bench.name)
            assert one is not None and len(bench.samples_s) == 3 * len(one.samples_s)
            assert min(bench.samples_s) == min(one.samples_s)
    assert _manifest(rounds.raw_dir)["processes_per_side"] == 3


def test_a_failing_process_is_named(target_repo, make_settings,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rounds_module, "run_in_worktree", FakeRunner(fail_on_call=3))
    rounds = iter_ab_rounds(make_settings(target_repo, ab_processes=2), "HEAD~1", "HEAD",
                            max_rounds=3, seed=2)
    with pytest.raises(MeasurementError, match=r"round 1, \w+ \w+ \(process 2 of 2\)"):
        next(rounds)
    assert _manifest(rounds.raw_dir)["stopped"] == "error"


class SkippingRunner(FakeRunner):
    """A fake whose ``skip_on_call``-th pytest process did not measure the recorded
    file's last benchmark (a flaky ``pytest.skip``)."""

    def __init__(self, *, skip_on_call: int) -> None:
        super().__init__()
        self.skip_on_call = skip_on_call

    def __call__(self, settings, sha: str, suite: str, json_path: Path,
                 extra_args: Sequence[str], *, paths: Sequence[str] | None = None
                 ) -> SuiteOutcome:
        outcome = super().__call__(settings, sha, suite, json_path, extra_args, paths=paths)
        if len(self.calls) == self.skip_on_call:
            doc = json.loads(json_path.read_text())
            doc["benchmarks"].pop()
            json_path.write_text(json.dumps(doc))
        return outcome


def test_a_benchmark_skipped_in_one_process_of_a_side_is_missing_from_that_round_only(
        target_repo, make_settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pooling a side's processes refused a benchmark some process had not measured, and
    the whole A/B stopped with exit 2: a flaky skip is to be inconclusive or missing while
    the others go on."""
    recorded = json.loads((DATA_DIR / "pytest_benchmark_good.json").read_text())
    names = {b["fullname"] for b in recorded["benchmarks"]}
    flaky = recorded["benchmarks"][-1]["fullname"]
    runner = SkippingRunner(skip_on_call=3)  # round 1: the first side's second process
    monkeypatch.setattr(rounds_module, "run_in_worktree", runner)
    settings = make_settings(target_repo, ab_processes=2)
    with iter_ab_rounds(settings, "HEAD~1", "HEAD", max_rounds=2, seed=5) as rounds:
        first, second = list(rounds)
    flaky_side, other_side = first.order
    by_side = {"base": first.base, "candidate": first.candidate}
    assert {b.name for b in by_side[flaky_side].benchmarks} == names - {flaky}
    assert {b.name for b in by_side[other_side].benchmarks} == names
    single = rounds_module.load_results(rounds.raw_dir / f"round-001-{flaky_side}.json.gz")
    for bench in by_side[flaky_side].benchmarks:  # the rest still pooled over both
        one = single.benchmark(bench.name)
        assert one is not None and len(bench.samples_s) == 2 * len(one.samples_s)
    for run in (second.base, second.candidate):
        assert {b.name for b in run.benchmarks} == names
    manifest = _manifest(rounds.raw_dir)
    assert (manifest["stopped"], manifest["rounds_done"], manifest["error"]) == (
        "max_rounds", 2, None)


def test_a_control_matching_no_benchmark_stops_the_ab_at_its_first_process(
        target_repo, make_settings, fake_runner: FakeRunner) -> None:
    """A control that names a plain test (no benchmark) was refused only after the whole
    first round, both sides and every process, had been measured."""
    settings = make_settings(target_repo)  # two processes per side
    select = ABSelection(node_ids=("test_fx.py::test_fib",),
                         controls=("test_fx.py::test_sort", "test_fx.py::test_plain"))
    rounds = iter_ab_rounds(settings, "HEAD~1", "HEAD", max_rounds=3, select=select)
    with pytest.raises(InvalidInputError, match=r"control 'test_fx\.py::test_plain' matched "
                                                r"no benchmark of (base|candidate)"):
        next(rounds)
    assert len(fake_runner.calls) == 1
    manifest = _manifest(rounds.raw_dir)
    assert manifest["stopped"] == "error" and "test_plain" in manifest["error"]


def test_a_selection_that_matches_no_test_is_named_as_the_cause(
        target_repo, one_process, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ab -k typo`` stopped with "check the benchmark paths and markers", pointing at
    the settings rather than at the -k expression that selected nothing."""
    def nothing(settings, sha, suite, json_path, extra_args, *, paths=None) -> SuiteOutcome:
        return SuiteOutcome(returncode=5, timed_out=False, duration_s=0.1, stdout_tail="",
                            stderr_tail="", json_path=None,
                            error="pytest collected no tests (exit code 5): check the "
                                  "benchmark paths and markers")

    monkeypatch.setattr(rounds_module, "run_in_worktree", nothing)
    rounds = iter_ab_rounds(one_process(target_repo), "HEAD~1", "HEAD", max_rounds=3,
                            select=ABSelection(keyword="typo"))
    with pytest.raises(MeasurementError, match=r"selection \(-k 'typo'\) matched no test"):
        next(rounds)


def test_a_node_id_a_commit_lacks_is_named_as_the_likely_cause(
        target_repo, one_process, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test one commit lacks (its file exists) stopped the A/B with a bare "pytest
    exited with code 4"; the cause was only in the output's tail."""
    def usage(settings, sha, suite, json_path, extra_args, *, paths=None) -> SuiteOutcome:
        return SuiteOutcome(returncode=4, timed_out=False, duration_s=0.1, stdout_tail="",
                            stderr_tail="ERROR: not found: tests/test_perf.py::test_new",
                            json_path=None, error="pytest exited with code 4")

    monkeypatch.setattr(rounds_module, "run_in_worktree", usage)
    rounds = iter_ab_rounds(one_process(target_repo), "HEAD~1", "HEAD", max_rounds=3,
                            select=ABSelection(node_ids=("tests/test_perf.py::test_new",)))
    with pytest.raises(MeasurementError, match=r"most likely a --node-id or --control this "
                                               r"commit does not have"):
        next(rounds)


def test_waiting_for_the_measuring_lock_does_not_eat_the_time_budget(
        target_repo, one_process, fake_runner, monkeypatch: pytest.MonkeyPatch) -> None:
    """An A/B that waits for another measuring process (``measure/measuring_lock.py``)
    before its first round still has its whole budget for its rounds."""
    import contextlib

    real_lock = rounds_module.measuring_lock

    @contextlib.contextmanager
    def slow_lock(path: Path, **kwargs: object):
        fake_runner.now_s += 1000.0  # another process measured for 1000 s meanwhile
        with real_lock(path, **kwargs):
            yield

    monkeypatch.setattr(rounds_module, "measuring_lock", slow_lock)
    rounds = iter_ab_rounds(one_process(target_repo), "HEAD~1", "HEAD", max_rounds=10,
                            budget_s=50, clock=fake_runner.clock)
    done = list(rounds)
    assert len(done) == 2 and rounds.stopped == "budget"  # as without the wait


def test_rounds_resumed_in_another_thread_do_not_wait_for_their_own_lock(
        target_repo, one_process, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rounds hold the machine's measuring lock across ``yield``, and each pytest
    process takes it again (``run_prepared``): a round asked for from another thread
    (``run_in_executor``, a thread pool) waited for ever for the lock its own process
    held."""
    import threading

    from perf_pipeline.measure import measuring_lock

    runner = FakeRunner()

    def run_prepared_like(settings, *args, **kwargs) -> SuiteOutcome:
        with measuring_lock(settings.measuring_lock_path, on_wait=lambda: None):
            return runner(settings, *args, **kwargs)

    monkeypatch.setattr(rounds_module, "run_in_worktree", run_prepared_like)
    settings = one_process(target_repo)
    with iter_ab_rounds(settings, "HEAD~1", "HEAD", max_rounds=3, seed=4) as rounds:
        next(rounds)
        done: list[object] = []
        worker = threading.Thread(target=lambda: done.append(next(rounds)), daemon=True)
        worker.start()
        worker.join(30)
        assert done, "the second round, asked for from another thread, never came"
        next(rounds)  # and back in the first thread
    assert len(runner.calls) == 6


def test_a_named_benchmark_is_measured_whatever_the_configured_k_says(
        target_repo, one_process) -> None:
    """``pytest_args = ["-k", "test_more"]`` (the everyday suite, narrowed) made
    ``ab --node-id tests/test_perf.py::test_work`` stop with "matched no test at this
    commit": the configured -k deselected the very benchmark named."""
    settings = one_process(target_repo, pytest_args=(*FAST_ARGS, "-k", "test_more"))
    select = ABSelection(node_ids=("tests/test_perf.py::test_work",))
    with iter_ab_rounds(settings, "HEAD~1", "HEAD", max_rounds=2, select=select) as rounds:
        measured = next(rounds)
    for run in (measured.base, measured.candidate):
        assert [b.name for b in run.benchmarks] == ["tests/test_perf.py::test_work"]
    # Without node ids the configured -k still narrows the suite.
    assert ABSelection().measuring_settings(settings) is settings
    assert select.measuring_settings(settings).pytest_args == FAST_ARGS
