"""The facts every report format leads with, computed once.

Markdown, HTML and the Dagster metadata all need the same one-line verdict, the counts
per verdict and "which baseline was this?". Computing them here keeps the three formats
from disagreeing about what happened.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass

from perf_pipeline.model import (
    SUITE_SHIFT_NAME,
    TIME_METRIC,
    BenchmarkComparison,
    ReportData,
    RunStatus,
    Verdict,
)
from perf_pipeline.report.units import format_ratio

__all__ = ["ComparisonRow", "ReportSummary", "comparison_rows", "summarize"]

#: Order in which verdicts are listed: what needs attention first.
VERDICT_ORDER = (Verdict.REGRESSION, Verdict.IMPROVEMENT, Verdict.INCONCLUSIVE,
                 Verdict.UNCHANGED)


#: How ``analysis.verdict.judge`` words the data that would decide an inconclusive row.
_NEEDED_RE = re.compile(r"about (\d+) more (.+?) would decide")


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    """One comparison with the medians it was made from, ready for a table."""

    name: str
    metric: str
    verdict: Verdict
    baseline_value: float | None
    current_value: float | None
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    adjusted_p_value: float | None
    reason: str
    samples_needed: int | None
    #: Decided by the interleaved A/B (its ratio is of its own rounds, not of the stored
    #: baseline and current medians beside it).
    from_ab: bool = False
    #: The ratio with the suite-wide shift left in, when the screen divided it out
    #: (``Comparison.raw_ratio``); ``None`` otherwise.
    raw_ratio: float | None = None

    @property
    def ratio_label(self) -> str:
        """The ratio as tables show it, marked when it is the A/B's."""
        return format_ratio(self.ratio) + (" (A/B)" if self.from_ab else "")

    @property
    def needed_label(self) -> str:
        """How much more data would decide, in the analysis's own unit ("13 rounds",
        "4 runs of this commit"): a count of A/B rounds or of runs is no count of samples.
        The unit is the one ``judge`` wrote into the reason; "–" when nothing would."""
        if self.samples_needed is None:
            return "–"
        found = _NEEDED_RE.search(self.reason)
        unit = found.group(2) if found and int(found.group(1)) == self.samples_needed else ""
        return f"{self.samples_needed} {unit}".rstrip()

    @property
    def raw_label(self) -> str:
        """`` (raw 1.50×)`` when the shift-free ratio reads otherwise than the raw one:
        beside a chart of the samples, "ratio 0.99×" over a plain ×1.5 slowdown misled."""
        raw = self.raw_ratio
        if raw is None or format_ratio(raw) == format_ratio(self.ratio):
            return ""
        return f" (raw {format_ratio(raw)})"

    @property
    def interest(self) -> float:
        """Sort key, largest first: how far the ratio is from 1 (log scale)."""
        if not (self.ratio > 0 and math.isfinite(self.ratio)):
            return 0.0
        return abs(math.log(self.ratio))


@dataclass(frozen=True, slots=True)
class ReportSummary:
    """The headline of a report: status word, one-line verdict, counts."""

    status: str  # "regression", "ok", "no-baseline", "no-data", "failed", "no-comparison"
    headline: str
    counts: tuple[tuple[Verdict, int], ...]
    n_benchmarks: int
    current_label: str | None
    baseline_label: str | None
    fingerprint_differs: bool


def _baseline_label(data: ReportData) -> str | None:
    base = data.baseline
    if base is None:
        return None
    if base.source_commits:
        label = base.source_commits[-1][:7]
        more = len(base.source_commits) - 1
        if more > 0:
            label += f" (+{more} more commit{'s' if more > 1 else ''}, {base.policy})"
        else:
            label += f" ({base.policy})"
        return label
    # Runs without a commit (plain pytest-benchmark files): named by when they were
    # measured. The file's creation time read as the baseline's, later than the run it
    # judged ("vs baseline rolling baseline of <after the run>").
    ids = set(base.source_run_ids)
    starts = sorted(r.started_at[:19] for r in data.runs if r.run_id in ids)
    if starts:
        when = starts[0] if len(starts) == 1 else f"{starts[0]} to {starts[-1]}"
        return f"{_plural(len(ids), 'run')} of {when} ({base.policy})"
    return f"{base.policy}, created {base.created_at[:19]}"


def _current_label(data: ReportData) -> str | None:
    run = data.current
    if run is None:
        return None
    if run.commit is not None:
        return run.commit.sha[:7]
    return f"run of {run.started_at[:19]}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _baseline_median(data: ReportData, name: str, metric: str) -> float | None:
    if data.baseline is None:
        return None
    entry = data.baseline.entry(name, metric)
    if entry is None:
        return None
    values = entry.run_values or entry.samples
    return statistics.median(values) if values else None


def _current_value(data: ReportData, name: str, metric: str) -> float | None:
    if data.current is None:
        return None
    result = data.current.benchmark(name)
    return result.metric(metric) if result is not None else None


def _row(data: ReportData, bc: BenchmarkComparison) -> ComparisonRow:
    c = bc.comparison
    return ComparisonRow(
        name=bc.name, metric=bc.metric, verdict=Verdict(c.verdict),
        baseline_value=_baseline_median(data, bc.name, bc.metric),
        current_value=_current_value(data, bc.name, bc.metric),
        ratio=c.ratio, ci_low=c.ci_low, ci_high=c.ci_high, p_value=c.p_value,
        adjusted_p_value=c.adjusted_p_value, reason=c.reason, samples_needed=c.samples_needed,
        from_ab="interleaved A/B" in c.method, raw_ratio=c.raw_ratio,
    )


def comparison_rows(data: ReportData) -> tuple[ComparisonRow, ...]:
    """All comparisons, regressions first, then improvements, each by effect size."""
    if data.comparison is None:
        return ()
    rows = [_row(data, bc) for bc in data.comparison.results]
    rank = {v: i for i, v in enumerate(VERDICT_ORDER)}
    rows.sort(key=lambda r: (rank[r.verdict], -r.interest, r.name, r.metric))
    return tuple(rows)


def _count_benchmarks(data: ReportData) -> int:
    """Benchmarks of the current run; comparison rows also hold pseudo-benchmarks such as
    the suite-wide shift, so they count only when there is no current run."""
    if data.current is not None:
        return len(data.current.benchmarks)
    if data.comparison is not None:
        return len({r.name for r in data.comparison.results} - {SUITE_SHIFT_NAME})
    return 0


def summarize(data: ReportData) -> ReportSummary:
    """Decide the headline. Never raises on thin data: thin data is a headline too."""
    n_bench = _count_benchmarks(data)
    base = _baseline_label(data)
    cur = _current_label(data)
    fp_differs = bool(data.environment_differences)
    counts: tuple[tuple[Verdict, int], ...] = ()
    if data.comparison is not None:
        counts = tuple((v, len(data.comparison.with_verdict(v))) for v in VERDICT_ORDER)
    n = dict(counts)
    # The counts are per comparison (benchmark x metric, and the suite-wide shift): say so
    # when that is not the benchmark count, or "27 inconclusive (of 9 benchmarks)" misleads.
    n_comp = len(data.comparison.results) if data.comparison is not None else 0
    of = (f"(of {_plural(n_bench, 'benchmark')}"
          + (f", {_plural(n_comp, 'comparison')}" if n_comp and n_comp != n_bench else "")
          + ")")
    env_note = " ⚠️ environment differs from baseline" if fp_differs else ""

    if data.current is not None and data.current.status is RunStatus.FAILED:
        # stderr often starts with a blank line: the reason is the first line with text.
        err = (data.current.error or "").strip()
        err = err.splitlines()[0][:200] if err else "no error message"
        # Without a commit the label is already "run of <date>": no "run run of".
        run = f"run {cur}" if data.current.commit is not None else cur
        return ReportSummary("failed", f"💥 Benchmark {run} failed: {err}", counts,
                             n_bench, cur, base, fp_differs)
    if data.current is None and data.comparison is None and data.profiles is not None:
        p = data.profiles
        text = (f"🔬 Profiles of {_plural(len(p.diffs), 'benchmark')} at "
                f"{p.candidate_sha[:10]} against {p.base_sha[:10]}: where the time went.")
        return ReportSummary("profile", text, counts, n_bench, cur, base, fp_differs)
    if data.current is None and data.comparison is None:
        text = ("ℹ️ No performance data yet: no benchmark run has been recorded."
                if not data.runs else
                f"ℹ️ History of {_plural(len(data.runs), 'run')}; no current run to judge.")
        return ReportSummary("no-data", text, counts, n_bench, cur, base, fp_differs)
    if data.comparison is None:
        if data.baseline is None:
            text = (f"ℹ️ No baseline yet: {_plural(n_bench, 'benchmark')} measured at {cur}; "
                    "this run can become the baseline.")
            return ReportSummary("no-baseline", text, counts, n_bench, cur, base, fp_differs)
        text = f"ℹ️ No comparison was made for {cur} against baseline {base}."
        return ReportSummary("no-comparison", text, counts, n_bench, cur, base, fp_differs)

    vs = f" vs baseline {base}" if base else ""
    at = f" at {cur}" if cur else ""
    comp = data.comparison
    # Benchmarks left out of the verdicts: without them "No significant regression (of 6
    # benchmarks)" read as a clean pass when 4 had failed, or when all 6 were renamed.
    failed = [f"{len(comp.failed)} failed"] if comp.failed else []
    unmatched = [f"{len(names)} {word}" for names, word in
                 ((comp.new, "new"), (comp.missing, "missing")) if names]
    if not comp.results:
        left_out = ", ".join(failed + unmatched)
        text = (f"ℹ️ No benchmark could be compared{at}{vs}"
                f"{': ' + left_out if left_out else ''}{env_note}")
        return ReportSummary("no-comparison", text, counts, n_bench, cur, base, fp_differs)
    regressions = n.get(Verdict.REGRESSION, 0)
    extras = failed
    if n.get(Verdict.IMPROVEMENT):
        extras.append(_plural(n[Verdict.IMPROVEMENT], "improvement"))
    if n.get(Verdict.INCONCLUSIVE):
        extras.append(f"{n[Verdict.INCONCLUSIVE]} inconclusive")
    extras += unmatched
    tail = f"; {', '.join(extras)}" if extras else ""
    if regressions:
        text = (f"❌ {_plural(regressions, 'significant regression')} {of}{at}{vs}"
                f"{tail}{env_note}")
        return ReportSummary("regression", text, counts, n_bench, cur, base, fp_differs)
    text = f"✅ No significant regression {of}{at}{vs}{tail}{env_note}"
    return ReportSummary("ok", text, counts, n_bench, cur, base, fp_differs)


def time_value(data: ReportData, name: str) -> float | None:
    """The current median time of a benchmark, for sorting and display."""
    return _current_value(data, name, TIME_METRIC)
