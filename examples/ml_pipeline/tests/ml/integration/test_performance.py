"""Benchmarks of each pipeline stage; every one also checks the answer it timed.

A faster wrong answer is not an improvement, so each test asserts a property of its
result (shape, invariants, agreement with a reference computed outside the timed part).
Inputs come from the session ``pipeline`` fixture and are identical for every commit.
Run with e.g. ``pytest tests/ml/integration/test_performance.py -v --benchmark-warmup=on``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from core.data import generate_transactions
from core.feature_store import OnlineStore
from core.features import FrequencyEncoder, OneHotEncoder, TargetEncoder, rolling_aggregates
from core.model import predict_batch, predict_online, train_model
from sklearn.metrics import roc_auc_score

from tests.ml.integration.shared_state import N_ENTITIES, N_EVENTS, SEED, Pipeline

Benchmark = Any  # pytest-benchmark's fixture type is not part of its public API


def _naive_window(tx: pd.DataFrame, entity: int, at: pd.Timestamp, window: str) -> np.ndarray:
    rows = tx[(tx["entity_id"] == entity) & (tx["event_timestamp"] <= at)
              & (tx["event_timestamp"] > at - pd.Timedelta(window))]
    return rows["amount"].to_numpy()


class TestPerformance:
    @pytest.mark.benchmark(group="data")
    def test_data_generation_performance(self, benchmark: Benchmark, pipeline: Pipeline) -> None:
        tx = benchmark(generate_transactions, n_entities=N_ENTITIES, n_events=N_EVENTS,
                       seed=SEED)
        assert len(tx) == N_EVENTS
        assert tx["entity_id"].nunique() == N_ENTITIES
        pd.testing.assert_frame_equal(tx, pipeline.transactions)  # deterministic

    @pytest.mark.benchmark(group="features")
    def test_rolling_features_performance(self, benchmark: Benchmark,
                                          pipeline: Pipeline) -> None:
        tx = pipeline.transactions
        out = benchmark(rolling_aggregates, tx)
        assert len(out) == len(tx)
        assert (out["amount_count_1d"] >= 1).all()
        assert (out["amount_count_7d"] >= out["amount_count_1d"]).all()
        assert (out["amount_count_30d"] >= out["amount_count_7d"]).all()
        sample = out.sample(25, random_state=0)
        for _, row in sample.iterrows():
            amounts = _naive_window(tx, row["entity_id"], row["event_timestamp"], "7D")
            assert row["amount_count_7d"] == len(amounts)
            assert np.isclose(row["amount_sum_7d"], amounts.sum())
            std = amounts.std(ddof=1) if len(amounts) > 1 else 0.0
            assert np.isclose(row["amount_std_7d"], std, atol=1e-5)

    @pytest.mark.benchmark(group="features")
    def test_encoding_performance(self, benchmark: Benchmark, pipeline: Pipeline) -> None:
        train, test = pipeline.train, pipeline.test

        def encode() -> tuple[pd.Series, pd.Series, pd.Series, pd.DataFrame]:
            target = TargetEncoder("last_merchant")
            oof = target.fit_transform_out_of_fold(train, train["label"].to_numpy())
            freq = FrequencyEncoder("last_merchant").fit(train)
            onehot = OneHotEncoder("last_category").fit(train)
            return oof, target.transform(test), freq.transform(test), onehot.transform(test)

        oof, te, freq, onehot = benchmark(encode)
        assert len(oof) == len(train) and len(te) == len(test)
        assert oof.between(0, 1).all() and te.between(0, 1).all()
        assert freq.between(0, 1).all()
        assert onehot.sum(axis=1).isin([0.0, 1.0]).all()
        assert onehot.shape[1] == train["last_category"].nunique()
        # Risky merchants exist: the encoding must separate labels on unseen rows.
        assert roc_auc_score(test["label"], te) > 0.55

    @pytest.mark.benchmark(group="feature_store")
    def test_feature_store_performance(self, benchmark: Benchmark, pipeline: Pipeline) -> None:
        """Point-in-time join of every label to the offline store."""
        labels = pipeline.labels
        joined = benchmark(pipeline.offline.get_historical_features, labels)
        assert len(joined) == len(labels)
        known = joined["feature_timestamp"].notna()
        assert (joined.loc[known, "feature_timestamp"]
                <= joined.loc[known, "label_timestamp"]).all()
        pd.testing.assert_frame_equal(joined, pipeline.joined)

    @pytest.mark.benchmark(group="feature_store")
    def test_online_materialization_performance(self, benchmark: Benchmark,
                                                pipeline: Pipeline) -> None:
        latest = pipeline.offline.latest()

        def materialize() -> int:
            with OnlineStore(":memory:") as store:
                store.materialize(latest)
                return store.count()

        assert benchmark(materialize) == N_ENTITIES

    @pytest.mark.benchmark(group="feature_store")
    def test_online_lookup_performance(self, benchmark: Benchmark, pipeline: Pipeline) -> None:
        ids = [*range(0, N_ENTITIES, 4), N_ENTITIES + 1, -5]
        got = benchmark(pipeline.online.get_online_features, ids)
        assert got["entity_id"].tolist() == ids
        assert got["found"].tolist() == [True] * (len(ids) - 2) + [False, False]
        want = pipeline.offline.latest().set_index("entity_id").loc[ids[:-2], "amount_sum_30d"]
        np.testing.assert_array_equal(got["amount_sum_30d"].to_numpy()[:-2], want.to_numpy())

    @pytest.mark.benchmark(group="model")
    def test_training_performance(self, benchmark: Benchmark, pipeline: Pipeline) -> None:
        train, test = pipeline.train, pipeline.test
        model = benchmark(train_model, train, train["label"], random_state=SEED)
        assert roc_auc_score(test["label"], predict_batch(model, test)) > 0.65
        np.testing.assert_array_equal(predict_batch(model, test),
                                      predict_batch(pipeline.model, test))

    @pytest.mark.benchmark(group="model")
    def test_batch_inference_performance(self, benchmark: Benchmark,
                                         pipeline: Pipeline) -> None:
        rows = pipeline.joined
        p = benchmark(predict_batch, pipeline.model, rows)
        assert p.shape == (len(rows),)
        assert np.all((p > 0) & (p < 1))
        assert p[rows["label"].to_numpy() == 1].mean() > p[rows["label"].to_numpy() == 0].mean()

    @pytest.mark.benchmark(group="model")
    def test_single_row_inference_performance(self, benchmark: Benchmark,
                                              pipeline: Pipeline) -> None:
        """Online scoring of one entity: store lookup, encoding, prediction."""
        entity = 1234
        p = benchmark(predict_online, pipeline.model, pipeline.online, [entity])
        at_now = pd.DataFrame({"entity_id": [entity], "label_timestamp": [pipeline.now]})
        expected = predict_batch(pipeline.model,
                                 pipeline.offline.get_historical_features(at_now))
        np.testing.assert_allclose(p, expected, rtol=0, atol=1e-12)
