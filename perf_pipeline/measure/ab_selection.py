"""Which benchmarks an A/B (or a profile, or a stress pair) measures, checked before it runs.

A selection ends up as pytest arguments, run in another commit's worktree: a value that
starts with ``-`` would be read as an option, a path outside the project would measure
something else, and a control that a ``-k`` deselects would silently stop carrying the
round's factor. ``ABSelection`` is the one validator of benchmark selections, so every
command that measures a chosen set of benchmarks refuses the same input the same way;
``check_selection_exists`` refuses, before any round, a file a commit does not have.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure.git import paths_at
from perf_pipeline.measure.runner import without_keyword_options

__all__ = ["ABSelection", "check_selection_exists"]


def _check_selector(value: str, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} {value!r} is empty")
    if value.lstrip().startswith("-"):
        raise InvalidInputError(f"{what} {value!r} must not start with '-' (it would be "
                                "read as a pytest option)")
    if any(c in value for c in "\x00\n\r"):
        raise InvalidInputError(f"{what} {value!r} contains a NUL or newline")


def _covers(node_id: str, name: str) -> bool:
    """Whether pytest node id ``node_id`` selects the benchmark named ``name``."""
    return name == node_id or name.startswith((node_id + "::", node_id + "["))


@dataclass(frozen=True, slots=True)
class ABSelection:
    """Which benchmarks an A/B run measures: pytest node ids and/or a ``-k`` expression,
    and controls.

    Node ids are relative to the project directory, as pytest-benchmark names them
    (``tests/test_x.py::TestX::test_y[p]``). Empty: the configured benchmark paths.
    Controls (node ids too) are measured in every round but never tested: each round's
    suite-wide factor is their median, so a target selected alone still loses its
    process's factor (which a round of one benchmark cannot remove). pytest's ``-k``
    would deselect them, so they cannot be combined with a keyword.
    """

    node_ids: tuple[str, ...] = ()
    keyword: str | None = None
    controls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "node_ids", tuple(dict.fromkeys(self.node_ids)))
        object.__setattr__(self, "controls", tuple(dict.fromkeys(self.controls)))
        for node_id, what in [*((n, "node id") for n in self.node_ids),
                              *((c, "control") for c in self.controls)]:
            _check_selector(node_id, what)
            path = PurePosixPath(node_id.split("::", 1)[0])
            if path.is_absolute() or ".." in path.parts:
                raise InvalidInputError(
                    f"{what} {node_id!r} must be a path inside the project directory")
        if self.keyword is not None:
            _check_selector(self.keyword, "-k expression")
            if self.controls:
                raise InvalidInputError(
                    "controls cannot be combined with a -k expression (pytest would "
                    "deselect them); name the benchmarks to test with node ids")
        both = set(self.node_ids) & set(self.controls)
        if both:
            raise InvalidInputError(
                f"{sorted(both)[0]!r} is both a benchmark to test and a control")

    def paths(self, default: Sequence[str]) -> tuple[str, ...]:
        """What pytest collects: the node ids and controls, else the configured paths."""
        return (*self.node_ids, *self.controls) if self.node_ids else tuple(default)

    def pytest_args(self) -> tuple[str, ...]:
        return ("-k", self.keyword) if self.keyword is not None else ()

    def measuring_settings(self, settings: Settings) -> Settings:
        """``settings`` for the processes that measure this selection. A ``-k`` of
        ``pytest_args`` (the everyday suite, narrowed) deselected the very benchmarks and
        controls a selection names by node id: "matched no test at this commit" for a
        test that is there. Named benchmarks are measured whatever it says; a selection's
        own ``-k`` already wins (pytest keeps the last one)."""
        if not (self.node_ids or self.controls):
            return settings
        args = tuple(without_keyword_options(settings.pytest_args))
        return settings if args == tuple(settings.pytest_args) else replace(
            settings, pytest_args=args)

    def is_control(self, name: str) -> bool:
        """Whether benchmark ``name`` is one of the controls (or inside one: a file or
        class node id covers the benchmarks under it, a test its parameters)."""
        return any(_covers(c, name) for c in self.controls)

    def control_matches(self, names: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """For each control, the benchmarks of ``names`` it covers."""
        names = tuple(names)
        return {c: tuple(n for n in names if _covers(c, n)) for c in self.controls}

    def describe(self) -> dict[str, object]:
        return {"node_ids": list(self.node_ids), "keyword": self.keyword,
                "controls": list(self.controls)}



def check_selection_exists(settings: Settings, select: ABSelection,
                            shas: dict[str, str]) -> None:
    """Refuse, before anything is measured, a node id or control whose file (or folder)
    does not exist at one of the commits: pytest would stop the A/B at that side's first
    process with "not found", after the other side may have run. Whether the test itself
    exists needs a collection, as costly as a process: the first process checks that."""
    files = {sel: str(PurePosixPath(settings.project_subdir) / sel.split("::", 1)[0])
             for sel in (*select.node_ids, *select.controls)}
    if not files:
        return
    for side, sha in shas.items():
        present = paths_at(Path(settings.repo_path), sha, sorted(set(files.values())))
        for sel, path in files.items():
            if path not in present:
                what = "control" if sel in select.controls else "node id"
                raise InvalidInputError(
                    f"{what} {sel!r}: {path} does not exist at {side} {sha[:12]} (node ids "
                    f"are relative to the project directory {settings.project_subdir!r})")

