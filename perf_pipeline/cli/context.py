"""The one place where the CLI turns its flags into settings and its ``Workspace``.

Every command builds one ``Workspace`` (settings, results layout and the history store,
``perf_pipeline/workspace.py``) with ``workspace_from`` and passes it down to the
pipeline steps it calls; ``settings_from`` is the flag-to-setting mapping under it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perf_pipeline.config import Settings
    from perf_pipeline.workspace import Workspace

__all__ = ["settings_from", "workspace_from"]

#: Shared flag (argparse dest) → the setting it overrides.
_FLAG_SETTINGS = {
    "repo": "repo_path",
    "results_dir": "results_dir",
    "history_url": "history_url",
    "threshold": "threshold",
    "significance": "alpha",
    "baseline": "baseline_file",
    "confirm": "confirm",
    "ab_processes": "ab_processes",
    "ab_prior": "ab_prior",
    "report_url": "report_url",
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


def workspace_from(args: argparse.Namespace, **overrides: object) -> Workspace:
    """The command's one Workspace (use it as a context manager: it closes the store,
    which opens on first use)."""
    from pathlib import Path

    from perf_pipeline.cli.console import err, plain
    from perf_pipeline.measure.collect import check_results_dir
    from perf_pipeline.workspace import Workspace

    settings = settings_from(args, **overrides)
    if settings.results_dir.exists() and not settings.results_dir.is_dir():
        # A file named as the results dir: read as "no history" by the commands that only
        # read (pr-plan chose the A/B alone), a failed write for the others. Said as
        # ingest says it (a file, a FIFO).
        check_results_dir(settings.results_dir)
    target = settings.history_target
    if getattr(args, "history_url", None) and isinstance(target, Path) and not target.exists():
        # A mistyped --history path would otherwise read as an empty history without a
        # word, and the command would report on nothing.
        err.print(f"note: {plain(str(target))} does not exist: read as an empty history "
                  "(a command that writes to it creates it there)")
    return Workspace(settings)
