"""Training and inference of the fraud model.

The model owns its encoders: they are fitted on the training rows together with the
classifier and applied unchanged at inference, offline (a batch of joined rows) or online
(one entity's row fetched from the online store). One code path turns raw feature rows
into the model matrix, which is what keeps batch and single-row predictions identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from core.feature_store import OnlineStore
from core.features import FrequencyEncoder, OneHotEncoder, TargetEncoder

__all__ = [
    "NUMERIC_FEATURES",
    "TrainedModel",
    "predict_batch",
    "predict_online",
    "train_model",
]

#: Numeric columns of the feature table the model uses directly.
NUMERIC_FEATURES: tuple[str, ...] = (
    *(f"amount_{stat}_{window}"
      for window in ("1d", "7d", "30d")
      for stat in ("count", "sum", "mean", "std")),
    "last_amount",
    "last_is_night",
)


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """A fitted classifier plus the encoders its inputs need."""

    pipeline: Pipeline
    target_encoder: TargetEncoder
    frequency_encoder: FrequencyEncoder
    one_hot: OneHotEncoder
    feature_names: tuple[str, ...]

    def design_matrix(
        self,
        rows: pd.DataFrame,
        *,
        target_encoding: pd.Series | None = None,
    ) -> np.ndarray:
        """Turn raw feature rows (offline join or online lookup) into model inputs.

        ``target_encoding`` replaces the fitted encoder's values; training passes its
        out-of-fold encodings here.
        """
        numeric = rows.loc[:, list(NUMERIC_FEATURES)].astype(float)
        if target_encoding is None:
            target_encoding = self.target_encoder.transform(rows)
        parts = [
            numeric.to_numpy(),
            target_encoding.to_numpy()[:, None],
            self.frequency_encoder.transform(rows).to_numpy()[:, None],
            self.one_hot.transform(rows).to_numpy(),
        ]
        return np.hstack(parts)


def train_model(
    rows: pd.DataFrame,
    labels: pd.Series | np.ndarray,
    *,
    random_state: int = 0,
    c: float = 1.0,
) -> TrainedModel:
    """Fit encoders and a scaled logistic regression on the training rows only.

    The classifier sees out-of-fold target encodings; the encoder kept for inference is
    fitted on all training rows.

    ``rows`` are feature rows as the offline store's point-in-time join returns them.
    Missing numeric features (an entity with no history yet) are imputed with the
    training median, inside the pipeline so the same value is used at inference.
    """
    y = np.asarray(labels)
    if len(y) != len(rows):
        raise ValueError(f"labels has {len(y)} rows, rows has {len(rows)}")
    if len(np.unique(y)) < 2:
        raise ValueError("training labels contain a single class")
    target_encoder = TargetEncoder("last_merchant")
    out_of_fold = target_encoder.fit_transform_out_of_fold(rows, y, seed=random_state)
    frequency_encoder = FrequencyEncoder("last_merchant").fit(rows)
    one_hot = OneHotEncoder("last_category").fit(rows)
    pipeline = Pipeline([
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("scale", StandardScaler()),
        ("classify", LogisticRegression(C=c, max_iter=1000, random_state=random_state)),
    ])
    partial = TrainedModel(pipeline, target_encoder, frequency_encoder, one_hot, ())
    pipeline.fit(partial.design_matrix(rows, target_encoding=out_of_fold), y)
    names = (*NUMERIC_FEATURES, "last_merchant_te", "last_merchant_freq",
             *one_hot.transform(rows.head(0)).columns)
    return TrainedModel(pipeline, target_encoder, frequency_encoder, one_hot, tuple(names))


def predict_batch(model: TrainedModel, rows: pd.DataFrame) -> np.ndarray:
    """Return the fraud probability of every row."""
    if rows.empty:
        return np.empty(0, dtype=float)
    return model.pipeline.predict_proba(model.design_matrix(rows))[:, 1]


def predict_online(
    model: TrainedModel,
    store: OnlineStore,
    entity_ids: Sequence[int],
) -> np.ndarray:
    """Look up the latest features of ``entity_ids`` online and score them.

    Unknown entities are scored too: their features are imputed like missing history.
    """
    rows = store.get_online_features(entity_ids)
    return predict_batch(model, rows)
