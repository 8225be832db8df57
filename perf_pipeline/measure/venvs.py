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
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.file_lock import exclusive_lock
from perf_pipeline.measure.commands import CommandResult, run_logged

__all__ = ["MEASURING_PACKAGES", "VenvBuild", "dependency_files", "ensure_venv", "venv_key"]

logger = logging.getLogger(__name__)

#: Installed into every environment: what the measurement itself needs.
MEASURING_PACKAGES = ("pytest-benchmark", "psutil")
#: Bump when the way environments are built changes, so old ones are not reused.
_RECIPE = 1
_READY = ".perf_pipeline_ready"


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
                log_path: Path) -> VenvBuild:
    """The environment for ``project_dir``'s dependency set, built if it is not cached.

    Raises ``InvalidInputError`` for a base interpreter that cannot run; a failed build is
    returned as ``VenvBuild.error`` (with the log at ``log_path``), not raised.
    """
    files = dependency_files(project_dir)
    base = python or sys.executable
    key = venv_key(files, python_identity=_python_identity(base), install_args=install_args)
    path = Path(cache_dir).resolve() / key
    python_path = venv_python_path(path)
    with exclusive_lock(Path(cache_dir) / f"{key}.lock"):
        if (path / _READY).is_file() and python_path.exists():
            logger.debug("reusing environment %s", path)
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
