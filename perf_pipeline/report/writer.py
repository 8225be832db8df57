"""The one place where the report layer touches the disk.

Renderers are pure functions of ``ReportData``; this module writes what they return.
Every file is written to a temporary name in the same directory and moved into place
with ``os.replace``, so a reader (a browser, a CI upload step) never sees half a report.
"""

from __future__ import annotations

import logging
import os
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


def _write_plotly_js(path: Path) -> None:
    """The chart library at ``path``, rewritten only when it differs (a shared copy is
    read by every page beside it; an unchanged one need not be written again)."""
    content = plotly_js().encode("utf-8")
    try:
        if path.stat().st_size == len(content) and path.read_bytes() == content:
            return
    except OSError:
        pass  # missing or unreadable: written below
    write_atomic(path, content)


def write_report(
    data: ReportData,
    out_dir: Path,
    *,
    markdown_path: Path | None = None,
    inline_js: bool = True,
    plots: bool = True,
    js_dir: Path | None = None,
) -> ReportFiles:
    """Write ``performance_report.html`` and the PNGs into ``out_dir`` (and the Markdown).

    With ``inline_js=False`` the page loads the chart library from ``plotly.min.js`` in
    ``js_dir`` (default: ``out_dir``), by a relative link: per-commit pages then share
    one 4.8 MB copy instead of carrying one each.

    The Markdown is written first: it is the PR comment and what the gate's readers see,
    so a failure further on (a plot, the HTML) must not take it with it.
    """
    out_dir = Path(out_dir)
    js_dir = out_dir if js_dir is None else Path(js_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if not inline_js:
            js_dir.mkdir(parents=True, exist_ok=True)
        if markdown_path is not None:
            Path(markdown_path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"report directory {out_dir}: cannot create it: {exc}") from exc
    md_path = None
    if markdown_path is not None:
        md_path = Path(markdown_path)
        try:
            write_atomic(md_path, render_markdown(data, link_base=md_path.parent).encode("utf-8"))
        except OSError as exc:
            raise InvalidInputError(f"Markdown report {md_path}: cannot write: {exc}") from exc
    try:
        js_path = None
        if not inline_js:
            js_path = js_dir / PLOTLY_JS_NAME
            _write_plotly_js(js_path)
        html_path = out_dir / HTML_NAME
        src = Path(os.path.relpath(js_dir / PLOTLY_JS_NAME, out_dir)).as_posix()
        page = render_html(data, inline_js=inline_js, link_base=out_dir, plotly_src=src)
        write_atomic(html_path, page.encode("utf-8"))
        pngs = []
        if plots:
            for name, content in render_plots(data).items():
                write_atomic(out_dir / name, content)
                pngs.append(out_dir / name)
    except OSError as exc:
        raise InvalidInputError(f"report directory {out_dir}: cannot write: {exc}") from exc
    logger.info("report written to %s", html_path)
    return ReportFiles(html=html_path, pngs=tuple(pngs), markdown=md_path, plotly_js=js_path)
