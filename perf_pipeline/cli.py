"""The ``perf-pipeline`` command.

Each subcommand reads its arguments, calls one library function, prints the result and
returns an exit code. Errors are mapped to exit codes here and nowhere else:
0 no significant regression · 1 significant regression · 2 bad usage or bad input ·
3 internal error (a bug: one line here, the traceback in a log file) · 128 + N killed by
signal N (130 Ctrl-C, 129 SIGHUP, 143 SIGTERM).

Every piece of untrusted text (names, paths, refs, messages from files, suites and
servers) is printed through ``_plain``, which escapes rich markup and control characters.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import tempfile
import traceback
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from perf_pipeline.errors import (
    Interrupted,
    InvalidInputError,
    PerfPipelineError,
    interruption_text,
)

if TYPE_CHECKING:
    from perf_pipeline.pipeline import AnalyzeOutcome

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL_ERROR = 3
EXIT_SIGINT = 130

#: Commands that run suites: SIGTERM/SIGHUP end the suite and record the run as failed.
_MEASURING_COMMANDS = frozenset({"run", "ab", "backfill", "calibrate", "demo", "profile"})
_HANDLED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                         if hasattr(signal, name))
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# Piped output (CI logs) gets a wide fixed width instead of rich's 80-column default.
# No emoji codes: a benchmark named ``test_:smile:`` must print as it is named.
_out = Console(highlight=False, emoji=False, soft_wrap=True,
               width=None if sys.stdout.isatty() else 160)
_err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)


def _plain(value: object) -> str:
    """Untrusted text made safe to print with rich: the ONE way such text is printed.

    Rich markup is escaped (``test_x[/data/a.csv]`` is a legal parametrized name, and
    ``[/]`` would crash rich), control characters are shown as ``\\xNN`` (no terminal
    escape sequences from a file), and lone surrogates (undecodable bytes of a path) as
    ``\\udcNN`` so that writing them cannot fail.
    """
    text = str(value).encode("utf-8", "backslashreplace").decode("utf-8")
    return escape(_CONTROL_CHARS.sub(lambda m: f"\\x{ord(m.group()):02x}", text))


def _short(name: str) -> str:
    """A benchmark's name without its file, made safe to print."""
    return _plain(name.split("::", 1)[1] if "::" in name else name)


def cmd_demo(args: argparse.Namespace) -> int:
    from perf_pipeline.demo import describe_stages, run_demo

    with _err.status("perf-pipeline demo") as status:
        result = run_demo(Path(args.dir), on_progress=lambda msg: (
            status.update(f"[bold]demo[/] {_plain(msg)}"), _err.print(f"• {_plain(msg)}")))
    table = Table(title="Median time per round (ms) by commit, oldest first")
    table.add_column("benchmark", no_wrap=True)
    by_sha = {run.sha: run for run in result.runs}
    for sha in result.shas:
        table.add_column(sha[:8], justify="right")
    table.add_column("last / first", justify="right")
    names = sorted({b.name for run in result.runs for b in run.benchmarks})
    for name in names:
        cells, medians = [], []
        for sha in result.shas:
            run = by_sha.get(sha)
            bench = run.benchmark(name) if run else None
            medians.append(bench.median_s if bench else None)
            cells.append(f"{bench.median_s * 1e3:.2f}" if bench else "–")
        first, last = medians[0], medians[-1]
        ratio = f"{last / first:.2f}x" if first and last else "–"
        table.add_row(_plain(name.rsplit("::", 1)[-1]), *cells, ratio)
    _out.print(table)
    _out.print("\nVerdict per commit (screen against the rolling baseline of the commits "
               "before it, then each flag confirmed by an interleaved A/B):")
    for sha, msg, outcome, analysis, confirmation in zip(
            result.shas, result.messages, result.outcomes, result.analyses,
            result.confirmations or (None,) * len(result.shas), strict=True):
        if analysis is None or analysis.comparison is None:
            verdict = ("no baseline yet" if outcome.success
                       else f"[red]failed[/] {_plain(outcome.error or '')}")
        else:
            verdict = _plain(describe_stages(confirmation))
        _out.print(f"  {sha[:8]} {_plain(msg)}: {verdict}")
    s = result.settings
    last = result.report_dir(result.shas[-1])
    _out.print(f"\ntarget repo:   {_plain(s.repo_path)}\nhistory db:    {_plain(s.db_path)}\n"
               f"raw results:   {_plain(s.raw_dir)}\nbaseline:      {_plain(s.baseline_path)}\n"
               f"dagster home:  {_plain(result.root / 'dagster_home')}\n"
               f"report (md):   {_plain(last / 'performance-report.md')}\n"
               f"report (html): {_plain(last / 'performance_report.html')}")
    # The slow commit is expected to fail its gate; the demo itself succeeded if every
    # commit was measured and reported.
    measured = all(a is not None for a in result.analyses)
    return EXIT_OK if measured else EXIT_BAD_INPUT


def cmd_register_commit(args: argparse.Namespace) -> int:
    from perf_pipeline.config import load_settings
    from perf_pipeline.defs.launch import open_instance, register_commits
    from perf_pipeline.measure import resolve_commit

    settings = load_settings(repo_path=args.repo)
    shas = [resolve_commit(settings.repo_path, ref) for ref in args.refs]
    instance = open_instance(Path(args.dagster_home) if args.dagster_home else None)
    added = set(register_commits(instance, shas))
    for sha in shas:
        _out.print(f"{sha} {'registered' if sha in added else 'already registered'}")
    return EXIT_OK


def cmd_backfill(args: argparse.Namespace) -> int:
    from perf_pipeline.defs.backfill import backfill_branch
    from perf_pipeline.defs.launch import open_instance
    from perf_pipeline.workspace import Workspace

    ws = Workspace.load(repo_path=args.repo)
    instance = open_instance(Path(args.dagster_home) if args.dagster_home else None)

    def show(outcome) -> None:
        state = "ok" if outcome.success else f"failed: {outcome.error or ''}".strip()
        if outcome.failed_checks:
            state = f"gate failed ({', '.join(outcome.failed_checks)})"
        _out.print(f"{_plain(outcome.sha[:10])} {_plain(state)}")

    result = backfill_branch(instance=instance, ws=ws, last=args.last,
                             branch=args.branch, force=args.force, on_commit=show)
    _out.print(f"{len(result.measured)} commit(s) measured, {len(result.skipped)} already "
               "measured (use --force to re-measure)")
    if result.broken:
        return EXIT_BAD_INPUT
    return EXIT_REGRESSION if result.regressed else EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from perf_pipeline.measure import measure_commit
    from perf_pipeline.model import RunStatus
    from perf_pipeline.workspace import Workspace

    with Workspace.load(repo_path=args.repo, results_dir=args.results_dir) as ws, \
            _err.status(f"measuring {_plain(args.ref)}"):
        run = measure_commit(ws.settings, args.ref, suite=args.suite, store=ws.store)
    if run.status is RunStatus.FAILED:
        _err.print(f"error: {args.suite} suite failed at {run.sha}: {_plain(run.error)}")
        return EXIT_BAD_INPUT
    for bench in run.benchmarks:
        _out.print(f"{bench.median_s * 1e3:10.3f} ms  {_short(bench.name)}")
    _out.print(f"run {_plain(run.run_id)} at {run.sha}: {len(run.benchmarks)} benchmarks, "
               f"raw files in {_plain(run.raw_path)}")
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    from perf_pipeline.pipeline import ingest_results
    from perf_pipeline.workspace import Workspace

    with Workspace.load(results_dir=args.results_dir) as ws:
        summary = ingest_results(ws)
    _out.print(f"ingested {len(summary.ingested)} new run(s), "
               f"{len(summary.skipped)} already known, {len(summary.errors)} bad file(s)")
    for path, message in summary.errors:
        _err.print(f"error: {_plain(path)}: {_plain(message)}")
    return EXIT_BAD_INPUT if summary.errors else EXIT_OK


def cmd_analyze(args: argparse.Namespace) -> int:
    from perf_pipeline.pipeline import analyze_results_dir
    from perf_pipeline.workspace import Workspace

    with Workspace.load(results_dir=args.results_dir, threshold=args.threshold,
                        alpha=args.significance, baseline_file=args.baseline,
                        repo_path=args.repo, confirm=args.confirm) as ws, \
            _err.status("analyzing") as status:
        outcome = analyze_results_dir(
            ws, report_path=Path(args.report), update_baseline=args.update_baseline,
            on_round=lambda done, total: status.update(
                f"confirming the screen's flags: A/B round {done} (at most {total})"))
    for path, message in outcome.ingest.errors:
        _err.print(f"error: {_plain(path)}: {_plain(message)}")
    comparison = outcome.verdict
    run = outcome.run
    _out.print(f"newest run: {_plain(run.run_id)} "
               f"({run.sha[:10] if run.sha else 'no commit'}), "
               f"{len(run.benchmarks)} benchmarks; "
               f"{len(outcome.ingest.ingested)} new result file(s) ingested")
    if outcome.baseline_created:
        _out.print(f"no baseline yet: created {_plain(outcome.baseline_path)} from this run")
    elif comparison is not None:
        for row in comparison.regressions:
            c = row.comparison
            _out.print(f"[red]REGRESSION[/] {_short(row.name)} ({_plain(row.metric)}): "
                       f"x{c.ratio:.3f} "
                       f"[{c.ci_low:.3f}, {c.ci_high:.3f}], adjusted p={c.adjusted_p_value:.2g}")
        for row in comparison.improvements:
            c = row.comparison
            _out.print(f"[green]improvement[/] {_short(row.name)} ({_plain(row.metric)}): "
                       f"x{c.ratio:.3f}")
    confirmation = outcome.confirmation
    if confirmation is not None and confirmation.flagged:
        _out.print(f"screen (alpha {confirmation.screen_alpha:g}) flagged "
                   f"{len(confirmation.flagged)}; confirmation: {confirmation.status}, "
                   f"{confirmation.rounds_used} A/B round(s) against "
                   f"{(confirmation.base_sha or '–')[:10]}", markup=False)
    if outcome.baseline_updated:
        _out.print(f"baseline updated: {_plain(outcome.baseline_path)}")
    for note in (*outcome.analysis.notes, *(confirmation.notes if confirmation else ())):
        _err.print(f"note: {_plain(note)}")
    _out.print(_verdict_line(outcome))
    _out.print(f"report: {_plain(args.report)}  (HTML: {_plain(outcome.files.html)})")
    if outcome.has_regression:
        return EXIT_REGRESSION
    return EXIT_BAD_INPUT if outcome.ingest.errors else EXIT_OK


def cmd_ab(args: argparse.Namespace) -> int:
    from perf_pipeline.measure.ab import ABSelection
    from perf_pipeline.pipeline import run_ab, run_adaptive_ab
    from perf_pipeline.workspace import Workspace

    ws = Workspace.load(repo_path=args.repo, results_dir=args.results_dir,
                        threshold=args.threshold, alpha=args.significance)
    settings = ws.settings
    select = ABSelection(node_ids=tuple(args.node_ids), keyword=args.select)
    with ws, _err.status(f"A/B: {_plain(args.candidate)} against {_plain(args.base)}") as status:
        def progress(done: int, total: int) -> None:
            status.update(f"A/B: round {done} {'(at most' if args.adaptive else 'of'} "
                          f"{total}{')' if args.adaptive else ''} done")

        if args.adaptive:
            outcome = run_adaptive_ab(ws, args.base, args.candidate,
                                      max_rounds=args.max_rounds, seed=args.seed,
                                      report_path=Path(args.report), select=select,
                                      budget_s=settings.confirm_budget_s, on_round=progress)
        else:
            outcome = run_ab(ws, args.base, args.candidate, rounds=args.rounds,
                             seed=args.seed, report_path=Path(args.report), select=select,
                             on_round=progress)
    comparison = outcome.comparison
    for row in sorted(comparison.results, key=lambda r: -abs(r.comparison.ratio - 1)):
        c = row.comparison
        colour = {"regression": "red", "improvement": "green"}.get(c.verdict, "default")
        needed = f", ~{c.samples_needed} rounds would decide" if c.samples_needed else ""
        _out.print(f"[{colour}]{c.verdict:<12}[/] x{c.ratio:.3f} [{c.ci_low:.3f}, "
                   f"{c.ci_high:.3f}] p_adj={c.adjusted_p_value:.2g}{needed}  "
                   f"{_short(row.name)}")
    for name in comparison.new:
        _out.print(f"new          {_short(name)}")
    for name in comparison.missing:
        _out.print(f"missing      {_short(name)}")
    if outcome.too_few_rounds:
        _err.print(f"warning: {_plain(outcome.too_few_rounds)}")
    ab = outcome.ab
    if outcome.sequential is not None:
        seq = outcome.sequential
        _out.print(f"adaptive: {seq.rounds_used} round(s) used (stopped: {seq.stopped}); "
                   f"{len(seq.decided_at)} of {len(comparison.results)} decided",
                   markup=False)
    _out.print(f"verdict: {len(comparison.regressions)} significant regression(s), "
               f"{len(comparison.improvements)} improvement(s) of {ab.candidate.sha[:10]} "
               f"against {ab.base.sha[:10]} over {len(ab.rounds)} interleaved rounds")
    _out.print(f"report: {_plain(args.report)}  (HTML: {_plain(outcome.files.html)})")
    return EXIT_REGRESSION if outcome.regressed else EXIT_OK


def cmd_calibrate(args: argparse.Namespace) -> int:
    import math

    from perf_pipeline.pipeline import calibrate
    from perf_pipeline.workspace import Workspace

    ws = Workspace.load(repo_path=args.repo, results_dir=args.results_dir)

    def pct(value: float) -> str:
        return "–" if math.isnan(value) else f"{100 * value:.1f}%"

    with ws, _err.status("calibrate: starting") as status:
        def started(raw_dir: Path, sha: str) -> None:
            _err.print(f"calibrating {_plain(sha[:12])}: raw files in {_plain(raw_dir)} (after "
                       f"Ctrl-C, finish with --import-raw {_plain(raw_dir)})")

        def progress(done: int, total: int) -> None:
            status.update(f"calibrate: pair {done} of {total} done")

        outcome = calibrate(
            ws, args.ref, pairs=args.pairs, seed=args.seed,
            out=Path(args.out) if args.out else None,
            import_raw=Path(args.import_raw) if args.import_raw else None,
            note=args.note or "", on_start=started, on_pair=progress)
    profile = outcome.profile
    table = Table(title=f"Noise of {profile.pairs} same-commit pairs (sd of ln time, "
                        "about the CV)")
    for column in ("benchmark", "median (ms)", "one run", "pair", "pair − suite"):
        table.add_column(column, justify="left" if column == "benchmark" else "right",
                         no_wrap=column == "benchmark")
    for bench in profile.benchmarks:
        table.add_row(_short(bench.name), f"{bench.median_s * 1e3:.3f}",
                      pct(bench.unpaired_log_sd), pct(bench.paired_log_sd),
                      pct(bench.paired_residual_log_sd))
    _out.print(table)
    _out.print(f"suite factor per pair: {pct(profile.suite_factor_log_sd)}")
    for index, reason in outcome.skipped:
        _err.print(f"skipped pair {index if index is not None else '?'}: {_plain(reason)}")
    for note in profile.notes:
        _err.print(f"note: {_plain(note)}")
    machine = dict(profile.machine)
    _out.print(f"commit:   {_plain(profile.commit)}")
    _out.print(f"machine:  {_plain(machine.get('cpu_model', '?'))} "
               f"x{_plain(machine.get('cpu_count', '?'))}, {_plain(machine.get('os', '?'))}")
    _out.print(f"corpus:   {_plain(outcome.corpus_path)}")
    _out.print(f"raw:      {_plain(outcome.raw_dir)}")
    _out.print(f"profile:  {_plain(outcome.profile_id)} in {_plain(ws.layout.db_path)}")
    return EXIT_OK


def cmd_profile(args: argparse.Namespace) -> int:
    from perf_pipeline.pipeline import run_profile
    from perf_pipeline.report.units import format_seconds
    from perf_pipeline.workspace import Workspace

    ws = Workspace.load(repo_path=args.repo, results_dir=args.results_dir)
    with ws, _err.status(f"profiling {_plain(args.candidate)} against {_plain(args.base)}") as st:
        def progress(done: int, total: int) -> None:
            st.update(f"profile: process {done} of {total} done")

        outcome = run_profile(ws, args.base, args.candidate,
                              node_ids=tuple(args.node_id or ()), keyword=args.keyword,
                              repeats=args.repeats, fold=not args.no_fold,
                              report_path=Path(args.report) if args.report else None,
                              on_process=progress)
    comparison = outcome.comparison
    if comparison is None:  # run_profile profiles or raises; a no-op is profile_commit's
        _out.print(f"nothing profiled: {_plain(outcome.skipped or '')}")
        return EXIT_OK
    for diff in comparison.diffs:
        _out.print(f"\n{_short(diff.benchmark)}: "
                   f"{format_seconds(diff.base_total_s.median)} → "
                   f"{format_seconds(diff.candidate_total_s.median)} per call (profiled)")
        for f in diff.functions[:args.top]:
            mark = "*" if f.beyond_spread else " "
            status = f" [{f.status}]" if f.status != "changed" else ""
            _out.print(f" {mark} own {f.delta_own_s * 1e3:+10.3f} ms  cum "
                       f"{f.delta_cum_s * 1e3:+10.3f} ms  {_plain(f.key)}{_plain(status)}")
        grown = [a for a in diff.allocations if a.beyond_spread and a.delta_bytes > 0][:3]
        for a in grown:
            _out.print(f"   memory {a.delta_bytes / 1024:+10.1f} KiB/call  {_plain(a.site)}")
    _out.print("\n(* changed beyond the spread of the repeats)")
    _out.print(f"raw files: {_plain(comparison.raw_dir or '')}")
    if outcome.files is not None:
        _out.print(f"report: {_plain(outcome.files.markdown)}  "
                   f"(HTML: {_plain(outcome.files.html)})")
    return EXIT_OK


def _verdict_line(outcome: AnalyzeOutcome) -> str:
    comparison = outcome.verdict
    if comparison is None:
        return "verdict: no comparison (no baseline before this run)"
    n = len(comparison.regressions)
    confirmed = (" (flags confirmed by interleaved A/B)"
                 if outcome.confirmation and outcome.confirmation.status == "confirmed" else "")
    return (f"verdict: {n} significant regression(s), {len(comparison.improvements)} "
            f"improvement(s) at alpha={comparison.alpha:g}, "
            f"threshold={outcome.analysis.threshold:g}{confirmed}")


def cmd_visualize(args: argparse.Namespace) -> int:
    from perf_pipeline.pipeline import ingest_results, write_history_report
    from perf_pipeline.workspace import Workspace

    with Workspace.load(results_dir=args.results_dir, baseline_file=args.baseline) as ws:
        summary = ingest_results(ws)
        for path, message in summary.errors:
            _err.print(f"error: {_plain(path)}: {_plain(message)}")
        data, files = write_history_report(ws)
    _out.print(f"{len(data.runs)} run(s), {len(data.series)} series")
    for png in files.pngs:
        _out.print(f"plot:   {_plain(png)}")
    _out.print(f"report: {_plain(files.html)}")
    return EXIT_OK


def cmd_comment(args: argparse.Namespace) -> int:
    import os

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
                                 token=token, api_url=api_url)
    _out.print(f"{_plain(result.action)} comment {_plain(result.html_url)}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perf-pipeline",
        description="Continuous performance testing for Python / ML code.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug output")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="measure a throw-away history of the example target")
    p.add_argument("--dir", default="perf-demo",
                   help="where the demo repo and its results go (default: ./perf-demo)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("register-commit",
                       help="add commits as Dagster partitions (before --partition SHA)")
    p.add_argument("refs", nargs="+", metavar="REF")
    p.add_argument("--repo", help="target git repo (default: settings)")
    p.add_argument("--dagster-home", help="instance directory (default: $DAGSTER_HOME)")
    p.set_defaults(func=cmd_register_commit)

    p = sub.add_parser("backfill",
                       help="measure the last N commits of a branch, oldest first, once each")
    p.add_argument("--last", type=int, default=50, help="how many commits (default 50)")
    p.add_argument("--branch", help="branch to walk back from (default: main_branch)")
    p.add_argument("--repo", help="target git repo (default: settings)")
    p.add_argument("--dagster-home", help="instance directory (default: $DAGSTER_HOME)")
    p.add_argument("--force", action="store_true", help="re-measure measured commits too")
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser("run", help="measure one commit without Dagster and record it")
    p.add_argument("ref", nargs="?", default="HEAD")
    p.add_argument("--suite", choices=("benchmarks", "stress"), default="benchmarks")
    p.add_argument("--repo", help="target git repo (default: settings)")
    p.add_argument("--results-dir", help="results directory (default: test-results)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "analyze", help="judge the newest run against the baseline; write the report",
        description="Exit codes: 0 no significant regression, 1 significant regression(s), "
                    "2 bad usage or bad input. PERFORMANCE_THRESHOLD and SIGNIFICANCE_LEVEL "
                    "set the defaults; flags win.")
    p.add_argument("--results-dir", help="results directory (default: test-results)")
    p.add_argument("--threshold", type=float,
                   help="ratio above which a significant slowdown is a regression (default 1.2)")
    p.add_argument("--significance", type=float,
                   help="significance level, family-wise across the suite (default 0.01)")
    p.add_argument("--update-baseline", action="store_true",
                   help="make the newest run the (pinned) baseline after judging it")
    p.add_argument("--report", default="performance-report.md",
                   help="where to write the Markdown report (default: ./performance-report.md)")
    p.add_argument("--baseline", help="baseline file (default: "
                   "<results-dir>/baseline/performance_baseline.json)")
    p.add_argument("--confirm", choices=("auto", "off"),
                   help="auto: the baseline comparison is a screen and every flag is "
                        "confirmed by an interleaved A/B when the run's and the baseline's "
                        "commits are in --repo; off: the comparison alone decides "
                        "(default: PERF_PIPELINE_CONFIRM or auto)")
    p.add_argument("--repo", help="target git repo for the confirmation (default: settings)")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("visualize", help="write the HTML report and PNG plots of the history")
    p.add_argument("--results-dir", help="results directory (default: test-results)")
    p.add_argument("--baseline", help="baseline file (default: in the results dir)")
    p.set_defaults(func=cmd_visualize)

    p = sub.add_parser(
        "ab", help="interleaved A/B run of two commits, compared round by round",
        description="Measures BASE and CANDIDATE alternately (random order per round) on "
                    "this machine and compares each benchmark's per-round medians with a "
                    "paired test, Holm-corrected. Use it to confirm a suspect commit against "
                    "its parent. Nothing is added to the history.")
    p.add_argument("base", metavar="BASE", help="the reference commit, e.g. HEAD~1")
    p.add_argument("candidate", metavar="CANDIDATE", help="the commit under test, e.g. HEAD")
    p.add_argument("--rounds", type=int, default=10,
                   help="rounds of both commits (default 10: enough for up to 10 "
                        "benchmarks at alpha 0.01; 13 for 50, 17 for 1,000)")
    p.add_argument("--seed", type=int, help="seed of the order of each round (default random)")
    p.add_argument("--repo", help="target git repo (default: settings)")
    p.add_argument("--results-dir", help="results directory (default: test-results)")
    p.add_argument("--threshold", type=float, help="ratio threshold (default 1.2)")
    p.add_argument("--significance", type=float, help="alpha (default 0.01)")
    p.add_argument("--report", default="performance-report-ab.md",
                   help="Markdown report path (default: ./performance-report-ab.md)")
    p.add_argument("--adaptive", action="store_true",
                   help="sequential design: measure a round at a time and stop when every "
                        "benchmark is decided (a level spent over the looks keeps early "
                        "stopping valid); at most --max-rounds and confirm_budget_s")
    p.add_argument("--max-rounds", type=int,
                   help="with --adaptive: most rounds (default: confirm_max_rounds, 20)")
    p.add_argument("-k", "--select", metavar="EXPRESSION",
                   help="only benchmarks matching this pytest -k expression")
    p.add_argument("--node-id", dest="node_ids", action="append", default=[],
                   metavar="NODE_ID", help="only this benchmark (pytest node id relative to "
                   "the project dir, e.g. tests/test_x.py::test_y); repeatable")
    p.set_defaults(func=cmd_ab)

    p = sub.add_parser(
        "profile", help="why is it slower: profile benchmarks at two commits and diff them",
        description="Profiles the selected benchmarks at BASE and CANDIDATE in separate, "
                    "untimed pytest processes (cProfile, tracemalloc, RSS over time), "
                    "REPEATS per side, and ranks functions by the change of their own time "
                    "per benchmark call. .prof files open with snakeviz or pstats.")
    p.add_argument("base", metavar="BASE", help="the reference commit, e.g. HEAD~1")
    p.add_argument("candidate", metavar="CANDIDATE", help="the commit under test, e.g. HEAD")
    p.add_argument("-k", dest="keyword", metavar="SELECT",
                   help="pytest -k expression choosing the benchmarks")
    p.add_argument("--node-id", action="append", metavar="NODEID",
                   help="a benchmark's pytest node id (repeatable; default: all benchmarks)")
    p.add_argument("--repeats", type=int, default=3,
                   help="profiling processes per side (default 3)")
    p.add_argument("--no-fold", action="store_true",
                   help="show library functions one by one instead of per package")
    p.add_argument("--top", type=int, default=10, help="rows printed per benchmark")
    p.add_argument("--repo", help="target git repo (default: settings)")
    p.add_argument("--results-dir", help="results directory (default: test-results)")
    p.add_argument("--report", help="Markdown report path (default: in the results dir's "
                   "reports/profile/<id>/)")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser(
        "calibrate", help="record this machine's noise: same-commit pairs, corpus, profile",
        description="Measures the benchmark suite at one commit in N interleaved pairs, each "
                    "pair one fresh process in each of two worktrees of that commit (random "
                    "order per pair). Keeps every process's raw JSON, writes a noise corpus "
                    "(.json.gz) and stores the noise profile in the history db.")
    p.add_argument("ref", metavar="REF", nargs="?", help="commit to measure (default HEAD)")
    p.add_argument("--pairs", type=int, help="number of pairs (two processes each)")
    p.add_argument("--seed", type=int, help="seed of the order of each pair (default random)")
    p.add_argument("--out", help="corpus file (default: <results-dir>/noise/"
                   "<commit>-<time>.json.gz)")
    p.add_argument("--import-raw", metavar="DIR",
                   help="build the corpus from a recorded raw pairs dir instead of measuring")
    p.add_argument("--note", help="free text stored in the corpus")
    p.add_argument("--repo", help="target git repo (default: settings)")
    p.add_argument("--results-dir", help="results directory (default: test-results)")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("ingest", help="add result files in the results dir to the history")
    p.add_argument("--results-dir", help="results directory (default: test-results)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser(
        "comment", help="post or update the report as a pull-request comment",
        description="Reads the token from GITHUB_TOKEN. Updates our earlier comment on the "
                    "PR (found by a hidden marker) instead of adding another.")
    p.add_argument("--report", default="performance-report.md",
                   help="Markdown report to post (default: ./performance-report.md)")
    p.add_argument("--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY)")
    p.add_argument("--pr", type=int, help="PR number (default: from $GITHUB_EVENT_PATH "
                   "or $GITHUB_REF refs/pull/N/merge)")
    p.add_argument("--api-url", help="REST API URL, e.g. https://ghe.example.com/api/v3 "
                   "(default: $GITHUB_API_URL or https://api.github.com)")
    p.set_defaults(func=cmd_comment)
    return parser


def _write_crash_log(exc: BaseException, argv: Sequence[str] | None) -> Path:
    """The traceback of an internal error, in a file of its own (the console gets one line)."""
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    fd, name = tempfile.mkstemp(prefix=f"perf-pipeline-crash-{stamp}-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
        command = list(sys.argv[1:2] if argv is None else argv[:1])
        fh.write(f"perf-pipeline {' '.join(command)}: internal error\n")
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=fh)
    return Path(name)


class _SignalGuard:
    """While a measuring command runs, SIGTERM and SIGHUP raise ``Interrupted``.

    Only the first signal raises: a second one must not cut short the cleanup the first
    started (ending the suite's process group, recording the failed run).
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: object) -> None:
        if self.received is not None:
            return
        self.received = signum
        raise Interrupted(signum)

    def __enter__(self) -> _SignalGuard:
        for sig in _HANDLED_SIGNALS:
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals to the host
                break
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    guard = _SignalGuard()
    try:
        if args.command in _MEASURING_COMMANDS:
            with guard:
                return int(args.func(args))
        return int(args.func(args))
    except PerfPipelineError as exc:
        _err.print(f"error: {_plain(exc)}")
        return EXIT_BAD_INPUT
    except Interrupted as exc:
        _err.print(interruption_text(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _err.print("interrupted")
        return EXIT_SIGINT
    except Exception as exc:
        if guard.received is not None:  # a library turned our Interrupted into its own error
            _err.print(interruption_text(Interrupted(guard.received)))
            return 128 + guard.received
        log = _write_crash_log(exc, argv)
        first_line = (str(exc).splitlines() or [""])[0][:300]
        _err.print(f"internal error (a bug in perf_pipeline): {type(exc).__name__}: "
                   f"{_plain(first_line)}; traceback in {_plain(log)}")
        return EXIT_INTERNAL_ERROR
    except BaseException:
        if guard.received is None:
            raise
        _err.print(interruption_text(Interrupted(guard.received)))
        return 128 + guard.received


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
