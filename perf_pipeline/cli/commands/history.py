"""Commands that measure commits through Dagster: ``demo``, ``register-commit``, ``backfill``."""

from __future__ import annotations

import argparse
from pathlib import Path

from perf_pipeline.cli.console import err, out, plain, progress_bar
from perf_pipeline.cli.context import settings_from, workspace_from
from perf_pipeline.cli.exits import ExitCode
from perf_pipeline.cli.options import add_command, add_dagster_home, add_json, add_repo
from perf_pipeline.cli.present.json_doc import present
from perf_pipeline.errors import InvalidInputError

__all__ = ["register"]


def cmd_demo(args: argparse.Namespace) -> int:
    """Builds a five-commit history of the example target (the last one a real slowdown)
    and measures, judges and reports every commit through Dagster."""
    from perf_pipeline.cli.present.demo import print_demo
    from perf_pipeline.demo import run_demo

    with err.status("perf-pipeline demo") as status:
        result = run_demo(Path(args.dir), on_progress=lambda msg: (
            status.update(f"[bold]demo[/] {plain(msg)}"), err.print(f"• {plain(msg)}")))
    print_demo(result)
    # The slow commit is expected to fail its gate; the demo itself succeeded if every
    # commit was measured and reported.
    measured = all(a is not None for a in result.analyses)
    return ExitCode.OK if measured else ExitCode.BAD_INPUT


def cmd_register_commit(args: argparse.Namespace) -> int:
    """Adds commits as partitions of the Dagster instance, so that
    `dagster asset materialize --partition SHA` can measure them."""
    from perf_pipeline.defs.launch import open_instance, register_commits
    from perf_pipeline.measure import resolve_commit

    settings = settings_from(args)
    shas = [resolve_commit(settings.repo_path, ref) for ref in args.refs]
    instance = open_instance(Path(args.dagster_home) if args.dagster_home else None)
    added = set(register_commits(instance, shas))
    for sha in shas:
        out.print(f"{sha} {'registered' if sha in added else 'already registered'}")
    return ExitCode.OK


def cmd_backfill(args: argparse.Namespace) -> int:
    """Measures, judges and reports the last N commits of a branch, oldest first, once
    each (measured ones are skipped), and prints each commit's verdict as it is done.
    Exit 1 if a commit's regression gate failed, 2 if a commit's run broke."""
    from perf_pipeline.cli.present.backfill import (
        CommitVerdict,
        backfill_json,
        commit_verdict,
        print_backfill,
        print_commit_verdict,
    )
    from perf_pipeline.defs.backfill import backfill_branch
    from perf_pipeline.defs.launch import CommitMaterialization, open_instance
    from perf_pipeline.pipeline import read_commit_analysis, read_commit_confirmation

    if args.last < 1:
        raise InvalidInputError(f"--last must be at least 1, not {args.last}")
    ws = workspace_from(args)
    instance = open_instance(Path(args.dagster_home) if args.dagster_home else None)
    verdicts: list[CommitVerdict] = []
    # Dagster's own console log only with -v: a failed commit is told by its line.
    dagster_log = "DEBUG" if getattr(args, "verbose", False) else "CRITICAL"
    with ws, progress_bar("backfill: commits", quiet=args.json) as bar:
        def planned(shas: tuple[str, ...]) -> None:
            bar.update(0, len(shas))

        def done(outcome: CommitMaterialization) -> None:
            analysis = read_commit_analysis(ws, outcome.sha)
            confirmation = (read_commit_confirmation(ws, outcome.sha,
                                                     run_id=analysis.run_id)
                            if analysis is not None else None)
            verdicts.append(commit_verdict(outcome, analysis, confirmation))
            bar.advance()
            print_commit_verdict(verdicts[-1], console=err if args.json else out)

        result = backfill_branch(instance=instance, ws=ws, last=args.last,
                                 branch=args.branch, force=args.force, on_commit=done,
                                 on_plan=planned, log_level=dagster_log)
    if result.tip_without_suite:
        err.print(f"error: the newest commit, {result.shas[-1][:10]}, has no benchmark suite "
                  "either: check the `benchmark_paths` and `project_subdir` settings")
    code = (ExitCode.BAD_INPUT if result.broken or result.tip_without_suite
            else ExitCode.REGRESSION if result.regressed else ExitCode.OK)
    return present("backfill", code, as_json=args.json,
                   document=lambda: backfill_json(result, verdicts),
                   text=lambda: print_backfill(result))


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "demo", cmd_demo,
                    "measure a throw-away history of the example target", measuring=True)
    p.add_argument("--dir", default="perf-demo",
                   help="where the demo repo and its results go (default: ./perf-demo)")

    p = add_command(sub, "register-commit", cmd_register_commit,
                    "add commits as Dagster partitions (before --partition SHA)")
    p.add_argument("refs", nargs="+", metavar="REF")
    add_repo(p)
    add_dagster_home(p)

    p = add_command(sub, "backfill", cmd_backfill,
                    "measure the last N commits of a branch, oldest first, once each; "
                    "prints each commit's verdict as it is done", measuring=True)
    p.add_argument("--last", type=int, default=50, help="how many commits (default 50)")
    p.add_argument("--branch", help="branch to walk back from (default: main_branch)")
    add_repo(p)
    add_dagster_home(p)
    p.add_argument("--force", action="store_true", help="re-measure measured commits too")
    add_json(p)
