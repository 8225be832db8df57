"""Profile benchmarks at two commits, in processes of their own (never the timed ones).

Each side runs ``repeats`` pytest processes in its commit's worktree with
``--benchmark-disable`` (no timed rounds at all) and the plugin's profiling pass switched
on through ``PROFILE_DIR_ENV`` (see ``measure/profiling.py``). The sides alternate
(base, candidate, then candidate, base, ...) so a busy spell of the machine does not
land on one side only. Node ids and the ``-k`` expression travel as separate arguments
of the child's argument list, never through a shell, and option-like values are refused
by ``measure.ab_selection.ABSelection``, the one validator of benchmark selections (A/B,
confirmation and profiles alike).

A node id one commit does not have (a benchmark the candidate added, or removed) is not
that side's failure: pytest stops a whole process at one such argument ("file or
directory not found", "not found: ...::test_x"), which failed the profile of every other
benchmark. So a node id whose file the commit lacks is left out of that side's processes
(one ``git ls-tree``), and one whose test pytest says it did not find is left out and
the process run again; that side then has no profile of it (``ProfileRun.candidate_only``,
``base_only``). A node id found at neither commit is an error: a typo, not a change.

Every process's files stay under ``raw/profile/<id>-<base>-<candidate>/<side>-<n>/``
(``.prof`` files open with ``pstats.Stats`` and snakeviz) with a ``profile.json``
manifest. Nothing enters the history.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from perf_pipeline.atomic_file import make_dirs, write_atomic
from perf_pipeline.config import Settings
from perf_pipeline.errors import (
    InvalidInputError,
    MeasurementError,
    PerfPipelineError,
    StoreError,
)
from perf_pipeline.measure.ab_selection import ABSelection
from perf_pipeline.measure.git import commit_info, paths_at, resolve_commit
from perf_pipeline.measure.measuring_lock import measuring_lock
from perf_pipeline.measure.profile_read import BenchmarkProfile, read_profile_dir
from perf_pipeline.measure.profiling import PROFILE_DIR_ENV, PROFILE_MIN_S_ENV
from perf_pipeline.measure.raw import new_run_id
from perf_pipeline.measure.session import (
    KEEP_WORKTREES,
    error_text,
    no_project_dir,
    run_prepared,
)
from perf_pipeline.measure.suite_presence import suite_paths_at
from perf_pipeline.measure.tempdirs import measuring_temp_dir, sweep_stale_temp_dirs
from perf_pipeline.measure.worktree import git_worktree, prune_worktrees
from perf_pipeline.model import CommitInfo

__all__ = ["PROFILE_MANIFEST", "PROFILE_SIDES", "ProfileRun", "measure_profiles"]

logger = logging.getLogger(__name__)

PROFILE_MANIFEST = "profile.json"
#: pytest's exit status when it collected (or kept after -k) no test.
_NO_TESTS_SELECTED = 5
#: pytest's exit status for a usage error, such as a node id it found no test for.
_USAGE_ERROR = 4
PROFILE_SIDES = ("base", "candidate")
MAX_REPEATS = 20


@dataclass(frozen=True, slots=True)
class ProfileRun:
    """The profiles of both sides: per side, one mapping (benchmark → profile) per repeat."""

    profile_id: str
    base: CommitInfo
    candidate: CommitInfo
    raw_dir: Path
    base_profiles: tuple[dict[str, BenchmarkProfile], ...]
    candidate_profiles: tuple[dict[str, BenchmarkProfile], ...]

    @property
    def benchmarks(self) -> tuple[str, ...]:
        """Benchmarks profiled in every process of both sides."""
        every = [set(p) for p in (*self.base_profiles, *self.candidate_profiles)]
        return tuple(sorted(set.intersection(*every))) if every else ()

    @property
    def candidate_only(self) -> tuple[str, ...]:
        """Benchmarks profiled at the candidate and in no process of the base: not at the
        base commit (a new benchmark), or not selected there."""
        return tuple(sorted(_names(self.candidate_profiles) - _names(self.base_profiles)))

    @property
    def base_only(self) -> tuple[str, ...]:
        """Benchmarks profiled at the base and in no process of the candidate."""
        return tuple(sorted(_names(self.base_profiles) - _names(self.candidate_profiles)))


def _names(profiles: Sequence[dict[str, BenchmarkProfile]]) -> set[str]:
    return {name for side in profiles for name in side}


def _not_found(outcome_text: str, node_ids: Sequence[str]) -> set[str]:
    """The node ids of ``node_ids`` that pytest said it found no test for.

    pytest names each as ``not found: <absolute path of the file>::<names>``; a node id
    is relative to the project directory, so it is the end of that argument.
    """
    reported = [line.split("not found: ", 1)[1].strip()
                for line in outcome_text.splitlines() if "ERROR: not found: " in line]
    return {nid for nid in node_ids if "::" in nid
            and any(arg.replace("\\", "/").endswith("/" + nid) for arg in reported)}


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


def _files_note(folder: Path, *, what: str = "files in") -> str:
    """``files in <folder>`` if a profiling process wrote any file there, else that
    none was: a failed profile pointed at a folder that was empty, or never made."""
    return f"{what} {folder}" if _has_files(folder) else "no profile file was written"


def _profile_process(settings: Settings, sha: str, out_dir: Path, paths: Sequence[str],
                     extra_args: Sequence[str], min_s: float, tmp: Path, *,
                     node_ids: bool) -> tuple[dict[str, BenchmarkProfile], tuple[str, ...]]:
    """One profiling process at ``sha``: its profiles, and the ``paths`` this commit has.

    With ``node_ids``, those pytest found no test for at this commit are left out and the
    process is run again without them (each run drops at least one, so this ends).
    """
    with git_worktree(settings.repo_path, sha, root=settings.worktrees_dir) as worktree:
        project_dir = worktree / settings.project_subdir
        if not project_dir.is_dir():
            raise MeasurementError(no_project_dir(settings, sha))
        paths, attempt = tuple(paths), 0
        if not node_ids:  # the suite's own paths, as ``run`` takes them at this commit
            paths, absent = suite_paths_at(settings, project_dir, sha, "benchmarks", paths)
            if absent is not None:
                return {}, ()  # from before the suite: an empty side, like no test
        while True:
            outcome = run_prepared(
                settings, worktree, sha, paths=paths,
                json_path=tmp / f"{out_dir.name}-{attempt}.json",
                extra_args=(*settings.pytest_args, "--benchmark-disable", *extra_args),
                env={PROFILE_DIR_ENV: str(out_dir.resolve()),
                     PROFILE_MIN_S_ENV: f"{min_s:g}"},
                benchmarks_required=False)
            missing = (_not_found(outcome.stderr_tail + "\n" + outcome.stdout_tail, paths)
                       if node_ids and outcome.returncode == _USAGE_ERROR else set())
            if not missing:
                break
            logger.info("profiling %s: not at this commit: %s", sha[:12], sorted(missing))
            paths, attempt = tuple(p for p in paths if p not in missing), attempt + 1
            if not paths:
                return {}, ()
        if outcome.returncode == _NO_TESTS_SELECTED:
            # The selection matches nothing at this commit (a benchmark the other commit
            # added or removed): an empty side, said per benchmark by the caller; both
            # sides empty is an error in ``measure_profiles``.
            return {}, paths
        error = error_text(outcome)
        if error is not None:
            kept = out_dir if _has_files(out_dir) else out_dir.parent
            raise MeasurementError(f"profiling {sha[:12]} failed: {error}\n"
                                   f"({_files_note(kept, what='files kept in')})")
        return read_profile_dir(out_dir, worktree), paths


def _files_at(settings: Settings, shas: dict[str, str],
              node_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Per side, the node ids whose file (or folder) exists at that side's commit."""
    files = {nid: str(PurePosixPath(settings.project_subdir) / nid.split("::", 1)[0])
             for nid in node_ids}
    kept = {}
    for side, sha in shas.items():
        present = paths_at(Path(settings.repo_path), sha, sorted(set(files.values())))
        kept[side] = tuple(nid for nid in node_ids if files[nid] in present)
    return kept


def _check_found(select: ABSelection, kept: dict[str, tuple[str, ...]], shas: dict[str, str],
                 raw_dir: Path | None) -> None:
    nowhere = [nid for nid in select.node_ids if all(nid not in k for k in kept.values())]
    if nowhere:
        where = f"; {_files_note(raw_dir)}" if raw_dir is not None else ""
        raise InvalidInputError(
            f"node id {nowhere[0]!r} is at neither commit ({shas['base'][:12]}, "
            f"{shas['candidate'][:12]}): no such file or test (node ids are relative "
            f"to the project directory){where}")


def measure_profiles(
    settings: Settings,
    base_ref: str,
    candidate_ref: str,
    *,
    node_ids: Sequence[str] = (),
    keyword: str | None = None,
    repeats: int = 3,
    min_s: float = 0.3,
    on_process: Callable[[int, int], None] | None = None,
) -> ProfileRun:
    """Profile the selected benchmarks at both commits, ``repeats`` processes per side.

    ``node_ids`` (relative to the project directory) replace the configured benchmark
    paths; ``keyword`` is passed as ``-k``; both are checked by ``ABSelection``. A
    process that fails raises ``MeasurementError`` (its files are kept), and so does a
    selection that ran no benchmark at either commit; one that matches nothing at one
    commit only (a benchmark the candidate added, by ``-k`` or by node id) leaves that
    side empty of it (``ProfileRun.candidate_only``, ``base_only``), and a node id found
    at neither commit raises ``InvalidInputError``. Temp folders left behind by a
    SIGKILLed measuring process are swept first.
    """
    if not 1 <= repeats <= MAX_REPEATS:
        raise InvalidInputError(f"repeats must be in 1..{MAX_REPEATS}, not {repeats!r}")
    if not min_s > 0:
        raise InvalidInputError(f"min_s must be > 0, not {min_s!r}")
    select = ABSelection(node_ids=tuple(node_ids), keyword=keyword)
    extra = select.pytest_args()
    repo = Path(settings.repo_path)
    shas = {"base": resolve_commit(repo, base_ref),
            "candidate": resolve_commit(repo, candidate_ref)}
    commits = {side: commit_info(repo, sha) for side, sha in shas.items()}
    # Per side: a node id that side's commit lacks is left out of its processes.
    paths = (_files_at(settings, shas, select.node_ids) if select.node_ids else
             dict.fromkeys(PROFILE_SIDES, select.paths(settings.benchmark_paths)))
    _check_found(select, paths, shas, None)
    profile_id = new_run_id()
    raw_dir = settings.layout.profile_raw_dir(profile_id, shas["base"], shas["candidate"])
    make_dirs(raw_dir, "profile raw folder (under --results-dir)", exist_ok=False)
    done: dict[str, list[dict[str, BenchmarkProfile]]] = {"base": [], "candidate": []}
    total, finished = 2 * repeats, 0
    sweep_stale_temp_dirs()  # folders of measuring runs that were SIGKILLed
    try:
        with measuring_lock(settings.measuring_lock_path), \
                measuring_temp_dir("profile") as tmp:
            for repeat in range(1, repeats + 1):
                order = PROFILE_SIDES if repeat % 2 else PROFILE_SIDES[::-1]
                for side in order:
                    out_dir = raw_dir / f"{side}-{repeat}"
                    profiles: dict[str, BenchmarkProfile] = {}
                    if paths[side]:
                        profiles, paths[side] = _profile_process(
                            select.measuring_settings(settings), shas[side], out_dir,
                            paths[side], extra, min_s,
                            Path(tmp), node_ids=bool(select.node_ids))
                    done[side].append(profiles)
                    finished += 1
                    if on_process is not None:
                        on_process(finished, total)
                if repeat == 1 and select.node_ids:  # before the other repeats' minutes
                    _check_found(select, paths, shas, raw_dir)
    except (PerfPipelineError, KeyboardInterrupt):
        if not _has_files(raw_dir):  # nothing to keep: no empty folder left behind
            shutil.rmtree(raw_dir, ignore_errors=True)
        raise
    prune_worktrees(repo, settings.worktrees_dir, keep=KEEP_WORKTREES)
    if not any(done["base"] + done["candidate"]):
        where = _files_note(raw_dir)
        if not _has_files(raw_dir):  # said "files in <raw_dir>" of an empty folder
            shutil.rmtree(raw_dir, ignore_errors=True)
        raise MeasurementError(f"profiling {shas['base'][:12]} and {shas['candidate'][:12]}: "
                               "no benchmark ran at either commit (check the node ids and "
                               f"-k expression); {where}")
    manifest = {
        "profile_id": profile_id, "base": shas["base"], "candidate": shas["candidate"],
        "repeats": repeats, "min_s": min_s, **select.describe(),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        write_atomic(raw_dir / PROFILE_MANIFEST, json.dumps(manifest, indent=2).encode(),
                     read_only=True)
    except OSError as exc:  # a full disk: an error naming the file, not "a bug" (exit 3)
        raise StoreError(f"profile raw file {raw_dir / PROFILE_MANIFEST}: cannot write it: "
                         f"{exc.strerror or exc}") from exc
    return ProfileRun(profile_id=profile_id, base=commits["base"],
                      candidate=commits["candidate"], raw_dir=raw_dir,
                      base_profiles=tuple(done["base"]),
                      candidate_profiles=tuple(done["candidate"]))
