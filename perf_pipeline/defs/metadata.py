"""Turn library results into Dagster metadata (the only place that knows its shapes)."""

from __future__ import annotations

import dagster as dg

from perf_pipeline.model import SuiteRun


def short_benchmark_name(name: str) -> str:
    """``path/test_x.py::TestX::test_y[p]`` → ``TestX::test_y[p]``: readable in the UI."""
    return name.split("::", 1)[1] if "::" in name else name


def run_metadata(run: SuiteRun) -> dict[str, dg.MetadataValue]:
    """Benchmark count, a Markdown table of medians, and one float per benchmark.

    The per-benchmark floats are what the Dagster UI plots across partitions, so their
    keys must stay stable from commit to commit: ``median_s/<short name>``.
    """
    rows = ["| benchmark | median | rounds |", "|---|---:|---:|"]
    meta: dict[str, dg.MetadataValue] = {
        "benchmark_count": dg.MetadataValue.int(len(run.benchmarks)),
        "run_id": dg.MetadataValue.text(run.run_id),
        "status": dg.MetadataValue.text(str(run.status)),
        "duration_s": dg.MetadataValue.float(round(run.duration_s, 3)),
    }
    if run.commit:
        meta["commit"] = dg.MetadataValue.text(run.commit.sha)
    if run.environment:
        meta["fingerprint"] = dg.MetadataValue.text(run.environment.fingerprint)
    if run.raw_path:
        meta["raw_path"] = dg.MetadataValue.path(run.raw_path)
    for bench in sorted(run.benchmarks, key=lambda b: b.name):
        short = short_benchmark_name(bench.name)
        cell = short.replace("|", "\\|")
        rows.append(f"| `{cell}` | {bench.median_s * 1e3:.3f} ms | {len(bench.samples_s)} |")
        meta[f"median_s/{short}"] = dg.MetadataValue.float(bench.median_s)
    meta["medians"] = dg.MetadataValue.md("\n".join(rows))
    return meta

