"""A small fraud-detection pipeline: synthetic data, features, feature store, model.

The stages, in order: ``generate_transactions``/``generate_labels`` → ``build_feature_table``
→ ``OfflineStore.get_historical_features`` (point-in-time join) → ``train_model`` →
``OnlineStore.materialize`` → ``predict_online``.
"""

from core.data import generate_labels, generate_transactions
from core.feature_store import OfflineStore, OnlineStore
from core.features import (
    FrequencyEncoder,
    OneHotEncoder,
    TargetEncoder,
    build_feature_table,
    rolling_aggregates,
)
from core.model import TrainedModel, predict_batch, predict_online, train_model

__all__ = [
    "FrequencyEncoder",
    "OfflineStore",
    "OneHotEncoder",
    "OnlineStore",
    "TargetEncoder",
    "TrainedModel",
    "build_feature_table",
    "generate_labels",
    "generate_transactions",
    "predict_batch",
    "predict_online",
    "rolling_aggregates",
    "train_model",
]
