"""How the demo's result is shown: a table of medians, a verdict per commit, the paths."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from perf_pipeline.cli.console import out, plain
from perf_pipeline.report.units import format_seconds

if TYPE_CHECKING:
    from perf_pipeline.demo import DemoResult

__all__ = ["print_demo"]


def _median_table(result: DemoResult) -> Table:
    table = Table(title="Median time per call by commit, oldest first")
    table.add_column("benchmark", no_wrap=True)
    by_sha = {run.sha: run for run in result.runs}
    for sha in result.shas:
        table.add_column(sha[:8], justify="right")
    table.add_column("last / first", justify="right")
    names = sorted({b.name for run in result.runs for b in run.benchmarks})
    for name in names:
        medians = []
        for sha in result.shas:
            run = by_sha.get(sha)
            bench = run.benchmark(name) if run else None
            medians.append(bench.median_s if bench else None)
        first, last = medians[0], medians[-1]
        ratio = f"{last / first:.2f}x" if first and last else "–"
        table.add_row(plain(name.rsplit("::", 1)[-1]), *map(format_seconds, medians), ratio)
    return table


def print_demo(result: DemoResult) -> None:
    from perf_pipeline.demo import describe_stages

    out.print(_median_table(result))
    out.print("\nVerdict per commit (screen against the rolling baseline of the commits "
              "before it, then each flag confirmed by an interleaved A/B):")
    for sha, msg, outcome, analysis, confirmation in zip(
            result.shas, result.messages, result.outcomes, result.analyses,
            result.confirmations or (None,) * len(result.shas), strict=True):
        if analysis is None or analysis.comparison is None:
            verdict = ("no baseline yet" if outcome.success
                       else f"[red]failed[/] {plain(outcome.error or '')}")
        else:
            verdict = plain(describe_stages(confirmation))
        out.print(f"  {sha[:8]} {plain(msg)}: {verdict}")
    s = result.settings
    last = result.report_dir(result.shas[-1])
    out.print(f"\ntarget repo:   {plain(s.repo_path)}\nhistory db:    {plain(s.history_label)}\n"
              f"raw results:   {plain(s.raw_dir)}\nbaseline:      {plain(s.baseline_path)}\n"
              f"dagster home:  {plain(result.root / 'dagster_home')}\n"
              f"report (md):   {plain(last / 'performance-report.md')}\n"
              f"report (html): {plain(last / 'performance_report.html')}")
