"""The pipeline state shared by integration tests, benchmarks and stress tests.

Benchmarks time one stage each; everything upstream of that stage is built once by
``build_pipeline`` so the timed part is only the stage itself and every benchmark sees
identical inputs, commit after commit.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from core.data import generate_labels, generate_transactions
from core.feature_store import OfflineStore, OnlineStore
from core.features import build_feature_table
from core.model import TrainedModel, train_model

#: Size of the shared data set: large enough that each stage does real work, small
#: enough that the whole performance suite runs in about 20 s on two cores.
N_ENTITIES = 2_000
N_EVENTS = 30_000
LABELS_PER_ENTITY = 3
SEED = 42


@dataclass(frozen=True)
class Pipeline:
    transactions: pd.DataFrame
    labels: pd.DataFrame
    feature_table: pd.DataFrame
    offline: OfflineStore
    joined: pd.DataFrame
    train: pd.DataFrame
    test: pd.DataFrame
    model: TrainedModel
    online: OnlineStore
    now: pd.Timestamp


def build_pipeline() -> Pipeline:
    """Run every stage once; the caller owns (and closes) the in-memory online store."""
    tx = generate_transactions(n_entities=N_ENTITIES, n_events=N_EVENTS, seed=SEED)
    labels = generate_labels(tx, labels_per_entity=LABELS_PER_ENTITY, seed=SEED)
    table = build_feature_table(tx)
    offline = OfflineStore(table)
    joined = offline.get_historical_features(labels)
    cutoff = joined["label_timestamp"].quantile(0.7)
    train = joined[joined["label_timestamp"] < cutoff]
    test = joined[joined["label_timestamp"] >= cutoff]
    model = train_model(train, train["label"], random_state=SEED)
    online = OnlineStore(":memory:")
    online.materialize(offline.latest())
    return Pipeline(tx, labels, table, offline, joined, train, test, model, online,
                    now=tx["event_timestamp"].max())
