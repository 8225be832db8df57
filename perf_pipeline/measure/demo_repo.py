"""Build a throw-away git history of a target project (for the demo and end-to-end tests).

The history is real: a fresh repository, one commit per step, each step a real edit of
the project's files. Commit dates are spaced a minute apart so that "oldest first" is
unambiguous even when the whole history is written within one second.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from perf_pipeline.errors import InvalidInputError

__all__ = ["HistoryStep", "build_history"]

_IGNORED = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".pytest_cache", ".benchmarks", "htmlcov", ".coverage", "*.egg-info"
)


@dataclass(frozen=True, slots=True)
class HistoryStep:
    """One commit: a message and the edit that makes it (``None`` for the first copy)."""

    message: str
    edit: Callable[[Path], None] | None = None


def _git(repo: Path, *args: str, env: dict[str, str]) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=repo, env=env, capture_output=True, text=True,
            timeout=60, check=True,
        )
    except subprocess.CalledProcessError as exc:
        raise InvalidInputError(
            f"git {args[0]} failed in {repo}: {exc.stderr.strip()[-500:]}") from exc
    return done.stdout.strip()


def build_history(
    dest: Path,
    source_dir: Path,
    steps: Sequence[HistoryStep],
    *,
    branch: str = "main",
) -> tuple[str, ...]:
    """Copy ``source_dir`` to a new git repo at ``dest`` and commit each step in turn.

    Returns the full SHAs, oldest first. ``dest`` must not exist yet: this never
    overwrites anything.
    """
    if dest.exists():
        raise InvalidInputError(f"{dest} already exists; refusing to overwrite it")
    if not steps:
        raise InvalidInputError("build_history needs at least one step")
    shutil.copytree(source_dir, dest, ignore=_IGNORED)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "perf_pipeline demo",
        "GIT_AUTHOR_EMAIL": "demo@perf-pipeline.invalid",
        "GIT_COMMITTER_NAME": "perf_pipeline demo",
        "GIT_COMMITTER_EMAIL": "demo@perf-pipeline.invalid",
        "GIT_TERMINAL_PROMPT": "0",
    }
    _git(dest, "init", "--quiet", "--initial-branch", branch, env=env)
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=len(steps))
    shas: list[str] = []
    for i, step in enumerate(steps):
        if step.edit is not None:
            step.edit(dest)
        when = (start + timedelta(minutes=i)).isoformat()
        step_env = {**env, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
        _git(dest, "add", "--all", env=step_env)
        _git(dest, "commit", "--quiet", "--allow-empty", "-m", step.message, env=step_env)
        shas.append(_git(dest, "rev-parse", "HEAD", env=step_env))
    return tuple(shas)
