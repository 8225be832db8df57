"""How the outcome of ``calibrate`` is shown."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.table import Table

from perf_pipeline.cli.console import err, out, plain, short
from perf_pipeline.report.units import format_seconds

if TYPE_CHECKING:
    from perf_pipeline.config import Settings
    from perf_pipeline.pipeline import CalibrationOutcome

__all__ = ["print_calibration"]


def _pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.1f}%"


def print_calibration(outcome: CalibrationOutcome, settings: Settings) -> None:
    profile = outcome.profile
    table = Table(title=f"Noise of {profile.pairs} same-commit pairs (sd of ln time, "
                        "about the CV)")
    for column in ("benchmark", "median", "one run", "pair", "pair − suite"):
        table.add_column(column, justify="left" if column == "benchmark" else "right",
                         no_wrap=column == "benchmark")
    for bench in profile.benchmarks:
        table.add_row(short(bench.name), format_seconds(bench.median_s),
                      _pct(bench.unpaired_log_sd), _pct(bench.paired_log_sd),
                      _pct(bench.paired_residual_log_sd))
    out.print(table)
    out.print(f"suite factor per pair: {_pct(profile.suite_factor_log_sd)}")
    for index, reason in outcome.skipped:
        err.print(f"skipped pair {index if index is not None else '?'}: {plain(reason)}")
    for note in profile.notes:
        err.print(f"note: {plain(note)}")
    machine = dict(profile.machine)
    out.print(f"commit:   {plain(profile.commit)}")
    out.print(f"machine:  {plain(machine.get('cpu_model', '?'))} "
              f"x{plain(machine.get('cpu_count', '?'))}, {plain(machine.get('os', '?'))}")
    out.print(f"corpus:   {plain(outcome.corpus_path)}")
    out.print(f"raw:      {plain(outcome.raw_dir)}")
    out.print(f"profile:  {plain(outcome.profile_id)} in {plain(settings.history_label)}")
