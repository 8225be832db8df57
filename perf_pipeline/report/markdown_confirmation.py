"""The two-stage gate's sections of the Markdown report: the Screen (what the
stored-baseline comparison flagged) and the Confirmation (the interleaved A/B of the
flagged benchmarks)."""

from __future__ import annotations

from perf_pipeline.model import TIME_METRIC, Confirmation, ReportData, Verdict
from perf_pipeline.report.markdown_cells import (
    VERDICT_ICON,
    escape_markdown,
    escape_name,
    format_interval,
    table_head,
)
from perf_pipeline.report.markdown_fit import Table
from perf_pipeline.report.units import format_ratio

__all__ = ["confirmation_table", "screen_block", "unscreened_reason"]


def _short_sha(sha: str | None) -> str:
    return escape_markdown(sha[:10]) if sha else "–"


def unscreened_reason(data: ReportData) -> str:
    """Why a run has no stored-baseline comparison: none yet, or one that cannot judge
    it (another machine's, or all of other hardware), which the report names."""
    return ("no baseline yet" if data.baseline is None
            else "the baseline cannot judge this run")


def screen_block(c: Confirmation, unscreened: str) -> Table | str:
    """The first stage: what the stored-baseline comparison flagged, at its level.

    Its list of flagged benchmarks is a table that shrinks: kept whole, 150 long names
    took the room of the Confirmation table below, whose verdicts are the decisive ones.
    """
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

    tail = []
    if c.suspects:
        tail = ["", "Not flagged, but measured in the A/B too (suspects: the screen's "
                "closest calls, up to five targets in all):", *bullets(c.suspects)]
    return Table(priority=25, head=lines, rows=bullets(c.flagged), tail=tail)


def confirmation_table(c: Confirmation, unscreened: str) -> Table | str:
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
    head += ["", *table_head(["", "Benchmark", "Ratio (A/B)", "CI", "Decided after",
                              "Verdict"], [":-:", "---", "--:", "--:", "--:", "---"])]
    results = {r.name: r for r in (c.ab.results if c.ab else ())}
    final = {r.name: r for r in (c.final.results if c.final else ())
             if r.metric == TIME_METRIC}
    body = []
    rank = {v: i for i, v in enumerate(VERDICT_ICON)}
    shown = [(name, final.get(name) or results.get(name)) for name in c.targets]
    # What the A/B confirmed first: over the size limit rows go from the end, and in
    # target (name) order the confirmed regressions were dropped before cleared targets.
    shown.sort(key=lambda t: rank[Verdict(t[1].comparison.verdict)] if t[1] else len(rank))
    for name, row in shown:
        if row is None:
            continue
        comp = row.comparison
        ci = format_interval(comp.ci_low, comp.ci_high)
        when = f"{decided[name]} rounds" if name in decided else "undecided"
        label = escape_name(name) + (" (suspect)" if name in c.suspects else "")
        body.append(f"| {VERDICT_ICON[Verdict(comp.verdict)]} | {label} | "
                    f"{format_ratio(comp.ratio)} | {ci} | {when} | {comp.verdict} |")
    return Table(priority=45, head=head, rows=body, tail=[""])
