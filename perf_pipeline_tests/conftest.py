"""Shared fixtures: a tiny real target repo with a real slowdown, cheap enough for e2e tests.

The example target's suite takes ~20 s per run; end-to-end tests that measure several
commits use this one instead (a few seconds per run), with the same mechanics.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from perf_pipeline.config import MEASURING_LOCK_ENV
from perf_pipeline.measure import HistoryStep, build_history

#: The longest test files (seconds of their longest tests in a full 2-core run on
#: 2026-12-02: the demo 388, the end-to-end gate 313, the A/B 132, the replays 121, the
#: automation 105, profiling 93, the culprit search 81), collected first. Under
#: ``--dist loadfile`` a file runs whole on one worker, and with
#: ``--no-loadscope-reorder`` (pyproject.toml) files are handed out in collection order.
#: xdist's default, most tests first, gave the two longest (one test each) out last, and
#: the run ended with both workers on them alone for 5-10 minutes.
#: The rest are the files of 29 s or more (whole file, ``-n 2`` runs of their folders on
#: a quiet machine, 2026-12-03, the culprit search 68 there): the measuring lock 69, the
#: ``dagster dev`` test 48, the CLI 39, the browser 35, measure_commit 31, backfills
#: without the suite 30, the runner 30, the stress asset 29, calibrate 29. Collected in
#: place, test_cli.py and test_cli_calibrate.py came last of all, and report/ late.
#: A whole CI-like run (2026-12-04, quiet, 1175 s) found two more: the stress replay 42,
#: detectable changes 30 (both in analysis/, collected among the first anyway).
LONGEST_FIRST = ("test_demo.py", "test_end_to_end.py", "pipeline/test_ab.py",
                 "analysis/test_replay.py", "defs/test_automation.py",
                 "pipeline/test_profile.py", "defs/test_measuring_lock.py",
                 "defs/test_culprit_search.py", "defs/test_dagster_dev.py",
                 "analysis/test_stress_replay.py", "analysis/test_detectable.py", "test_cli.py",
                 "report/test_browser.py", "measure/test_session.py",
                 "defs/test_backfill_no_suite.py", "measure/test_runner.py",
                 "defs/test_stress_asset.py", "test_cli_calibrate.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent

    def rank(item: pytest.Item) -> int:
        try:
            name = item.path.relative_to(here).as_posix()
        except ValueError:
            return len(LONGEST_FIRST)
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within each file, and of the rest, is kept


#: Plugins of this project's own test environment that no measured target suite uses.
#: Every pytest the tests start (hundreds of measured suites, A/B rounds, profiles)
#: inherits the environment, and loading these cost it about a second: a tiny target's
#: suite took 1.5 s with them and 0.4 s without (hypothesis alone 0.65 s). The measured
#: suites still run pytest-benchmark and perf_pipeline's plugin, which the product loads.
UNUSED_TARGET_PLUGINS = ("hypothesispytest", "xdist", "xdist.looponfail", "cov", "anyio",
                         "timeout")


@pytest.fixture(autouse=True, scope="session")
def _measured_suites_skip_unused_plugins() -> Iterator[None]:
    """Set in each worker after its own options were read: this test run keeps its
    plugins, the pytest processes it starts do without them."""
    before = os.environ.get("PYTEST_ADDOPTS")
    ours = " ".join(f"-p no:{name}" for name in UNUSED_TARGET_PLUGINS)
    os.environ["PYTEST_ADDOPTS"] = f"{before} {ours}" if before else ours
    yield
    if before is None:
        os.environ.pop("PYTEST_ADDOPTS", None)
    else:
        os.environ["PYTEST_ADDOPTS"] = before


@pytest.fixture(autouse=True, scope="session")
def _a_measuring_lock_per_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Each xdist worker measures under a lock of its own. The product's default lock is
    the machine's (``measuring_lock_path.machine_measuring_lock``), and the two workers'
    measuring tests then waited for each other; the environment variable reaches the CLI
    commands the tests start, and settings built as ``Settings(...)``, alike."""
    before = os.environ.get(MEASURING_LOCK_ENV)
    os.environ[MEASURING_LOCK_ENV] = str(tmp_path_factory.mktemp("lock") / "measuring.lock")
    yield
    if before is None:
        os.environ.pop(MEASURING_LOCK_ENV, None)
    else:
        os.environ[MEASURING_LOCK_ENV] = before


#: What makes a report link its HTML elsewhere (pipeline/report_location.py): set on a
#: GitHub Actions runner, they would make every report the tests write differ from the
#: same test's report on a laptop. Tests of the links set them themselves.
_REPORT_LINK_ENV = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID",
                    "PERF_PIPELINE_REPORT_URL")


@pytest.fixture(autouse=True, scope="session")
def _no_report_link_from_the_runner() -> Iterator[None]:
    saved = {k: os.environ.pop(k) for k in _REPORT_LINK_ENV if k in os.environ}
    yield
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def _no_leaked_dagster_home() -> Iterator[None]:
    """A test must leave ``$DAGSTER_HOME`` as it found it. One that undid a
    ``monkeypatch.setenv`` after its ``instance_for_test`` had closed set it back to the
    test instance's deleted temp dir, and a later test of the same worker, starting
    ``dagster`` in a subprocess, failed far from the cause."""
    before = os.environ.get("DAGSTER_HOME")
    yield
    after = os.environ.get("DAGSTER_HOME")
    if after != before:
        if before is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = before
        pytest.fail(f"the test left $DAGSTER_HOME = {after!r} (it was {before!r})")


CALC = textwrap.dedent('''
    """Tiny numeric helpers: the functions the tiny target benchmarks."""


    def mean_abs(values):
        return sum(map(abs, values)) / len(values)


    def checksum(n):
        return sum(i * i % 7 for i in range(n))


    def sorted_words(words):
        return sorted(words, key=str.lower)


    def word_index(words):
        return {w: i for i, w in enumerate(words)}


    def joined(words):
        return ",".join(words)


    def fib(n):
        a, b = 0, 1
        for _ in range(n):
            a, b = b, a + b
        return a
''')

TESTS = textwrap.dedent('''
    from calc import checksum, fib, joined, mean_abs, sorted_words, word_index

    VALUES = [(-1) ** i * (i % 97) / 3.0 for i in range(20_000)]
    WORDS = [f"w{(i * 7919) % 5003}" for i in range(3_000)]


    def test_mean_abs(benchmark):
        result = benchmark(mean_abs, VALUES)
        assert abs(result - sum(abs(v) for v in VALUES) / len(VALUES)) < 1e-9


    def test_checksum(benchmark):
        assert benchmark(checksum, 20_000) == sum(i * i % 7 for i in range(20_000))


    def test_sorted_words(benchmark):
        result = benchmark(sorted_words, WORDS)
        assert result[0] <= result[-1] and len(result) == len(WORDS)


    def test_word_index(benchmark):
        assert len(benchmark(word_index, WORDS)) == len(set(WORDS))


    def test_joined(benchmark):
        assert benchmark(joined, WORDS).count(",") == len(WORDS) - 1


    def test_fib(benchmark):
        assert benchmark(fib, 2_000) % 1_000_007 == fib_reference(2_000) % 1_000_007


    def fib_reference(n):
        a, b = 0, 1
        for _ in range(n):
            a, b = b, a + b
        return a
''')

#: Fast pytest-benchmark settings for the tiny target (rounds still >= 15). Six
#: benchmarks: enough (>= 5) for the analysis to estimate the machine factor of a run.
TINY_PYTEST_ARGS = ("--benchmark-min-rounds=15", "--benchmark-max-time=0.1",
                    "--benchmark-warmup=on", "--benchmark-warmup-iterations=2")


def _neutral(root: Path) -> None:
    calc = root / "calc.py"
    calc.write_text(calc.read_text().replace(
        '"""Tiny numeric helpers: the functions the tiny target benchmarks."""',
        '"""Tiny numeric helpers.\n\nThe functions the tiny target benchmarks."""'))


def _slowdown(root: Path) -> None:
    calc = root / "calc.py"
    text = calc.read_text()
    old = "    return sum(map(abs, values)) / len(values)\n"
    new = ("    total = 0.0\n    for i in range(len(values)):\n"
           "        v = values[i]\n        total += v if v >= 0 else -v\n"
           "    return total / len(values)\n")
    assert old in text
    calc.write_text(text.replace(old, new))


@dataclass(frozen=True)
class TinyTarget:
    repo: Path
    shas: tuple[str, ...]  # baseline, neutral, slowdown
    pytest_args: tuple[str, ...] = TINY_PYTEST_ARGS
    slowed: str = "test_mean_abs"

    def write_config(self, path: Path, *, results_dir: Path) -> Path:
        """A perf_pipeline.toml that points the framework at this target.

        A/B rounds of one process per side: the tests on this target check the wiring,
        and the slowdown is large; two per side (the default) run where a test asks for
        them (pipeline/test_ab.py)."""
        path.write_text(
            "[perf_pipeline]\n"
            f"repo_path = {json.dumps(str(self.repo))}\n"
            'project_subdir = "."\n'
            f"results_dir = {json.dumps(str(results_dir))}\n"
            'benchmark_paths = ["tests"]\n'
            f"pytest_args = {json.dumps(list(self.pytest_args))}\n"
            "ab_processes = 1\n")
        return path


def make_tiny_target(dest: Path, *, extra: tuple[HistoryStep, ...] = ()) -> TinyTarget:
    src = dest.parent / f"{dest.name}-src"
    (src / "tests").mkdir(parents=True)
    (src / "calc.py").write_text(CALC)
    (src / "tests" / "test_perf.py").write_text(TESTS)
    (src / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    steps = (HistoryStep("Add calc"), HistoryStep("Docs: split calc docstring", _neutral),
             HistoryStep("Compute mean_abs with an index loop", _slowdown), *extra)
    return TinyTarget(repo=dest, shas=build_history(dest, src, steps))


@pytest.fixture(scope="session")
def tiny_target(tmp_path_factory: pytest.TempPathFactory) -> TinyTarget:
    return make_tiny_target(tmp_path_factory.mktemp("tiny") / "repo")


@pytest.fixture
def tiny_target_factory(tmp_path: Path) -> Callable[..., TinyTarget]:
    def factory(name: str = "repo", **kw: object) -> TinyTarget:
        return make_tiny_target(tmp_path / name, **kw)  # type: ignore[arg-type]
    return factory


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database (see `postgres_server`)."""
    from perf_pipeline_tests.postgres_server import fresh_database

    yield from fresh_database()
