"""The history's sections of the Markdown report: new alerts, change points, slow drifts
and culprit searches.

The alerts come first in the document, so nobody scrolls past them; the tables are
collapsed and among the first to shrink when the comment is too long.
"""

from __future__ import annotations

from perf_pipeline.model import ReportData
from perf_pipeline.report.history_rows import change_point_rows, culprit_rows, drift_rows
from perf_pipeline.report.markdown_cells import escape_markdown, escape_name, table_head
from perf_pipeline.report.markdown_fit import Table

__all__ = ["alerts_block", "change_point_table", "culprit_table", "drift_table"]

_ALERT_ICON = {"change_point": "📈", "drift": "🐌", "culprit": "🔎"}


def change_point_table(data: ReportData) -> Table | None:
    """Where each benchmark's history moved to a new level, newest first."""
    rows = change_point_rows(data)
    if not rows:
        return None
    head = ["<details><summary>📈 Change points in the history "
            f"({len(rows)})</summary>", "",
            *table_head(["Benchmark", "Metric", "From run", "Commit", "Level change"],
                        ["---", "---", "---", "---", "--:"])]
    body = [f"| {escape_name(r.name)} | {escape_markdown(r.metric)} | "
            f"{escape_markdown(r.run)} | {escape_markdown(r.subject, max_len=80)} | "
            f"{r.ratio} |" for r in rows]
    return Table(priority=15, head=head, rows=body, tail=["", "</details>", ""])


def drift_table(data: ReportData) -> Table | None:
    """Slow drifts no single change point explains, newest first."""
    rows = drift_rows(data)
    if not rows:
        return None
    head = ["<details><summary>🐌 Slow drifts in the history "
            f"({len(rows)})</summary>", "",
            *table_head(["Benchmark", "Metric", "From run", "To run", "Commits", "Change"],
                        ["---", "---", "---", "---", "--:", "--:"])]
    body = [f"| {escape_name(r.name)} | {escape_markdown(r.metric)} | "
            f"{escape_markdown(r.start)} | {escape_markdown(r.end)} | {r.commits} | "
            f"{r.ratio} |" for r in rows]
    return Table(priority=16, head=head, rows=body, tail=["", "</details>", ""])


def alerts_block(data: ReportData) -> str | None:
    """New change points, drifts and culprits: first, so nobody scrolls past them."""
    if not data.alerts:
        return None
    lines = ["> [!CAUTION]", f"> **New in the history ({len(data.alerts)})**"]
    for a in data.alerts[:20]:
        commit = (f" {a.commit_word} `{a.sha[:10]}` {escape_markdown(a.subject, max_len=80)}"
                  if a.sha else "")
        lines.append(f"> - {_ALERT_ICON[a.kind]} {escape_name(a.name, max_len=120)}: "
                     f"{escape_markdown(a.detail, max_len=240)}{commit}")
    if len(data.alerts) > 20:
        lines.append(f"> - … and {len(data.alerts) - 20} more")
    return "\n".join(lines) + "\n"


def culprit_table(data: ReportData) -> Table | None:
    """Results of culprit searches, newest first."""
    rows = culprit_rows(data)
    if not rows:
        return None
    head = ["<details><summary>🔎 Culprit searches "
            f"({len(rows)})</summary>", "",
            *table_head(["Benchmark", "Culprit", "Subject", "Author", "Step", "A/B ratio",
                         "Status"], ["---", "---", "---", "---", "--:", "--:", "---"])]
    body = [f"| {escape_name(r.benchmark)} | {f'`{r.commit}`' if r.commit else '–'} | "
            f"{escape_markdown(r.subject, max_len=80)} | "
            f"{escape_markdown(r.author, max_len=60)} | {r.step} | {r.ab} | {r.status} |"
            for r in rows]
    return Table(priority=14, head=head, rows=body, tail=["", "</details>", ""])
