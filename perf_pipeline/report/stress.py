"""The stress section of the reports: verdict per judged stress figure, Markdown and HTML.

Pure renderers over ``StressComparison`` values; ``pipeline/stress.py`` writes the files.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from urllib.parse import quote

from perf_pipeline.model import StressComparison, StressFigure, Verdict
from perf_pipeline.report.labels import short_benchmark_names
from perf_pipeline.report.markdown_cells import escape_markdown
from perf_pipeline.report.units import format_bytes, format_seconds

__all__ = ["SHOWN_STRESS_FIGURES", "render_stress_html", "render_stress_markdown",
           "shown_rows", "stress_html_rows"]

_ORDER = {Verdict.REGRESSION: 0, Verdict.IMPROVEMENT: 1, Verdict.INCONCLUSIVE: 2,
          Verdict.UNCHANGED: 3}


#: Figures recorded beside the judged ones and listed under them ("shown, not judged");
#: each ramp step's throughput and p99 are the curve's points, plotted instead.
SHOWN_STRESS_FIGURES = ("p50_s", "p90_s", "p999_s", "max_s", "iteration_p99_s",
                        "growth_bytes_per_iteration", "multiplier")


def _rate(ops_s: float) -> str:
    """Four significant digits without an exponent: ``146,800/s``, not ``1.468e+05/s``."""
    if not math.isfinite(ops_s):
        return "–"
    if abs(ops_s) >= 1000:
        digits = math.floor(math.log10(abs(ops_s))) - 3
        return f"{round(ops_s, -digits):,.0f}/s"
    return f"{ops_s:.4g}/s"


def _value(figure: str, value: float | None) -> str:
    if value is None:
        return "–"
    if figure == "throughput_ops_s":  # before the latencies: it ends in "_s" too
        return _rate(value)
    if figure.endswith("_s"):  # latencies: the unit that fits (µs to s), not always ms
        return format_seconds(value)
    if figure == "growth_bytes_per_iteration":
        return f"{format_bytes(value, signed=True)}/iteration"
    if figure == "leak":
        return "leak" if value >= 0.5 else "no leak"
    if figure == "error_rate":
        return f"{value:.2%}"
    return f"{value:.3g}"


def _cell(text: str, *, max_len: int = 200) -> str:
    return escape_markdown(text, max_len=max_len)


def _sorted(rows: Sequence[StressComparison]) -> list[StressComparison]:
    return sorted(rows, key=lambda r: (_ORDER[r.verdict], r.test, r.scenario, r.figure))


def _headline(rows: Sequence[StressComparison], baseline_label: str | None, *,
              markdown: bool) -> str:
    """The one-line verdict, as Markdown (escaped, in bold) or as plain text for the HTML
    page to escape its own way: Markdown escapes there showed as ``p99\\_s``."""
    cell = _cell if markdown else (lambda text: text)
    if baseline_label is None:
        return "No earlier stress run to compare with: figures recorded as the first."
    regressions = [r for r in rows if r.verdict is Verdict.REGRESSION]
    if regressions:
        count = f"{len(regressions)} stress regression(s)"
        return (f"{f'**{count}**' if markdown else count} against "
                f"{cell(baseline_label)}: " + "; ".join(
                    cell(f"{r.scenario} {r.figure} ({r.detail})") for r in regressions))
    return f"No stress regression against {cell(baseline_label)}."


def shown_rows(figures: Sequence[StressFigure]) -> list[tuple[str, str, str, str]]:
    """(test, scenario, figure, value) of the figures shown but not judged."""
    kept = [f for f in figures if f.figure in SHOWN_STRESS_FIGURES]
    kept.sort(key=lambda f: (f.test, f.scenario, SHOWN_STRESS_FIGURES.index(f.figure)))
    label = short_benchmark_names(f.test for f in kept)
    return [(label[f.test], f.scenario, f.figure, _value(f.figure, f.value)) for f in kept]


def render_stress_markdown(rows: Sequence[StressComparison], *,
                           baseline_label: str | None, images: Sequence[str] = (),
                           note: str | None = None,
                           shown: Sequence[StressFigure] = ()) -> str:
    """``## Stress`` with a one-line verdict and one table row per judged figure, the
    figures ``shown`` but not judged (this run's), then the plots (``images``: file
    names beside the Markdown file)."""
    lines = ["## Stress", "", _headline(rows, baseline_label, markdown=True), ""]
    if note:  # a block quote, not a cell: room for the confirmation and the run's error
        lines += [f"> {_cell(note, max_len=1000)}", ""]
    if rows:
        lines += ["| verdict | test | scenario | figure | baseline | current | rule | detail |",
                  "|---|---|---|---|---|---|---|---|"]
        label = short_benchmark_names(r.test for r in rows)
        for r in _sorted(rows):
            lines.append(
                f"| {r.verdict} | {_cell(label[r.test])} | {_cell(r.scenario)} "
                f"| {r.figure} | {_value(r.figure, r.baseline)} | "
                f"{_value(r.figure, r.current)} | {_cell(r.rule)} | {_cell(r.detail)} |")
    extra = shown_rows(shown)
    if extra:
        lines += ["", "<details><summary>Also measured (shown, not judged)</summary>", "",
                  "| test | scenario | figure | value |", "|---|---|---|---|"]
        lines += [f"| {_cell(t)} | {_cell(sc)} | {fig} | {v} |" for t, sc, fig, v in extra]
        lines += ["", "</details>"]
    if images:
        lines.append("")
        lines += [f"![{_cell(name)}]({quote(name)})" for name in images]
    return "\n".join(lines) + "\n"


def stress_html_rows(rows: Sequence[StressComparison]) -> list[dict[str, str]]:
    """Plain strings for the HTML template's stress table (autoescaped there)."""
    return [{"verdict": str(r.verdict), "test": r.test, "scenario": r.scenario,
             "figure": r.figure, "baseline": _value(r.figure, r.baseline),
             "current": _value(r.figure, r.current), "rule": r.rule, "detail": r.detail}
            for r in _sorted(rows)]


def render_stress_html(rows: Sequence[StressComparison], *, baseline_label: str | None,
                       images: Sequence[str] = (), note: str | None = None,
                       shown: Sequence[StressFigure] = ()) -> str:
    """The same section as a self-contained HTML page (everything escaped)."""
    esc = html.escape
    body = [f"<h2>Stress</h2><p>{esc(_headline(rows, baseline_label, markdown=False))}</p>"]
    if note:
        body.append(f"<p><i>{esc(note)}</i></p>")
    if rows:
        body.append("<table><tr><th>verdict</th><th>test</th><th>scenario</th><th>figure</th>"
                    "<th>baseline</th><th>current</th><th>rule</th><th>detail</th></tr>")
        for r in _sorted(rows):
            cells = (str(r.verdict), r.test, r.scenario, r.figure,
                     _value(r.figure, r.baseline), _value(r.figure, r.current), r.rule,
                     r.detail)
            body.append(f"<tr class=\"{esc(str(r.verdict))}\">"
                        + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
        body.append("</table>")
    extra = shown_rows(shown)
    if extra:
        body.append("<h3>Also measured (shown, not judged)</h3><table><tr><th>test</th>"
                    "<th>scenario</th><th>figure</th><th>value</th></tr>")
        body += ["<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
                 for row in extra]
        body.append("</table>")
    body += [f'<p><img src="{esc(quote(name))}" alt="{esc(name)}"></p>' for name in images]
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>Stress report</title>"
            "<style>td,th{border:1px solid #ccc;padding:2px 6px}"
            ".regression{background:#fdd}.improvement{background:#dfd}</style></head><body>"
            + "".join(body) + "</body></html>\n")
