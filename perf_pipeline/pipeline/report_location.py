"""Where a reader of the Markdown report finds its HTML report: the reporting steps ask here.

The Markdown report is what travels (the PR comment, the job summary); the HTML report,
with every row the comment had to leave out for GitHub's size limit, stays a file. Its
address is the ``report_url`` setting when the HTML is published somewhere; else, in
GitHub Actions, the workflow run's page, whose artifacts hold it; and in every case its
path under the results dir (what such an artifact holds). Nothing here reads a token: the
run's address is built from three variables Actions sets, each checked, and a variable
that is not what Actions writes gives no link at all rather than a wrong one.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.http_url import check_http_url, check_report_url, report_url_for, shown_url
from perf_pipeline.model import ReportData
from perf_pipeline.report import HTML_NAME
from perf_pipeline.workspace import Workspace

__all__ = ["github_run_url", "with_report_location"]

logger = logging.getLogger(__name__)

#: ``owner/name`` as GitHub allows them (what ``GITHUB_REPOSITORY`` holds).
_REPOSITORY_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_RUN_ID_RE = re.compile(r"^[1-9][0-9]{0,19}$")


def github_run_url(environ: Mapping[str, str]) -> str | None:
    """``$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID``, the page of
    a GitHub Actions run (its artifacts are listed there), or ``None`` unless all three
    are set and well-formed: the server an http(s) origin with no user info, path, query
    or fragment; the repository ``owner/name``; the run id a number."""
    server = environ.get("GITHUB_SERVER_URL", "").strip()
    repository = environ.get("GITHUB_REPOSITORY", "").strip()
    run_id = environ.get("GITHUB_RUN_ID", "").strip()
    if not (server and repository and run_id):
        return None
    try:
        parsed = check_http_url(server, "GITHUB_SERVER_URL", "https://github.com")
    except InvalidInputError as exc:
        logger.warning("no link to the workflow run: %s", exc)
        return None
    if (parsed.username is not None or parsed.password is not None or parsed.query
            or parsed.fragment or parsed.path.strip("/")):
        logger.warning("no link to the workflow run: GITHUB_SERVER_URL %r is not an "
                       "origin (scheme, host, port)", shown_url(server))
        return None
    if not _REPOSITORY_RE.match(repository) or repository.split("/")[1] in (".", ".."):
        logger.warning("no link to the workflow run: GITHUB_REPOSITORY is not owner/name")
        return None
    if not _RUN_ID_RE.match(run_id):
        logger.warning("no link to the workflow run: GITHUB_RUN_ID is not a run number")
        return None
    return f"{server.rstrip('/')}/{repository}/actions/runs/{run_id}"


def _shown_path(ws: Workspace, html: Path) -> tuple[str, str | None]:
    """The HTML file as the report names it: under the results dir as configured
    (``test-results/reports/…``, the path an artifact of that dir holds), and its path
    inside the results dir (``None``: outside it)."""
    try:
        inside = html.relative_to(ws.layout.root).as_posix()
    except ValueError:
        return str(html), None
    return (ws.settings.results_dir / inside).as_posix(), inside


def with_report_location(ws: Workspace, data: ReportData, out_dir: Path, *,
                         report_url: str | None = None,
                         environ: Mapping[str, str] | None = None) -> ReportData:
    """``data`` with where its HTML report (``out_dir/performance_report.html``) is found:
    ``report_url`` (else the setting, its ``{path}`` filled in); without one, in GitHub
    Actions, the run's page; and the file's path."""
    if report_url:
        check_report_url(report_url)
    shown, inside = _shown_path(ws, Path(out_dir) / HTML_NAME)
    url = report_url or ws.settings.report_url or None
    if url and inside is None and "{path}" in url:
        url = None  # no path to put in it
    elif url:
        url = report_url_for(url, inside or "")
    run_url = None if url else github_run_url(os.environ if environ is None else environ)
    return replace(data, report_url=url, report_run_url=run_url, report_path=shown)
