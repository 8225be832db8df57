"""The interactive offline HTML report: one page, no network, plotly charts.

Jinja2 (``autoescape=True``) renders the static parts — summary, tables, warnings — so
untrusted benchmark names and commit messages are escaped by construction. Everything
the charts need travels as one JSON data island (see ``payload.py``) that the page's
own small script (``templates/report.js``) turns into plotly charts, one benchmark at a
time, so 500 benchmarks x 1,000 commits stay responsive. Large data islands are gzipped
and base64-encoded; the browser inflates them with the built-in ``DecompressionStream``.
"""

from __future__ import annotations

import base64
import functools
import gzip
import math
from importlib import resources
from pathlib import Path

import jinja2
from markupsafe import Markup

from perf_pipeline.model import TIME_METRIC, ReportData, RunStatus, Verdict
from perf_pipeline.report.history_rows import change_point_rows, culprit_rows, drift_rows
from perf_pipeline.report.markdown import ci_meaning
from perf_pipeline.report.markdown_cells import VERDICT_ICON
from perf_pipeline.report.markdown_confirmation import unscreened_reason
from perf_pipeline.report.payload import build_payload, embed_json
from perf_pipeline.report.profile import flame_payload, profile_html_rows
from perf_pipeline.report.stress import stress_html_rows
from perf_pipeline.report.summary import comparison_rows, summarize
from perf_pipeline.report.units import (
    format_metric,
    format_p_value,
    format_ratio,
    metric_label,
    ratio_number,
)

__all__ = ["PLOTLY_JS_NAME", "plotly_js", "render_html"]

#: File name of the chart library when it is written beside the report.
PLOTLY_JS_NAME = "plotly.min.js"

_TEMPLATES = "templates"
_MARKS = {"regression": "✗", "failed": "✗", "ok": "✓"}


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("perf_pipeline.report", _TEMPLATES),
        autoescape=True, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True)


@functools.cache
def _asset(name: str) -> str:
    return (resources.files("perf_pipeline.report") / _TEMPLATES / name).read_text("utf-8")


@functools.cache
def plotly_js() -> str:
    """The plotly.js bundle shipped inside the plotly Python package (no CDN)."""
    from plotly.offline import get_plotlyjs  # heavy import, only when a page is built

    return get_plotlyjs().replace("</script", "<\\/script")


def _ci(low: float, high: float) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):  # NaN, or an unbounded interval
        return "–"
    return f"{ratio_number(low, near_one=False)} – {ratio_number(high, near_one=False)}"


def _confirmation(data: ReportData) -> dict[str, object] | None:
    """Both stages of the gate, ready for the template's Screen and Confirmation sections."""
    c = data.confirmation
    if c is None:
        return None
    screen_rows = {r.name: r for r in (c.screen.results if c.screen else ())
                   if r.metric == TIME_METRIC}
    final = {r.name: r for r in (c.final.results if c.final else ()) if r.metric == TIME_METRIC}
    decided = dict(c.decided_at)
    rows = []
    for name in c.targets:
        screen, row = screen_rows.get(name), final.get(name)
        rows.append({
            "name": name, "suspect": name in c.suspects,
            "screen_ratio": format_ratio(screen.comparison.ratio) if screen else "–",
            "verdict": str(row.comparison.verdict) if row else "inconclusive",
            "icon": VERDICT_ICON[Verdict(row.comparison.verdict)] if row else "",
            "ratio": format_ratio(row.comparison.ratio) if row else "–",
            "ci": _ci(row.comparison.ci_low, row.comparison.ci_high) if row else "–",
            "decided": f"{decided[name]} rounds" if name in decided else "undecided",
        })
    return {"status": c.status, "screen_alpha": c.screen_alpha,
            "has_screen": c.screen is not None, "targets": rows,
            "unscreened": unscreened_reason(data),
            "n_flagged": len(c.flagged), "n_suspects": len(c.suspects),
            "controls": len(c.controls), "whole_suite": c.whole_suite,
            "rounds_used": c.rounds_used,
            "max_rounds": c.max_rounds, "stopped": c.stopped or "–",
            "base": (c.base_sha or "–")[:10], "candidate": (c.sha or "–")[:10],
            "notes": c.notes}


#: Alert kinds in words: the Markdown's emoji have no font in many headless browsers.
_ALERT_KIND = {"change_point": "New level", "drift": "Drift", "culprit": "Culprit"}


def _context(data: ReportData, link_base: Path | None) -> dict[str, object]:
    summary = summarize(data)
    rows = comparison_rows(data)
    changes = [
        {"icon": VERDICT_ICON[r.verdict], "verdict": str(r.verdict), "name": r.name,
         "metric": metric_label(r.metric),
         "baseline": format_metric(r.metric, r.baseline_value),
         "current": format_metric(r.metric, r.current_value),
         "ratio": r.ratio_label, "ci": _ci(r.ci_low, r.ci_high),
         "p": format_p_value(r.p_value), "padj": format_p_value(r.adjusted_p_value),
         "reason": r.reason,
         # The reason names the data that would decide already, in its own unit.
         "needed": (r.needed_label if r.samples_needed is not None
                    and "would decide" not in r.reason else None)}
        for r in rows if r.verdict is not Verdict.UNCHANGED]
    counts = [{"verdict": str(v), "label": str(v).capitalize(), "n": n,
               "icon": VERDICT_ICON[v]} for v, n in summary.counts]
    run = data.current
    stress = [r for r in data.runs if "stress" in r.suite.lower()]
    # Headless and wall-screen browsers often lack an emoji font: the HTML shows a plain
    # glyph in a coloured badge instead of the Markdown headline's leading emoji.
    first, _, rest = summary.headline.partition(" ")
    has_icon = not first.isascii()
    return {
        "title": data.title, "generated_at": data.generated_at, "summary": summary,
        "mark": _MARKS.get(summary.status, "i"),
        "headline_text": (rest if has_icon else summary.headline).replace("⚠️", "⚠"),
        "counts": counts, "changes": changes, "run": run, "baseline": data.baseline,
        "comparison": data.comparison, "n_runs": len(data.runs),
        "ci_note": ci_meaning(data.comparison) if data.comparison is not None else "",
        "first_run": data.runs[0].label if data.runs else None,
        "last_run": data.runs[-1].label if data.runs else None,
        "env_diffs": data.environment_differences, "notes": data.notes,
        "report_url": data.report_url, "stress": stress, "failed": RunStatus.FAILED,
        "n_benchmarks": summary.n_benchmarks, "confirmation": _confirmation(data),
        "profiles": profile_html_rows(data.profiles, link_base=link_base),
        "alerts": [{"kind": _ALERT_KIND[a.kind], "name": a.name, "detail": a.detail,
                    "sha": a.sha, "subject": a.subject, "word": a.commit_word}
                   for a in data.alerts],
        "change_point_rows": change_point_rows(data), "drift_rows": drift_rows(data),
        "culprit_rows": culprit_rows(data),
        "profile_base": data.profiles.base_sha[:10] if data.profiles is not None else None,
        "stress_rows": stress_html_rows(data.stress),
        "stress_baseline": data.stress_baseline, "stress_note": data.stress_note,
        "profile_payload": Markup(embed_json(flame_payload(data.profiles))),
        "profile_script": Markup(_asset("profile.js").replace("</script", "<\\/script")),
        "machine": data.machine_id or (run.machine_id if run is not None else None),
        "machine_links": [{"id": m, "href": href,
                           "current": m == (data.machine_id or (run and run.machine_id))}
                          for m, href in data.machine_links],
    }


def render_html(
    data: ReportData,
    *,
    inline_js: bool = True,
    compress_over_bytes: int = 2_000_000,
    link_base: Path | None = None,
    plotly_src: str = PLOTLY_JS_NAME,
) -> str:
    """Render the whole report page (file links relative to ``link_base``, its folder).

    ``inline_js=False`` references ``plotly_src`` (a relative URL; default
    ``plotly.min.js`` beside the page) instead of embedding it (``write_report`` then
    writes that file). The data island is gzipped when its JSON
    exceeds ``compress_over_bytes`` — small reports stay readable with "view source".
    """
    payload = embed_json(build_payload(data))
    encoding = "json"
    if len(payload) > compress_over_bytes:
        packed = gzip.compress(payload.encode("utf-8"), compresslevel=6, mtime=0)
        payload = base64.b64encode(packed).decode("ascii")
        encoding = "gzip+base64"
    template = _environment().get_template("report.html.j2")
    return template.render(
        **_context(data, link_base),
        payload=Markup(payload),  # embed_json/base64 output cannot close the script
        payload_encoding=encoding,
        css=Markup(_asset("report.css")),
        script=Markup(_asset("report.js").replace("</script", "<\\/script")),
        plotly_inline=Markup(plotly_js()) if inline_js else None,
        plotly_src=plotly_src,
    )
