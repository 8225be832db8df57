"""The Markdown report: ``performance-report.md`` and the pull-request comment.

The first line after the hidden marker is the whole story in one sentence, because a PR
comment is read in the notification e-mail and in the collapsed timeline. Everything
after it is detail, and when GitHub's 65,536-character limit bites, detail is what goes:
table rows are dropped least-interesting first and a note says so. Rendering never fails
on size.

Benchmark names, parameters and commit messages come from the measured repository, so
they are untrusted: every such string passes through ``escape_markdown`` before it lands
in the document (no raw HTML, no table-breaking pipes, no @-mentions).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from perf_pipeline.model import (
    AB_CORRECTION_NOTE,
    TIME_METRIC,
    BenchmarkResult,
    Confirmation,
    ReportData,
    SuiteComparison,
    Verdict,
)
from perf_pipeline.report.history_rows import change_point_rows, culprit_rows, drift_rows
from perf_pipeline.report.summary import ComparisonRow, comparison_rows, summarize
from perf_pipeline.report.units import (
    format_level,
    format_metric,
    format_p_value,
    format_ratio,
    metric_label,
    ratio_number,
)

__all__ = ["GITHUB_COMMENT_LIMIT", "MARKER", "escape_markdown", "escape_name", "render_markdown"]

#: Hidden first line; the GitHub client finds its own comment by it.
MARKER = "<!-- perf-pipeline-report -->"

#: GitHub rejects issue comments longer than this many characters.
GITHUB_COMMENT_LIMIT = 65_536

VERDICT_ICON = {
    Verdict.REGRESSION: "🔴",
    Verdict.IMPROVEMENT: "🟢",
    Verdict.INCONCLUSIVE: "🟡",
    Verdict.UNCHANGED: "⚪",
}

_ESCAPES = {
    "&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "`": "&#96;", "\\": "\\\\",
    "*": "\\*", "_": "\\_", "[": "\\[", "]": "\\]", "~": "\\~", "@": "&#64;", "#": "&#35;",
}

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


def escape_markdown(text: object, *, max_len: int = 160) -> str:
    """Make untrusted text inert inside a Markdown table cell (and anywhere else).

    Newlines and tabs collapse to spaces (a newline ends a table row); HTML and Markdown
    specials are escaped; ``@`` is neutralised so a commit message cannot ping people.
    Long text is shortened with an ellipsis so one odd name cannot eat the size budget.
    """
    flat = " ".join(str(text).split())
    if len(flat) > max_len:
        flat = flat[: max_len - 1] + "…"
    return "".join(_ESCAPES.get(ch, ch) for ch in flat)


def escape_name(name: str, *, max_len: int = 160) -> str:
    """A benchmark name for the document: escaped, and a long one shortened in the middle.

    Parametrized names differ at the end (``test_read[<long id>-1]``, ``...-2]``) and
    begin with the file that says where they live: cut from the end, as
    ``escape_markdown`` cuts text, two such names read the same.
    """
    flat = " ".join(str(name).split())
    if len(flat) > max_len:
        head = max_len // 3
        flat = flat[:head] + "…" + flat[len(flat) - (max_len - head - 1):]
    return escape_markdown(flat, max_len=max_len)


@dataclass
class _Table:
    """A block whose rows may be dropped (from the end) to fit the size limit."""

    priority: int  # lower is dropped first
    head: list[str]
    rows: list[str]
    tail: list[str] = field(default_factory=list)
    keep: int = -1

    def __post_init__(self) -> None:
        self.keep = len(self.rows)

    def omitted_note(self) -> str:
        n = len(self.rows) - self.keep
        if n <= 0:
            return ""
        return (f"\n_… {n} more row{'s' if n > 1 else ''} not shown "
                "(GitHub comment size limit); see the HTML report._\n")

    def render(self) -> str:
        lines = [*self.head, *self.rows[: self.keep]]
        body = "\n".join(lines) + "\n" if lines else ""
        return body + self.omitted_note() + ("\n".join(self.tail) + "\n" if self.tail else "")


_Block = str | _Table


def _table_head(headers: Iterable[str], align: Iterable[str]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]


def _interval(low: float, high: float) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return "–"
    return f"[{ratio_number(low, near_one=False)}, {ratio_number(high, near_one=False)}]"


def _ci(row: ComparisonRow) -> str:
    return _interval(row.ci_low, row.ci_high)


def _changes_table(rows: tuple[ComparisonRow, ...]) -> _Table | None:
    picked = [r for r in rows if r.verdict in (Verdict.REGRESSION, Verdict.IMPROVEMENT)]
    if not picked:
        return None
    head = ["### Regressions and improvements", "",
            *_table_head(["", "Benchmark", "Metric", "Baseline", "Current", "Ratio",
                          "CI", "p", "adj. p"],
                         [":-:", "---", "---", "--:", "--:", "--:", "--:", "--:", "--:"])]
    body = [
        f"| {VERDICT_ICON[r.verdict]} | {escape_name(r.name)} | "
        f"{escape_markdown(metric_label(r.metric))} | "
        f"{format_metric(r.metric, r.baseline_value)} | "
        f"{format_metric(r.metric, r.current_value)} | **{r.ratio_label}** | "
        f"{_ci(r)} | {format_p_value(r.p_value)} | {format_p_value(r.adjusted_p_value)} |"
        for r in picked
    ]
    return _Table(priority=50, head=head, rows=body, tail=[""])


def _inconclusive_table(rows: tuple[ComparisonRow, ...]) -> _Table | None:
    picked = [r for r in rows if r.verdict is Verdict.INCONCLUSIVE]
    if not picked:
        return None
    head = [f"<details><summary>🟡 {len(picked)} inconclusive (too noisy to tell)</summary>",
            "", *_table_head(["Benchmark", "Metric", "Ratio", "CI", "Why", "More to decide"],
                             ["---", "---", "--:", "--:", "---", "--:"])]
    body = [
        f"| {escape_name(r.name)} | {escape_markdown(metric_label(r.metric))} | "
        f"{r.ratio_label} | {_ci(r)} | {escape_markdown(r.reason or '–', max_len=80)} | "
        f"{escape_markdown(r.needed_label)} |"
        for r in picked
    ]
    return _Table(priority=30, head=head, rows=body, tail=["", "</details>", ""])


def _p99(result: BenchmarkResult) -> float | None:
    value = result.metric("p99_s")
    if value is not None:
        return value
    samples = result.samples_s.sorted_copy()
    if len(samples) < 2:
        return None
    return samples[min(len(samples) - 1, math.ceil(0.99 * len(samples)) - 1)]


def _full_table(data: ReportData, rows: tuple[ComparisonRow, ...]) -> _Table | None:
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
            *_table_head(headers, ["---", ":-:", *["--:"] * (len(headers) - 2)])]
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
    return _Table(priority=10, head=head, rows=body, tail=["", "</details>", ""])


def _membership_table(data: ReportData) -> _Table | None:
    comp = data.comparison
    if comp is None or not (comp.new or comp.missing or comp.failed):
        return None
    body = [f"- 🆕 new (no baseline): {escape_name(n)}" for n in comp.new]
    body += [f"- ❔ missing from this run: {escape_name(n)}" for n in comp.missing]
    body += [f"- 💥 failed: {escape_name(n)}" for n in comp.failed]
    head = ["### New, missing and failed benchmarks", "",
            f"{len(comp.new)} new · {len(comp.missing)} missing · {len(comp.failed)} failed", ""]
    return _Table(priority=20, head=head, rows=body, tail=[""])


def _change_point_table(data: ReportData) -> _Table | None:
    """Where each benchmark's history moved to a new level, newest first."""
    rows = change_point_rows(data)
    if not rows:
        return None
    head = ["<details><summary>📈 Change points in the history "
            f"({len(rows)})</summary>", "",
            *_table_head(["Benchmark", "Metric", "From run", "Commit", "Level change"],
                         ["---", "---", "---", "---", "--:"])]
    body = [f"| {escape_name(r.name)} | {escape_markdown(r.metric)} | "
            f"{escape_markdown(r.run)} | {escape_markdown(r.subject, max_len=80)} | "
            f"{r.ratio} |" for r in rows]
    return _Table(priority=15, head=head, rows=body, tail=["", "</details>", ""])


def _drift_table(data: ReportData) -> _Table | None:
    """Slow drifts no single change point explains, newest first."""
    rows = drift_rows(data)
    if not rows:
        return None
    head = ["<details><summary>🐌 Slow drifts in the history "
            f"({len(rows)})</summary>", "",
            *_table_head(["Benchmark", "Metric", "From run", "To run", "Runs", "Change"],
                         ["---", "---", "---", "---", "--:", "--:"])]
    body = [f"| {escape_name(r.name)} | {escape_markdown(r.metric)} | "
            f"{escape_markdown(r.start)} | {escape_markdown(r.end)} | {r.commits} | "
            f"{r.ratio} |" for r in rows]
    return _Table(priority=16, head=head, rows=body, tail=["", "</details>", ""])


_ALERT_ICON = {"change_point": "📈", "drift": "🐌", "culprit": "🔎"}


def _alerts_block(data: ReportData) -> str | None:
    """New change points, drifts and culprits: first, so nobody scrolls past them."""
    if not data.alerts:
        return None
    lines = ["> [!CAUTION]", f"> **New in the history ({len(data.alerts)})**"]
    for a in data.alerts[:20]:
        commit = f" at `{a.sha[:10]}` {escape_markdown(a.subject, max_len=80)}" if a.sha else ""
        lines.append(f"> - {_ALERT_ICON[a.kind]} {escape_name(a.name, max_len=120)}: "
                     f"{escape_markdown(a.detail, max_len=240)}{commit}")
    if len(data.alerts) > 20:
        lines.append(f"> - … and {len(data.alerts) - 20} more")
    return "\n".join(lines) + "\n"


def _culprit_table(data: ReportData) -> _Table | None:
    """Results of culprit searches, newest first."""
    rows = culprit_rows(data)
    if not rows:
        return None
    head = ["<details><summary>🔎 Culprit searches "
            f"({len(rows)})</summary>", "",
            *_table_head(["Benchmark", "Culprit", "Subject", "Author", "Step", "A/B ratio",
                          "Status"], ["---", "---", "---", "---", "--:", "--:", "---"])]
    body = [f"| {escape_name(r.benchmark)} | `{r.commit}` | "
            f"{escape_markdown(r.subject, max_len=80)} | "
            f"{escape_markdown(r.author, max_len=60)} | {r.step} | {r.ab} | {r.status} |"
            for r in rows]
    return _Table(priority=14, head=head, rows=body, tail=["", "</details>", ""])


def _environment_table(data: ReportData) -> _Table | None:
    if not data.environment_differences:
        return None
    head = ["### ⚠️ Environment differs from the baseline", "",
            "> [!WARNING]",
            "> The environment fingerprint of this run differs from the baseline's. "
            "Differences below may move timings on their own; treat verdicts with care.", "",
            *_table_head(["What", "Baseline", "This run"], ["---", "---", "---"])]
    body = [f"| {escape_markdown(w)} | {escape_markdown(a)} | {escape_markdown(b)} |"
            for w, a, b in data.environment_differences]
    return _Table(priority=40, head=head, rows=body, tail=[""])


def _summary_block(data: ReportData) -> str:
    lines = ["### Summary", "", "| | |", "|---|---|"]
    run = data.current
    if run is not None:
        if run.commit is not None:
            c = run.commit
            lines.append(f"| Commit | {c.sha[:10]}"
                         f"{' on ' + escape_markdown(c.branch) if c.branch else ''}"
                         f"{' (dirty)' if c.dirty else ''} — {escape_markdown(c.subject)} |")
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
        f"Ratio = current / baseline (> 1 is slower or bigger). {ci_meaning(comp)}", ""])


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


def _short_sha(sha: str | None) -> str:
    return escape_markdown(sha[:10]) if sha else "–"


def unscreened_reason(data: ReportData) -> str:
    """Why a run has no stored-baseline comparison: none yet, or one that cannot judge
    it (another machine's, or all of other hardware), which the report names."""
    return ("no baseline yet" if data.baseline is None
            else "the baseline cannot judge this run")


def _screen_block(c: Confirmation, unscreened: str) -> str:
    """The first stage: what the stored-baseline comparison flagged, at its level."""
    lines = ["### Screen", ""]
    if c.screen is None:
        return "\n".join([*lines, f"No stored-baseline comparison ({unscreened}).", ""])
    rows = {r.name: r for r in c.screen.results if r.metric == TIME_METRIC}
    level = ("its own level; one-stage gate" if c.status == "off"
             else "a loose level: sensitive, not trusted alone")
    lines.append(f"Stored-baseline comparison at α = {c.screen_alpha:g} ({level}): "
                 f"flagged {len(c.flagged) or 'nothing'}"
                 f"{'.' if not c.flagged else ':'}")
    def bullets(names: tuple[str, ...]) -> list[str]:
        return [f"- {escape_name(n)} "
                f"{format_ratio(rows[n].comparison.ratio if n in rows else float('nan'))}"
                for n in names]

    lines += bullets(c.flagged)
    if c.suspects:
        lines += ["", "Not flagged, but measured in the A/B too (suspects: the screen's "
                  "closest calls, up to five targets in all):", *bullets(c.suspects)]
    return "\n".join([*lines, ""])


def _confirmation_table(c: Confirmation, unscreened: str) -> _Table | str:
    """The second stage: the interleaved A/B of the flagged benchmarks, per benchmark."""
    head = ["### Confirmation", ""]
    if c.status == "off":
        return "\n".join([*head, "Off (`confirm = \"off\"`): the screen is the verdict.", ""])
    if c.status == "nothing_flagged":
        why = ("the screen flagged nothing" if c.screen is not None
               else f"{unscreened}, so nothing was screened")
        return "\n".join([*head, f"Not needed: {why}.", ""])
    if c.status == "not_possible":
        return "\n".join([*head, "Not possible: " + "; ".join(
            escape_markdown(n, max_len=300) for n in c.notes), ""])
    decided = dict(c.decided_at)
    head.append(
        f"Interleaved A/B of {_short_sha(c.sha)} against {_short_sha(c.base_sha)}: "
        f"**{c.rounds_used} round{'s' if c.rounds_used != 1 else ''}** used of at most "
        f"{c.max_rounds} (stopped: {escape_markdown(c.stopped or '–')}); "
        f"{len(c.flagged)} flagged benchmark(s)"
        f"{f', {len(c.suspects)} suspect(s)' if c.suspects else ''}"
        f"{', the whole suite' if c.whole_suite else f', {len(c.controls)} control(s)'}.")
    head += ["", *_table_head(["", "Benchmark", "Ratio (A/B)", "CI", "Decided after",
                               "Verdict"], [":-:", "---", "--:", "--:", "--:", "---"])]
    results = {r.name: r for r in (c.ab.results if c.ab else ())}
    final = {r.name: r for r in (c.final.results if c.final else ())
             if r.metric == TIME_METRIC}
    body = []
    for name in c.targets:
        row = final.get(name) or results.get(name)
        if row is None:
            continue
        comp = row.comparison
        ci = _interval(comp.ci_low, comp.ci_high)
        when = f"{decided[name]} rounds" if name in decided else "undecided"
        label = escape_name(name) + (" (suspect)" if name in c.suspects else "")
        body.append(f"| {VERDICT_ICON[Verdict(comp.verdict)]} | {label} | "
                    f"{format_ratio(comp.ratio)} | {ci} | {when} | {comp.verdict} |")
    return _Table(priority=45, head=head, rows=body, tail=[""])


def _blocks(data: ReportData, link_base: Path | None) -> list[_Block]:
    summary = summarize(data)
    rows = comparison_rows(data)
    blocks: list[_Block] = [MARKER, escape_markdown(summary.headline, max_len=400), ""]
    if summary.fingerprint_differs:
        blocks.append("> [!WARNING]\n> **Environment fingerprint differs from the baseline** "
                      "— see *Environment* below.\n")
    for note in data.notes:
        blocks.append(f"> {escape_markdown(note, max_len=500)}\n")
    alerts = _alerts_block(data)
    if alerts:
        blocks.append(alerts)
    if data.report_url:
        blocks.append(f"📊 [Interactive HTML report]({_safe_url(data.report_url)})\n")
    blocks.append(_summary_block(data))
    if data.confirmation is not None:
        why = unscreened_reason(data)
        blocks += [_screen_block(data.confirmation, why),
                   _confirmation_table(data.confirmation, why)]
    from perf_pipeline.report.profile import profile_markdown  # it imports escape_markdown

    optional = [_changes_table(rows), _inconclusive_table(rows), _stats_block(data),
                _full_table(data, rows), _membership_table(data), _change_point_table(data),
                _drift_table(data), _culprit_table(data), _environment_table(data)]
    blocks.extend(b for b in optional[:1] if b)
    blocks.extend(profile_markdown(data.profiles, link_base=link_base))
    if data.stress:
        from perf_pipeline.report.stress import render_stress_markdown

        blocks.append(render_stress_markdown(data.stress, baseline_label=data.stress_baseline,
                                             note=data.stress_note))
    blocks.extend(b for b in optional[1:] if b)
    blocks.append(f"<sub>Generated by perf-pipeline at {escape_markdown(data.generated_at)}"
                  "</sub>\n")
    return blocks


def _safe_url(url: str) -> str:
    """Only http(s) links, with characters that could end the Markdown link escaped."""
    flat = "".join(url.split())
    if not flat.lower().startswith(("https://", "http://")):
        return "#"
    return "".join(f"%{ord(ch):02X}" if ch in "()<>\"'` " else ch for ch in flat)


def _render(blocks: list[_Block]) -> str:
    parts = [b.render() if isinstance(b, _Table) else b for b in blocks]
    return "\n".join(parts)


def render_markdown(data: ReportData, *, max_chars: int = GITHUB_COMMENT_LIMIT,
                    link_base: Path | None = None) -> str:
    """Render the report as GitHub-flavoured Markdown of at most ``max_chars`` characters
    (links to files relative to ``link_base``, the folder the Markdown is written to).

    Tables shrink from their least interesting rows (full metrics first, the regression
    table last); if even that is not enough the text is cut at a line with a note.
    """
    blocks = _blocks(data, link_base)
    text = _render(blocks)
    if len(text) <= max_chars:
        return text
    tables = sorted((b for b in blocks if isinstance(b, _Table)), key=lambda t: t.priority)
    for table in tables:
        excess = len(text) - max_chars
        # Estimate from row lengths first (re-rendering per row would be quadratic) ...
        while table.keep > 0 and excess > 0:
            table.keep -= 1
            excess -= len(table.rows[table.keep]) + 1
        text = _render(blocks)
        # ... then settle the few characters the omission note itself costs.
        while len(text) > max_chars and table.keep > 0:
            table.keep -= 1
            text = _render(blocks)
        if len(text) <= max_chars:
            return text
    text = _render(blocks)
    if len(text) <= max_chars:
        return text
    note = "\n\n_… report cut here (GitHub comment size limit); see the HTML report._\n"
    cut = text.rfind("\n", 0, max_chars - len(note))
    return (text[: max(cut, 0)] + note)[:max_chars]
