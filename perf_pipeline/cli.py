"""The ``perf-pipeline`` command.

Each subcommand reads its arguments, calls one library function, prints the result and
returns an exit code. Errors are mapped to exit codes here and nowhere else:
0 no significant regression · 1 significant regression · 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from perf_pipeline.errors import PerfPipelineError

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2

_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)


def _short(name: str) -> str:
    return name.split("::", 1)[1] if "::" in name else name


def cmd_demo(args: argparse.Namespace) -> int:
    from perf_pipeline.demo import run_demo

    with _err.status("perf-pipeline demo") as status:
        result = run_demo(Path(args.dir), on_progress=lambda msg: (
            status.update(f"[bold]demo[/] {msg}"), _err.print(f"• {msg}")))
    table = Table(title="Median time per round (ms) by commit, oldest first")
    table.add_column("benchmark")
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
        table.add_row(_short(name), *cells, ratio)
    _out.print(table)
    for sha, msg, outcome in zip(result.shas, result.messages, result.outcomes, strict=True):
        mark = "[green]ok[/]" if outcome.success else f"[red]failed[/] {outcome.error}"
        _out.print(f"  {sha[:8]} {msg}: {mark}")
    s = result.settings
    _out.print(f"\ntarget repo:   {s.repo_path}\nhistory db:    {s.db_path}\n"
               f"raw results:   {s.raw_dir}\ndagster home:  {result.root / 'dagster_home'}")
    return EXIT_OK if all(o.success for o in result.outcomes) else EXIT_BAD_INPUT


def cmd_register_commit(args: argparse.Namespace) -> int:
    from perf_pipeline.config import load_settings
    from perf_pipeline.defs.launch import open_instance, register_commits
    from perf_pipeline.measure.git import resolve_commit

    settings = load_settings(repo_path=args.repo)
    shas = [resolve_commit(settings.repo_path, ref) for ref in args.refs]
    instance = open_instance(Path(args.dagster_home) if args.dagster_home else None)
    added = set(register_commits(instance, shas))
    for sha in shas:
        _out.print(f"{sha} {'registered' if sha in added else 'already registered'}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from perf_pipeline.config import load_settings
    from perf_pipeline.measure import measure_commit
    from perf_pipeline.model import RunStatus
    from perf_pipeline.store import HistoryStore

    settings = load_settings(repo_path=args.repo, results_dir=args.results_dir)
    with HistoryStore.open(settings.db_path) as store, _err.status(f"measuring {args.ref}"):
        run = measure_commit(settings, args.ref, suite=args.suite, store=store)
    if run.status is RunStatus.FAILED:
        _err.print(f"error: {args.suite} suite failed at {run.sha}: {run.error}")
        return EXIT_BAD_INPUT
    for bench in run.benchmarks:
        _out.print(f"{bench.median_s * 1e3:10.3f} ms  {_short(bench.name)}")
    _out.print(f"run {run.run_id} at {run.sha}: {len(run.benchmarks)} benchmarks, "
               f"raw files in {run.raw_path}")
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    from perf_pipeline.config import load_settings
    from perf_pipeline.measure import ingest_results_dir
    from perf_pipeline.store import HistoryStore

    settings = load_settings(results_dir=args.results_dir)
    with HistoryStore.open(settings.db_path) as store:
        summary = ingest_results_dir(settings.results_dir, store)
    _out.print(f"ingested {len(summary.ingested)} new run(s), "
               f"{len(summary.skipped)} already known")
    for path, message in summary.errors:
        _err.print(f"error: {path}: {message}")
    return EXIT_BAD_INPUT if summary.errors else EXIT_OK


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

    p = sub.add_parser("run", help="measure one commit without Dagster and record it")
    p.add_argument("ref", nargs="?", default="HEAD")
    p.add_argument("--suite", choices=("benchmarks", "stress"), default="benchmarks")
    p.add_argument("--repo", help="target git repo (default: settings)")
    p.add_argument("--results-dir", help="results directory (default: test-results)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("ingest", help="add result files in the results dir to the history")
    p.add_argument("--results-dir", help="results directory (default: test-results)")
    p.set_defaults(func=cmd_ingest)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except PerfPipelineError as exc:
        _err.print(f"error: {exc}", markup=False)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _err.print("interrupted")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
