"""The generator must be deterministic and produce the documented shape."""

from __future__ import annotations

import pandas as pd
import pytest
from core.data import CATEGORIES, generate_labels, generate_transactions


def test_same_seed_gives_identical_frames() -> None:
    a = generate_transactions(n_entities=50, n_events=1_000, seed=7)
    b = generate_transactions(n_entities=50, n_events=1_000, seed=7)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(generate_labels(a, seed=7), generate_labels(b, seed=7))


def test_different_seeds_differ() -> None:
    a = generate_transactions(n_entities=50, n_events=1_000, seed=1)
    b = generate_transactions(n_entities=50, n_events=1_000, seed=2)
    assert not a["amount"].equals(b["amount"])


def test_transactions_shape_and_invariants() -> None:
    tx = generate_transactions(n_entities=40, n_events=800, seed=0, days=30)
    assert list(tx.columns) == ["transaction_id", "entity_id", "event_timestamp", "amount",
                                "category", "merchant", "channel", "is_night"]
    assert len(tx) == 800  # ns offsets: no (entity, time) ties at this size
    assert set(tx["entity_id"]) == set(range(40)), "every entity has an event"
    assert tx["event_timestamp"].is_monotonic_increasing
    assert not tx.duplicated(["entity_id", "event_timestamp"]).any()
    assert (tx["amount"] > 0).all()
    assert set(tx["category"]) <= set(CATEGORIES)
    span = tx["event_timestamp"].max() - tx["event_timestamp"].min()
    assert span <= pd.Timedelta(days=30)
    assert tx["transaction_id"].tolist() == list(range(800))


def test_labels_cover_every_entity_after_warmup() -> None:
    tx = generate_transactions(n_entities=30, n_events=600, seed=3)
    labels = generate_labels(tx, labels_per_entity=3, seed=3, warmup_days=7)
    assert len(labels) == 90
    assert labels.groupby("entity_id").size().eq(3).all()
    assert labels["label_timestamp"].min() >= tx["event_timestamp"].min() + pd.Timedelta(days=7)
    assert set(labels["label"].unique()) <= {0, 1}
    assert labels["label_timestamp"].is_monotonic_increasing


def test_label_rate_is_neither_trivial_nor_degenerate() -> None:
    tx = generate_transactions(n_entities=500, n_events=5_000, seed=0)
    rate = generate_labels(tx, seed=0)["label"].mean()
    assert 0.05 < rate < 0.5


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n_entities": 0, "n_events": 10}, "n_entities"),
    ({"n_entities": 10, "n_events": 5}, "n_events"),
    ({"n_entities": 1, "n_events": 1, "days": 0}, "days"),
])
def test_generator_rejects_bad_sizes(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        generate_transactions(**kwargs)


def test_labels_reject_bad_arguments() -> None:
    tx = generate_transactions(n_entities=5, n_events=50, seed=0, days=3)
    with pytest.raises(ValueError, match="labels_per_entity"):
        generate_labels(tx, labels_per_entity=0)
    with pytest.raises(ValueError, match="warmup_days"):
        generate_labels(tx, warmup_days=10)
