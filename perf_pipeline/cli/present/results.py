"""How the small outcomes are shown: one measured run, an ingest, the history report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from perf_pipeline.cli.console import err, one_line, out, plain, short, time_cell

if TYPE_CHECKING:
    from perf_pipeline.measure import IngestSummary
    from perf_pipeline.model import ReportData, SuiteRun
    from perf_pipeline.report import ReportFiles

__all__ = ["ingest_error_line", "print_history_report", "print_ingest", "print_ingest_errors",
           "print_run"]


def print_run(run: SuiteRun) -> None:
    for bench in run.benchmarks:
        out.print(f"{time_cell(bench.median_s)}  {short(bench.name)}")
    out.print(f"run {plain(run.run_id)} at {run.sha}: {len(run.benchmarks)} benchmarks, "
              f"raw files in {plain(run.raw_path)}")


def ingest_error_line(path: str, message: str) -> str:
    """One bad file's line, the file named once (the loader's messages name it)."""
    return f"error: {one_line(message if path in message else f'{path}: {message}')}"


def print_ingest_errors(summary: IngestSummary) -> None:
    for path, message in summary.errors:
        err.print(ingest_error_line(path, message))


def print_ingest(summary: IngestSummary) -> None:
    out.print(f"ingested {len(summary.ingested)} new run(s), "
              f"{len(summary.skipped)} already known, {len(summary.errors)} bad file(s)")
    print_ingest_errors(summary)


def print_history_report(data: ReportData, files: ReportFiles) -> None:
    out.print(f"{len(data.runs)} run(s), {len(data.series)} series")
    for png in files.pngs:
        out.print(f"plot:   {plain(png)}")
    out.print(f"report: {plain(files.html)}")
