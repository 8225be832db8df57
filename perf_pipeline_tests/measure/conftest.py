"""Real temporary git repositories holding a tiny pytest-benchmark target."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from perf_pipeline.config import Settings

DATA_DIR = Path(__file__).resolve().parents[1] / "data"

#: Fast benchmark options so each child pytest run stays around a second or two.
FAST_ARGS = ("--benchmark-min-rounds=3", "--benchmark-max-time=0.02", "-q")

BENCH_V1 = '''
def work(n):
    return sum(i * i for i in range(n))

def test_work(benchmark):
    benchmark(work, 200)
'''

BENCH_V2 = BENCH_V1 + '''
def test_more(benchmark):
    benchmark(work, 400)
'''


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=Test", "-c", "user.email=test@example.com",
         "-c", "commit.gpgsign=false", *args],
        capture_output=True, text=True, check=True, timeout=30)
    return proc.stdout.strip()


def commit_files(repo: Path, files: Mapping[str, str], message: str) -> str:
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def target_repo(tmp_path: Path) -> Path:
    """A repo with three commits; the suite lives in ``proj/tests/test_perf.py``."""
    repo = tmp_path / "target"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit_files(repo, {"proj/tests/test_perf.py": BENCH_V1, "proj/README": "v1\n"}, "first")
    commit_files(repo, {"proj/tests/test_perf.py": BENCH_V2}, "second: more benchmarks")
    commit_files(repo, {"proj/README": "v3\n"}, "third: docs only")
    return repo


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(repo: Path, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "repo_path": repo, "project_subdir": "proj",
            "benchmark_paths": ("tests/test_perf.py",), "stress_paths": ("tests/test_perf.py",),
            "results_dir": tmp_path / "results", "suite_timeout_s": 120.0,
            "pytest_args": FAST_ARGS,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make
