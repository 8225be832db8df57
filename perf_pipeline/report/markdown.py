"""The Markdown report: ``performance-report.md`` and the pull-request comment.

The first line after the hidden marker is the whole story in one sentence, because a PR
comment is read in the notification e-mail and in the collapsed timeline. Everything
after it is detail: the summary, the comparison's tables and its statistical notes here;
the Screen and Confirmation in ``markdown_confirmation``, the history's sections in
``markdown_history``. When GitHub's 65,536-character limit bites, detail is what goes
(``markdown_fit``). Every untrusted string passes through ``escape_markdown``
(``markdown_cells``) before it lands in the document.
"""

from __future__ import annotations

import math
from pathlib import Path

from perf_pipeline.model import (
    AB_CORRECTION_NOTE,
    TIME_METRIC,
    BenchmarkResult,
    ReportData,
    SuiteComparison,
    Verdict,
)
from perf_pipeline.report.markdown_cells import (
    VERDICT_ICON,
    escape_markdown,
    escape_name,
    format_interval,
    safe_url,
    table_head,
)
from perf_pipeline.report.markdown_confirmation import (
    confirmation_table,
    screen_block,
    unscreened_reason,
)
from perf_pipeline.report.markdown_fit import GITHUB_COMMENT_LIMIT, Block, Table, fit_blocks
from perf_pipeline.report.markdown_history import (
    alerts_block,
    change_point_table,
    culprit_table,
    drift_table,
)
from perf_pipeline.report.profile import profile_markdown
from perf_pipeline.report.stress import render_stress_markdown
from perf_pipeline.report.summary import ComparisonRow, comparison_rows, summarize
from perf_pipeline.report.units import (
    format_level,
    format_metric,
    format_p_value,
    format_ratio,
    metric_label,
)

# escape_name, VERDICT_ICON and unscreened_reason are imported from here by other modules.
__all__ = ["GITHUB_COMMENT_LIMIT", "MARKER", "VERDICT_ICON", "ci_meaning", "escape_markdown",
           "escape_name", "render_markdown", "unscreened_reason"]

#: Hidden first line; the GitHub client finds its own comment by it.
MARKER = "<!-- perf-pipeline-report -->"

# Columns of the full metrics table: (metric key, header).
_FULL_COLUMNS = (
    ("p99_s", "p99"),
    ("peak_rss_bytes", "Peak RSS"),
    ("tracemalloc_peak_bytes", "tracemalloc peak"),
    ("cpu_user_s", "CPU user"),
    ("cpu_system_s", "CPU sys"),
    ("io_read_bytes", "I/O read"),
    ("io_write_bytes", "I/O write"),
    ("gc_collections", "GC"),
)


def _ci(row: ComparisonRow) -> str:
    return format_interval(row.ci_low, row.ci_high)


def _changes_table(rows: tuple[ComparisonRow, ...]) -> Table | None:
    picked = [r for r in rows if r.verdict in (Verdict.REGRESSION, Verdict.IMPROVEMENT)]
    if not picked:
        return None
    head = ["### Regressions and improvements", "",
            *table_head(["", "Benchmark", "Metric", "Baseline", "Current", "Ratio",
                          "CI", "p", "adj. p"],
                         [":-:", "---", "---", "--:", "--:", "--:", "--:", "--:", "--:"])]
    body = [
        f"| {VERDICT_ICON[r.verdict]} | {escape_name(r.name)} | "
        f"{escape_markdown(metric_label(r.metric))} | "
        f"{format_metric(r.metric, r.baseline_value)} | "
        f"{format_metric(r.metric, r.current_value)} | **{r.ratio_label}**{r.raw_label} | "
        f"{_ci(r)} | {format_p_value(r.p_value)} | {format_p_value(r.adjusted_p_value)} |"
        for r in picked
    ]
    return Table(priority=50, head=head, rows=body, tail=[""])


#: The "Why" of an inconclusive row: our own reasons run to about 350 characters, and
#: their end says why (the threshold, "flagged anyway: its own ratio is 3.9"), so a cut
#: at 80 left "cannot decide at threshold 1.…". Still bounded; the comment's size limit
#: drops whole rows (markdown_fit), never the middle of one.
_REASON_MAX_LEN = 500


def _inconclusive_table(rows: tuple[ComparisonRow, ...]) -> Table | None:
    picked = [r for r in rows if r.verdict is Verdict.INCONCLUSIVE]
    if not picked:
        return None
    head = [f"<details><summary>🟡 {len(picked)} inconclusive (too noisy to tell)</summary>",
            "", *table_head(["Benchmark", "Metric", "Ratio", "CI", "Why", "More to decide"],
                             ["---", "---", "--:", "--:", "---", "--:"])]
    body = [
        f"| {escape_name(r.name)} | {escape_markdown(metric_label(r.metric))} | "
        f"{r.ratio_label}{r.raw_label} | {_ci(r)} | "
        f"{escape_markdown(r.reason or '–', max_len=_REASON_MAX_LEN)} | "
        f"{escape_markdown(r.needed_label)} |"
        for r in picked
    ]
    return Table(priority=30, head=head, rows=body, tail=["", "</details>", ""])


def _p99(result: BenchmarkResult) -> float | None:
    value = result.metric("p99_s")
    if value is not None:
        return value
    samples = result.samples_s.sorted_copy()
    if len(samples) < 2:
        return None
    return samples[min(len(samples) - 1, math.ceil(0.99 * len(samples)) - 1)]


def _full_table(data: ReportData, rows: tuple[ComparisonRow, ...]) -> Table | None:
    if data.current is None or not data.current.benchmarks:
        return None
    time_rows = {r.name: r for r in rows if r.metric == TIME_METRIC}
    worst: dict[str, Verdict] = {}
    rank = {Verdict.REGRESSION: 0, Verdict.IMPROVEMENT: 1, Verdict.INCONCLUSIVE: 2,
            Verdict.UNCHANGED: 3}
    for r in rows:
        if r.name not in worst or rank[r.verdict] < rank[worst[r.name]]:
            worst[r.name] = r.verdict
    # The icon is the worst verdict over all metrics (so a memory regression sorts first),
    # but the ratio beside it is the time's: when time is not what earned the icon, the
    # icon names the metrics that did, or "🔴 | 0.69×" reads as a regression at 0.69.
    because: dict[str, list[str]] = {}
    for r in rows:
        if (r.verdict is worst[r.name] and r.metric != TIME_METRIC
                and r.verdict in (Verdict.REGRESSION, Verdict.IMPROVEMENT)):
            because.setdefault(r.name, []).append(metric_label(r.metric))
    benches = sorted(data.current.benchmarks,
                     key=lambda b: (rank.get(worst.get(b.name), 4), b.name))  # type: ignore[arg-type]
    headers = ["Benchmark", "", "Time (median)", "Ratio", *[h for _, h in _FULL_COLUMNS]]
    head = [f"<details><summary>Full metrics of {len(benches)} benchmarks</summary>", "",
            *table_head(headers, ["---", ":-:", *["--:"] * (len(headers) - 2)])]
    body = []
    for b in benches:
        verdict = worst.get(b.name)
        tr = time_rows.get(b.name)
        icon = VERDICT_ICON[verdict] if verdict else ""
        if verdict and b.name in because and not (tr and tr.verdict is verdict):
            icon += " " + escape_markdown(", ".join(because[b.name]))
        cells = [escape_name(b.name), icon,
                 format_metric(TIME_METRIC, b.metric(TIME_METRIC)),
                 tr.ratio_label if tr else "–"]
        for key, _ in _FULL_COLUMNS:
            value = _p99(b) if key == "p99_s" else b.metric(key)
            cells.append(format_metric(key, value))
        body.append("| " + " | ".join(cells) + " |")
    return Table(priority=10, head=head, rows=body, tail=["", "</details>", ""])


def _membership_table(data: ReportData) -> Table | None:
    comp = data.comparison
    if comp is None or not (comp.new or comp.missing or comp.failed):
        return None
    # Most important first: over the size limit rows go from the end, and with a renamed
    # suite the crashed benchmarks were dropped while every renamed one was listed.
    body = [f"- 💥 failed: {escape_name(n)}" for n in comp.failed]
    body += [f"- ❔ missing from this run: {escape_name(n)}" for n in comp.missing]
    body += [f"- 🆕 new (no baseline): {escape_name(n)}" for n in comp.new]
    head = ["### New, missing and failed benchmarks", "",
            f"{len(comp.new)} new · {len(comp.missing)} missing · {len(comp.failed)} failed", ""]
    return Table(priority=20, head=head, rows=body, tail=[""])



def _environment_table(data: ReportData) -> Table | None:
    if not data.environment_differences:
        return None
    head = ["### ⚠️ Environment differs from the baseline", "",
            "> [!WARNING]",
            "> The environment fingerprint of this run differs from the baseline's. "
            "Differences below may move timings on their own; treat verdicts with care.", "",
            *table_head(["What", "Baseline", "This run"], ["---", "---", "---"])]
    body = [f"| {escape_markdown(w)} | {escape_markdown(a)} | {escape_markdown(b)} |"
            for w, a, b in data.environment_differences]
    return Table(priority=40, head=head, rows=body, tail=[""])


def _summary_block(data: ReportData) -> str:
    lines = ["### Summary", "", "| | |", "|---|---|"]
    run = data.current
    if run is not None:
        if run.commit is not None:
            c = run.commit
            lines.append(f"| Commit | {c.sha[:10]}"
                         f"{' on ' + escape_markdown(c.branch) if c.branch else ''}"
                         f"{' (dirty)' if c.dirty else ''}"
                         # plain pytest-benchmark files carry no message: no dangling dash
                         f"{' — ' + escape_markdown(c.subject) if c.subject else ''} |")
        else:
            lines.append(f"| Run | {escape_markdown(run.run_id)} (no commit known) |")
        lines.append(f"| Started | {escape_markdown(run.started_at)} · suite "
                     f"{escape_markdown(run.suite)} · {run.status} · "
                     f"{len(run.benchmarks)} benchmarks |")
    machine = data.machine_id or (run.machine_id if run is not None else None)
    if machine:
        lines.append(f"| Machine | {escape_markdown(machine)} |")
    base = data.baseline
    if base is not None:
        commits = ", ".join(s[:7] for s in base.source_commits[-5:]) or "–"
        more = len(base.source_commits) - 5
        lines.append(f"| Baseline | {escape_markdown(base.policy)} · "
                     f"{len(base.source_run_ids)} run(s) · commits {commits}"
                     f"{f' (+{more} older)' if more > 0 else ''} · "
                     f"created {escape_markdown(base.created_at[:19])} |")
    elif data.profiles is not None:  # a profile report: its base is a commit
        lines.append(f"| Base commit | `{data.profiles.base_sha[:10]}` (profiled beside "
                     f"`{data.profiles.candidate_sha[:10]}`) |")
    else:
        lines.append("| Baseline | none yet |")
    comp = data.comparison
    if comp is not None:
        counts = " · ".join(f"{VERDICT_ICON[v]} {len(comp.with_verdict(v))} {v}"
                            for v in VERDICT_ICON)
        lines.append(f"| Verdicts | {counts} |")
    if data.runs:
        stress = sum(r.suite == "stress" for r in data.runs)  # counted apart: another suite
        kinds = (f"{len(data.runs) - stress} benchmark run(s) and {stress} stress run(s)"
                 if stress else f"{len(data.runs)} run(s)")
        lines.append(f"| History | {kinds} from "
                     f"{escape_markdown(data.runs[0].label)} to "
                     f"{escape_markdown(data.runs[-1].label)} |")
    return "\n".join(lines) + "\n"


def _stats_block(data: ReportData) -> str:
    comp = data.comparison
    if comp is None:
        return ""
    thresholds: dict[str, float] = {}
    methods: set[str] = set()
    for r in comp.results:
        thresholds.setdefault(r.metric, r.comparison.threshold)
        methods.add(r.comparison.method)
    thr = ", ".join(f"{escape_markdown(metric_label(m))} ×{t:g}"
                    for m, t in sorted(thresholds.items()))
    return "\n".join([
        "### Statistical notes", "",
        f"- Significance level α = {comp.alpha:g}, multiple-testing correction: "
        f"{escape_markdown(comp.correction, max_len=300)} (adjusted p-values in the table).",
        f"- A change counts when it is significant **and** its ratio passes the threshold: "
        f"{thr or '–'}.",
        f"- Method: {escape_markdown('; '.join(sorted(methods)) or '–', max_len=1000)}. "
        f"{_ratio_meaning(comp)} {ci_meaning(comp)}", ""])


#: How ``analysis.baseline`` words a ratio judged with the run's suite-wide shift divided
#: out, and the row of that shift itself.
_SHIFT_REMOVED = "suite shift removed"
_SHIFT_ROW = "suite-wide shift"


def _ratio_meaning(comp: SuiteComparison) -> str:
    """What the Ratio column holds. Where the screen removed the suite-wide shift, a row's
    ratio is current / baseline divided by that shift: with half a suite 50 % slower, a
    row read "832 µs | 496 µs | 0.40×" under a note saying "Ratio = current / baseline"."""
    plain = "Ratio = current / baseline (> 1 is slower or bigger)"
    shifted = {r.metric for r in comp.results if _SHIFT_REMOVED in r.comparison.method}
    if not shifted:
        return plain + "."
    shifts = {r.metric: r.comparison.ratio for r in comp.results
              if r.comparison.method.startswith(_SHIFT_ROW)}
    if all(m in shifts and abs(shifts[m] - 1) < 0.01 for m in shifted):
        return plain + "."  # a machine's usual 0.3 % moves no ratio worth a sentence
    named = ", ".join(f"{escape_markdown(metric_label(m))} {format_ratio(shifts[m])}"
                      for m in sorted(shifted) if m in shifts)
    return (f"{plain}; where the method says {_SHIFT_REMOVED}, it is that ratio divided by "
            f"the run's suite-wide shift{f' ({named})' if named else ''}, so it can differ "
            "from Current / Baseline beside it.")


def ci_meaning(comp: SuiteComparison) -> str:
    """What the CI column holds: not one level when an A/B decided some rows."""
    level = format_level(comp.alpha)
    plain = f"CI is the {level} interval of the ratio"
    if comp.correction == "sequential-bonferroni":  # an adaptive A/B's own report
        return ("Every row is the A/B's: a regression's interval is at the level its look "
                "was held to (α spent over the looks and split over the targets, so wider "
                f"than {level}); an unchanged one's is the interval that "
                "cleared it (its upper end a one-sided 95 % bound).")
    if AB_CORRECTION_NOTE not in comp.correction:
        return plain + "."
    return (f"{plain} where the stored-baseline comparison decides. Where the A/B decided "
            "(rows marked A/B): a regression's interval is at the level its look was held "
            "to (α spent over the looks and split over the targets, so wider than "
            f"{level}); an unchanged one's is the interval that cleared it "
            "(its upper end a one-sided 95 % bound). The A/B's ratio is of its own rounds; "
            "the baseline and current times are the stored runs'.")


def _path_text(path: str) -> str:
    """A file path in the text: a code span, unless a backtick or line break would end
    it (then escaped as any untrusted text)."""
    flat = " ".join(path.split())
    if "`" in flat or len(flat) > 300 or flat != path:
        return escape_markdown(path, max_len=300)
    return f"`{flat}`"


def _html_report_where(data: ReportData) -> tuple[str, str]:
    """The line that links the HTML report (empty: no address known) and the words every
    size-limit note ends with ("see the [HTML report](…)"; empty: nowhere to point).

    A note that said "see the HTML report" without a link sent the reader of a cut PR
    comment looking for a page nothing named. With no address, the file's path is said
    (in CI, the path inside the uploaded artifact); with no path either, nothing.
    """
    path = f" ({_path_text(data.report_path)})" if data.report_path else ""
    if data.report_url:
        url = safe_url(data.report_url)
        return (f"📊 [Interactive HTML report]({url})\n", f"see the [HTML report]({url})")
    if data.report_run_url:
        where = f"in the artifacts of [this workflow run]({safe_url(data.report_run_url)})"
        return (f"📊 Interactive HTML report{path}: {where}\n",
                f"see the HTML report{path} {where}")
    if data.report_path:
        return "", f"see the HTML report{path}"
    return "", ""


def _blocks(data: ReportData, link_base: Path | None) -> list[Block]:
    summary = summarize(data)
    rows = comparison_rows(data)
    blocks: list[Block] = [MARKER, escape_markdown(summary.headline, max_len=400), ""]
    if summary.fingerprint_differs:
        blocks.append("> [!WARNING]\n> **Environment fingerprint differs from the baseline** "
                      "— see *Environment* below.\n")
    for note in data.notes:
        blocks.append(f"> {escape_markdown(note, max_len=500)}\n")
    alerts = alerts_block(data)
    if alerts:
        blocks.append(alerts)
    top, _ = _html_report_where(data)
    if top:
        blocks.append(top)
    blocks.append(_summary_block(data))
    if data.confirmation is not None:
        why = unscreened_reason(data)
        blocks += [screen_block(data.confirmation, why),
                   confirmation_table(data.confirmation, why)]
    optional = [_changes_table(rows), _inconclusive_table(rows), _stats_block(data),
                _full_table(data, rows), _membership_table(data), change_point_table(data),
                drift_table(data), culprit_table(data), _environment_table(data)]
    blocks.extend(b for b in optional[:1] if b)
    blocks.extend(profile_markdown(data.profiles, link_base=link_base))
    if data.stress:
        blocks.append(render_stress_markdown(data.stress, baseline_label=data.stress_baseline,
                                             note=data.stress_note))
    blocks.extend(b for b in optional[1:] if b)
    blocks.append(f"<sub>Generated by perf-pipeline at {escape_markdown(data.generated_at)}"
                  "</sub>\n")
    return blocks


def render_markdown(data: ReportData, *, max_chars: int = GITHUB_COMMENT_LIMIT,
                    link_base: Path | None = None) -> str:
    """Render the report as GitHub-flavoured Markdown of at most ``max_chars`` characters
    (links to files relative to ``link_base``, the folder the Markdown is written to).

    Tables shrink from their least interesting rows (full metrics first, the regression
    table last); if even that is not enough the text is cut at a line with a note.
    """
    return fit_blocks(_blocks(data, link_base), max_chars=max_chars,
                      see=_html_report_where(data)[1])
