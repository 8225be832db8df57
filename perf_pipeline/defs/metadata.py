"""Turn library results into Dagster metadata (the only place that knows its shapes)."""

from __future__ import annotations

import math

import dagster as dg

from perf_pipeline.model import TIME_METRIC, CommitAnalysis, SuiteRun, Verdict


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



def analysis_metadata(analysis: CommitAnalysis) -> dict[str, dg.MetadataValue]:
    """Verdict counts, a table of what changed, and one ratio float per benchmark."""
    meta: dict[str, dg.MetadataValue] = {"run_id": dg.MetadataValue.text(analysis.run_id)}
    comp = analysis.comparison
    if comp is None:
        meta["verdict"] = dg.MetadataValue.md("\n".join(analysis.notes) or "no baseline")
        return meta
    counts = {v: len(comp.with_verdict(v)) for v in Verdict}
    for verdict, n in counts.items():
        meta[f"{verdict}s" if verdict is not Verdict.UNCHANGED else "unchanged"] = (
            dg.MetadataValue.int(n))
    rows = ["| benchmark | metric | ratio | CI | adj. p | verdict |", "|---|---|---:|---|---:|---|"]
    for r in (*comp.regressions, *comp.improvements):
        c = r.comparison
        p = c.adjusted_p_value if c.adjusted_p_value is not None else c.p_value
        name = short_benchmark_name(r.name).replace("|", "\\|")
        rows.append(f"| `{name}` | {r.metric} | {c.ratio:.3f} | "
                    f"{c.ci_low:.3f}–{c.ci_high:.3f} | {p:.2g} | {c.verdict} |")
    head = (f"**{counts[Verdict.REGRESSION]} regression(s)**, "
            f"{counts[Verdict.IMPROVEMENT]} improvement(s) against "
            f"{len(analysis.baseline_run_ids)} baseline run(s)")
    meta["verdict"] = dg.MetadataValue.md(
        "\n\n".join([head, *analysis.notes, "\n".join(rows) if len(rows) > 2 else ""]))
    meta["baseline_commits"] = dg.MetadataValue.text(
        ", ".join(c[:10] for c in analysis.baseline_commits))
    for r in comp.results:
        if r.metric == TIME_METRIC and math.isfinite(r.comparison.ratio):
            meta[f"ratio/{short_benchmark_name(r.name)}"] = dg.MetadataValue.float(
                r.comparison.ratio)
    return meta
