"""Benchmark labels for tables, plots and Dagster metadata: short, and never two alike.

A node id (``path/test_x.py::TestX::test_y[p]``) is too long for a table column or a
metadata key, and its last part alone is not unique: pytest lets two files define the
same test.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

__all__ = ["short_benchmark_name", "short_benchmark_names"]


def short_benchmark_name(name: str) -> str:
    """``path/test_x.py::TestX::test_y[p]`` → ``TestX::test_y[p]``: readable in the UI."""
    return name.split("::", 1)[1] if "::" in name else name


def _with_path(name: str, depth: int) -> str:
    """``name`` with the last ``depth`` parts of its file path before its short name."""
    if "::" not in name:
        return name
    path, rest = name.split("::", 1)
    return "/".join(path.split("/")[-depth:]) + "::" + rest


def short_benchmark_names(names: Iterable[str]) -> dict[str, str]:
    """Each benchmark's short name, made unique: ``{name: label}``.

    pytest lets two files define the same test (their node ids differ by path), and keyed
    by ``short_benchmark_name`` alone their metadata floats overwrote each other (a x2.0
    regression's ``ratio/test_speed`` replaced by the other file's 1.0). Names that
    collide keep as much of their path as tells them apart (``test_io.py::test_speed``,
    then ``io/test_x.py::…``); the others stay short. A label depends only on the names
    it collides with, so it is the same in every partition that has the same tests.
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for name in sorted(set(names)):
        groups[short_benchmark_name(name)].append(name)
    labels: dict[str, str] = {}
    for short, group in groups.items():
        if len(group) == 1:
            labels[group[0]] = short
            continue
        depth = 1
        while True:
            tried = {n: _with_path(n, depth) for n in group}
            if len(set(tried.values())) == len(group) or all(n == t for n, t in tried.items()):
                break
            depth += 1
        labels.update(tried)
    # A lengthened label could still equal another benchmark's short name: full names.
    seen: dict[str, int] = defaultdict(int)
    for label in labels.values():
        seen[label] += 1
    return {n: (n if seen[label] > 1 else label) for n, label in labels.items()}
