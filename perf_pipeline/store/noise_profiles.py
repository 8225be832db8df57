"""Noise profiles in the history db: one transaction per profile, idempotent.

A profile is keyed by what it was computed from (suite, commit, machine, recording time
and pairs), so recording the same corpus twice replaces its rows instead of adding a
second profile. NaN spreads (too little data) are stored as NULL and read back as NaN.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from perf_pipeline.model import BenchmarkNoise, NoiseProfile

__all__ = ["NOISE_BENCHMARK_COLUMNS", "PROFILE_COLUMNS", "profile_from_rows", "profile_id_of",
           "profile_rows", "read_noise_profiles", "write_noise_profile"]


PROFILE_COLUMNS = ("profile_id", "suite", "sha", "machine_json", "recorded_at", "created_at",
                   "pairs", "suite_factor_log_sd", "notes_json", "corpus_path")
NOISE_BENCHMARK_COLUMNS = ("profile_id", "name", "position", "median_s", "unpaired_log_sd",
                           "paired_log_sd", "paired_residual_log_sd")


def profile_id_of(profile: NoiseProfile) -> str:
    """A stable id for the corpus a profile was computed from: the same recording imported
    again replaces its profile, a different corpus of it (a benchmark dropped, a pair
    skipped) gets its own (keyed on what it holds, not only where it came from)."""
    key = json.dumps([profile.suite, profile.commit, list(profile.machine),
                      profile.recorded_at, profile.pairs,
                      [[b.name, repr(b.median_s)] for b in profile.benchmarks]])
    return f"{profile.commit[:12]}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _null(value: float) -> float | None:
    return None if math.isnan(value) else value


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def write_noise_profile(conn: sqlite3.Connection, profile: NoiseProfile, *,
                        corpus_path: str, created_at: str) -> str:
    """Store ``profile`` (replacing an earlier one of the same corpus); return its id."""
    profile_id, profile_row, benchmark_rows = profile_rows(
        profile, corpus_path=corpus_path, created_at=created_at)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM noise_benchmarks WHERE profile_id = ?", (profile_id,))
        conn.execute("DELETE FROM noise_profiles WHERE profile_id = ?", (profile_id,))
        conn.execute(
            f"INSERT INTO noise_profiles ({', '.join(PROFILE_COLUMNS)}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", profile_row)
        conn.executemany(
            f"INSERT INTO noise_benchmarks ({', '.join(NOISE_BENCHMARK_COLUMNS)}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", benchmark_rows)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return profile_id


def profile_rows(profile: NoiseProfile, *, corpus_path: str, created_at: str
                 ) -> tuple[str, tuple[object, ...], list[tuple[object, ...]]]:
    """The id, ``noise_profiles`` row and ``noise_benchmarks`` rows of ``profile``, in
    the order of ``PROFILE_COLUMNS`` and ``NOISE_BENCHMARK_COLUMNS`` (both backends)."""
    profile_id = profile_id_of(profile)
    row = (profile_id, profile.suite, profile.commit, json.dumps(dict(profile.machine)),
           profile.recorded_at, created_at, profile.pairs,
           _null(profile.suite_factor_log_sd), json.dumps(list(profile.notes)), corpus_path)
    benchmarks = [(profile_id, b.name, i, b.median_s, _null(b.unpaired_log_sd),
                   _null(b.paired_log_sd), _null(b.paired_residual_log_sd))
                  for i, b in enumerate(profile.benchmarks)]
    return profile_id, row, benchmarks


def profile_from_rows(suite: str, row: Sequence[Any], benchmark_rows: Iterable[Sequence[Any]]
                      ) -> tuple[NoiseProfile, str, str]:
    """(profile, corpus path, created_at) from a row of ``read_noise_profiles``'s query
    and its benchmarks' (name, median_s, unpaired, paired, residual) rows by position."""
    (_profile_id, sha, machine_json, recorded_at, created_at, pairs, suite_sd,
     notes_json, corpus_path) = row
    benchmarks = tuple(
        BenchmarkNoise(name=name, median_s=median, unpaired_log_sd=_nan(unpaired),
                       paired_log_sd=_nan(paired), paired_residual_log_sd=_nan(resid))
        for name, median, unpaired, paired, resid in benchmark_rows)
    profile = NoiseProfile(
        suite=suite, commit=sha, machine=tuple(sorted(json.loads(machine_json).items())),
        recorded_at=recorded_at, pairs=pairs, suite_factor_log_sd=_nan(suite_sd),
        benchmarks=benchmarks, notes=tuple(json.loads(notes_json)))
    return profile, corpus_path, created_at


def read_noise_profiles(conn: sqlite3.Connection, *, suite: str
                        ) -> tuple[tuple[NoiseProfile, str, str], ...]:
    """Every profile of ``suite``, oldest first: (profile, corpus path, created_at)."""
    rows = conn.execute(
        "SELECT profile_id, sha, machine_json, recorded_at, created_at, pairs, "
        "suite_factor_log_sd, notes_json, corpus_path FROM noise_profiles "
        "WHERE suite = ? ORDER BY created_at, profile_id", (suite,)).fetchall()
    return tuple(profile_from_rows(suite, row, conn.execute(
        "SELECT name, median_s, unpaired_log_sd, paired_log_sd, "
        "paired_residual_log_sd FROM noise_benchmarks WHERE profile_id = ? "
        "ORDER BY position", (row[0],))) for row in rows)
