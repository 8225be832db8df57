"""The one place where the report layer touches the disk.

Renderers are pure functions of ``ReportData``; this module writes what they return.
Every file is written to a temporary name in the same directory and moved into place
with ``os.replace``, so a reader (a browser, a CI upload step) never sees half a report.

A report is several files (the Markdown, the HTML page, the PNGs), and no rename moves
them together: an ``analyze`` killed after its Markdown left the new verdict beside the
previous analysis's page and plots, which a reader takes for one report. The Markdown
often lives elsewhere (``--report``), so a fresh folder swapped into place cannot hold
the set. So the previous report's page and plots are deleted before the new Markdown
lands, and what a kill leaves is the old Markdown alone, the new one alone, or the new
one beside its own page and some of its plots: missing files, never files of two
reports. Everything is rendered before the first file changes, so that window is a few
renames long; and writers of one folder take turns (a lock on the folder itself).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from perf_pipeline.atomic_file import write_atomic
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.file_lock import exclusive_lock
from perf_pipeline.model import ReportData
from perf_pipeline.report.html import PLOTLY_JS_NAME, plotly_js, render_html
from perf_pipeline.report.markdown import render_markdown
from perf_pipeline.report.plots import PLOT_FILES, render_plots

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
    so a failure further on (a plot, the HTML) must not take it with it. The previous
    report's page and plots in ``out_dir`` are deleted before it (see the module's
    docstring), so however the write ends the files there are of one report.
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
    md_path = None if markdown_path is None else Path(markdown_path)
    markdown = (None if md_path is None
                else render_markdown(data, link_base=md_path.parent).encode("utf-8"))
    html_path = out_dir / HTML_NAME
    with exclusive_lock(out_dir):
        page = b""
        pngs: dict[str, bytes] = {}
        try:
            src = Path(os.path.relpath(js_dir / PLOTLY_JS_NAME, out_dir)).as_posix()
            page = render_html(data, inline_js=inline_js, link_base=out_dir,
                               plotly_src=src).encode("utf-8")
            pngs = render_plots(data) if plots else {}
        finally:  # a page or plot that cannot be drawn must not take the Markdown with it
            _retire_previous(out_dir)
            if md_path is not None and markdown is not None:
                try:
                    write_atomic(md_path, markdown)
                except OSError as exc:
                    raise InvalidInputError(
                        f"Markdown report {md_path}: cannot write: {exc}") from exc
        try:
            js_path = None
            if not inline_js:
                js_path = js_dir / PLOTLY_JS_NAME
                _write_plotly_js(js_path)
            write_atomic(html_path, page)
            for name, content in pngs.items():
                write_atomic(out_dir / name, content)
        except OSError as exc:
            raise InvalidInputError(f"report directory {out_dir}: cannot write: {exc}") from exc
    logger.info("report written to %s", html_path)
    return ReportFiles(html=html_path, pngs=tuple(out_dir / name for name in pngs),
                       markdown=md_path, plotly_js=js_path)


def _retire_previous(out_dir: Path) -> None:
    """Delete the previous report's page and plots in ``out_dir``, before the new
    Markdown is written: beside it they would pass for its own."""
    for name in (HTML_NAME, *PLOT_FILES):
        try:
            (out_dir / name).unlink(missing_ok=True)
        except OSError as exc:
            raise InvalidInputError(
                f"report directory {out_dir}: cannot remove the previous {name}: {exc}"
            ) from exc
