"""Session-wide pipeline state, built once and shared by integration tests and benchmarks.

Benchmarks time one stage each; everything upstream of that stage comes from here so the
timed part is only the stage itself and every benchmark sees identical inputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import pytest
from core.data import generate_labels, generate_transactions
from core.feature_store import OfflineStore, OnlineStore
from core.features import build_feature_table
from core.model import TrainedModel, train_model
from threadpoolctl import threadpool_limits

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


@pytest.fixture(scope="session", autouse=True)
def _single_threaded_math() -> Iterator[None]:
    """Run BLAS/OpenMP on one thread while measuring.

    The matrices here are small: extra BLAS threads cost more to wake than they save,
    and on a busy two-core machine they made training times jump between 40 and 230 ms
    from round to round. One thread gives stable timings of the code itself.
    """
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def pipeline() -> Iterator[Pipeline]:
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
    yield Pipeline(tx, labels, table, offline, joined, train, test, model, online,
                   now=tx["event_timestamp"].max())
    online.close()
