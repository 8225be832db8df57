"""Read what the plugin's profiling pass wrote into ``TimeProfile`` and ``MemoryProfile``.

The files hold absolute paths of the checkout they ran in (a worktree per commit), so the
same function has a different path at each commit. Here every path is made relative to
the target repo, and library code (site-packages, the standard library) is labelled with
its package, so that analysis can match functions across commits and fold libraries
without knowing anything about file layouts. ``.prof`` files are parsed with ``pstats``.
"""

from __future__ import annotations

import json
import os
import pstats
import re
from dataclasses import dataclass
from pathlib import Path

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure.profiling import PROFILE_SCHEMA_VERSION
from perf_pipeline.model import AllocationSite, FunctionProfile, MemoryProfile, TimeProfile

__all__ = ["BenchmarkProfile", "locate", "read_profile_dir"]

_LIB_RE = re.compile(r"[/\\](?:site|dist)-packages[/\\](.+)$")
_STDLIB_RE = re.compile(r"[/\\]lib[/\\]python\d+\.\d+[/\\](.+)$")
_FROZEN_RE = re.compile(r"^<frozen ([\w.]+)>$")
#: Our own profiler's frames, which the calls are wrapped in: not the target's time.
_OWN_FRAMES = ("<method 'disable' of '_lsprof.Profiler' objects>",)


@dataclass(frozen=True, slots=True)
class BenchmarkProfile:
    """Both profiles of one benchmark from one profiling process, and their files.

    ``memory`` is None when its passes were not taken (``memory_not_measured`` says why:
    a one-shot pedantic benchmark, ``measure.profiling.profile_only_call``)."""

    time: TimeProfile
    memory: MemoryProfile | None
    prof_path: Path
    memory_not_measured: str | None = None


def _package_of(rest: str) -> str:
    first = re.split(r"[/\\]", rest, maxsplit=1)[0]
    return first.removesuffix(".py") or rest


def locate(filename: str, root: str) -> tuple[str, str | None]:
    """``(display path, package)`` of a code file: relative to ``root`` if inside it.

    ``root`` is the real path of the checkout. Library files keep their path inside the
    library (``numpy/core/fromnumeric.py``) and name their package; files elsewhere keep
    their absolute path.
    """
    if filename in ("~", ""):
        return "~", None
    frozen = _FROZEN_RE.match(filename)
    if frozen:
        return filename, frozen.group(1).split(".")[0]
    real = os.path.realpath(filename) if os.path.isabs(filename) else filename
    lib = _LIB_RE.search(real)
    if lib:
        return lib.group(1).replace("\\", "/"), _package_of(lib.group(1))
    if root and (real == root or real.startswith(root.rstrip(os.sep) + os.sep)):
        return os.path.relpath(real, root).replace("\\", "/"), None
    std = _STDLIB_RE.search(real)
    if std:
        return std.group(1).replace("\\", "/"), _package_of(std.group(1))
    return real, None


_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")


def _function_key(func: tuple[str, int, str], root: str) -> tuple[str, str | None]:
    """``path:name``, without the line: an edit above a function must not make it "new".

    Two functions of one name in one file (methods of two classes) share a key and are
    summed: cProfile records the code object's name, not its qualified name.
    """
    filename, _line, name = func
    path, package = locate(filename, root)
    if path == "~":
        # A builtin bound to an object names the object's address ("<built-in method
        # __new__ of type object at 0x7f...>"), different in every process: without it
        # one function is one key, not "new" on one side and "vanished" on the other.
        return _ADDRESS.sub("", name), None
    return f"{path}:{name}", package


def read_time_profile(prof_path: Path, benchmark: str, calls: int, root: Path) -> TimeProfile:
    """A ``.prof`` file as a ``TimeProfile`` with repo-relative keys."""
    try:
        stats = pstats.Stats(str(prof_path)).stats  # type: ignore[attr-defined]
    except (OSError, EOFError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"profile {prof_path} is unreadable: {exc}") from exc
    real_root = os.path.realpath(root)
    keys = {func: _function_key(func, real_root) for func in stats}
    functions = []
    for func, (_cc, nc, tt, ct, callers) in stats.items():
        key, package = keys[func]
        if key in _OWN_FRAMES:
            continue
        edges = []
        for caller, figures in callers.items():
            if caller not in keys:
                continue
            n, own, cum = (figures[1], figures[2], figures[3]) if isinstance(
                figures, tuple) else (figures, 0.0, 0.0)
            edges.append((keys[caller][0], int(n), float(own), float(cum)))
        functions.append(FunctionProfile(key=key, calls=int(nc), own_s=float(tt),
                                         cum_s=float(ct), package=package,
                                         callers=tuple(edges)))
    return TimeProfile(benchmark=benchmark, calls=calls, functions=tuple(functions),
                       path=str(prof_path))


def _load_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            body = json.load(fh)
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"profile file {path} is unreadable: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidInputError(f"profile file {path}: expected a JSON object")
    return body


def _read_memory(dir_path: Path, record: dict, benchmark: str, root: Path) -> MemoryProfile:
    traced = _load_json(dir_path / str(record["tracemalloc"]))
    series = _load_json(dir_path / str(record["memory"]))
    real_root = os.path.realpath(root)
    merged: dict[str, list] = {}
    for filename, line, size, count in traced.get("sites", []):
        path, package = locate(str(filename), real_root)
        entry = merged.setdefault(f"{path}:{int(line)}", [0, 0, package])
        entry[0] += int(size)
        entry[1] += int(count)
    sites = tuple(AllocationSite(site=site, size_bytes=size, count=count, package=package)
                  for site, (size, count, package) in merged.items())
    return MemoryProfile(
        benchmark=benchmark, calls=max(int(traced.get("calls", 1)), 1), sites=sites,
        peak_bytes=int(traced.get("peak_bytes", 0)),
        series_calls=int(series.get("calls", 0)),
        series_t_s=tuple(float(t) for t in series.get("t_s", [])),
        series_rss_bytes=tuple(float(v) for v in series.get("rss_bytes", [])))


def read_profile_dir(dir_path: Path, root: Path) -> dict[str, BenchmarkProfile]:
    """Every benchmark profiled into ``dir_path`` by one process, by full name.

    ``root`` is the checkout the process ran in: paths are made relative to it.
    """
    out: dict[str, BenchmarkProfile] = {}
    for record_path in sorted(Path(dir_path).glob("*.profile.json")):
        record = _load_json(record_path)
        if record.get("schema_version") != PROFILE_SCHEMA_VERSION:
            raise InvalidInputError(f"profile record {record_path}: schema_version "
                                    f"{record.get('schema_version')!r} is not supported")
        try:
            name = str(record["benchmark"])
            calls = int(record["calls"])
            prof_path = Path(dir_path) / str(record["prof"])
            absent = record.get("memory_not_measured")
            out[name] = BenchmarkProfile(
                time=read_time_profile(prof_path, name, calls, root),
                memory=None if absent else _read_memory(Path(dir_path), record, name, root),
                prof_path=prof_path, memory_not_measured=str(absent) if absent else None)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"profile record {record_path} is incomplete: {exc}") from exc
    return out
