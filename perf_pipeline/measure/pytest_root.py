"""Keep the target's pytest inside its checkout.

pytest looks for its configuration from the collected paths upwards, past the project,
until it finds one. A target without a pytest configuration of its own (no
``pytest.ini``, no ``[tool.pytest.ini_options]``: common) is measured in a worktree under
the results dir, so pytest went on above the checkout and took whatever it found in the
user's folders: perf_pipeline's own ``pyproject.toml`` when run from its repo root
(``addopts = -n 2``: xdist, which disables every benchmark, and the run failed), or any
``pytest.ini`` there, whose folder became the rootdir, so each benchmark's name held
``test-results/worktrees/<sha>/`` and no commit's benchmarks matched another's.

For such a target pytest gets no configuration file (``--config-file`` of the null
device) and the rootdir and conftest boundary it would have chosen inside the checkout:
the nearest ``pyproject.toml``, else ``setup.py``, else the project dir (pytest's own
fallbacks). A target with a configuration inside its checkout is left alone.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["config_isolation_args"]

_INI_SECTION = {"tox.ini": re.compile(r"^\s*\[pytest\]", re.M),
                "setup.cfg": re.compile(r"^\s*\[tool:pytest\]", re.M)}


def _holds_pytest_config(directory: Path) -> bool:
    """Whether pytest would take a configuration file of ``directory`` (its names)."""
    for name in ("pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini"):
        if (directory / name).is_file():
            return True  # always a configuration, even empty
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        try:
            with pyproject.open("rb") as fh:
                tool = tomllib.load(fh).get("tool", {})
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            return True  # pytest will read it and say what is wrong: not ours to hide
        if isinstance(tool, dict) and "pytest" in tool:
            return True
    for name, section in _INI_SECTION.items():
        path = directory / name
        if path.is_file():
            try:
                if section.search(path.read_text(encoding="utf-8", errors="replace")):
                    return True
            except OSError:
                return True
    return False


def _search_start(project_dir: Path, paths: Sequence[str]) -> Path:
    """Where pytest's search starts: the common folder of the collected paths (node ids
    without their ``::`` part) that exist, else the project dir (its working dir)."""
    dirs = []
    for p in paths:
        path = project_dir / p.split("::", 1)[0]
        if path.exists():
            dirs.append(path if path.is_dir() else path.parent)
    if not dirs:
        return project_dir
    return Path(os.path.commonpath(dirs))


def config_isolation_args(worktree: Path, project_dir: Path,
                          paths: Sequence[str]) -> tuple[str, ...]:
    """Options that stop pytest's configuration search at the checkout ``worktree``;
    none when the target configures pytest inside it."""
    worktree = worktree.resolve()
    start = _search_start(project_dir.resolve(), paths)
    if worktree != start and worktree not in start.parents:
        return ()  # not in the checkout (a path outside it): nothing to bound
    chain = [start, *(d for d in start.parents if d == worktree or worktree in d.parents)]
    if any(_holds_pytest_config(d) for d in chain):
        return ()
    rootdir = next((d for d in chain if (d / "pyproject.toml").is_file()), None)
    rootdir = rootdir or next((d for d in chain if (d / "setup.py").is_file()), None)
    rootdir = rootdir or project_dir.resolve()
    return (f"--config-file={os.devnull}", f"--rootdir={rootdir}",
            f"--confcutdir={rootdir}")
