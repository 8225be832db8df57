"""Stress tests: concurrency, arrival rate, scaling, soak and a malformed flood.

Opt-in: they run only with ``-m stress``. They use the ``stress`` fixture of
perf_pipeline's pytest plugin (loaded by the root ``conftest.py`` when it is not loaded
already), which applies the load and keeps the figures: throughput and latency
percentiles per load step, breaking points, scaling exponents with their interval, memory
growth per iteration with a leak verdict. ``STRESS_MULTIPLIER`` (float, default 1) scales
durations and sizes (and, above 1, the largest worker count); at 1 the module took 28 s
on a busy two-core machine, at 5 about 2 minutes.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import numpy as np
import pytest
from core.feature_store import OnlineStore
from core.model import predict_batch, predict_online, train_model

from tests.ml.integration.shared_state import N_ENTITIES, SEED, Pipeline

pytestmark = pytest.mark.stress

#: Service objectives the lookups must meet (generous: a shared two-core machine).
LOOKUP_P99_OBJECTIVE_S = 0.25
LOOKUP_RATE_PER_S = 200.0


def _lookup_op(store: OnlineStore, expected: dict[int, float]) -> object:
    """A lookup of 1-20 ids (some unknown) whose answer is checked against the snapshot."""
    rngs = threading.local()

    def lookup() -> None:
        rng = getattr(rngs, "rng", None)
        if rng is None:
            rng = rngs.rng = np.random.default_rng(threading.get_ident() % 2**32)
        ids = rng.integers(0, N_ENTITIES + 50, size=int(rng.integers(1, 20))).tolist()
        got = store.get_online_features(ids)
        hits = got[got["found"]]
        want = np.array([expected[e] for e in hits["entity_id"]])
        if not np.array_equal(hits["amount_sum_30d"].to_numpy(), want, equal_nan=True):
            raise AssertionError("wrong features returned")

    return lookup


def test_concurrent_online_lookups(pipeline: Pipeline, tmp_path: Path, stress) -> None:
    """Lookups from 1..8 threads while a writer keeps re-materializing (WAL: no blocking),
    then a fixed arrival rate measured from each request's intended start."""
    latest = pipeline.offline.latest()
    expected = dict(zip(latest["entity_id"], latest["amount_sum_30d"], strict=True))
    stop = threading.Event()
    with OnlineStore(tmp_path / "online.db") as store:
        store.materialize(latest)

        def writer() -> None:
            while not stop.wait(0.05):
                store.materialize(latest)

        background = threading.Thread(target=writer)
        background.start()
        try:
            lookup = _lookup_op(store, expected)
            ramp = stress.ramp("lookups_ramp", lookup, max_workers=8, step_s=1.0,
                               p99_objective_s=LOOKUP_P99_OBJECTIVE_S, max_error_rate=0.0)
            steady = stress.open_loop("lookups_open_loop", lookup,
                                      rate_per_s=LOOKUP_RATE_PER_S, duration_s=3.0, workers=4)
        finally:
            stop.set()
            background.join()
    assert ramp["errors"] == 0, [s["errors_by_type"] for s in ramp["steps"]]
    assert steady["errors"] == 0, steady["errors_by_type"]
    assert ramp["steps"][0]["ok"] > 0 and steady["ok"] > 0


def _batch_rows(pipeline: Pipeline, n: int):
    return pipeline.joined.sample(n, replace=True, random_state=SEED).reset_index(drop=True)


def test_batch_scoring_scales_linearly(pipeline: Pipeline, stress) -> None:
    """Scoring n, 2n, …, 32n rows: the exponent of time in rows must stay near 1."""
    def score(rows) -> None:
        probs = predict_batch(pipeline.model, rows)
        if probs.shape != (len(rows),) or not np.isfinite(probs).all():
            raise AssertionError("bad scores")

    sweep = stress.size_sweep("batch_scoring", score, base_size=2_000, doublings=5,
                              repeats=3, setup=lambda n: _batch_rows(pipeline, n))
    # Fixed per-call costs make small batches look cheap: the fit sits below 1 then;
    # a quadratic step (e.g. a per-row lookup in a growing list) lifts it far above.
    assert sweep["exponent"] < 1.5, sweep


def test_training_and_inference_soak(pipeline: Pipeline, stress) -> None:
    """Retrain and score again and again: memory must not grow with the iterations."""
    train = pipeline.train.head(1_500)  # more iterations per second: a sharper trend test
    ids = itertools.cycle(range(0, N_ENTITIES, 7))

    def train_and_score() -> None:
        model = train_model(train, train["label"], random_state=SEED)
        batch = [next(ids) for _ in range(16)]
        probs = predict_online(model, pipeline.online, batch)
        if probs.shape != (16,) or not ((probs > 0) & (probs < 1)).all():
            raise AssertionError("bad scores")

    soak = stress.soak("train_inference_soak", train_and_score, duration_s=10.0,
                       max_iterations=2_000, leak_bytes_per_iteration=64 * 1024)
    assert soak["errors"] == 0, soak["errors_by_type"]
    assert not soak["leak"], (soak["traced_trend"], soak["rss_trend"])


_MALFORMED = (["abc"], [None], [{"id": 1}], [[1, 2]], ["1; DROP TABLE features"], [object()],
              ["∞"], [b"\x00"])


def test_malformed_request_flood_is_rejected_cleanly(pipeline: Pipeline, stress) -> None:
    """Garbage ids from many threads: each is refused with ValueError/TypeError, nothing
    crashes, valid lookups still answer, and memory does not grow with the flood."""
    requests = itertools.cycle(_MALFORMED)
    lock = threading.Lock()

    def malformed() -> None:
        with lock:
            request = next(requests)
        try:
            pipeline.online.get_online_features(request)
        except (ValueError, TypeError):
            return  # rejected cleanly
        raise AssertionError(f"accepted a malformed request {request!r}")

    flood = stress.ramp("malformed_flood", malformed, max_workers=4, step_s=1.0)
    soak = stress.soak("malformed_soak", malformed, duration_s=3.0, max_iterations=50_000)
    assert flood["errors"] == 0, [s["errors_by_type"] for s in flood["steps"]]
    assert soak["errors"] == 0 and not soak["leak"], soak["traced_trend"]
    got = pipeline.online.get_online_features([0, 1, N_ENTITIES + 1])
    assert got["found"].tolist() == [True, True, False]
