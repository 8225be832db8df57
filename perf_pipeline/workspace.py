"""``Workspace``: validated settings, their results layout and the one history store.

Every step of ``pipeline/`` takes a Workspace; the CLI builds one per invocation and the
Dagster code location has it as its single resource (``defs/resources.py``). So the
results dir a step writes to, the paths it names and the db it reads can no longer
drift apart: before, measuring used one resource's store while analysis and reporting
opened ``settings.db_path`` themselves, and two Dagster resources were kept in step by
hand.

The store is opened on first use, not when the Workspace is made: opening creates the
db (and its folder), and a typo in ``--results-dir`` must stay an error
(``measure.check_results_dir``), not become a new empty history. One ``HistoryStore`` is
one connection (SQLite, or PostgreSQL with ``history_url``), so a Workspace belongs to
the thread that first used its store.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from perf_pipeline.config import Settings, load_settings
from perf_pipeline.layout import ResultsLayout
from perf_pipeline.store import HistoryStore, open_history

__all__ = ["Workspace"]


class Workspace:
    """What every step works in: ``settings``, ``layout`` and ``store``.

    Use it as a context manager (or call ``close``) to close the store. Closing is
    final for the store it had open; using ``store`` afterwards opens it again.
    """

    __slots__ = ("_settings", "_store")

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store: HistoryStore | None = None

    @classmethod
    def load(cls, *, config_file: Path | None = None, environ: Mapping[str, str] | None = None,
             **overrides: object) -> Workspace:
        """A Workspace over ``load_settings(...)``: defaults, file, environment, overrides."""
        return cls(load_settings(config_file=config_file, environ=environ, **overrides))

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def layout(self) -> ResultsLayout:
        return self._settings.layout

    @property
    def store(self) -> HistoryStore:
        """The history (``settings.history_target``: the layout's SQLite file, or the
        ``history_url``, e.g. a shared PostgreSQL database), opened on first use."""
        if self._store is None:
            self._store = open_history(
                self._settings.history_target,
                query_timeout_s=self._settings.history_query_timeout_s)
        return self._store

    @property
    def history_exists(self) -> bool:
        """Whether there is a history to read, without creating one by asking (a SQLite
        file that is not there is an empty history; a database URL always exists)."""
        target = self._settings.history_target
        return not isinstance(target, Path) or target.exists()

    @property
    def store_is_open(self) -> bool:
        return self._store is not None

    def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Workspace(results_dir={str(self._settings.results_dir)!r}, "
                f"repo={str(self._settings.repo_path)!r}, "
                f"history={self._settings.history_label!r})")
