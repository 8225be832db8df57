"""Setup logs (``<results>/setup/<sha>.log``) are kept for the commits prepared last."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from perf_pipeline.measure import environments, git_worktree, resolve_commit
from perf_pipeline.measure.environments import prepare_worktree


def test_only_the_newest_setup_logs_are_kept(target_repo: Path, make_settings,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Each prepared commit wrote ``setup/<sha>.log`` and kept it for ever: a machine
    measuring every commit gathered one log per commit. Only the newest few stay; a file
    that is not a commit's log is not ours to delete."""
    monkeypatch.setattr(environments, "KEEP_SETUP_LOGS", 2, raising=False)
    settings = make_settings(target_repo, setup=((sys.executable, "-c", "print('built')"),))
    logs = settings.layout.setup_logs_dir
    logs.mkdir(parents=True)
    for age, name in enumerate(("1" * 40, "2" * 40, "3" * 40)):  # oldest first
        (logs / f"{name}.log").write_text("=== preparing\n")
        os.utime(logs / f"{name}.log", (1_000_000 + age, 1_000_000 + age))
    (logs / "notes.log").write_text("someone's notes\n")
    os.utime(logs / "notes.log", (1, 1))
    sha = resolve_commit(target_repo, "HEAD")
    with git_worktree(target_repo, sha, root=settings.worktrees_dir) as worktree:
        prepared = prepare_worktree(settings, worktree, sha)
    assert prepared.error is None
    assert "built" in (logs / f"{sha}.log").read_text()
    assert sorted(p.name for p in logs.iterdir()) == sorted(
        [f"{sha}.log", f"{'3' * 40}.log", "notes.log"])
