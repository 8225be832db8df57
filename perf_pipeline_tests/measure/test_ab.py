"""Starting an A/B (``measure/ab.py``): bad input is refused before anything is measured.

The rounds themselves are tested in ``test_ab_rounds.py``.
"""

from __future__ import annotations

import pytest

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import ab_rounds
from perf_pipeline.measure.ab import ABSelection, iter_ab_rounds


@pytest.fixture
def no_measuring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any pytest process started fails the test: these checks come before measuring."""
    def measured(*args: object, **kwargs: object) -> None:
        pytest.fail("a pytest process was started")

    monkeypatch.setattr(ab_rounds, "run_in_worktree", measured)


def test_bad_input_fails_before_any_measurement(target_repo, make_settings,
                                                no_measuring) -> None:
    settings = make_settings(target_repo)
    with pytest.raises(InvalidInputError, match="same commit"):
        iter_ab_rounds(settings, "HEAD", "HEAD", max_rounds=3)
    with pytest.raises(InvalidInputError, match="must not start with '-'"):
        iter_ab_rounds(settings, "--upload-pack=x", "HEAD", max_rounds=3)
    with pytest.raises(InvalidInputError, match="at least 2 rounds"):
        iter_ab_rounds(settings, "HEAD~1", "HEAD", max_rounds=1)


def test_a_node_id_or_control_whose_file_is_missing_at_a_commit_is_refused_first(
        target_repo, make_settings, no_measuring) -> None:
    """``ab --control`` with a file one commit lacks stopped at that side's first process
    with a bare "pytest exited with code 4", the other side perhaps measured first."""
    settings = make_settings(target_repo)
    good = ABSelection(node_ids=("tests/test_perf.py::test_work",),
                       controls=("tests", "tests/test_perf.py::test_other"))
    iter_ab_rounds(settings, "HEAD~1", "HEAD", max_rounds=3, select=good,
                   check_selection=True).close()
    bad = ABSelection(node_ids=("tests/test_perf.py::test_work",),
                      controls=("tests/test_perf.py::test_a", "tests/test_new.py::test_b"))
    with pytest.raises(InvalidInputError, match=r"control 'tests/test_new\.py::test_b': "
                                                r"proj/tests/test_new\.py does not exist "
                                                r"at base"):
        iter_ab_rounds(settings, "HEAD~1", "HEAD", max_rounds=3, select=bad,
                       check_selection=True)
    # The confirmation's own selection is not checked: its failures are values.
    iter_ab_rounds(settings, "HEAD~1", "HEAD", max_rounds=3, select=bad).close()


def test_a_benchmark_path_added_later_is_left_out_at_older_commits(
        target_repo, make_settings) -> None:
    """``run`` leaves out a path of ``benchmark_paths`` a commit does not have yet but
    HEAD has; ``ab`` of two older commits passed every path to pytest and stopped at
    round 1 with "pytest exited with code 4" (file or directory not found)."""
    from perf_pipeline_tests.measure.conftest import commit_files

    commit_files(target_repo, {"proj/tests/test_new.py": "def test_new(benchmark):\n"
                               "    benchmark(sum, range(50))\n"}, "fourth: a new file")
    settings = make_settings(target_repo, ab_processes=1,
                             benchmark_paths=("tests/test_perf.py", "tests/test_new.py"))
    rounds = iter_ab_rounds(settings, "HEAD~3", "HEAD~2", max_rounds=2, seed=1)
    try:
        done = list(rounds)
    finally:
        rounds.close()
    assert len(done) == 2 and rounds.error is None
    assert {b.name for b in done[0].base.benchmarks} == {  # type: ignore[union-attr]
        "tests/test_perf.py::test_work"}
