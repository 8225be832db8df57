"""End to end: generate → features → offline join → train → materialize → serve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from core.feature_store import OnlineStore
from core.model import predict_batch, predict_online
from sklearn.metrics import roc_auc_score

from tests.ml.integration.shared_state import N_ENTITIES, Pipeline


def test_offline_join_has_no_future_features(pipeline: Pipeline) -> None:
    joined = pipeline.joined
    assert len(joined) == len(pipeline.labels)
    known = joined["feature_timestamp"].notna()
    assert known.mean() > 0.85, "labels come after a warm-up, so most have history"
    assert (joined.loc[known, "feature_timestamp"] <= joined.loc[known, "label_timestamp"]).all()


def test_offline_join_picks_the_latest_event_before_each_label(pipeline: Pipeline) -> None:
    tx = pipeline.transactions
    for _, row in pipeline.joined.sample(40, random_state=0).iterrows():
        past = tx[(tx["entity_id"] == row["entity_id"])
                  & (tx["event_timestamp"] <= row["label_timestamp"])]
        if past.empty:
            assert pd.isna(row["feature_timestamp"])
            continue
        last = past.loc[past["event_timestamp"].idxmax()]
        assert row["feature_timestamp"] == last["event_timestamp"]
        assert row["last_amount"] == last["amount"]
        window = past[past["event_timestamp"] > last["event_timestamp"] - pd.Timedelta("7D")]
        assert row["amount_count_7d"] == len(window)
        assert np.isclose(row["amount_sum_7d"], window["amount"].sum())


def test_model_trained_on_historical_features_generalises(pipeline: Pipeline) -> None:
    p = predict_batch(pipeline.model, pipeline.test)
    assert roc_auc_score(pipeline.test["label"], p) > 0.65


def test_online_store_serves_the_latest_offline_row(pipeline: Pipeline) -> None:
    assert pipeline.online.count() == N_ENTITIES
    ids = [0, 7, 1999, 123]
    online = pipeline.online.get_online_features(ids)
    latest = pipeline.offline.latest().set_index("entity_id").loc[ids]
    for column in pipeline.offline.feature_names:
        got, want = online[column].to_numpy(), latest[column].to_numpy()
        if want.dtype.kind in "fiu":
            np.testing.assert_array_equal(got.astype(float), want.astype(float))
        else:
            assert got.tolist() == want.tolist(), column
    assert online["feature_timestamp"].tolist() == latest["feature_timestamp"].tolist()


def test_single_row_prediction_equals_batch_prediction(pipeline: Pipeline) -> None:
    """Serving and offline scoring at the same time give the same score."""
    entities = np.arange(0, N_ENTITIES, 97)
    at_now = pd.DataFrame({"entity_id": entities, "label_timestamp": pipeline.now})
    batch = predict_batch(pipeline.model, pipeline.offline.get_historical_features(at_now))
    single = np.array([predict_online(pipeline.model, pipeline.online, [int(e)])[0]
                       for e in entities])
    np.testing.assert_allclose(single, batch, rtol=0, atol=1e-12)


def test_file_backed_online_store_survives_reopen(pipeline: Pipeline, tmp_path: Path) -> None:
    path = tmp_path / "online.db"
    with OnlineStore(path) as store:
        assert store.materialize(pipeline.offline.latest()) == N_ENTITIES
    with OnlineStore(path) as store:
        p_file = predict_online(pipeline.model, store, [5, 10**9])
    p_memory = predict_online(pipeline.model, pipeline.online, [5, 10**9])
    np.testing.assert_array_equal(p_file, p_memory)


def test_materializing_an_earlier_snapshot_serves_that_time(pipeline: Pipeline) -> None:
    as_of = pipeline.now - pd.Timedelta(days=30)
    with OnlineStore() as store:
        store.materialize(pipeline.offline.latest(as_of=as_of))
        served = store.get_online_features(list(range(50)))
    found = served[served["found"]]
    assert (found["feature_timestamp"] <= as_of).all()
    at_then = pd.DataFrame({"entity_id": found["entity_id"], "label_timestamp": as_of})
    offline = pipeline.offline.get_historical_features(at_then)
    np.testing.assert_array_equal(found["amount_sum_30d"].to_numpy(),
                                  offline["amount_sum_30d"].to_numpy())
