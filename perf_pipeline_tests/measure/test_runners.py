"""Runners for real project layouts, each measured from a fresh worktree of a real repo.

One tiny benchmark per project and a few rounds keep each run to about a second. The
environment of runner "venv" is built once per session and shared (the cache is what
the runner is about); ``uv`` resolves the few small packages from its cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from perf_pipeline.config import Settings, load_settings
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import load_results, measure_commit
from perf_pipeline.measure.environments import expand_placeholders
from perf_pipeline.measure.venvs import VenvBuild, ensure_venv
from perf_pipeline.model import RunStatus
from perf_pipeline.store import HistoryStore
from perf_pipeline_tests.measure.conftest import commit_files, git

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("uv") is None, reason="needs the uv executable")]

ARGS = ("--benchmark-min-rounds=2", "--benchmark-max-time=0.001", "--benchmark-warmup=off",
        "-q")

#: Imports what only the dependency group (idna) and the extra (sniffio) provide.
UV_BENCH = '''
import idna
import sniffio

def test_encode(benchmark):
    assert benchmark(idna.encode, "example.com") == b"example.com"
    assert sniffio.current_async_library
'''

UV_PYPROJECT = '''
[project]
name = "tinyproj"
version = "0.1"
requires-python = ">=3.10"
dependencies = []

[project.optional-dependencies]
fast = ["sniffio"]

[dependency-groups]
test = ["idna"]
'''

REQ_BENCH = '''
from pathlib import Path

import idna

def test_encode(benchmark):
    assert Path("built.txt").read_text() == "built"  # made by the setup command
    assert benchmark(idna.encode, "example.com") == b"example.com"
'''

PLAIN_BENCH = '''
def test_sum(benchmark):
    assert benchmark(sum, range(100)) == 4950
'''


def _repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    commit_files(path, files, "first")
    return path


def _settings(repo: Path, results: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "repo_path": repo, "project_subdir": ".", "benchmark_paths": ("tests",),
        "results_dir": results, "suite_timeout_s": 300.0, "setup_timeout_s": 300.0,
        "pytest_args": ARGS, "processes": 1}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def runner_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One results dir for the module, so its venv cache is shared by every test."""
    return tmp_path_factory.mktemp("runner-results")


@pytest.fixture(scope="session")
def idna_venv(runner_results: Path, tmp_path_factory: pytest.TempPathFactory) -> VenvBuild:
    """The environment of a project whose requirements.txt says ``idna``."""
    project = tmp_path_factory.mktemp("req-spec")
    (project / "requirements.txt").write_text("idna\n")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    build = ensure_venv(project, cache_dir=runner_results / "envs", uv=shutil.which("uv") or "uv",
                        python=None, install_args=(), env=env, timeout_s=300,
                        log_path=runner_results / "setup" / "idna-venv.log",
                        keep_envs=5, in_use_s=3600.0)
    assert build.error is None, (runner_results / "setup" / "idna-venv.log").read_text()
    return build


def test_uv_runner_uses_the_group_and_extras_named_in_uv_args(
        tmp_path: Path, runner_results: Path) -> None:
    repo = _repo(tmp_path / "uvproj", {"pyproject.toml": UV_PYPROJECT,
                                       "tests/test_perf.py": UV_BENCH})
    # Without uv_args the project's default groups lack idna: the run fails, saying why.
    # (First: uv syncs inexactly, so a worktree that had the group keeps it.)
    plain = measure_commit(_settings(repo, runner_results, runner="uv"), "main")
    assert plain.status is RunStatus.FAILED
    assert "No module named 'idna'" in (plain.error or "")
    settings = _settings(repo, runner_results, runner="uv",
                         uv_args=("--group", "test", "--all-extras"))
    run = measure_commit(settings, "main")
    assert run.status is RunStatus.SUCCESS, run.error
    assert [b.name for b in run.benchmarks] == ["tests/test_perf.py::test_encode"]
    assert run.environment is not None  # written by the staged plugin in the target


def test_venv_runner_measures_a_requirements_project_in_a_cached_environment(
        tmp_path: Path, runner_results: Path, idna_venv: VenvBuild) -> None:
    repo = _repo(tmp_path / "reqproj", {
        "requirements.txt": "idna\n", "tests/test_perf.py": REQ_BENCH,
        ".gitignore": "built.txt\n"})
    settings = _settings(repo, runner_results, runner="venv", processes=2, setup=(
        ("{python}", "-c",
         "import idna, pathlib; print('setup ran'); pathlib.Path('built.txt').write_text('built')"),
    ))
    run = measure_commit(settings, "main")
    assert run.status is RunStatus.SUCCESS, run.error
    assert run.benchmarks[0].name == "tests/test_perf.py::test_encode"
    assert len(run.benchmarks[0].samples_s) >= 4  # two processes, pooled
    # The environment came from the cache: the one the fixture built for the same file.
    assert sorted(p.name for p in (runner_results / "envs").iterdir() if p.is_dir()) \
        == [idna_venv.key]
    assert run.environment is not None
    log = (runner_results / "setup" / f"{run.sha}.log").read_text()
    assert log.count("=== preparing") == 1  # prepared once for both processes of the worktree


def test_setup_failure_is_a_failed_run_with_the_log(tmp_path: Path, runner_results: Path) -> None:
    repo = _repo(tmp_path / "plain", {"tests/test_perf.py": PLAIN_BENCH})
    settings = _settings(repo, runner_results, setup=(
        (sys.executable, "-c", "import sys; print('compiler exploded'); sys.exit(3)"),))
    run = measure_commit(settings, "main")
    assert run.status is RunStatus.FAILED and not run.benchmarks
    assert "setup command 1 of 1 failed with exit code 3" in (run.error or "")
    assert "compiler exploded" in (run.error or "")
    assert load_results(Path(run.raw_path or "")).error == run.error  # kept in run.json
    assert "compiler exploded" in (runner_results / "setup" / f"{run.sha}.log").read_text()


def test_command_runner_runs_the_argv_template(tmp_path: Path, runner_results: Path,
                                               idna_venv: VenvBuild) -> None:
    repo = _repo(tmp_path / "cmdproj", {"tests/test_perf.py": PLAIN_BENCH})
    # The template is the interpreter prefix: here the venv's python behind `env`, with a
    # placeholder, to show it is expanded and run without a shell.
    settings = _settings(repo, runner_results, runner="command", runner_command=(
        "env", "PERF_TEST_WORKTREE={worktree}", str(idna_venv.python)))
    run = measure_commit(settings, "main")
    assert run.status is RunStatus.SUCCESS, run.error
    assert run.benchmarks[0].name == "tests/test_perf.py::test_sum"
    assert run.environment is not None  # the staged plugin ran in the target's python
    assert dict(run.benchmarks[0].extra).get("peak_rss_bytes")  # and recorded its figures


def test_command_runner_without_pytest_benchmark_names_the_fix(
        tmp_path: Path, runner_results: Path) -> None:
    bare = tmp_path / "bare-venv"
    uv = shutil.which("uv") or "uv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(bare)], check=True,
                   timeout=120)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(bare / "bin" / "python"),
                    "pytest"], check=True, timeout=300)
    repo = _repo(tmp_path / "cmdproj", {"tests/test_perf.py": PLAIN_BENCH})
    settings = _settings(repo, runner_results, runner="command",
                         runner_command=(str(bare / "bin" / "python"),))
    run = measure_commit(settings, "main")
    assert run.status is RunStatus.FAILED
    assert "pytest-benchmark is not installed in the target's environment " \
           "(runner 'command')" in (run.error or "")
    assert "runner = \"uv\" or \"venv\"" in (run.error or "")


@pytest.mark.parametrize("command", [("no-such-python-xyz",), ("python3; touch x",),
                                     ("{worktree}/.venv/bin/python",), ("/etc/hosts",)])
def test_a_runner_command_that_cannot_start_is_a_failed_run(
        tmp_path: Path, runner_results: Path, command: tuple[str, ...]) -> None:
    """It was an internal error (exit 3, a crash log) and no run was recorded; a failing
    setup command already gave a failed run with its reason."""
    repo = _repo(tmp_path / "cmdproj", {"tests/test_perf.py": PLAIN_BENCH})
    settings = _settings(repo, runner_results, runner="command", runner_command=command)
    with HistoryStore.open(tmp_path / "h.db") as store:
        run = measure_commit(settings, "main", store=store)
        assert store.has_run(run.run_id)
    assert run.status is RunStatus.FAILED
    assert (run.error or "").startswith("cannot start ") and "(command runner)" in run.error
    assert not (repo / "x").exists() and not (tmp_path / "x").exists()  # no shell


def test_placeholders_are_expanded_and_typos_rejected() -> None:
    values = {"worktree": "/w", "project": "/w/p", "sha": "ab" * 20, "python": None,
              "results": "/r"}
    assert expand_placeholders(["{worktree}/.venv/bin/python", "-X", "{sha}"], values,
                               what="runner_command") == ("/w/.venv/bin/python", "-X", "ab" * 20)
    with pytest.raises(InvalidInputError, match=r"unknown placeholder \{worktre\}"):
        expand_placeholders(["{worktre}/python"], values, what="runner_command")
    with pytest.raises(InvalidInputError, match=r"\{python\} is not available"):
        expand_placeholders(["{python}"], values, what="runner_command")


def test_settings_reject_bad_runner_options(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="runner_command"):
        Settings(runner="command")
    with pytest.raises(InvalidInputError, match="runner must be one of"):
        Settings(runner="conda")
    with pytest.raises(InvalidInputError, match="setup commands"):
        Settings(setup=((),))


def test_runner_settings_load_from_toml_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "perf_pipeline.toml"
    config.write_text('[perf_pipeline]\nrunner = "command"\n'
                      'runner_command = ["poetry", "run", "python"]\n'
                      'setup = [["make", "ext"], ["{python}", "-c", "pass"]]\n'
                      'setup_timeout_s = 60\nmachine_id = "bench-box-1"\n')
    settings = load_settings(config_file=config,
                             environ={"PERF_PIPELINE_UV_ARGS": "--group,test,--all-extras"})
    assert settings.runner_command == ("poetry", "run", "python")
    assert settings.setup == (("make", "ext"), ("{python}", "-c", "pass"))
    assert settings.uv_args == ("--group", "test", "--all-extras")
    assert settings.machine_id == "bench-box-1" and settings.setup_timeout_s == 60
    config.write_text('[perf_pipeline]\nsetup = ["make ext"]\n')
    with pytest.raises(InvalidInputError, match="setting setup"):
        load_settings(config_file=config, environ={})
    with pytest.raises(InvalidInputError, match="machine_id must be"):
        load_settings(config_file=None, environ={"PERF_PIPELINE_MACHINE_ID": "a/b"})
