"""The culprit search from the command line: ``bisect``."""

from __future__ import annotations

import argparse

from perf_pipeline.cli.console import err, plain
from perf_pipeline.cli.context import workspace_from
from perf_pipeline.cli.exits import ExitCode
from perf_pipeline.cli.options import add_command, add_repo, add_results_dir

__all__ = ["register"]


def cmd_bisect(args: argparse.Namespace) -> int:
    """Bisects the first-parent commits from GOOD to BAD, measuring one commit at a time
    into the history, on the benchmark that slowed most (among those whose name contains
    -k), then confirms the commit it names by an interleaved A/B against its parent.
    Exit 1 when a culprit is confirmed, 0 otherwise, 2 on bad input (e.g. BAD not slower).
    """
    from perf_pipeline.cli.present.bisect import print_culprit
    from perf_pipeline.pipeline.bisect import find_culprit

    label = f"bisecting {plain(args.good)}..{plain(args.bad)}"
    with workspace_from(args) as ws, err.status(label) as status:
        def progress(search: object) -> None:
            step = search.step  # type: ignore[attr-defined]
            status.update(f"{len(step.suspects)} suspect(s) left; measuring "
                          f"{step.probe[:10]}" if step.probe else "confirming")

        culprit = find_culprit(ws, args.good, args.bad, keyword=args.keyword,
                               confirm=not args.no_confirm, on_step=progress)
    print_culprit(culprit)
    return ExitCode.REGRESSION if culprit.status == "confirmed" else ExitCode.OK


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "bisect", cmd_bisect,
                    "find the commit between GOOD and BAD that slowed a benchmark",
                    measuring=True)
    p.add_argument("good", metavar="GOOD", help="a commit at the old level")
    p.add_argument("bad", metavar="BAD", help="a later commit at the new (slower) level")
    p.add_argument("-k", dest="keyword", metavar="BENCH",
                   help="only benchmarks whose name contains BENCH")
    p.add_argument("--no-confirm", action="store_true", help="skip the A/B of the culprit")
    add_repo(p)
    add_results_dir(p)
