"""Stress tests: concurrency, volume and memory stability under scaled load.

Opt-in: they run only with ``-m stress``. ``STRESS_MULTIPLIER`` (a float, default 1)
scales every load; at 1 the module takes well under 20 s on two cores. Each test records
its figures with ``record_property`` (they land in ``--junitxml`` output) and logs them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from core.feature_store import OnlineStore
from core.model import predict_batch

from tests.ml.integration.shared_state import N_ENTITIES, Pipeline

pytestmark = pytest.mark.stress

logger = logging.getLogger(__name__)

Recorder = Callable[[str, object], None]


def _multiplier() -> float:
    raw = os.environ.get("STRESS_MULTIPLIER", "1")
    try:
        value = float(raw)
    except ValueError as exc:
        raise pytest.UsageError(f"STRESS_MULTIPLIER must be a number, not {raw!r}") from exc
    if not value > 0:
        raise pytest.UsageError(f"STRESS_MULTIPLIER must be > 0, not {raw!r}")
    return value


def _scaled(base: int) -> int:
    return max(1, round(base * _multiplier()))


def _record(record_property: Recorder, **figures: float) -> None:
    for name, value in figures.items():
        record_property(name, value)
    logger.info("stress figures: %s", figures)


def test_concurrent_online_lookups(pipeline: Pipeline, tmp_path: Path,
                                   record_property: Recorder) -> None:
    """Many threads read while one thread keeps re-materializing (WAL: no blocking)."""
    n_threads = 8
    per_thread = _scaled(250)
    latest = pipeline.offline.latest()
    expected = latest.set_index("entity_id")["amount_sum_30d"]
    latencies: list[list[float]] = [[] for _ in range(n_threads)]
    errors: list[BaseException] = []
    wrong = 0
    stop = threading.Event()

    with OnlineStore(tmp_path / "online.db") as store:
        store.materialize(latest)

        def writer() -> None:
            while not stop.is_set():
                store.materialize(latest)

        def reader(k: int) -> None:
            nonlocal wrong
            rng = np.random.default_rng(k)
            for _ in range(per_thread):
                ids = rng.integers(0, N_ENTITIES + 50, size=int(rng.integers(1, 20))).tolist()
                start = time.perf_counter()
                try:
                    got = store.get_online_features(ids)
                except BaseException as exc:
                    errors.append(exc)
                    continue
                latencies[k].append(time.perf_counter() - start)
                hits = got[got["found"]]
                if not np.array_equal(hits["amount_sum_30d"].to_numpy(),
                                      expected.loc[hits["entity_id"]].to_numpy()):
                    wrong += 1

        threads = [threading.Thread(target=reader, args=(k,)) for k in range(n_threads)]
        background = threading.Thread(target=writer)
        began = time.perf_counter()
        background.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - began
        stop.set()
        background.join()

    flat = np.concatenate([np.asarray(x) for x in latencies])
    _record(record_property, requests=len(flat), errors=len(errors), wrong_answers=wrong,
            throughput_rps=len(flat) / elapsed, p50_latency_s=float(np.percentile(flat, 50)),
            p99_latency_s=float(np.percentile(flat, 99)))
    assert not errors, f"{len(errors)} lookups failed, first: {errors[:1]!r}"
    assert wrong == 0
    assert len(flat) == n_threads * per_thread


def test_large_batch_inference(pipeline: Pipeline, record_property: Recorder) -> None:
    """Score a large batch at once and in chunks: same answer, finite everywhere."""
    n_rows = _scaled(200_000)
    rows = pipeline.joined.sample(n_rows, replace=True, random_state=0).reset_index(drop=True)
    start = time.perf_counter()
    whole = predict_batch(pipeline.model, rows)
    elapsed = time.perf_counter() - start
    chunked = np.concatenate([predict_batch(pipeline.model, rows.iloc[i:i + 50_000])
                              for i in range(0, n_rows, 50_000)])
    _record(record_property, rows=n_rows, rows_per_s=n_rows / elapsed, seconds=elapsed)
    assert whole.shape == (n_rows,)
    assert np.isfinite(whole).all() and ((whole > 0) & (whole < 1)).all()
    np.testing.assert_allclose(whole, chunked, rtol=0, atol=1e-12)


def test_memory_is_stable_across_materializations(pipeline: Pipeline, tmp_path: Path,
                                                  record_property: Recorder) -> None:
    """Re-materializing the same snapshot must not grow memory or the table."""
    rounds = _scaled(12)
    latest = pipeline.offline.latest()
    with OnlineStore(tmp_path / "online.db") as store:
        store.materialize(latest)  # first round allocates caches: not counted
        tracemalloc.start()
        try:
            samples = []
            for _ in range(rounds):
                store.materialize(latest)
                samples.append(tracemalloc.get_traced_memory()[0])
        finally:
            tracemalloc.stop()
        assert store.count() == N_ENTITIES
    settled = samples[min(2, len(samples) - 1)]
    growth = samples[-1] - settled
    batch_bytes = int(latest.memory_usage(deep=True).sum())
    _record(record_property, rounds=rounds, traced_bytes_start=settled,
            traced_bytes_end=samples[-1], growth_bytes=growth, batch_bytes=batch_bytes)
    # A leak of anything batch-sized per round would show as growth of ~batch_bytes per
    # round; allow small bookkeeping noise only.
    assert growth < batch_bytes / 20 * max(1, rounds - 2), (
        f"traced memory grew by {growth} bytes over {rounds} rounds "
        f"(batch is {batch_bytes} bytes)")
    assert samples[-1] < 2 * batch_bytes


def test_feature_lookup_with_many_missing_ids(pipeline: Pipeline,
                                              record_property: Recorder) -> None:
    """A burst of unknown customers (e.g. a bot attack) is answered, not failed."""
    ids = list(range(N_ENTITIES, N_ENTITIES + _scaled(20_000)))
    start = time.perf_counter()
    got = pipeline.online.get_online_features(ids)
    elapsed = time.perf_counter() - start
    _record(record_property, ids=len(ids), seconds=elapsed)
    assert not got["found"].any()
    assert got["amount_sum_30d"].isna().all()
    assert pd.isna(got["feature_timestamp"]).all()
