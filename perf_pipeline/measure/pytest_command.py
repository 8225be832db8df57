"""The child's pytest command line: our plugin, the JSON path, the suite's markers.

No shell is ever involved. A suite's own ``-m`` (``stress``) is combined with the user's
(``marker_expression``), and a selection by node id drops the configured ``-k``
(``without_keyword_options``); both read short options the way pytest's argparse does.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from perf_pipeline.config import RUNNERS
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure.plugin_staging import STAGED_PACKAGE

__all__ = ["PLUGIN_MODULE", "build_command", "marker_expression", "without_keyword_options",
           "without_marker_options"]

#: The plugin as the current interpreter imports it.
PLUGIN_MODULE = "perf_pipeline.measure.plugin"
_RUNNERS = RUNNERS

# pytest's one-letter options, as argparse clusters them (``-vx``, ``-vm EXPR``): the ones
# that take no value may be followed by more letters; one that takes a value takes the rest
# of the cluster, or the next argument. ``-n`` is pytest-xdist's.
_SHORT_FLAGS = frozenset("vqsxlhV")
_SHORT_WITH_VALUE = frozenset("mkpcoWrn")


def without_keyword_options(args: Sequence[str]) -> list[str]:
    """``args`` without their ``-k`` options: a selection by node id replaces the
    configured ``-k``, which would otherwise deselect the benchmarks it names."""
    return without_marker_options(args, letter="k")[0]


def without_marker_options(args: Sequence[str], *,
                            letter: str = "m") -> tuple[list[str], str | None]:
    """``args`` without their ``-m`` options, and the expression pytest would have taken.

    pytest keeps the LAST ``-m`` (``-m EXPR``, ``-mEXPR``, ``-m=EXPR``, or clustered after
    flags: ``-vm EXPR``, ``-qqmEXPR``, where an ``=`` is part of the value); the value of
    another option (``-k EXPR``) and everything after ``--`` are kept as they are. A
    trailing ``-m`` without a value is left for pytest to reject. ``letter="k"`` does
    the same for ``-k``.
    """
    rest: list[str] = []
    expression: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            rest += args[i - 1:]
            break
        if not arg.startswith("-") or arg.startswith("--") or len(arg) < 2:
            rest.append(arg)
            continue
        flags = 1  # how many letters of the cluster are value-less flags
        while flags < len(arg) and arg[flags] in _SHORT_FLAGS:
            flags += 1
        found = arg[flags] if flags < len(arg) else ""
        value = arg[flags + 1:]
        if found != letter:
            rest.append(arg)
            if found in _SHORT_WITH_VALUE and not value and i < len(args):
                rest.append(args[i])  # that option's value, whatever it looks like
                i += 1
            continue
        if not value and i >= len(args):
            rest.append(arg)  # pytest says "-m: expected one argument"
            continue
        if flags > 1:
            rest.append(arg[:flags])
        if value:
            # argparse drops the "=" of "-m=EXPR" only: "-vm=EXPR" gives pytest "=EXPR"
            expression = value[1:] if flags == 1 and value.startswith("=") else value
        else:
            expression = args[i]
            i += 1
    return rest, expression


def marker_expression(markers: str | None,
                      extra_args: Sequence[str]) -> tuple[str | None, list[str]]:
    """The ``-m`` expression a suite runs with, and ``extra_args`` left to pass after it.

    A suite's own ``markers`` (``stress``) must hold whatever ``-m`` the user's
    ``pytest_args`` add: pytest keeps only the last ``-m``, so a ``-m "not stress"`` meant
    for the benchmark runs would otherwise replace it, and the stress run would run the
    benchmarks and no stress test, as a success. Both are kept: ``stress and (EXPR)``,
    with the user's ``-m`` taken out of the arguments. A suite without markers of its own
    passes the user's arguments as they are.
    """
    if not markers:
        return None, list(extra_args)
    rest, user = without_marker_options(list(extra_args))
    if user is None or not user.strip():  # pytest reads an empty -m as no selection
        return markers, rest
    return f"{markers} and ({user})", rest


def build_command(
    project_dir: Path,
    *,
    paths: Sequence[str],
    json_path: Path,
    runner: str = "current",
    extra_args: Sequence[str] = (),
    markers: str | None = None,
    uv_executable: str = "uv",
    uv_args: Sequence[str] = (),
    interpreter: Sequence[str] = (),
) -> tuple[str, ...]:
    """The child's argument list (no shell is ever involved).

    ``interpreter`` is the argv that starts the target's Python for runners "command"
    and "venv" (``measure/environments.py`` builds it); ``uv_args`` go to ``uv run``.
    A ``-m`` in ``extra_args`` narrows the suite's own ``markers`` (``marker_expression``).
    """
    if runner not in _RUNNERS:
        raise InvalidInputError(f"runner must be one of {_RUNNERS}, not {runner!r}")
    if not paths:
        raise InvalidInputError(f"no benchmark paths given for {project_dir}")
    if runner in ("command", "venv") and not interpreter:
        raise InvalidInputError(f"runner {runner!r} needs the interpreter's argv")
    plugin = PLUGIN_MODULE if runner == "current" else f"{STAGED_PACKAGE}.plugin"
    pytest_args = ["-m", "pytest", *paths, f"--benchmark-json={json_path}",
                   "-p", plugin, "-p", "no:cacheprovider"]
    expression, rest = marker_expression(markers, extra_args)
    if expression:
        pytest_args += ["-m", expression]
    pytest_args += rest
    if runner == "current":
        return (sys.executable, *pytest_args)
    if runner == "uv":
        return (uv_executable, "run", "--project", str(project_dir), *uv_args,
                "--with", "pytest-benchmark", "--with", "psutil", "python", *pytest_args)
    return (*interpreter, *pytest_args)
