"""Options that several commands share, defined once so they read the same everywhere."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable

__all__ = [
    "add_command",
    "add_commit_pair",
    "add_dagster_home",
    "add_json",
    "add_repo",
    "add_report_url",
    "add_results_dir",
    "add_stats",
]


def add_command(sub: argparse._SubParsersAction, name: str,
                func: Callable[[argparse.Namespace], int], help: str, *,
                measuring: bool = False) -> argparse.ArgumentParser:
    """The subcommand ``name`` that runs ``func``; its ``--help`` text is ``func``'s docstring.

    ``measuring`` commands run suites, so SIGTERM/SIGHUP end the suite cleanly first.
    """
    parser = sub.add_parser(name, help=help, description=inspect.getdoc(func))
    parser.set_defaults(func=func, measuring=measuring)
    return parser


def add_repo(parser: argparse.ArgumentParser, help: str = "target git repo (default: settings)"
             ) -> None:
    parser.add_argument("--repo", help=help)


def add_results_dir(parser: argparse.ArgumentParser) -> None:
    """``--results-dir`` and, with it, where the history store is (``--history``)."""
    parser.add_argument("--results-dir",
                        help="results directory (default: $PERF_PIPELINE_RESULTS_DIR, "
                             "results_dir in perf_pipeline.toml, else test-results)")
    parser.add_argument("--history", dest="history_url", metavar="PATH_OR_URL",
                        help="history store: a SQLite file or a postgresql:// URL shared by "
                             "several machines (default: <results-dir>/perf_history.db; "
                             "prefer $PERF_PIPELINE_HISTORY_URL for a URL with a password)")


def add_dagster_home(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dagster-home", help="instance directory (default: $DAGSTER_HOME)")


def add_stats(parser: argparse.ArgumentParser) -> None:
    """``--threshold`` and ``--significance``: the two numbers a verdict depends on."""
    parser.add_argument("--threshold", type=float,
                        help="ratio above which a significant slowdown is a regression "
                             "(default: $PERFORMANCE_THRESHOLD or 1.2)")
    parser.add_argument("--significance", type=float,
                        help="significance level, family-wise across the suite (default: "
                             "$SIGNIFICANCE_LEVEL or 0.01)")


def add_report_url(parser: argparse.ArgumentParser) -> None:
    """``--report-url``: where the HTML report is published, for the Markdown to link."""
    parser.add_argument("--report-url", metavar="URL",
                        help="the HTML report's http(s) address, linked by the Markdown "
                             "report and the PR comment; {path} in it becomes the report's "
                             "path under the results dir (default: $PERF_PIPELINE_REPORT_URL;"
                             " unset, in GitHub Actions the workflow run's page)")


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document on stdout (and nothing else there); "
                             "no progress bars. The shape is in the README, 'For machines: "
                             "--json'")


def add_commit_pair(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base", metavar="BASE", help="the reference commit, e.g. HEAD~1")
    parser.add_argument("candidate", metavar="CANDIDATE",
                        help="the commit under test, e.g. HEAD")
