"""Noise profiles in the history db: migration 2, round trip, idempotent writes."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from pathlib import Path

from perf_pipeline.model import BenchmarkNoise, NoiseProfile
from perf_pipeline.store import HistoryStore, open_history
from perf_pipeline.store.environment_json import environment_to_data

from .conftest import make_run
from .test_migration_5 import FIXTURE as V2_FIXTURE

PROFILE = NoiseProfile(
    suite="benchmarks", commit="ab" * 20, machine=(("cpu_count", "2"), ("cpu_model", "X")),
    recorded_at="2026-11-30T09:39:33+00:00", pairs=3, suite_factor_log_sd=0.05,
    benchmarks=(BenchmarkNoise("t::b", 0.002, 0.07, 0.09, math.nan),
                BenchmarkNoise("t::a", 0.001, 0.06, 0.08, 0.03)),
    notes=("one benchmark only: test",))


def test_round_trip_and_idempotent(history_target: Path | str) -> None:
    with open_history(history_target) as store:
        first = store.record_noise_profile(PROFILE, corpus_path="noise/c.json.gz",
                                           created_at="2026-12-01T00:00:00+00:00")
        again = store.record_noise_profile(PROFILE, corpus_path="noise/c2.json.gz",
                                           created_at="2026-12-02T00:00:00+00:00")
        assert first == again
        [(profile, corpus_path, created_at)] = store.noise_profiles()
    assert corpus_path == "noise/c2.json.gz" and created_at.startswith("2026-12-02")
    assert profile.benchmarks[0].name == "t::b"  # stored order kept
    assert math.isnan(profile.benchmarks[0].paired_residual_log_sd)
    assert profile.benchmarks[1] == PROFILE.benchmarks[1]
    assert (profile.commit, profile.machine, profile.pairs, profile.notes) == (
        PROFILE.commit, PROFILE.machine, PROFILE.pairs, PROFILE.notes)


def test_a_version_1_db_is_migrated_and_takes_profiles(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    shutil.copy(V2_FIXTURE, path)  # written by schema version 2 (test_migration_5.py)
    conn = sqlite3.connect(path)  # back to what version 1 wrote
    conn.execute("DROP TABLE IF EXISTS stress_results")  # later migrations
    conn.execute("DROP TABLE noise_benchmarks")
    conn.execute("DROP TABLE noise_profiles")
    conn.execute("PRAGMA user_version = 1")
    environment = make_run(1).environment
    assert environment is not None  # a run of an older version: its host name as machine
    conn.execute("UPDATE runs SET environment_json = ?, machine_id = 'old-host-name' "
                 "WHERE run_id = 'run-1'",
                 (json.dumps(environment_to_data(environment)),))
    conn.commit()
    conn.close()
    with HistoryStore.open(path) as store:  # migrations 2 to 5 run; the runs are kept
        assert len(store.list_runs()) == 4
        # the machines migration gives a run the hardware id of its environment, which
        # replaces the host name older versions stored; runs without one keep theirs
        assert store.get_run("run-1").machine_id == environment.machine_id
        assert store.get_run("run-3").machine_id is None
        store.record_noise_profile(PROFILE, corpus_path="c", created_at="t")
        assert len(store.noise_profiles()) == 1
