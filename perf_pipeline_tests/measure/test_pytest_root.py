"""measure/pytest_root.py: a target's pytest never takes a configuration from above its
checkout (the user's folders hold the results dir, and so the worktrees)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from perf_pipeline.config import Settings
from perf_pipeline.measure import measure_commit
from perf_pipeline.measure.pytest_root import config_isolation_args
from perf_pipeline.model import RunStatus
from perf_pipeline.store import HistoryStore
from perf_pipeline_tests.measure.conftest import commit_files

#: What a user's folder may hold: perf_pipeline's own pyproject has ``-n 2`` (xdist,
#: which disables every benchmark); this one disables them outright.
OUTER_INI = "[pytest]\naddopts = --benchmark-disable\n"


def test_a_target_without_pytest_config_ignores_the_one_above_the_results_dir(
        target_repo: Path, make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    """The results dir (and so every worktree) sits in a folder with a pytest.ini: pytest
    used to take it, so the benchmarks were disabled (a failed run) or, without such
    options, named ``results/worktrees/<sha>/proj/tests/...``: new at every commit."""
    (tmp_path / "pytest.ini").write_text(OUTER_INI)
    settings = make_settings(target_repo)
    with HistoryStore.open(tmp_path / "h.db") as store:
        run = measure_commit(settings, "main", store=store)
    assert run.status is RunStatus.SUCCESS, run.error
    assert {b.name for b in run.benchmarks} == {"tests/test_perf.py::test_work",
                                               "tests/test_perf.py::test_more"}


def test_a_target_with_its_own_config_is_left_alone(tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    for config in ({"proj/pytest.ini": "[pytest]\n"},
                   {"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n"},
                   {"proj/tox.ini": "[tox]\n[pytest]\n"},
                   {"setup.cfg": "[tool:pytest]\n"},
                   {"proj/tests/pytest.toml": "[pytest]\n"}):
        for rel, text in config.items():
            (worktree / rel).parent.mkdir(parents=True, exist_ok=True)
            (worktree / rel).write_text(text)
        (worktree / "proj" / "tests").mkdir(parents=True, exist_ok=True)
        assert config_isolation_args(worktree, worktree / "proj", ("tests",)) == (), config
        for rel in config:
            (worktree / rel).unlink()


def test_without_config_the_rootdir_is_the_nearest_pyproject_or_setup_py_in_the_checkout(
        tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    (worktree / "proj" / "benchmarks").mkdir(parents=True)
    (tmp_path / "pytest.ini").write_text(OUTER_INI)  # above the checkout: never looked at
    proj = (worktree / "proj").resolve()
    args = config_isolation_args(worktree, worktree / "proj", ("benchmarks/test_x.py::t",))
    assert args == (f"--config-file={os.devnull}", f"--rootdir={proj}", f"--confcutdir={proj}")
    (worktree / "setup.py").write_text("")
    assert f"--rootdir={worktree.resolve()}" in config_isolation_args(
        worktree, worktree / "proj", ("benchmarks",))
    (worktree / "proj" / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert f"--rootdir={proj}" in config_isolation_args(worktree, worktree / "proj",
                                                         ("benchmarks",))


def test_a_node_id_selection_is_bounded_by_the_checkout_too(
        target_repo: Path, make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    """Node ids (an A/B round's, a bisect's) start pytest's search at their file's folder."""
    commit_files(target_repo, {"proj/README": "v4\n"}, "fourth")
    (tmp_path / "pytest.ini").write_text(OUTER_INI)
    settings = make_settings(target_repo, benchmark_paths=("tests/test_perf.py::test_work",))
    with HistoryStore.open(tmp_path / "h.db") as store:
        run = measure_commit(settings, "main", store=store)
    assert run.status is RunStatus.SUCCESS, run.error
    assert [b.name for b in run.benchmarks] == ["tests/test_perf.py::test_work"]
