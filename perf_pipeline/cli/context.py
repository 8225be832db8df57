"""The one place where the CLI turns its flags into settings and opens the history.

Every command gets its ``Settings`` from ``settings_from`` and its ``HistoryStore`` from
``open_history``, so a change of how the library is configured (for example, one object
owning settings, results layout and store) is an edit here, not in every command.
"""

from __future__ import annotations

import argparse
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perf_pipeline.config import Settings
    from perf_pipeline.store import HistoryStore

__all__ = ["open_history", "settings_from"]

#: Shared flag (argparse dest) → the setting it overrides.
_FLAG_SETTINGS = {
    "repo": "repo_path",
    "results_dir": "results_dir",
    "threshold": "threshold",
    "significance": "alpha",
    "baseline": "baseline_file",
    "confirm": "confirm",
}


def settings_from(args: argparse.Namespace, **overrides: object) -> Settings:
    """Defaults < config file < environment < the command's flags < ``overrides``.

    Only the flags a command defines are read; an absent flag (``None``) keeps the
    setting from the layers below.
    """
    from perf_pipeline.config import load_settings

    values: dict[str, object] = {
        setting: getattr(args, flag) for flag, setting in _FLAG_SETTINGS.items()
        if hasattr(args, flag)}
    values.update(overrides)
    return load_settings(**values)


def open_history(settings: Settings) -> AbstractContextManager[HistoryStore]:
    """The history store of ``settings`` (a context manager that closes it)."""
    from perf_pipeline.store import HistoryStore

    return HistoryStore.open(settings.db_path)
