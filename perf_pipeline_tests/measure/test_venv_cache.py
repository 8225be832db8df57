"""Runner "venv"'s environment cache (``<results>/envs``) keeps the ones used last."""

from __future__ import annotations

import os
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
