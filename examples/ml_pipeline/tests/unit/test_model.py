"""Training beats a trivial baseline on held-out data; inference is consistent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from core.data import generate_labels, generate_transactions
from core.feature_store import OfflineStore, OnlineStore
from core.features import TargetEncoder, build_feature_table
from core.model import predict_batch, predict_online, train_model
from sklearn.metrics import log_loss, roc_auc_score


@pytest.fixture(scope="module")
def split() -> tuple[pd.DataFrame, pd.DataFrame, OfflineStore]:
    tx = generate_transactions(n_entities=600, n_events=9_000, seed=11)
    labels = generate_labels(tx, labels_per_entity=3, seed=11)
    offline = OfflineStore(build_feature_table(tx))
    rows = offline.get_historical_features(labels)
    cutoff = rows["label_timestamp"].quantile(0.7)  # split by time, like production
    return (rows[rows["label_timestamp"] < cutoff], rows[rows["label_timestamp"] >= cutoff],
            offline)


def test_model_beats_prior_on_held_out_data(split: tuple) -> None:
    train, test, _ = split
    model = train_model(train, train["label"])
    p = predict_batch(model, test)
    prior = np.full(len(test), train["label"].mean())
    assert roc_auc_score(test["label"], p) > 0.65
    assert log_loss(test["label"], p) < 0.95 * log_loss(test["label"], prior)


def test_training_is_deterministic(split: tuple) -> None:
    train, test, _ = split
    a = predict_batch(train_model(train, train["label"]), test)
    b = predict_batch(train_model(train, train["label"]), test)
    np.testing.assert_array_equal(a, b)


def test_encoders_are_fitted_on_training_rows_only(split: tuple) -> None:
    train, test, _ = split
    model = train_model(train, train["label"])
    reference = TargetEncoder("last_merchant").fit(train, train["label"])
    assert model.target_encoder.means_ == reference.means_
    unseen = set(test["last_merchant"].dropna()) - set(train["last_merchant"].dropna())
    for merchant in unseen:
        assert merchant not in model.target_encoder.means_


def test_feature_names_match_design_matrix(split: tuple) -> None:
    train, _, _ = split
    model = train_model(train, train["label"])
    assert model.design_matrix(train.head(3)).shape == (3, len(model.feature_names))


def test_online_prediction_handles_unknown_entities(split: tuple) -> None:
    train, _, offline = split
    model = train_model(train, train["label"])
    with OnlineStore() as store:
        store.materialize(offline.latest())
        p = predict_online(model, store, [0, 10**9])
    assert p.shape == (2,)
    assert np.all((p > 0) & (p < 1))


def test_predict_batch_of_nothing_is_empty(split: tuple) -> None:
    train, _, _ = split
    model = train_model(train, train["label"])
    assert predict_batch(model, train.head(0)).shape == (0,)


def test_train_rejects_bad_labels(split: tuple) -> None:
    train, _, _ = split
    with pytest.raises(ValueError, match="single class"):
        train_model(train, np.zeros(len(train)))
    with pytest.raises(ValueError, match="rows"):
        train_model(train, np.zeros(3))
