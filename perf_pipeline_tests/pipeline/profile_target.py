"""A tiny target whose second commit adds an O(n²) helper and a cache that keeps every input."""

from __future__ import annotations

from pathlib import Path

from perf_pipeline_tests.measure.conftest import commit_files, git

MOD_BASE = '''
def normalise(values):
    return [v / 10.0 for v in values]


def pipeline(values):
    return sum(normalise(values))


def remember(values):
    return len(values)
'''

MOD_CANDIDATE = '''
def normalise(values):
    return [v / 10.0 for v in values]


def _unique_slow(values):
    out = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def pipeline(values):
    return sum(normalise(_unique_slow(values)))


_SEEN = []


def remember(values):
    _SEEN.append([float(v) for v in values])
    return len(values)
'''

#: The line of MOD_CANDIDATE that keeps every input.
CACHE_LINE = MOD_CANDIDATE.splitlines().index(
    "    _SEEN.append([float(v) for v in values])") + 1

TESTS = '''
from mod import pipeline, remember

DATA = list(range(700))


def test_pipeline(benchmark):
    assert benchmark(pipeline, DATA) > 0


def test_remember(benchmark):
    assert benchmark(remember, DATA) == 700
'''


def build_profile_target(root: Path) -> tuple[Path, str, str]:
    """``(repo, base sha, candidate sha)``; the suite lives in ``proj/tests``."""
    repo = root / "target"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    base = commit_files(repo, {"proj/mod.py": MOD_BASE, "proj/conftest.py": "",
                               "proj/tests/test_perf.py": TESTS}, "base")
    candidate = commit_files(repo, {"proj/mod.py": MOD_CANDIDATE},
                             "dedupe inputs; remember every input")
    return repo, base, candidate
