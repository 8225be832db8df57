"""``comment``: post or update the report on a pull request; ``pr-plan``: how CI gates it."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from perf_pipeline.cli.console import err, out, plain
from perf_pipeline.cli.context import workspace_from
from perf_pipeline.cli.exits import ExitCode
from perf_pipeline.cli.options import add_command, add_repo, add_results_dir
from perf_pipeline.errors import InvalidInputError

__all__ = ["register"]


def cmd_comment(args: argparse.Namespace) -> int:
    """Reads the token from GITHUB_TOKEN. Updates our earlier comment on the PR (found by
    a hidden marker) instead of adding another."""
    from perf_pipeline.pipeline import post_report_comment, resolve_pr_number
    from perf_pipeline.report import DEFAULT_API_URL

    # The token comes from the environment only: a flag would show in process lists.
    token = os.environ.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise InvalidInputError("GITHUB_TOKEN is not set: the comment command reads the "
                                "token from the environment (never from a flag)")
    repo = args.repo or os.environ.get("GITHUB_REPOSITORY", "")
    if not repo:
        raise InvalidInputError("no repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY")
    pr_number = args.pr if args.pr is not None else resolve_pr_number(
        event_path=os.environ.get("GITHUB_EVENT_PATH"), ref=os.environ.get("GITHUB_REF"))
    api_url = args.api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL
    result = post_report_comment(Path(args.report), repo=repo, pr_number=pr_number,
                                 token=token, api_url=api_url, bot_login=args.bot_login)
    out.print(f"{plain(result.action)} comment {plain(result.html_url)}")
    return ExitCode.OK


def cmd_pr_plan(args: argparse.Namespace) -> int:
    """Prints key=value lines for $GITHUB_OUTPUT: mode (gate: screen against the history,
    then confirm each flag by an A/B; ab: the adaptive A/B alone, when the baseline a run
    of this machine would get holds fewer than confirm_min_history commits),
    history_commits, min_history, base_measured (this machine has a successful run of
    --base) and base_has_suite (the PR does not add the suite: with none at the base
    there is no A/B to run, and the mode is gate). A summary goes to stderr."""
    from perf_pipeline.pipeline import plan_pull_request

    with workspace_from(args) as ws:
        plan = plan_pull_request(ws, args.base)
        if not ws.history_exists:  # a first run (no cache yet), or a mistyped path
            err.print(f"note: no history at {plain(ws.settings.history_label)}: the A/B "
                      "alone decides")
    for key, value in plan.outputs().items():
        out.print(f"{key}={value}", markup=False, highlight=False)
    if not plan.base_has_suite:
        err.print(f"note: the base commit {plain((plan.base_sha or '')[:12])} has no "
                  "benchmark suite (none of benchmark_paths is there, or no Python file uses the "
                  "benchmark fixture): every benchmark is "
                  "new, so there is no A/B to run; the PR is measured and reported, not "
                  "judged", highlight=False)
    err.print(f"{plan.history_commits} baseline commit(s) for machine "
              f"{plain(plan.machine_id)} (need {plan.min_history}): mode {plan.mode}"
              + ("" if plan.base_sha is None else
                 f"; base {plan.base_sha[:12]} "
                 f"{'measured' if plan.base_measured else 'not measured'} here"),
              highlight=False)
    return ExitCode.OK


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "pr-plan", cmd_pr_plan,
                    "how CI gates a pull request: history screen + A/B, or the A/B alone")
    p.add_argument("--base", metavar="REF",
                   help="the PR's base commit: is it measured on this machine?")
    add_repo(p)
    add_results_dir(p)
    p = add_command(sub, "comment", cmd_comment,
                    "post or update the report as a pull-request comment")
    p.add_argument("--report", default="performance-report.md",
                   help="Markdown report to post (default: ./performance-report.md)")
    p.add_argument("--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY)")
    p.add_argument("--pr", type=int, help="PR number (default: from $GITHUB_EVENT_PATH "
                   "or $GITHUB_REF refs/pull/N/merge)")
    p.add_argument("--api-url", help="REST API URL, e.g. https://ghe.example.com/api/v3 "
                   "(default: $GITHUB_API_URL or https://api.github.com)")
    p.add_argument("--bot-login", default="github-actions[bot]",
                   help="who a token that may not ask GET /user posts as (default "
                        "github-actions[bot]; a GitHub App's token: APPNAME[bot]); only "
                        "our own marker comment is ever edited")
