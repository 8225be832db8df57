"""``ResultsLayout``: the one place that names every path under a results directory.

Everything perf_pipeline writes or reads under ``results_dir`` is named here, and result
discovery (``measure/collect.py``) consults nothing else. Before this, paths were put
together in half a dozen modules and discovery kept its own skip list, so a file we
wrote ourselves (``analysis/<sha>.json``) was read back as a broken pytest-benchmark
file and ``analyze`` exited 2 after any Dagster run.

The layout (``<r>`` is the results dir)::

    <r>/perf_history.db                          the history store (+ -wal, -shm)
    <r>/raw/<sha>/<run_id>/                      one measured run (measure/raw.py)
    <r>/raw/ab/<ab_id>-<base12>-<cand12>/        interleaved A/B rounds
    <r>/raw/calibrate/<id>-<sha12>/              same-commit noise pairs
    <r>/raw/profile/<id>-<base12>-<cand12>/      profiles of two commits
    <r>/raw/stress-confirm/<id>-<base12>-<cand12>/  fresh stress pairs confirming flags
    <r>/analysis/<sha>.json                      a commit's screen (regression_analysis)
    <r>/confirmation/<sha>.json                  a commit's confirmation A/B
    <r>/confirmation/<sha>.stress.json           its stress figures' confirmation
    <r>/profile/<sha>.json                       a commit's regression profile
    <r>/baseline/performance_baseline.json       the baseline (+ baseline/history/)
    <r>/reports/                                 history report; commits/<sha>/ (with the
                                                 stress section), ab/<id>/, profile/<id>/,
                                                 machines/<id>/ below it
    <r>/noise/<sha12>-<stamp>.json.gz            noise corpora of ``calibrate``
    <r>/culprits/<range>.json                    culprit search results
                                                 (pipeline/culprit_result.py)
    <r>/alerts/sent.json                         alerts already delivered (pipeline/alerts.py)
    <r>/worktrees/                               git worktrees of measuring runs (the 5 used
                                                 last, measure/worktree.py prunes the rest)
    <r>/envs/                                    runner "venv" environments, per dependency set
                                                 (the ``keep_envs`` used last)
    <r>/setup/<sha>.log                          a commit's setup commands and env builds
                                                 (the 50 commits prepared last)

A run directory holds ``run.json``, ``benchmark.json.gz`` (``benchmark-N.json.gz`` for
further processes; plain ``.json`` in directories written before compression) and, for a
stress run, ``stress/`` (``measure/raw.py``). A/B rounds keep their files as sorted
``.json.gz`` too.

Only two kinds of things are ever read as results: run directories under ``raw/``
(``raw/<sha>/<run_id>``, never the ``ab``/``calibrate``/``profile``/``stress-confirm``
folders) and *foreign* ``*.json`` files, i.e. pytest-benchmark files somebody else put anywhere
outside the folders above (``.benchmarks/`` autosaves, ``--benchmark-json`` output).

The layout is pure: it never creates, opens or reads anything but directory listings,
so every layer that touches files (measure/, store/ callers, pipeline/) can use it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from perf_pipeline.errors import InvalidInputError

__all__ = ["DB_FILE", "RAW_SPECIAL_DIRS", "ResultsLayout", "machine_dir_name"]

DB_FILE = "perf_history.db"

#: Folders of ``raw/`` that are not commits: their contents are never results.
RAW_SPECIAL_DIRS = frozenset({"ab", "calibrate", "profile", "stress-confirm"})

#: Top-level folders that hold only files we wrote ourselves.
_OWNED_DIRS = ("raw", "analysis", "confirmation", "profile", "baseline", "reports", "noise",
               "culprits", "alerts", "worktrees", "envs", "setup")


def _safe_name(label: str, value: str) -> str:
    """A single path component: never empty, hidden, or with a separator."""
    if not value or "/" in value or "\\" in value or value.startswith(".") or "\0" in value:
        raise InvalidInputError(f"{label} {value!r} is not a safe file name")
    return value


def _absolute(path: Path | str) -> Path:
    """``path`` made absolute and normalised (``..`` and ``.`` removed) without touching
    the file system, so two spellings of one location compare equal."""
    return Path(os.path.abspath(path))


def machine_dir_name(machine_id: str) -> str:
    """A folder name for a machine id (ids of old records may be any host name)."""
    if machine_id and all(c.isascii() and (c.isalnum() or c in "._-") for c in machine_id) \
            and not machine_id.startswith("."):
        return machine_id
    return "m-" + hashlib.sha256(machine_id.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class ResultsLayout:
    """Where everything lives under ``root``; ``baseline_file`` overrides the baseline's
    path (it may then lie outside ``root``)."""

    root: Path
    baseline_file: Path | None = None

    # -- the store ----------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.root / DB_FILE

    # -- raw outputs of measuring ---------------------------------------------------
    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    def run_dir(self, sha: str, run_id: str) -> Path:
        """One run's raw directory, ``raw/<sha>/<run_id>``."""
        sha = _safe_name("commit sha", sha)
        if sha in RAW_SPECIAL_DIRS:
            raise InvalidInputError(f"commit sha {sha!r} is a reserved folder name of raw/")
        return self.raw_dir / sha / _safe_name("run_id", run_id)

    def ab_dir(self, ab_id: str, base_sha: str, candidate_sha: str) -> Path:
        return self.raw_dir / "ab" / _safe_name(
            "A/B id", f"{ab_id}-{base_sha[:12]}-{candidate_sha[:12]}")

    def calibration_dir(self, calibration_id: str, sha: str) -> Path:
        return self.raw_dir / "calibrate" / _safe_name(
            "calibration id", f"{calibration_id}-{sha[:12]}")

    def profile_raw_dir(self, profile_id: str, base_sha: str, candidate_sha: str) -> Path:
        return self.raw_dir / "profile" / _safe_name(
            "profile id", f"{profile_id}-{base_sha[:12]}-{candidate_sha[:12]}")

    def stress_confirm_dir(self, confirm_id: str, base_sha: str, candidate_sha: str) -> Path:
        return self.raw_dir / "stress-confirm" / _safe_name(
            "stress confirmation id", f"{confirm_id}-{base_sha[:12]}-{candidate_sha[:12]}")

    @property
    def worktrees_dir(self) -> Path:
        return self.root / "worktrees"

    @property
    def envs_dir(self) -> Path:
        """Virtual environments of runner "venv", one per dependency set."""
        return self.root / "envs"

    @property
    def setup_logs_dir(self) -> Path:
        """Output of each commit's setup commands and environment builds."""
        return self.root / "setup"

    def setup_log_path(self, sha: str) -> Path:
        return self.setup_logs_dir / f"{_safe_name('commit sha', sha)}.log"

    # -- per-commit verdicts, written by the pipeline --------------------------------
    def analysis_path(self, sha: str) -> Path:
        return self.root / "analysis" / f"{_safe_name('commit sha', sha)}.json"

    def confirmation_path(self, sha: str) -> Path:
        return self.root / "confirmation" / f"{_safe_name('commit sha', sha)}.json"

    def stress_confirmation_path(self, sha: str) -> Path:
        return self.root / "confirmation" / f"{_safe_name('commit sha', sha)}.stress.json"

    def commit_profile_path(self, sha: str) -> Path:
        return self.root / "profile" / f"{_safe_name('commit sha', sha)}.json"

    # -- baseline ---------------------------------------------------------------------
    @property
    def baseline_path(self) -> Path:
        if self.baseline_file is not None:
            return self.baseline_file
        return self.root / "baseline" / "performance_baseline.json"

    @property
    def baseline_history_dir(self) -> Path:
        """Earlier baselines, archived by ``store/baseline_file.py`` next to the baseline."""
        return self.baseline_path.parent / "history"

    # -- reports ----------------------------------------------------------------------
    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def machine_report_dir(self, machine_id: str) -> Path:
        """The history report of one machine when the history holds several."""
        return self.reports_dir / "machines" / machine_dir_name(machine_id)

    def commit_report_dir(self, sha: str) -> Path:
        return self.reports_dir / "commits" / _safe_name("commit sha", sha)

    def stress_report_paths(self, sha: str) -> tuple[Path, Path]:
        """A commit's stress section (markdown, html), beside its report."""
        out = self.commit_report_dir(sha)
        return out / "stress-report.md", out / "stress-report.html"

    def ab_report_dir(self, ab_raw_dir: Path) -> Path:
        """The report of the A/B whose raw files are in ``ab_raw_dir``: same name."""
        return self.reports_dir / "ab" / _safe_name("A/B dir", Path(ab_raw_dir).name)

    def profile_report_dir(self, profile_raw_dir: Path) -> Path:
        return self.reports_dir / "profile" / _safe_name("profile dir", Path(profile_raw_dir).name)

    # -- culprit searches and alerts -------------------------------------------------------
    @property
    def culprits_dir(self) -> Path:
        return self.root / "culprits"

    def culprit_path(self, search_key: str) -> Path:
        """The result of one culprit search."""
        return self.culprits_dir / f"{_safe_name('culprit search', search_key)}.json"

    @property
    def culprit_searches_dir(self) -> Path:
        """Searches defined for the sensor to drive, one file each."""
        return self.culprits_dir / "searches"

    def culprit_search_path(self, search_key: str) -> Path:
        return self.culprit_searches_dir / f"{_safe_name('culprit search', search_key)}.json"

    @property
    def alerts_sent_path(self) -> Path:
        return self.root / "alerts" / "sent.json"

    # -- noise corpora ----------------------------------------------------------------
    @property
    def noise_dir(self) -> Path:
        return self.root / "noise"

    def noise_corpus_path(self, sha: str, stamp: str) -> Path:
        return self.noise_dir / _safe_name("noise corpus", f"{sha[:12]}-{stamp}.json.gz")

    # -- discovery --------------------------------------------------------------------
    def run_dir_candidates(self) -> tuple[Path, ...]:
        """Every ``raw/<sha>/<run_id>`` directory, sorted by (run_id, path).

        Whether a candidate is a complete run (its ``run.json`` written) is for the raw
        format to say (``measure/collect.py``), not the layout.
        """
        if not self.raw_dir.is_dir():
            return ()
        found: list[Path] = []
        for sha_dir in self.raw_dir.iterdir():
            if sha_dir.name in RAW_SPECIAL_DIRS or sha_dir.name.startswith("."):
                continue
            if not sha_dir.is_dir() or sha_dir.is_symlink():
                continue
            found.extend(p for p in sha_dir.iterdir()
                         if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))
        return tuple(sorted(found, key=lambda p: (p.name, str(p))))

    def owns(self, path: Path) -> bool:
        """Whether ``path`` is (inside) something perf_pipeline writes under this layout.

        Paths are compared in their absolute, normalised form: ``root`` is often relative
        (the default ``test-results``) while ``baseline_file`` or the walked path may be
        absolute, and compared as text our own baseline looked like a foreign result.
        """
        path = _absolute(path)
        owned = [_absolute(self.root / name) for name in _OWNED_DIRS]
        owned += [_absolute(self.baseline_path), _absolute(self.baseline_history_dir)]
        return path == _absolute(self.db_path) or any(
            path == o or o in path.parents for o in owned)

    def foreign_result_files(self) -> tuple[Path, ...]:
        """``*.json`` files under the root that we did not write: pytest-benchmark output
        put there by someone else. Sorted; symlinked folders are not followed."""
        files: list[Path] = []
        for folder, dirnames, filenames in os.walk(self.root, followlinks=False):
            here = Path(folder)
            dirnames[:] = sorted(d for d in dirnames if not self.owns(here / d))
            files.extend(here / f for f in filenames
                         if f.endswith(".json") and not self.owns(here / f))
        return tuple(sorted(files))
