"""The environment fingerprint: everything about a process that can move a measurement.

This module imports only the standard library because ``plugin.py`` loads it inside the
*target's* pytest process, where perf_pipeline's own dependencies may not be installed.
``collect_environment`` returns a plain dict (what the plugin writes into the results
JSON); ``environment_fingerprint`` wraps it into ``model.Environment`` for our own side.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only; the plugin must not import model
    from perf_pipeline.model import Environment

__all__ = [
    "CPU_INFO_ENV",
    "KEY_PACKAGES",
    "THREAD_ENV_VARS",
    "collect_environment",
    "environment_fingerprint",
    "find_lock_file",
    "given_cpu_info",
    "hash_lock_file",
]

#: Packages whose version changes can move ML benchmark numbers.
KEY_PACKAGES: tuple[str, ...] = (
    "numpy", "pandas", "scipy", "scikit-learn", "pytest", "pytest-benchmark",
)

#: Variables that change thread pools or hashing, and with them timings.
THREAD_ENV_VARS: tuple[str, ...] = (
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS", "PYTHONHASHSEED", "PYTHONOPTIMIZE",
    "STRESS_MULTIPLIER",
)


#: py-cpuinfo's description of the machine (JSON), asked once by the measuring process
#: and handed to each pytest it starts (runner "current": the same interpreter). Asked
#: in every process, as pytest-benchmark does for its ``machine_info``, it started a
#: Python of its own each time: 0.2 s of a 1 s run of a small suite.
CPU_INFO_ENV = "PERF_PIPELINE_CPU_INFO"


def given_cpu_info() -> dict[str, object] | None:
    """The CPU description the measuring process handed over (``CPU_INFO_ENV``), or
    None (not given, or not a JSON object: the process then asks py-cpuinfo itself)."""
    text = os.environ.get(CPU_INFO_ENV)
    if not text:
        return None
    try:
        info = json.loads(text)
    except ValueError:
        return None
    return info if isinstance(info, dict) else None


def _cpu_model() -> str:
    """The CPU model name: /proc/cpuinfo on Linux, ``platform`` elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "Processor") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _package_versions(packages: Sequence[str]) -> dict[str, str]:
    versions: dict[str, str] = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


#: Lock files in order of preference.
LOCK_FILE_NAMES: tuple[str, ...] = ("uv.lock", "poetry.lock", "requirements.lock",
                                    "requirements.txt")


def find_lock_file(start: Path) -> Path | None:
    """The nearest lock file at or above ``start``, stopping at the repository root.

    The target's suite may run in a subfolder of its repository while the lock file sits
    at the top, so we walk up, but never beyond the directory holding ``.git``.
    """
    for folder in (Path(start).resolve(), *Path(start).resolve().parents):
        for name in LOCK_FILE_NAMES:
            if (folder / name).is_file():
                return folder / name
        if (folder / ".git").exists():
            return None
    return None


def hash_lock_file(path: Path) -> str:
    """sha256 of a lock file, so a changed dependency set shows as a changed fingerprint."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def collect_environment(
    *,
    lock_file: Path | None = None,
    packages: Sequence[str] = KEY_PACKAGES,
) -> dict[str, object]:
    """The fingerprint of *this* process as a JSON-ready dict (stdlib only).

    A missing lock file is recorded as ``None`` rather than an error: the fingerprint
    describes what is there, and a run without a lock file is still a run.
    """
    lock_hash = None
    if lock_file is not None and Path(lock_file).is_file():
        lock_hash = hash_lock_file(Path(lock_file))
    return {
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()}".strip(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count() or 0,
        "packages": _package_versions(packages),
        "lock_hash": lock_hash,
        "thread_env": {k: os.environ[k] for k in THREAD_ENV_VARS if k in os.environ},
        "executable": sys.executable,
    }


def environment_fingerprint(
    *,
    lock_file: Path | None = None,
    packages: Sequence[str] = KEY_PACKAGES,
) -> Environment:
    """The fingerprint of this process as a ``model.Environment``."""
    from perf_pipeline.model import Environment

    return Environment.from_dict(collect_environment(lock_file=lock_file, packages=packages))
