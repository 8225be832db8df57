"""Commands that judge runs and write reports: ``analyze``, ``ab``, ``stress``,
``visualize``."""

from __future__ import annotations

import argparse
from pathlib import Path

from perf_pipeline.atomic_file import check_writable_file
from perf_pipeline.cli.console import plain, progress_bar
from perf_pipeline.cli.context import workspace_from
from perf_pipeline.cli.exits import ExitCode
from perf_pipeline.cli.options import (
    add_command,
    add_commit_pair,
    add_json,
    add_repo,
    add_report_url,
    add_results_dir,
    add_stats,
)
from perf_pipeline.cli.present.json_doc import present
from perf_pipeline.errors import InvalidInputError

__all__ = ["register"]

#: Rounds of the fixed-round ``ab`` by default (``--rounds``).
DEFAULT_AB_ROUNDS = 10


def cmd_analyze(args: argparse.Namespace) -> int:
    """Exit codes: 0 no significant regression, 1 significant regression(s), 2 bad usage
    or bad input. PERFORMANCE_THRESHOLD and SIGNIFICANCE_LEVEL set the defaults; flags win.
    """
    from perf_pipeline.cli.present.analyze import analyze_json, print_analyze
    from perf_pipeline.pipeline import analyze_results_dir

    report = Path(args.report)
    # Before the baseline is pinned or a confirmation measures for minutes.
    check_writable_file(report, "--report")
    if args.baseline is not None and not args.update_baseline \
            and not Path(args.baseline).exists():
        # A baseline named outright is the one to judge against: a mistyped path was read
        # as "no pinned file", and the run judged against the rolling baseline in silence.
        raise InvalidInputError(f"--baseline {args.baseline} does not exist: name an "
                                "existing baseline file (with --update-baseline, the run "
                                "is pinned there)")
    with workspace_from(args) as ws, \
            progress_bar("analyzing (A/B rounds confirming flags)", quiet=args.json) as bar:
        outcome = analyze_results_dir(ws, report_path=report,
                                      update_baseline=args.update_baseline,
                                      baseline_named=args.baseline is not None
                                      and Path(args.baseline).exists(),
                                      on_round=bar.update)
    code = (ExitCode.REGRESSION if outcome.has_regression
            else ExitCode.BAD_INPUT if outcome.ingest.errors else ExitCode.OK)
    return present("analyze", code, as_json=args.json,
                   document=lambda: analyze_json(outcome, report),
                   text=lambda: print_analyze(outcome, report))


def cmd_ab(args: argparse.Namespace) -> int:
    """Measures BASE and CANDIDATE alternately (random order per round) on this machine
    and compares each benchmark's per-round values (a side's fastest sample) with a paired
    test, Holm-corrected.
    Use it to confirm a suspect commit against its parent. Nothing is added to the
    history.
    """
    from perf_pipeline.cli.present.ab import ab_json, print_ab
    from perf_pipeline.measure.ab_selection import ABSelection
    from perf_pipeline.pipeline import run_ab, run_adaptive_ab

    if args.controls and not args.adaptive:
        raise InvalidInputError("--control needs --adaptive (the fixed-round design tests "
                                "every benchmark it measures)")
    # Each design has its own round flag; one given to the other would be ignored.
    if args.adaptive and args.rounds is not None:
        raise InvalidInputError("--rounds sets the fixed-round design; with --adaptive use "
                                "--max-rounds (the most rounds before it stops)")
    if not args.adaptive and args.max_rounds is not None:
        raise InvalidInputError("--max-rounds needs --adaptive; the fixed-round design "
                                "takes --rounds")
    if not args.adaptive and args.ab_prior is not None:
        raise InvalidInputError("--prior needs --adaptive (the fixed-round design's "
                                "signed-rank test uses no variance)")
    check_writable_file(Path(args.report), "--report")
    select = ABSelection(node_ids=tuple(args.node_ids), keyword=args.select,
                         controls=tuple(args.controls))
    ws = workspace_from(args)
    report = Path(args.report)
    label = f"A/B: {plain(args.candidate)} against {plain(args.base)}, rounds"
    with ws, progress_bar(label, quiet=args.json) as bar:
        if args.adaptive:
            outcome = run_adaptive_ab(ws, args.base, args.candidate,
                                      max_rounds=args.max_rounds, seed=args.seed,
                                      report_path=report, select=select,
                                      budget_s=ws.settings.confirm_budget_s, on_round=bar.update)
        else:
            outcome = run_ab(ws, args.base, args.candidate,
                             rounds=DEFAULT_AB_ROUNDS if args.rounds is None else args.rounds,
                             seed=args.seed, report_path=report, select=select,
                             on_round=bar.update)
    code = ExitCode.REGRESSION if outcome.regressed else ExitCode.OK
    return present("ab", code, as_json=args.json, document=lambda: ab_json(outcome, report),
                   text=lambda: print_ab(outcome, report))


def cmd_visualize(args: argparse.Namespace) -> int:
    """Ingests new result files, then writes the HTML report and PNG plots of the whole
    history to <results-dir>/reports/."""
    from perf_pipeline.cli.present.results import print_history_report, print_ingest_errors
    from perf_pipeline.pipeline import ingest_results, write_history_report

    with workspace_from(args) as ws:
        with progress_bar("ingesting result files") as bar:
            summary = ingest_results(ws, on_file=bar.update)
        print_ingest_errors(summary)
        print_history_report(*write_history_report(ws))
    # The report is written from what could be read; a bad file is still bad input, as
    # for `ingest` and `analyze` (it once exited 0).
    return ExitCode.BAD_INPUT if summary.errors else ExitCode.OK


def cmd_stress(args: argparse.Namespace) -> int:
    """Judges REF's stress run in the history (`perf-pipeline run --suite stress`, or the
    nightly job) against the previous stress run on this machine at the same
    STRESS_MULTIPLIER. With confirm=auto every figure that comparison flags is measured
    again in fresh interleaved pairs of runs of both commits, and the pairs decide.
    Writes stress-report.md and .html under the commit's report folder. Exit codes: 0 no
    confirmed stress regression, 1 confirmed stress regression(s) (or, with confirm=off,
    the comparison's), 2 bad usage or bad input (no stress run of REF).
    """
    from perf_pipeline.cli.present.stress import print_stress
    from perf_pipeline.measure.git import resolve_commit
    from perf_pipeline.pipeline.stress import analyze_stress_commit

    with workspace_from(args) as ws, progress_bar("judging stress figures (fresh pairs "
                                                  "confirming flags)"):
        sha = resolve_commit(ws.settings.repo_path, args.ref)
        outcome = analyze_stress_commit(ws, sha)
    print_stress(outcome)
    return ExitCode.REGRESSION if outcome.regressions else ExitCode.OK


def register(sub: argparse._SubParsersAction) -> None:
    # Measuring: its confirmation runs A/B rounds of pytest processes, which SIGTERM and
    # SIGHUP must end cleanly (the run recorded, temp folders removed, a --json document).
    p = add_command(sub, "analyze", cmd_analyze,
                    "judge the newest run against the baseline; write the report",
                    measuring=True)
    add_results_dir(p)
    add_stats(p)
    p.add_argument("--update-baseline", action="store_true",
                   help="make the newest run the (pinned) baseline after judging it")
    p.add_argument("--report", default="performance-report.md",
                   help="where to write the Markdown report (default: ./performance-report.md)")
    add_report_url(p)
    p.add_argument("--baseline", help="baseline file to judge against, pinned or rolling, "
                   "which must exist and is never rewritten (with --update-baseline: where "
                   "the run is pinned; default: the pinned file "
                   "<results-dir>/baseline/performance_baseline.json, else the rolling "
                   "baseline of the history)")
    p.add_argument("--confirm", choices=("auto", "off"),
                   help="auto: the baseline comparison is a screen and every flag is "
                        "confirmed by an interleaved A/B when the run's and the baseline's "
                        "commits are in --repo; off: the comparison alone decides "
                        "(default: PERF_PIPELINE_CONFIRM or auto)")
    add_repo(p, "target git repo for the confirmation (default: settings)")
    add_json(p)

    p = add_command(sub, "stress", cmd_stress,
                    "judge a commit's stress run; confirm its flags by fresh pairs of runs",
                    measuring=True)
    p.add_argument("ref", nargs="?", default="HEAD")
    p.add_argument("--confirm", choices=("auto", "off"),
                   help="auto: confirm each flagged figure by fresh interleaved pairs of "
                        "stress runs of both commits; off: the comparison alone decides "
                        "(default: PERF_PIPELINE_CONFIRM or auto)")
    add_repo(p)
    add_results_dir(p)

    p = add_command(sub, "visualize", cmd_visualize,
                    "write the HTML report and PNG plots of the history")
    add_results_dir(p)
    p.add_argument("--baseline", help="baseline file (default: in the results dir)")
    add_report_url(p)

    p = add_command(sub, "ab", cmd_ab,
                    "interleaved A/B run of two commits, compared round by round",
                    measuring=True)
    add_commit_pair(p)
    p.add_argument("--rounds", type=int,
                   help=f"fixed design: rounds of both commits (default {DEFAULT_AB_ROUNDS}: "
                        "enough for up to 9 benchmarks and the suite-wide shift at alpha "
                        "0.01; 13 for 50, 17 for 1,000)")
    p.add_argument("--seed", type=int, help="seed of the order of each round (default random)")
    p.add_argument("--processes", dest="ab_processes", type=int, metavar="N",
                   help="pytest processes per commit and round, alternating; a round's "
                        "value is the fastest sample of them (default: "
                        "PERF_PIPELINE_AB_PROCESSES or 2)")
    p.add_argument("--prior", dest="ab_prior", choices=("auto", "off"),
                   help="with --adaptive: auto moderates each benchmark's t by this "
                        "machine's spread per round recorded by perf-pipeline calibrate, "
                        "if any; off uses the rounds' own spread only (default: "
                        "PERF_PIPELINE_AB_PRIOR or auto)")
    add_repo(p)
    add_results_dir(p)
    add_stats(p)
    p.add_argument("--report", default="performance-report-ab.md",
                   help="Markdown report path (default: ./performance-report-ab.md)")
    add_report_url(p)
    p.add_argument("--adaptive", action="store_true",
                   help="sequential design: measure a round at a time and stop when every "
                        "benchmark is decided (a level spent over the looks keeps early "
                        "stopping valid); at most --max-rounds and confirm_budget_s")
    p.add_argument("--max-rounds", type=int,
                   help="with --adaptive: most rounds (default 20, at least 5)")
    p.add_argument("-k", "--select", metavar="EXPRESSION",
                   help="only benchmarks matching this pytest -k expression")
    p.add_argument("--node-id", dest="node_ids", action="append", default=[],
                   metavar="NODE_ID", help="only this benchmark (pytest node id relative to "
                   "the project dir, e.g. tests/test_x.py::test_y); repeatable")
    p.add_argument("--control", dest="controls", action="append", default=[],
                   metavar="NODE_ID",
                   help="with --adaptive: measure this benchmark (or file, class) in every "
                        "round but do not test it; each round's suite factor is the "
                        "controls' median, so a few --node-id targets still lose their "
                        "process's factor. At least two; not with -k; repeatable")
    add_json(p)
