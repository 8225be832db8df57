"""Runner "venv": one virtual environment per dependency set, built with uv and cached.

asv's lesson: building an environment per commit is the slow part of benchmarking a
history, and most commits do not change their dependencies. So the environment is keyed
by what it is built from (the bytes of the project's ``requirements*.txt`` files, or of
its ``pyproject.toml`` when it has none; the base interpreter; the extra ``uv pip
install`` arguments) and shared by every commit with the same key. The target itself is
NOT installed into that shared environment (two commits would overwrite each other):
each worktree gets its own ``--target`` directory, put on ``PYTHONPATH``
(``measure/environments.py``).

``uv venv`` and ``uv pip install`` make a build take seconds rather than minutes. The
environment also gets pytest-benchmark and psutil, which the measurement needs whether
or not the target lists them. A lock file per key serialises builders; a marker file
written last tells a finished environment from a half-built one, which is rebuilt.

The cache is bounded (``prune_envs``): each dependency change of a long history made an
environment (hundreds of MB with ML packages) that stayed for ever. Only the
``keep_envs`` used last are kept; using one marks it (its folder's mtime). One used
within ``in_use_s`` may still be running a suite, with the key's lock long released, and
is never deleted; nor is one whose lock another process holds (it is being built).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.file_lock import exclusive_lock, remove_held_lock
from perf_pipeline.measure.commands import CommandResult, run_logged

__all__ = ["MEASURING_PACKAGES", "VenvBuild", "dependency_files", "ensure_venv", "prune_envs",
           "venv_key"]

logger = logging.getLogger(__name__)

#: Installed into every environment: what the measurement itself needs.
MEASURING_PACKAGES = ("pytest-benchmark", "psutil")
#: Bump when the way environments are built changes, so old ones are not reused.
_RECIPE = 1
_READY = ".perf_pipeline_ready"
#: An environment's folder name: ``venv_key``'s hash.
_KEY_NAME = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True, slots=True)
class VenvBuild:
    """A ready environment (``error`` None) or why it could not be built."""

    key: str
    path: Path
    python: Path
    reused: bool
    error: str | None = None


def dependency_files(project_dir: Path) -> tuple[Path, ...]:
    """What the environment is built from: ``requirements*.txt``, else ``pyproject.toml``.

    A project with neither gets an environment with only the measuring packages.
    """
    requirements = sorted(p for p in Path(project_dir).glob("requirements*.txt") if p.is_file())
    if requirements:
        return tuple(requirements)
    pyproject = Path(project_dir) / "pyproject.toml"
    return (pyproject,) if pyproject.is_file() else ()


def _python_identity(python: str) -> str:
    """The base interpreter's path and version: a new Python is a new environment."""
    try:
        proc = subprocess.run([python, "-c", "import sys; print(sys.version)"],
                              capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InvalidInputError(f"venv_python {python!r} cannot be run: {exc}") from exc
    if proc.returncode != 0:
        raise InvalidInputError(f"venv_python {python!r} exited with code {proc.returncode}")
    return f"{python}\n{proc.stdout.strip()}"


def venv_key(files: Sequence[Path], *, python_identity: str, install_args: Sequence[str]) -> str:
    """A short hash of everything the environment is built from."""
    digest = hashlib.sha256()
    digest.update(json.dumps([_RECIPE, python_identity, list(install_args),
                              list(MEASURING_PACKAGES)]).encode())
    for path in files:
        digest.update(b"\0" + path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def venv_python_path(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def ensure_venv(project_dir: Path, *, cache_dir: Path, uv: str, python: str | None,
                install_args: Sequence[str], env: Mapping[str, str], timeout_s: float,
                log_path: Path, keep_envs: int, in_use_s: float) -> VenvBuild:
    """The environment for ``project_dir``'s dependency set, built if it is not cached;
    then all but the ``keep_envs`` used last are deleted (``prune_envs``).

    Raises ``InvalidInputError`` for a base interpreter that cannot run; a failed build is
    returned as ``VenvBuild.error`` (with the log at ``log_path``), not raised.
    """
    build = _ensure_venv(project_dir, cache_dir=cache_dir, uv=uv, python=python,
                         install_args=install_args, env=env, timeout_s=timeout_s,
                         log_path=log_path)
    prune_envs(cache_dir, keep=keep_envs, spare=build.key, in_use_s=in_use_s)
    return build


def _ensure_venv(project_dir: Path, *, cache_dir: Path, uv: str, python: str | None,
                 install_args: Sequence[str], env: Mapping[str, str], timeout_s: float,
                 log_path: Path) -> VenvBuild:
    files = dependency_files(project_dir)
    base = python or sys.executable
    key = venv_key(files, python_identity=_python_identity(base), install_args=install_args)
    path = Path(cache_dir).resolve() / key
    python_path = venv_python_path(path)
    with exclusive_lock(Path(cache_dir) / f"{key}.lock"):
        if (path / _READY).is_file() and python_path.exists():
            logger.debug("reusing environment %s", path)
            os.utime(path)  # used now: the last to be pruned, and not while in use
            return VenvBuild(key, path, python_path, reused=True)
        if path.exists():
            logger.info("environment %s was left half-built; rebuilding it", path)
            shutil.rmtree(path)
        logger.info("building environment %s from %s", path,
                    ", ".join(f.name for f in files) or "no dependency file")
        steps = [[uv, "venv", "--quiet", "--python", base, str(path)],
                 [uv, "pip", "install", "--python", str(python_path),
                  *(arg for f in files for arg in ("-r", str(f))), *install_args,
                  *MEASURING_PACKAGES]]
        result: CommandResult | None = None
        for i, argv in enumerate(steps, start=1):
            result = run_logged(argv, cwd=Path(project_dir), env=env, timeout_s=timeout_s,
                                log_path=log_path,
                                what=f"environment build step {i} of {len(steps)}")
            if not result.ok:
                shutil.rmtree(path, ignore_errors=True)
                return VenvBuild(key, path, python_path, reused=False, error=result.error)
        (path / _READY).write_text(json.dumps({"key": key, "files": [f.name for f in files]}))
        os.utime(path)
        return VenvBuild(key, path, python_path, reused=False)


def _unused_since(path: Path, used_at: float) -> bool:
    """Whether the environment at ``path`` is still as the listing found it, unused since
    ``used_at``. Read again under its lock: the pruner deletes one environment after
    another (seconds each), and another process (one with a measuring lock of its own)
    that reuses one meanwhile marks it, releases the lock and runs its suite in it."""
    try:
        return path.stat().st_mtime == used_at
    except OSError:  # gone meanwhile
        return False


def _delete_env(path: Path) -> None:
    """Delete the environment at ``path``, its marker of a finished build first: the
    folder's entries go in the file system's order, and a deletion killed after the
    packages but before the marker left an environment the next run reused, whose suite
    then failed on imports. Without its marker, what is left is rebuilt."""
    with contextlib.suppress(OSError):  # then rmtree's own errors are ignored too
        (path / _READY).unlink(missing_ok=True)
    shutil.rmtree(path, ignore_errors=True)


def prune_envs(cache_dir: Path, *, keep: int, spare: str, in_use_s: float) -> tuple[Path, ...]:
    """Delete the environments in ``cache_dir`` beyond the ``keep`` used last; those deleted.

    Spared: ``spare`` (the key in use), any used within ``in_use_s`` seconds (a suite may
    still run in it) and any whose lock is held (being built). Lock files of keys without
    an environment (a failed build removes its folder) go too, when nobody holds them.
    """
    if keep < 1:
        raise InvalidInputError(f"keep_envs must be >= 1, not {keep!r}")
    cache_dir = Path(cache_dir)
    dated: list[tuple[float, Path]] = []
    try:
        for entry in cache_dir.iterdir():
            if _KEY_NAME.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink():
                dated.append((entry.stat().st_mtime, entry))
        orphans = [lock for lock in cache_dir.glob("*.lock")
                   if _KEY_NAME.fullmatch(lock.stem) and not (cache_dir / lock.stem).exists()]
    except OSError as exc:
        logger.debug("cannot list %s to prune environments: %s", cache_dir, exc)
        return ()
    now = time.time()
    removed = []
    for used_at, path in sorted(dated, reverse=True)[keep:]:
        if path.name == spare or now - used_at < in_use_s:
            continue
        lock = cache_dir / f"{path.name}.lock"
        with exclusive_lock(lock, blocking=False) as held:
            if not held or not _unused_since(path, used_at):
                if held and not path.exists():  # another pruner's: the lock made here goes
                    remove_held_lock(lock)
                continue
            _delete_env(path)
            remove_held_lock(lock)
        logger.info("removed environment %s, unused since %s", path,
                    time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(used_at)))
        removed.append(path)
    for lock in orphans:
        with exclusive_lock(lock, blocking=False) as held:
            if held and not (cache_dir / lock.stem).exists():
                remove_held_lock(lock)
    return tuple(removed)
