"""Runner "venv"'s environment cache (``<results>/envs``) keeps the ones used last."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perf_pipeline.measure import venvs
from perf_pipeline.measure.commands import CommandResult
from perf_pipeline.measure.venvs import ensure_venv, venv_python_path
from perf_pipeline_tests.lock_holder import hold_lock, release


def _fake_build(argv, *, cwd, env, timeout_s, log_path, what) -> CommandResult:
    """``uv venv`` and ``uv pip install`` without uv: the interpreter's path appears."""
    if argv[1] == "venv":
        python = venv_python_path(Path(argv[-1]))
        python.parent.mkdir(parents=True)
        python.touch()
    return CommandResult(tuple(argv), 0, False, 0.0, None)


def _old_env(cache: Path, key: str, used_at: float) -> Path:
    path = cache / key
    venv_python_path(path).parent.mkdir(parents=True)
    (path / ".perf_pipeline_ready").write_text("{}")
    (cache / f"{key}.lock").touch()
    os.utime(path, (used_at, used_at))
    return path


def test_the_cache_keeps_the_environments_used_last_and_spares_those_in_use(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every dependency set a long history went through left its environment (hundreds of
    MB with ML packages) in ``envs/`` for ever. Now only ``keep_envs`` stay, the ones used
    last; one used moments ago (its suite may still run) or being built stays too."""
    monkeypatch.setattr(venvs, "run_logged", _fake_build)
    cache, project = tmp_path / "envs", tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").write_text("idna\n")
    old = [_old_env(cache, f"{i:016x}", 1_000_000 + i) for i in range(4)]  # oldest first
    building = _old_env(cache, "b" * 16, 1_000)  # its builder holds the lock
    running = _old_env(cache, "c" * 16, time.time() - 60)  # a suite may still run in it
    failed = cache / f"{'d' * 16}.lock"  # a failed build removed its folder, not its lock
    failed.touch()
    holder = hold_lock(cache / f"{'b' * 16}.lock")
    try:
        build = ensure_venv(project, cache_dir=cache, uv="uv", python=sys.executable,
                            install_args=(), env=dict(os.environ), timeout_s=60,
                            log_path=tmp_path / "setup.log", keep_envs=2, in_use_s=3600)
    finally:
        release(holder)
    assert build.error is None and not build.reused
    # the two used last (the new one, the running one) and the one being built
    expected = sorted([build.key, running.name, building.name])
    assert sorted(p.name for p in cache.iterdir() if p.is_dir()) == expected
    assert sorted(p.stem for p in cache.glob("*.lock")) == expected  # no lock without one
    assert not any(p.exists() for p in old)
    again = ensure_venv(project, cache_dir=cache, uv="uv", python=sys.executable,
                        install_args=(), env=dict(os.environ), timeout_s=60,
                        log_path=tmp_path / "setup.log", keep_envs=1, in_use_s=0)
    assert again.reused and again.key == build.key  # reusing it made it the newest
    assert sorted(p.name for p in cache.iterdir()) == [build.key, f"{build.key}.lock"]


_REUSE = """
import os, sys
from pathlib import Path
from perf_pipeline.measure.venvs import ensure_venv
build = ensure_venv(Path(sys.argv[1]), cache_dir=Path(sys.argv[2]), uv="uv",
                    python=sys.executable, install_args=(), env=dict(os.environ),
                    timeout_s=60, log_path=Path(sys.argv[3]), keep_envs=100, in_use_s=3600)
print(build.key if build.reused else "built")
"""


def _build_project_env(tmp_path: Path) -> tuple[Path, Path, str]:
    """The cache, the project and the key of the project's environment, built (no uv)."""
    cache, project = tmp_path / "envs", tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").write_text("idna\n")
    build = ensure_venv(project, cache_dir=cache, uv="uv", python=sys.executable,
                        install_args=(), env=dict(os.environ), timeout_s=60,
                        log_path=tmp_path / "setup.log", keep_envs=5, in_use_s=0)
    assert build.error is None and not build.reused
    (build.path / "lib").mkdir()
    (build.path / "lib" / "site.py").write_text("")
    return cache, project, build.key


def test_an_environment_used_after_the_pruner_listed_the_cache_is_not_deleted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pruner reads when each environment was used, then deletes the old ones one
    after another (hundreds of MB each: seconds). Another process (another measuring
    lock: another user, a ``measuring_lock`` of its own) that reuses the oldest meanwhile
    marks it used and runs its suite in it, the key's lock released: the pruner, going
    by what it had read, deleted the environment under that suite."""
    monkeypatch.setattr(venvs, "run_logged", _fake_build)
    cache, project, key = _build_project_env(tmp_path)
    os.utime(cache / key, (1_000, 1_000))  # the oldest
    deleted_first = _old_env(cache, "a" * 16, 2_000)
    _old_env(cache, "f" * 16, 3_000)  # the newest: kept
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    rmtree = shutil.rmtree

    def rmtree_while_another_reuses(path, *args, **kwargs) -> None:
        if Path(path) == deleted_first:  # meanwhile, another process reuses the oldest
            proc = subprocess.run(
                [sys.executable, "-c", _REUSE, str(project), str(cache),
                 str(tmp_path / "other.log")],
                capture_output=True, text=True, env=env, timeout=120)
            assert proc.stdout.strip() == key, proc.stderr[-2000:]
        rmtree(path, *args, **kwargs)

    monkeypatch.setattr(venvs.shutil, "rmtree", rmtree_while_another_reuses)
    removed = venvs.prune_envs(cache, keep=1, spare="0" * 16, in_use_s=3600)
    assert removed == (deleted_first,)
    assert (cache / key / ".perf_pipeline_ready").is_file()  # its suite still has it


_EVICT_KILLED = """
import os, shutil, signal, sys
from pathlib import Path
from perf_pipeline.measure import venvs

rmtree = shutil.rmtree

def killed_half_way(path, *args, **kwargs):
    rmtree(Path(path) / "lib")  # the bulk of an environment, deleted first
    os.kill(os.getpid(), signal.SIGKILL)

venvs.shutil.rmtree = killed_half_way
venvs.prune_envs(Path(sys.argv[1]), keep=1, spare="0" * 16, in_use_s=0)
"""


def test_an_eviction_killed_half_way_leaves_no_ready_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pruner killed while it deletes an environment (SIGKILL, a reboot) left its
    marker of a finished build beside an interpreter whose packages were half gone:
    the next run reused it and its suite failed on imports (a failed run of a good
    commit). What a killed eviction leaves is a half-built environment, rebuilt."""
    monkeypatch.setattr(venvs, "run_logged", _fake_build)
    cache, project, key = _build_project_env(tmp_path)
    os.utime(cache / key, (1_000, 1_000))
    _old_env(cache, "f" * 16, 3_000)  # newer: kept, so the project's is evicted
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-c", _EVICT_KILLED, str(cache)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert not (cache / key / "lib").exists()
    again = ensure_venv(project, cache_dir=cache, uv="uv", python=sys.executable,
                        install_args=(), env=dict(os.environ), timeout_s=60,
                        log_path=tmp_path / "setup.log", keep_envs=5, in_use_s=0)
    assert again.key == key and again.error is None
    assert not again.reused  # rebuilt, not run with its packages half deleted
