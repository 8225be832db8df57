"""A two-tier feature store: an offline pandas table and an online SQLite table.

Training needs *historical* features: for each labelled (entity, time) the features as
they were known at that time, never later (a later row would leak the future into the
training set and make offline metrics lie). Serving needs the *latest* features of a few
entities in well under a millisecond. The offline store answers the first with a
backward ``merge_asof``; the online store answers the second with a primary-key lookup.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["OfflineStore", "OnlineStore"]

logger = logging.getLogger(__name__)

ENTITY = "entity_id"
FEATURE_TS = "feature_timestamp"
LABEL_TS = "label_timestamp"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_=.\-]*$")
#: Stay well below SQLite's limit on bound parameters per statement.
_MAX_PARAMS = 900


class OfflineStore:
    """Historical feature rows keyed by ``(entity_id, feature_timestamp)``."""

    def __init__(self, features: pd.DataFrame) -> None:
        missing = {ENTITY, FEATURE_TS} - set(features.columns)
        if missing:
            raise ValueError(f"feature table lacks columns {sorted(missing)}")
        if features.duplicated([ENTITY, FEATURE_TS]).any():
            raise ValueError("feature table has duplicate (entity_id, feature_timestamp) rows")
        # merge_asof needs the right side sorted by the time key; sort once, here.
        self._features = features.sort_values(FEATURE_TS, kind="stable").reset_index(drop=True)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(c for c in self._features.columns if c not in (ENTITY, FEATURE_TS))

    @property
    def table(self) -> pd.DataFrame:
        return self._features

    def get_historical_features(
        self,
        entity_df: pd.DataFrame,
        *,
        timestamp_column: str = LABEL_TS,
    ) -> pd.DataFrame:
        """Join to each row of ``entity_df`` the latest features at or before its time.

        Rows keep ``entity_df``'s order and columns, plus ``feature_timestamp`` and the
        feature columns (NaN where the entity had no features yet). A feature row whose
        timestamp equals the label time counts as known.
        """
        missing = {ENTITY, timestamp_column} - set(entity_df.columns)
        if missing:
            raise ValueError(f"entity_df lacks columns {sorted(missing)}")
        left = entity_df.reset_index(drop=True)
        left = left.assign(_row=np.arange(len(left))).sort_values(
            timestamp_column, kind="stable")
        joined = pd.merge_asof(
            left,
            self._features,
            left_on=timestamp_column,
            right_on=FEATURE_TS,
            by=ENTITY,
            direction="backward",
            allow_exact_matches=True,
        )
        joined = joined.sort_values("_row", kind="stable").drop(columns="_row")
        return joined.set_index(entity_df.index)

    def latest(self, *, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
        """Return the newest feature row per entity, ignoring rows after ``as_of``."""
        table = self._features
        if as_of is not None:
            table = table[table[FEATURE_TS] <= as_of]
        # The table is sorted by time, so the last row of each entity is its newest.
        return table.drop_duplicates(ENTITY, keep="last").sort_values(ENTITY).reset_index(
            drop=True)


def _sql_type(dtype: object) -> str:
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        return "INTEGER"
    if pd.api.types.is_float_dtype(dtype):
        return "REAL"
    return "TEXT"


def _quote(name: str) -> str:
    """Quote a column name; names come from DataFrames, so they are checked first."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"unsupported feature name {name!r}")
    return '"' + name + '"'


class OnlineStore:
    """Latest features per entity in SQLite, for low-latency serving.

    ``path`` is a file or ``":memory:"``. A file database runs in WAL mode so readers in
    other threads never block the writer; each thread gets its own read connection. An
    in-memory database exists only inside one connection, so there all access shares it
    under a lock.
    """

    def __init__(self, path: str | Path = ":memory:", *, table: str = "features") -> None:
        self._path = str(path)
        self._table = _quote(table)
        self._in_memory = self._path == ":memory:"
        self._lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._writer = self._connect()
        self._columns: tuple[str, ...] = ()
        self._types: dict[str, str] = {}
        self._load_schema()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _load_schema(self) -> None:
        rows = self._writer.execute(f"PRAGMA table_info({self._table})").fetchall()
        names = [r[1] for r in rows]
        self._types = {r[1]: r[2] for r in rows}
        self._columns = tuple(n for n in names if n != ENTITY)

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        if self._in_memory:
            with self._lock:
                yield self._writer
            return
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, check_same_thread=False)
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        yield conn

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(c for c in self._columns if c != FEATURE_TS)

    def materialize(self, features: pd.DataFrame) -> int:
        """Upsert the newest row per entity of ``features``; return rows written.

        A row older than what the store already holds for that entity does not replace
        it, so re-materializing an old snapshot can never roll serving back in time. The
        whole batch is one transaction: readers see all of it or none.
        """
        missing = {ENTITY, FEATURE_TS} - set(features.columns)
        if missing:
            raise ValueError(f"features lack columns {sorted(missing)}")
        latest = features.sort_values(FEATURE_TS, kind="stable").drop_duplicates(
            ENTITY, keep="last")
        columns = [c for c in latest.columns if c != ENTITY]
        stamps = latest[FEATURE_TS].to_numpy().astype("datetime64[ns]").view(np.int64)
        payload = latest.drop(columns=[FEATURE_TS]).assign(**{FEATURE_TS: stamps})
        payload = payload[[ENTITY, *columns]]
        records = list(payload.astype(object).where(payload.notna(), None).itertuples(
            index=False, name=None))
        with self._lock:
            self._ensure_table(latest, columns)
            names = ", ".join(_quote(c) for c in [ENTITY, *columns])
            marks = ", ".join("?" for _ in range(len(columns) + 1))
            updates = ", ".join(f"{_quote(c)} = excluded.{_quote(c)}" for c in columns)
            sql = (f"INSERT INTO {self._table} ({names}) VALUES ({marks}) "
                   f"ON CONFLICT({ENTITY}) DO UPDATE SET {updates} "
                   f"WHERE excluded.{FEATURE_TS} >= {self._table}.{FEATURE_TS}")
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                self._writer.executemany(sql, records)
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")
        logger.debug("materialized %d entities into %s", len(records), self._path)
        return len(records)

    def _ensure_table(self, latest: pd.DataFrame, columns: list[str]) -> None:
        if self._columns:
            if tuple(columns) != self._columns:
                raise ValueError(
                    f"feature columns {columns} differ from the stored {list(self._columns)}")
            return
        defs = ", ".join(
            f"{_quote(c)} {'INTEGER' if c == FEATURE_TS else _sql_type(latest[c].dtype)}"
            for c in columns)
        self._writer.execute(
            f"CREATE TABLE IF NOT EXISTS {self._table} "
            f"({ENTITY} INTEGER PRIMARY KEY, {defs}) WITHOUT ROWID")
        self._load_schema()

    def get_online_features(self, entity_ids: Sequence[int]) -> pd.DataFrame:
        """Return the stored features of ``entity_ids``, one row per id, in that order.

        Unknown ids get a row of NaN features and ``found == False`` instead of an error:
        a serving path must answer for a brand-new customer too.
        """
        ids = [int(e) for e in entity_ids]
        found: dict[int, tuple[object, ...]] = {}
        if self._columns and ids:
            names = ", ".join(_quote(c) for c in (ENTITY, *self._columns))
            unique = list(dict.fromkeys(ids))
            with self._reader() as conn:
                for i in range(0, len(unique), _MAX_PARAMS):
                    chunk = unique[i:i + _MAX_PARAMS]
                    marks = ", ".join("?" for _ in chunk)
                    sql = f"SELECT {names} FROM {self._table} WHERE {ENTITY} IN ({marks})"
                    for row in conn.execute(sql, chunk):
                        found[row[0]] = row[1:]
        empty = (None,) * len(self._columns)
        rows = [found.get(e, empty) for e in ids]
        by_column = list(zip(*rows, strict=True)) or [()] * len(self._columns)
        data: dict[str, object] = {ENTITY: np.asarray(ids, dtype=np.int64)}
        for column, values in zip(self._columns, by_column, strict=True):
            data[column] = self._column_array(column, values)
        data["found"] = np.asarray([e in found for e in ids], dtype=bool)
        return pd.DataFrame(data)

    def _column_array(self, column: str, values: Sequence[object]) -> np.ndarray:
        """Build one result column; None (unknown entity) becomes NaN, NaT or None."""
        if column == FEATURE_TS:
            nat = np.iinfo(np.int64).min
            return np.asarray([nat if v is None else v for v in values],
                              dtype=np.int64).view("datetime64[ns]")
        if self._types.get(column) in ("REAL", "INTEGER"):
            return np.asarray(values, dtype=np.float64)
        return np.asarray(values, dtype=object)

    def count(self) -> int:
        """Number of entities stored."""
        if not self._columns:
            return 0
        with self._reader() as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM {self._table}").fetchone()[0])

    def close(self) -> None:
        """Close every connection this store opened (all threads' readers too)."""
        with self._lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            self._writer.close()

    def __enter__(self) -> OnlineStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
