"""Point-in-time joins, and the online store's round trip."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from core.feature_store import OfflineStore, OnlineStore

T0 = pd.Timestamp("2024-03-01")


def _ts(hours: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=hours)


@pytest.fixture
def features() -> pd.DataFrame:
    return pd.DataFrame({
        "entity_id": [1, 1, 1, 2, 2],
        "feature_timestamp": [_ts(0), _ts(10), _ts(20), _ts(5), _ts(15)],
        "score": [1.0, 2.0, 3.0, 10.0, 20.0],
        "tag": ["a", "b", "c", "x", "y"],
    })


def test_pit_join_takes_latest_row_at_or_before_label_time(features: pd.DataFrame) -> None:
    store = OfflineStore(features)
    labels = pd.DataFrame({
        "entity_id": [1, 1, 2, 1, 2, 3],
        "label_timestamp": [_ts(12), _ts(10), _ts(14.99), _ts(25), _ts(1), _ts(50)],
        "label": [0, 1, 0, 1, 1, 0],
    }, index=[100, 101, 102, 103, 104, 105])
    joined = store.get_historical_features(labels)
    assert joined.index.tolist() == [100, 101, 102, 103, 104, 105], "order and index kept"
    assert joined["label"].tolist() == [0, 1, 0, 1, 1, 0]
    scores = joined["score"].tolist()
    assert scores[:4] == [2.0, 2.0, 10.0, 3.0]  # an exact timestamp match counts as known
    assert np.isnan(scores[4]), "no feature row before the label: NaN, not a future row"
    assert np.isnan(scores[5]), "unknown entity: NaN"
    assert joined["tag"].tolist()[:4] == ["b", "b", "x", "c"]


def test_pit_join_never_uses_a_future_row(features: pd.DataFrame) -> None:
    """A row one nanosecond after the label time holds a value that must never appear."""
    leaky = pd.concat([features, pd.DataFrame({
        "entity_id": [1], "feature_timestamp": [_ts(12) + pd.Timedelta(1, "ns")],
        "score": [999.0], "tag": ["FUTURE"]})], ignore_index=True)
    labels = pd.DataFrame({"entity_id": [1] * 3,
                           "label_timestamp": [_ts(12), _ts(11), _ts(12) + pd.Timedelta(1, "ns")]})
    joined = OfflineStore(leaky).get_historical_features(labels)
    assert joined["score"].tolist() == [2.0, 2.0, 999.0]
    assert (joined["feature_timestamp"] <= joined["label_timestamp"]).all()


def test_pit_join_random_cases_match_brute_force() -> None:
    rng = np.random.default_rng(0)
    feats = pd.DataFrame({
        "entity_id": rng.integers(0, 5, 200),
        "feature_timestamp": T0 + pd.to_timedelta(rng.integers(0, 10**6, 200), unit="s"),
        "v": rng.normal(size=200),
    }).drop_duplicates(["entity_id", "feature_timestamp"])
    labels = pd.DataFrame({
        "entity_id": rng.integers(0, 6, 100),
        "label_timestamp": T0 + pd.to_timedelta(rng.integers(0, 10**6, 100), unit="s"),
    })
    joined = OfflineStore(feats).get_historical_features(labels)
    for (_, label), got in zip(labels.iterrows(), joined["v"], strict=True):
        past = feats[(feats["entity_id"] == label["entity_id"])
                     & (feats["feature_timestamp"] <= label["label_timestamp"])]
        if past.empty:
            assert np.isnan(got)
        else:
            assert got == past.loc[past["feature_timestamp"].idxmax(), "v"]


def test_offline_store_rejects_bad_tables(features: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="lacks columns"):
        OfflineStore(features.drop(columns="feature_timestamp"))
    with pytest.raises(ValueError, match="duplicate"):
        OfflineStore(pd.concat([features, features.head(1)]))
    with pytest.raises(ValueError, match="entity_df lacks"):
        OfflineStore(features).get_historical_features(pd.DataFrame({"entity_id": [1]}))


def test_latest_respects_as_of(features: pd.DataFrame) -> None:
    store = OfflineStore(features)
    assert store.latest()["score"].tolist() == [3.0, 20.0]
    assert store.latest(as_of=_ts(12))["score"].tolist() == [2.0, 10.0]
    assert store.feature_names == ("score", "tag")


def test_online_round_trip_preserves_values_and_order(features: pd.DataFrame) -> None:
    with OnlineStore() as store:
        assert store.materialize(OfflineStore(features).latest()) == 2
        got = store.get_online_features([2, 1, 2])
        assert got["entity_id"].tolist() == [2, 1, 2]
        assert got["score"].tolist() == [20.0, 3.0, 20.0]
        assert got["tag"].tolist() == ["y", "c", "y"]
        assert got["feature_timestamp"].tolist() == [_ts(15), _ts(20), _ts(15)]
        assert got["found"].all()
        assert store.count() == 2


def test_online_lookup_handles_missing_and_empty(features: pd.DataFrame) -> None:
    with OnlineStore() as store:
        empty = store.get_online_features([1])
        assert not empty["found"].any(), "nothing materialized yet"
        store.materialize(features)
        got = store.get_online_features([1, 42])
        assert got["found"].tolist() == [True, False]
        assert np.isnan(got["score"].iloc[1])
        assert pd.isna(got["tag"].iloc[1])
        assert pd.isna(got["feature_timestamp"].iloc[1])
        assert store.get_online_features([]).empty


def test_online_materialize_keeps_newest_row(features: pd.DataFrame) -> None:
    with OnlineStore() as store:
        store.materialize(features)  # several rows per entity: newest wins
        assert store.get_online_features([1])["score"].item() == 3.0
        stale = features[features["feature_timestamp"] <= _ts(10)]
        store.materialize(stale)  # an older snapshot does not roll serving back
        assert store.get_online_features([1, 2])["score"].tolist() == [3.0, 20.0]


def test_online_lookup_of_many_ids_crosses_parameter_chunks() -> None:
    n = 2_500
    feats = pd.DataFrame({"entity_id": np.arange(n), "feature_timestamp": _ts(1),
                          "v": np.arange(n, dtype=float)})
    with OnlineStore() as store:
        store.materialize(feats)
        ids = [*list(range(n - 1, -1, -1)), n + 5]
        got = store.get_online_features(ids)
        assert got["v"].tolist()[:-1] == [float(i) for i in ids[:-1]]
        assert got["found"].sum() == n


def test_online_file_store_is_wal_and_readable_from_threads(
        tmp_path: Path, features: pd.DataFrame) -> None:
    path = tmp_path / "online.db"
    with OnlineStore(path) as store:
        store.materialize(features)
        results: list[float] = []
        errors: list[BaseException] = []

        def read() -> None:
            try:
                results.append(store.get_online_features([1])["score"].item())
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=read) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert results == [3.0] * 4
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT COUNT(*) FROM features").fetchone()[0] == 2
    conn.close()
    with OnlineStore(path) as reopened:
        assert reopened.get_online_features([2])["score"].item() == 20.0


def test_online_store_rejects_schema_change_and_bad_names(features: pd.DataFrame) -> None:
    with OnlineStore() as store:
        store.materialize(features)
        with pytest.raises(ValueError, match="differ"):
            store.materialize(features.assign(extra=1.0))
        with pytest.raises(ValueError, match="unsupported feature name"):
            OnlineStore(table='x"; DROP TABLE features; --')


def test_online_lookup_is_parameterised(features: pd.DataFrame) -> None:
    with OnlineStore() as store:
        store.materialize(features)
        with pytest.raises((ValueError, TypeError)):
            store.get_online_features(["1 OR 1=1"])  # type: ignore[list-item]
        assert store.count() == 2
