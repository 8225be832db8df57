"""Reports people want to read: Markdown (PR comment), offline HTML, PNG plots.

Renderers are pure functions of ``ReportData``; ``write_report`` does all the file I/O.
"""

from perf_pipeline.report.github import (
    DEFAULT_API_URL,
    DEFAULT_BOT_LOGIN,
    CommentResult,
    GitHubClient,
    prepare_comment_body,
)
from perf_pipeline.report.html import render_html
from perf_pipeline.report.markdown import (
    GITHUB_COMMENT_LIMIT,
    MARKER,
    escape_markdown,
    render_markdown,
)
from perf_pipeline.report.plots import (
    render_correlation_png,
    render_distribution_png,
    render_plots,
    render_trend_png,
)
from perf_pipeline.report.summary import ReportSummary, summarize
from perf_pipeline.report.units import ratio_number
from perf_pipeline.report.writer import HTML_NAME, ReportFiles, write_report

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_BOT_LOGIN",
    "GITHUB_COMMENT_LIMIT",
    "HTML_NAME",
    "MARKER",
    "CommentResult",
    "GitHubClient",
    "ReportFiles",
    "ReportSummary",
    "escape_markdown",
    "prepare_comment_body",
    "ratio_number",
    "render_correlation_png",
    "render_distribution_png",
    "render_html",
    "render_markdown",
    "render_plots",
    "render_trend_png",
    "summarize",
    "write_report",
]
