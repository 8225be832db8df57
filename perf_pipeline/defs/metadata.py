"""Turn library results into Dagster metadata (the only place that knows its shapes).

``perf_pipeline.report`` is imported inside the functions: importing any of its modules
runs the package's ``__init__``, which loads matplotlib, numpy and jinja2 (about 1 s),
and every module of ``defs/`` imports this one when Dagster loads the code location
(``dagster dev``, each run worker, each sensor tick's process), which needs none of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import dagster as dg

from perf_pipeline.model import (
    TIME_METRIC,
    CommitAnalysis,
    Confirmation,
    RunInfo,
    RunStatus,
    SuiteRun,
    Verdict,
)


def short_benchmark_names(names: Iterable[str]) -> dict[str, str]:
    """``report.labels.short_benchmark_names``, imported when first needed."""
    from perf_pipeline.report.labels import short_benchmark_names as shorten

    return shorten(names)


def run_metadata(run: SuiteRun) -> dict[str, dg.MetadataValue]:
    """Benchmark count, a Markdown table of medians, and one float per benchmark.

    The per-benchmark floats are what the Dagster UI plots across partitions, so their
    keys must stay stable from commit to commit: ``median_s/<short name>``, with as much
    of the path as tells apart two tests of the same name (``short_benchmark_names``).
    """
    from perf_pipeline.report.units import format_seconds

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
    if run.machine_id:
        meta["machine_id"] = dg.MetadataValue.text(run.machine_id)
    if run.raw_path:
        meta["raw_path"] = dg.MetadataValue.path(run.raw_path)
    labels = short_benchmark_names(b.name for b in run.benchmarks)
    for bench in sorted(run.benchmarks, key=lambda b: b.name):
        short = labels[bench.name]
        cell = short.replace("|", "\\|")
        # The report's formatter: a fixed "ms" showed a 420 ns median as "0.000 ms".
        rows.append(f"| `{cell}` | {format_seconds(bench.median_s)} | "
                    f"{len(bench.samples_s)} |")
        meta[f"median_s/{short}"] = dg.MetadataValue.float(bench.median_s)
    meta["medians"] = dg.MetadataValue.md("\n".join(rows))
    return meta


def no_suite_summary(suite: str) -> str:
    """What a commit without the suite's partition says it is, in every asset and check:
    "no benchmark suite at this commit" (suite ``benchmarks``), "no stress suite ..."."""
    return f"no {'benchmark' if suite == 'benchmarks' else suite} suite at this commit"


def no_suite_metadata(run: RunInfo | SuiteRun, *, measured_again: bool
                      ) -> dict[str, dg.MetadataValue]:
    """A measuring asset's materialization of a commit without the suite.

    Materialized, not left missing: a missing partition is one every "materialize
    missing" backfill of the UI asks for again, and it showed the commit as never done.
    ``status`` is ``no_suite`` (no ``benchmark_count``, no medians: nothing was measured,
    so the UI's plots across partitions get no point for it); ``run_id`` is the history's
    record of it; ``measured_again`` is False when that record answered without pytest.
    """
    from perf_pipeline.defs.measurement import REMEASURE_TAG

    return {
        "status": dg.MetadataValue.text(str(RunStatus.NO_SUITE)),
        "summary": dg.MetadataValue.text(no_suite_summary(run.suite)),
        "reason": dg.MetadataValue.text((run.error or "").strip()[:2000]
                                        or no_suite_summary(run.suite)),
        "run_id": dg.MetadataValue.text(run.run_id),
        "measured_again": dg.MetadataValue.bool(measured_again),
        "remeasure": dg.MetadataValue.text(f"run tag {REMEASURE_TAG}=true"),
    }


def not_judged_metadata(run: RunInfo, *, step: str) -> dict[str, dg.MetadataValue]:
    """A per-commit step's no-op materialization at a commit without the suite: what it
    did not do and why, never a verdict (no counts of "unchanged" benchmarks, no
    ``regressions: 0``), so nothing reads it as a commit judged and found clean."""
    summary = no_suite_summary(run.suite)
    return {
        "status": dg.MetadataValue.text(str(RunStatus.NO_SUITE)),
        "judged": dg.MetadataValue.bool(False),
        "summary": dg.MetadataValue.md(
            f"**Not judged: {summary}** (run `{run.run_id}`). Nothing was measured, so "
            f"{step} has nothing to work on and wrote nothing: no file, no baseline "
            f"source, no verdict. {(run.error or '').strip()[:500]}".strip()),
        "run_id": dg.MetadataValue.text(run.run_id),
    }


def not_judged_check(run: RunInfo, severity: dg.AssetCheckSeverity) -> dg.AssetCheckResult:
    """A check at a commit without the suite: passed (there is nothing that could
    regress, and a failed or never-run check showed the partition red for ever), with a
    description that says it judged nothing rather than "no regression"."""
    return dg.AssetCheckResult(
        passed=True, severity=severity,
        description=f"not judged: {no_suite_summary(run.suite)} "
                    f"(run {run.run_id}): nothing was measured",
        metadata={"status": dg.MetadataValue.text(str(RunStatus.NO_SUITE)),
                  "judged": dg.MetadataValue.bool(False),
                  "run_id": dg.MetadataValue.text(run.run_id)})


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
    labels = short_benchmark_names(r.name for r in comp.results)
    rows = ["| benchmark | metric | ratio | CI | adj. p | verdict |", "|---|---|---:|---|---:|---|"]
    for r in (*comp.regressions, *comp.improvements):
        c = r.comparison
        p = c.adjusted_p_value if c.adjusted_p_value is not None else c.p_value
        name = labels[r.name].replace("|", "\\|")
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
            meta[f"ratio/{labels[r.name]}"] = dg.MetadataValue.float(
                r.comparison.ratio)
    return meta


def confirmation_labels(c: Confirmation) -> dict[str, str]:
    """``short_benchmark_names`` of every benchmark ``c`` knows of (screened, A/B'd,
    controls), so a name is told apart from the same test in another file."""
    names = {*c.targets, *c.controls}
    for comp in (c.screen, c.ab, c.final):
        names.update(r.name for r in (comp.results if comp is not None else ()))
    return short_benchmark_names(names)


def confirmation_metadata(c: Confirmation) -> dict[str, dg.MetadataValue]:
    """What the confirmation did (or that it had nothing to do), and its verdicts."""
    meta: dict[str, dg.MetadataValue] = {
        "status": dg.MetadataValue.text(c.status),
        "flagged": dg.MetadataValue.int(len(c.flagged)),
        "suspects": dg.MetadataValue.int(len(c.suspects)),
        "confirmed_regressions": dg.MetadataValue.int(len(c.regressions)),
        "undecided": dg.MetadataValue.int(len(c.undecided)),
        "rounds_used": dg.MetadataValue.int(c.rounds_used),
        "screen_alpha": dg.MetadataValue.float(c.screen_alpha),
    }
    labels = confirmation_labels(c)
    if c.status == "nothing_flagged":
        if c.screen is None:
            why = " ".join(c.notes) or "no baseline to screen against yet."
            text = f"No A/B ran: nothing was screened. {why}"
        elif c.regressions:  # e.g. memory: the A/B re-measures timings only
            text = (f"No A/B ran: the screen flagged no timing. {len(c.regressions)} "
                    "regression(s) of other metrics stand as the stored-baseline "
                    "comparison found them: " + ", ".join(
                        f"{labels[r.name]} ({r.metric})"
                        for r in c.regressions))
        else:
            text = "No A/B ran: the screen flagged nothing."
        meta["summary"] = dg.MetadataValue.md(text)
        return meta
    if c.base_sha:
        meta["base_commit"] = dg.MetadataValue.text(c.base_sha)
    if c.raw_dir:
        meta["raw_dir"] = dg.MetadataValue.path(c.raw_dir)
    decided = dict(c.decided_at)
    final = {r.name: r for r in (c.final.results if c.final else ()) if r.metric == TIME_METRIC}
    rows = ["| benchmark | A/B ratio | decided after | verdict |", "|---|---:|---:|---|"]
    for name in c.targets:
        row = final.get(name)
        cell = labels[name].replace("|", "\\|") + (
            " (suspect)" if name in c.suspects else "")
        rows.append(f"| `{cell}` | {row.comparison.ratio:.3f} | "
                    f"{decided.get(name, '–')} | {row.comparison.verdict} |" if row else
                    f"| `{cell}` | – | – | – |")
    head = (f"**{c.status}**: {len(c.flagged)} flagged, {len(c.suspects)} suspect(s), "
            f"{len(c.regressions)} confirmed "
            f"regression(s), {c.rounds_used} of at most {c.max_rounds} rounds "
            f"(stopped: {c.stopped or '–'}), {len(c.controls)} control(s)")
    meta["summary"] = dg.MetadataValue.md("\n\n".join([head, *c.notes, "\n".join(rows)]))
    return meta
