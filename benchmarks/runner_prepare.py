"""What each runner's preparation costs per measured process: build vs cached venv.

`uv run python benchmarks/runner_prepare.py [--repeats 3]` (about half a minute) times,
on a requirements.txt project that needs ``idna``:

1. ``ensure_venv`` into an empty cache (``uv venv`` + ``uv pip install`` of the
   requirements, pytest-benchmark and psutil; packages come from uv's cache, as after
   the first build on a benchmark machine);
2. ``ensure_venv`` again with the same requirements (the per-process cost of runner
   "venv" once the environment exists: hashing the files, asking the base Python its
   version, taking the lock);
3. ``prepare_worktree`` of a worktree that is already prepared (the stamp check).

It prints the median of ``--repeats`` repeats of each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from perf_pipeline.config import Settings
from perf_pipeline.measure.environments import prepare_worktree
from perf_pipeline.measure.venvs import ensure_venv


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@b",
                    *args], check=True, capture_output=True, timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit("needs uv on PATH")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    cold, warm, stamp = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo = root / "repo"
        repo.mkdir()
        (repo / "requirements.txt").write_text("idna\n")
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "one")
        for i in range(args.repeats):
            cache = root / f"envs-{i}"
            start = time.perf_counter()
            build = ensure_venv(repo, cache_dir=cache, uv=uv, python=None, install_args=(),
                                env=env, timeout_s=600, log_path=root / "log",
                                keep_envs=5, in_use_s=3600.0)
            cold.append(time.perf_counter() - start)
            assert build.error is None, (root / "log").read_text()
            start = time.perf_counter()
            again = ensure_venv(repo, cache_dir=cache, uv=uv, python=None, install_args=(),
                                env=env, timeout_s=600, log_path=root / "log",
                                keep_envs=5, in_use_s=3600.0)
            warm.append(time.perf_counter() - start)
            assert again.reused
        settings = Settings(repo_path=repo, project_subdir=".", results_dir=root / "results",
                            runner="venv")
        sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                             capture_output=True, text=True).stdout.strip()
        tree = root / "tree"
        _git(repo, "worktree", "add", "--detach", str(tree), sha)
        prepare_worktree(settings, tree, sha)
        for _ in range(args.repeats):
            start = time.perf_counter()
            assert prepare_worktree(settings, tree, sha).error is None
            stamp.append(time.perf_counter() - start)
    print(f"venv build, empty env cache (uv cache warm): {statistics.median(cold):6.2f} s")
    print(f"venv reuse (same requirements):              {statistics.median(warm):6.3f} s")
    print(f"prepare_worktree, already prepared:          {statistics.median(stamp):6.3f} s")


if __name__ == "__main__":
    main()
