"""Rolling aggregates against a naive reference, and encoders fitted on train only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from core.data import generate_transactions
from core.features import (
    FrequencyEncoder,
    OneHotEncoder,
    TargetEncoder,
    build_feature_table,
    rolling_aggregates,
)

WINDOWS = ("1D", "7D", "30D")


def _naive_rolling(tx: pd.DataFrame, window: str) -> pd.DataFrame:
    """One filter per event: obviously right, hopelessly slow."""
    width = pd.Timedelta(window)
    rows = []
    for _, event in tx.iterrows():
        t = event["event_timestamp"]
        mask = ((tx["entity_id"] == event["entity_id"]) & (tx["event_timestamp"] <= t)
                & (tx["event_timestamp"] > t - width))
        amounts = tx.loc[mask, "amount"].to_numpy()
        rows.append({
            "entity_id": event["entity_id"], "event_timestamp": t,
            "count": float(len(amounts)), "sum": amounts.sum(), "mean": amounts.mean(),
            "std": amounts.std(ddof=1) if len(amounts) > 1 else 0.0,
        })
    return pd.DataFrame(rows).sort_values(["entity_id", "event_timestamp"]).reset_index(
        drop=True)


@pytest.fixture(scope="module")
def small_tx() -> pd.DataFrame:
    return generate_transactions(n_entities=12, n_events=400, seed=5, days=40)


@pytest.mark.parametrize("window", WINDOWS)
def test_rolling_matches_naive_reference(small_tx: pd.DataFrame, window: str) -> None:
    got = rolling_aggregates(small_tx, windows=(window,))
    want = _naive_rolling(small_tx, window)
    suffix = window.lower()
    assert got["entity_id"].tolist() == want["entity_id"].tolist()
    assert got["event_timestamp"].tolist() == want["event_timestamp"].tolist()
    np.testing.assert_array_equal(got[f"amount_count_{suffix}"], want["count"])
    np.testing.assert_allclose(got[f"amount_sum_{suffix}"], want["sum"], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(got[f"amount_mean_{suffix}"], want["mean"], rtol=1e-12,
                               atol=1e-9)
    np.testing.assert_allclose(got[f"amount_std_{suffix}"], want["std"], rtol=1e-9, atol=1e-5)


def test_rolling_window_boundary_is_half_open() -> None:
    """An event exactly one window earlier is out; one nanosecond later is in."""
    t0 = pd.Timestamp("2024-01-01")
    tx = pd.DataFrame({
        "entity_id": [1, 1, 1, 2],
        "event_timestamp": [t0, t0 + pd.Timedelta(days=1),
                            t0 + pd.Timedelta(days=1, microseconds=-1) + pd.Timedelta(days=1),
                            t0 + pd.Timedelta(hours=12)],
        "amount": [10.0, 20.0, 40.0, 1000.0],
    })
    got = rolling_aggregates(tx, windows=("1D",))
    assert got["amount_count_1d"].tolist() == [1.0, 1.0, 2.0, 1.0]
    assert got["amount_sum_1d"].tolist() == [10.0, 20.0, 60.0, 1000.0]
    assert got["amount_std_1d"].tolist()[0] == 0.0


def test_rolling_ignores_input_order(small_tx: pd.DataFrame) -> None:
    shuffled = small_tx.sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(rolling_aggregates(shuffled), rolling_aggregates(small_tx))


def test_rolling_rejects_empty_windows(small_tx: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="windows"):
        rolling_aggregates(small_tx, windows=())


def test_feature_table_has_one_row_per_event(small_tx: pd.DataFrame) -> None:
    table = build_feature_table(small_tx)
    assert len(table) == len(small_tx)
    assert not table.duplicated(["entity_id", "feature_timestamp"]).any()
    merged = table.merge(small_tx, left_on=["entity_id", "feature_timestamp"],
                         right_on=["entity_id", "event_timestamp"])
    assert (merged["last_amount"] == merged["amount"]).all()
    assert (merged["last_merchant"] == merged["merchant"]).all()


def test_frequency_encoder_uses_training_shares() -> None:
    train = pd.DataFrame({"c": ["a", "a", "a", "b"]})
    enc = FrequencyEncoder("c").fit(train)
    out = enc.transform(pd.DataFrame({"c": ["a", "b", "zzz"]}))
    assert out.name == "c_freq"
    assert out.tolist() == [0.75, 0.25, 0.0]


def test_target_encoder_smooths_and_falls_back_to_global_mean() -> None:
    train = pd.DataFrame({"c": ["a", "a", "b", "b", "b", "b"]})
    y = np.array([1, 1, 0, 0, 0, 1])
    enc = TargetEncoder("c", smoothing=2.0).fit(train, y)
    prior = 0.5
    out = enc.transform(pd.DataFrame({"c": ["a", "b", "new", None]}))
    assert out.tolist() == pytest.approx([
        (2 + 2 * prior) / (2 + 2), (1 + 2 * prior) / (4 + 2), prior, prior])


def test_target_encoder_rejects_length_mismatch() -> None:
    with pytest.raises(ValueError, match="rows"):
        TargetEncoder("c").fit(pd.DataFrame({"c": ["a"]}), np.array([1, 0]))


def test_one_hot_encoder_unseen_is_all_zero() -> None:
    enc = OneHotEncoder("c").fit(pd.DataFrame({"c": ["y", "x", "y"]}))
    out = enc.transform(pd.DataFrame({"c": ["x", "y", "new"]}, index=[10, 11, 12]))
    assert list(out.columns) == ["c=x", "c=y"]
    assert out.index.tolist() == [10, 11, 12]
    assert out.to_numpy().tolist() == [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
