"""The one place where the report layer touches the disk.

Renderers are pure functions of ``ReportData``; this module writes what they return.
Every file is written to a temporary name in the same directory and moved into place
with ``os.replace``, so a reader (a browser, a CI upload step) never sees half a report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from perf_pipeline.atomic_file import write_atomic
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import ReportData
from perf_pipeline.report.html import PLOTLY_JS_NAME, plotly_js, render_html
from perf_pipeline.report.markdown import render_markdown
from perf_pipeline.report.plots import render_plots

__all__ = ["HTML_NAME", "ReportFiles", "write_report"]

logger = logging.getLogger(__name__)

HTML_NAME = "performance_report.html"


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """The paths ``write_report`` wrote (``None`` for what was not asked for)."""

    html: Path
    pngs: tuple[Path, ...]
    markdown: Path | None = None
    plotly_js: Path | None = None


def write_report(
    data: ReportData,
    out_dir: Path,
    *,
    markdown_path: Path | None = None,
    inline_js: bool = True,
    plots: bool = True,
) -> ReportFiles:
    """Write ``performance_report.html`` and the PNGs into ``out_dir`` (and the Markdown).

    With ``inline_js=False`` the chart library goes to ``plotly.min.js`` beside the page,
    which keeps per-commit pages small when many are kept side by side.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if markdown_path is not None:
            Path(markdown_path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"report directory {out_dir}: cannot create it: {exc}") from exc
    try:
        js_path = None
        if not inline_js:
            js_path = out_dir / PLOTLY_JS_NAME
            write_atomic(js_path, plotly_js().encode("utf-8"))
        html_path = out_dir / HTML_NAME
        page = render_html(data, inline_js=inline_js, link_base=out_dir)
        write_atomic(html_path, page.encode("utf-8"))
        pngs = []
        if plots:
            for name, content in render_plots(data).items():
                write_atomic(out_dir / name, content)
                pngs.append(out_dir / name)
    except OSError as exc:
        raise InvalidInputError(f"report directory {out_dir}: cannot write: {exc}") from exc
    md_path = None
    if markdown_path is not None:
        md_path = Path(markdown_path)
        try:
            write_atomic(md_path, render_markdown(data, link_base=md_path.parent).encode("utf-8"))
        except OSError as exc:
            raise InvalidInputError(f"Markdown report {md_path}: cannot write: {exc} (the "
                                    f"HTML report is in {out_dir})") from exc
    logger.info("report written to %s", html_path)
    return ReportFiles(html=html_path, pngs=tuple(pngs), markdown=md_path, plotly_js=js_path)
