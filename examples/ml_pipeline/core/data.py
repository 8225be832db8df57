"""Deterministic synthetic card transactions and fraud labels.

The pipeline needs data with real structure (entities with different habits, a label
that depends on things the features can see) but no download and no randomness between
runs: benchmarks compare commits, so the same ``seed`` must give the same bytes.

Each entity has a hidden risk score. Risky entities spend more, more often, and more in
risky categories. A label at time ``t`` is drawn from a probability that depends on the
entity's risk and on the merchant of its last transaction before ``t``, so both rolling
amount features and a target encoding of the merchant carry signal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "CATEGORIES",
    "CHANNELS",
    "generate_labels",
    "generate_transactions",
]

CATEGORIES: tuple[str, ...] = (
    "grocery", "fuel", "restaurant", "travel", "electronics",
    "fashion", "entertainment", "health", "gift_cards", "utilities",
)
CHANNELS: tuple[str, ...] = ("pos", "online", "atm")

#: How strongly an entity's risk tilts it towards each category (same order as CATEGORIES).
_CATEGORY_RISK_TILT = np.array([-0.6, -0.4, -0.2, 0.5, 0.9, 0.1, 0.2, -0.3, 1.2, -0.8])
_CATEGORY_BASE_LOGIT = np.array([1.2, 0.8, 0.9, -0.3, -0.2, 0.3, 0.1, 0.2, -1.0, 0.5])
_MERCHANTS_PER_CATEGORY = 20
_DEFAULT_START = "2024-01-01"


def _check_sizes(n_entities: int, n_events: int, days: int) -> None:
    if n_entities < 1:
        raise ValueError(f"n_entities must be >= 1, not {n_entities!r}")
    if n_events < n_entities:
        raise ValueError(f"n_events ({n_events}) must be >= n_entities ({n_entities})")
    if days < 1:
        raise ValueError(f"days must be >= 1, not {days!r}")


def _entity_risk(n_entities: int, seed: int) -> np.ndarray:
    """The hidden per-entity risk; its own stream so labels can recompute it cheaply."""
    return np.random.default_rng([seed, 1]).normal(size=n_entities)


def _merchant_risk(seed: int) -> np.ndarray:
    """The hidden per-merchant risk, indexed by merchant number."""
    n_merchants = len(CATEGORIES) * _MERCHANTS_PER_CATEGORY
    return np.random.default_rng([seed, 2]).normal(size=n_merchants)


def generate_transactions(
    *,
    n_entities: int,
    n_events: int,
    seed: int = 0,
    start: str = _DEFAULT_START,
    days: int = 90,
) -> pd.DataFrame:
    """Return ``n_events`` transactions of ``n_entities`` entities over ``days`` days.

    Columns: ``transaction_id``, ``entity_id`` (0..n_entities-1), ``event_timestamp``
    (datetime64[ns], unique within an entity), ``amount``, ``category``, ``merchant``,
    ``channel``, ``is_night``. Rows are sorted by ``event_timestamp``. Every entity has at
    least one transaction, so every entity can be materialized online.
    """
    _check_sizes(n_entities, n_events, days)
    rng = np.random.default_rng([seed, 0])
    risk = _entity_risk(n_entities, seed)

    # Activity varies a lot between entities (a few heavy users, many light ones).
    activity = rng.gamma(shape=1.5, scale=1.0, size=n_entities) * np.exp(0.4 * risk)
    extra = rng.choice(n_entities, size=n_events - n_entities, p=activity / activity.sum())
    entity = np.concatenate([np.arange(n_entities), extra])

    span_ns = days * 86_400 * 10**9
    offsets = rng.integers(0, span_ns, size=n_events, dtype=np.int64)
    timestamps = pd.Timestamp(start).as_unit("ns").value + offsets

    logits = _CATEGORY_BASE_LOGIT[None, :] + risk[entity][:, None] * _CATEGORY_RISK_TILT[None, :]
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    category = (probs.cumsum(axis=1) > rng.random(n_events)[:, None]).argmax(axis=1)
    merchant = category * _MERCHANTS_PER_CATEGORY + rng.integers(
        0, _MERCHANTS_PER_CATEGORY, size=n_events)

    amount = np.round(rng.lognormal(mean=3.0 + 0.5 * risk[entity], sigma=0.8), 2)
    channel = rng.choice(len(CHANNELS), size=n_events, p=[0.6, 0.3, 0.1])
    hour = (offsets // (3600 * 10**9)) % 24
    is_night = (hour < 6).astype(np.int8)

    frame = pd.DataFrame({
        "entity_id": entity.astype(np.int64),
        "event_timestamp": pd.to_datetime(timestamps, unit="ns"),
        "amount": amount,
        "category": np.asarray(CATEGORIES, dtype=object)[category],
        "merchant": np.char.add("m", merchant.astype(str)).astype(object),
        "channel": np.asarray(CHANNELS, dtype=object)[channel],
        "is_night": is_night,
    })
    # Nanosecond offsets make exact ties vanishingly rare; drop any so that "the event at
    # time t" is well defined for each entity.
    frame = frame.drop_duplicates(["entity_id", "event_timestamp"])
    frame = frame.sort_values(["event_timestamp", "entity_id"], kind="stable")
    frame.insert(0, "transaction_id", np.arange(len(frame), dtype=np.int64))
    return frame.reset_index(drop=True)


def generate_labels(
    transactions: pd.DataFrame,
    *,
    labels_per_entity: int = 2,
    seed: int = 0,
    warmup_days: int = 7,
) -> pd.DataFrame:
    """Return fraud labels ``(entity_id, label_timestamp, label)`` for the entities seen.

    Label times are drawn after a warm-up period so most labels have some history. The
    probability of fraud rises with the entity's hidden risk and with the hidden risk of
    the merchant of its most recent transaction strictly before the label time. Sorted by
    ``label_timestamp``; ``seed`` must match the one used for ``transactions``.
    """
    if labels_per_entity < 1:
        raise ValueError(f"labels_per_entity must be >= 1, not {labels_per_entity!r}")
    rng = np.random.default_rng([seed, 3])
    entities = np.unique(transactions["entity_id"].to_numpy())
    risk = _entity_risk(int(entities.max()) + 1, seed)
    merchant_risk = _merchant_risk(seed)

    ts = transactions["event_timestamp"].to_numpy().astype("datetime64[ns]").view(np.int64)
    first = ts.min() + warmup_days * 86_400 * 10**9
    last = ts.max()
    if first >= last:
        raise ValueError("transactions span is shorter than warmup_days")

    label_entity = np.repeat(entities, labels_per_entity)
    label_ts = rng.integers(first, last, size=len(label_entity), dtype=np.int64)

    # Hidden risk of the merchant of the last transaction strictly before each label.
    queries = pd.DataFrame({"entity_id": label_entity, "ts": label_ts, "row": np.arange(
        len(label_entity))}).sort_values("ts", kind="stable")
    events = pd.DataFrame({
        "entity_id": transactions["entity_id"].to_numpy(),
        "ts": ts,
        "m_idx": transactions["merchant"].str.slice(1).astype(np.int64).to_numpy(),
    }).sort_values("ts", kind="stable")
    joined = pd.merge_asof(queries, events, on="ts", by="entity_id",
                           allow_exact_matches=False).sort_values("row")
    m_idx = joined["m_idx"].to_numpy(dtype=float)
    m_risk = np.where(np.isnan(m_idx), 0.0, merchant_risk[np.nan_to_num(m_idx).astype(int)])

    logit = -2.0 + 1.3 * risk[label_entity] + 1.0 * m_risk
    label = (rng.random(len(label_entity)) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
    frame = pd.DataFrame({
        "entity_id": label_entity.astype(np.int64),
        "label_timestamp": pd.to_datetime(label_ts, unit="ns"),
        "label": label,
    })
    return frame.sort_values(["label_timestamp", "entity_id"], kind="stable").reset_index(
        drop=True)
