"""Commands that measure or load runs: ``run``, ``ingest``, ``calibrate``, ``profile``."""

from __future__ import annotations

import argparse
from pathlib import Path

from perf_pipeline.atomic_file import check_writable_file
from perf_pipeline.cli.console import err, out, plain, progress_bar
from perf_pipeline.cli.context import workspace_from
from perf_pipeline.cli.exits import ExitCode
from perf_pipeline.cli.options import add_command, add_commit_pair, add_repo, add_results_dir
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import NoiseCorpus

__all__ = ["register"]

#: The largest --max-age: a timedelta of 1e9 days overflows, and no recording is older.
MAX_AGE_DAYS = 36500


def cmd_run(args: argparse.Namespace) -> int:
    """Measures one commit in a temporary worktree, without Dagster, and records the run
    in the history."""
    from perf_pipeline.cli.present.results import print_run
    from perf_pipeline.measure import measure_commit
    from perf_pipeline.model import RunStatus

    with workspace_from(args) as ws, err.status(f"measuring {plain(args.ref)}"):
        run = measure_commit(ws.settings, args.ref, suite=args.suite, store=ws.store)
    if run.status is RunStatus.FAILED:
        err.print(f"error: {args.suite} suite failed at {run.sha}: {plain(run.error)}")
        return ExitCode.BAD_INPUT
    if run.status is RunStatus.NO_SUITE:  # nothing measured: not the success asked for
        err.print(f"error: nothing measured at {run.sha}: {plain(run.error)}")
        return ExitCode.BAD_INPUT
    print_run(run)
    return ExitCode.OK


def cmd_ingest(args: argparse.Namespace) -> int:
    """Adds the result files found in the results dir (our raw runs and plain
    pytest-benchmark JSON) to the history; exit 2 names every bad file."""
    from perf_pipeline.cli.present.results import print_ingest
    from perf_pipeline.pipeline import ingest_results

    with workspace_from(args) as ws, progress_bar("ingesting result files") as bar:
        summary = ingest_results(ws, on_file=bar.update)  # checks the dir before the db
    print_ingest(summary)
    return ExitCode.BAD_INPUT if summary.errors else ExitCode.OK


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Measures the benchmark suite at one commit in N interleaved pairs, each pair one
    fresh process in each of two worktrees of that commit (random order per pair). Keeps
    every process's raw JSON, writes a noise corpus (.json.gz) and stores the noise
    profile in the history db.
    """
    from perf_pipeline.cli.present.calibrate import print_calibration
    from perf_pipeline.pipeline import calibrate
    from perf_pipeline.pipeline.ab_prior import fresh_profile_here

    if args.suite == "stress":
        return _calibrate_stress(args)
    if args.import_raw:
        # Options that only shape a new measurement would be dropped without a word.
        for flag, value in (("--seed", args.seed), ("--max-age", args.max_age)):
            if value is not None:
                raise InvalidInputError(f"{flag} shapes a new recording; --import-raw "
                                        "builds the corpus of one already made")
    if args.out:
        check_writable_file(Path(args.out), "--out")
    if args.max_age is not None and not 0 < args.max_age <= MAX_AGE_DAYS:  # nan fails too
        raise InvalidInputError(f"--max-age must be a number of days > 0 and at most "
                                f"{MAX_AGE_DAYS} (a century), not {args.max_age!r}")
    ws = workspace_from(args)

    def started(raw_dir: Path, sha: str) -> None:
        err.print(f"calibrating {plain(sha[:12])}: raw files in {plain(raw_dir)} (after "
                  f"Ctrl-C, finish with --import-raw {plain(raw_dir)})")

    with ws:
        fresh = (fresh_profile_here(ws, max_age_days=args.max_age,
                                    processes=ws.settings.ab_processes)
                 if args.max_age is not None and not args.import_raw else None)
        if fresh is not None:
            out.print(f"calibrate: nothing to do: this machine's noise profile of "
                      f"{plain(fresh.commit[:12])} was recorded {plain(fresh.recorded_at)}, "
                      f"within --max-age {args.max_age:g} days")
            return ExitCode.OK
        with progress_bar("calibrate: pairs") as bar:
            outcome = calibrate(
                ws, args.ref, pairs=args.pairs, seed=args.seed,
                out=Path(args.out) if args.out else None,
                import_raw=Path(args.import_raw) if args.import_raw else None,
                note=args.note or "", on_start=started, on_pair=bar.update)
    print_calibration(outcome, ws.settings)
    if args.detectable:
        _print_detectable(outcome.corpus, f"this recording, {outcome.corpus.commit[:12]}",
                          processes=ws.settings.ab_processes, required=False)
    return ExitCode.OK


def _calibrate_stress(args: argparse.Namespace) -> int:
    """``calibrate --suite stress``: same-commit pairs of stress runs, replayed through
    the stress gate (pipeline/stress_calibration.py)."""
    from perf_pipeline.cli.present.calibrate import print_stress_calibration
    from perf_pipeline.pipeline.stress_calibration import calibrate_stress

    for flag, value in (("--import-raw", args.import_raw), ("--max-age", args.max_age),
                        ("--note", args.note)):
        if value is not None:
            raise InvalidInputError(f"{flag} is for the benchmark suite's calibration, not "
                                    "--suite stress")
    if args.out:
        check_writable_file(Path(args.out), "--out")
    with workspace_from(args) as ws:
        pairs = args.pairs or ws.settings.stress_confirm_pairs + 1  # enough to replay
        with progress_bar("calibrate --suite stress: pairs", total=pairs) as bar:
            outcome = calibrate_stress(ws, args.ref or "HEAD", pairs=pairs, seed=args.seed,
                                       out=Path(args.out) if args.out else None,
                                       on_pair=bar.update)
    print_stress_calibration(outcome)
    return ExitCode.OK


def _print_detectable(corpus: NoiseCorpus, source: str, *, processes: int,
                      required: bool) -> None:
    """Replays A/Bs from ``corpus`` and prints what they found; a corpus too short for it
    is a note after ``calibrate`` (its recording is kept all the same) and an error when
    asked for outright (``required``)."""
    from perf_pipeline.cli.present.calibrate import print_detectability
    from perf_pipeline.pipeline import detectability_of

    try:
        with progress_bar("replaying A/Bs from the recording, benchmark by benchmark",
                          total=len(corpus.benchmarks)) as bar:
            found = detectability_of(corpus, processes=processes, on_benchmark=bar.update)
    except InvalidInputError as exc:
        if required:
            raise
        err.print(f"note: no table of detectable changes: {plain(str(exc))}")
        return
    print_detectability(found, source)


def cmd_noise(args: argparse.Namespace) -> int:
    """Shows the noise profiles calibrate stored in the history, newest first: commit,
    machine, pairs and corpus file of each, and the newest one's spreads per benchmark
    (--all: every one's). --detectable: what an adaptive A/B finds on the noise of this
    machine's newest recording, replayed (--corpus PATH: on that corpus file's)."""
    from perf_pipeline.cli.present.calibrate import print_noise_profiles
    from perf_pipeline.pipeline import newest_corpus
    from perf_pipeline.pipeline.ab_prior import ab_variance_prior
    from perf_pipeline.store import load_noise_corpus

    if args.corpus is not None and args.all:
        raise InvalidInputError("--all shows the profiles stored in the history; --corpus "
                                "reads one corpus file instead")
    with workspace_from(args) as ws:
        if args.corpus is None:
            profiles = ws.store.noise_profiles() if ws.history_exists else ()
            choice = ab_variance_prior(ws, processes=ws.settings.ab_processes)
            print_noise_profiles(profiles, show_all=args.all, settings=ws.settings,
                                 prior=choice.profile if choice.prior is not None else None)
        if args.detectable or args.corpus is not None:
            if args.corpus is not None:
                corpus, source = load_noise_corpus(Path(args.corpus)), args.corpus
            else:
                profile, path, corpus = newest_corpus(ws)
                source = (f"this machine's recording of {profile.commit[:12]}, "
                          f"{profile.recorded_at} ({path})")
            _print_detectable(corpus, source, processes=ws.settings.ab_processes,
                              required=True)
    return ExitCode.OK


def cmd_profile(args: argparse.Namespace) -> int:
    """Profiles the selected benchmarks at BASE and CANDIDATE in separate, untimed pytest
    processes (cProfile, tracemalloc, RSS over time), REPEATS per side, and ranks
    functions by the change of their own time per benchmark call. .prof files open with
    snakeviz or pstats.
    """
    from perf_pipeline.cli.present.profile import print_profile
    from perf_pipeline.pipeline import run_profile

    if args.top < 1:  # checked before the minutes of profiling it would print nothing of
        raise InvalidInputError(f"--top must be at least 1, not {args.top}")
    if args.report:
        check_writable_file(Path(args.report), "--report")
    label = f"profiling {plain(args.candidate)} against {plain(args.base)}"
    with workspace_from(args) as ws, progress_bar(label) as bar:
        outcome = run_profile(ws, args.base, args.candidate,
                              node_ids=tuple(args.node_id or ()), keyword=args.keyword,
                              repeats=args.repeats, fold=not args.no_fold,
                              report_path=Path(args.report) if args.report else None,
                              on_process=bar.update)
    print_profile(outcome, top=args.top)
    return ExitCode.OK


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "run", cmd_run, "measure one commit without Dagster and record it",
                    measuring=True)
    p.add_argument("ref", nargs="?", default="HEAD")
    p.add_argument("--suite", choices=("benchmarks", "stress"), default="benchmarks")
    add_repo(p)
    add_results_dir(p)

    p = add_command(sub, "profile", cmd_profile,
                    "why is it slower: profile benchmarks at two commits and diff them",
                    measuring=True)
    add_commit_pair(p)
    p.add_argument("-k", dest="keyword", metavar="SELECT",
                   help="pytest -k expression choosing the benchmarks")
    p.add_argument("--node-id", action="append", metavar="NODEID",
                   help="a benchmark's pytest node id (repeatable; default: all benchmarks)")
    p.add_argument("--repeats", type=int, default=3,
                   help="profiling processes per side (default 3)")
    p.add_argument("--no-fold", action="store_true",
                   help="show library functions one by one instead of per package")
    p.add_argument("--top", type=int, default=10, help="rows printed per benchmark")
    add_repo(p)
    add_results_dir(p)
    p.add_argument("--report", help="Markdown report path (default: in the results dir's "
                   "reports/profile/<id>/)")

    p = add_command(sub, "noise", cmd_noise,
                    "show the noise profiles calibrate stored in the history")
    p.add_argument("--all", action="store_true", help="every profile's table, not only "
                   "the newest one's")
    p.add_argument("--detectable", action="store_true",
                   help="replay A/Bs from this machine's newest recording: the smallest "
                        "slowdown "
                        "ab --adaptive finds per benchmark (about 3 s per benchmark)")
    p.add_argument("--corpus", metavar="PATH",
                   help="the same, from this noise corpus file (.json.gz) instead")
    add_results_dir(p)

    p = add_command(sub, "calibrate", cmd_calibrate,
                    "record this machine's noise: same-commit pairs, corpus, profile",
                    measuring=True)
    p.add_argument("ref", metavar="REF", nargs="?", help="commit to measure (default HEAD)")
    p.add_argument("--suite", choices=("benchmarks", "stress"), default="benchmarks",
                   help="stress: pairs of stress-suite runs, replayed through the stress "
                        "gate (false alarms, confirmations, power) instead of a noise "
                        "profile")
    p.add_argument("--pairs", type=int, help="number of pairs (two processes each; "
                   "--suite stress: default stress_confirm_pairs + 1, the fewest the "
                   "replay needs)")
    p.add_argument("--seed", type=int, help="seed of the order of each pair (default random)")
    p.add_argument("--out", help="corpus file (default: <results-dir>/noise/"
                   "<commit>-<time>.json.gz)")
    p.add_argument("--import-raw", metavar="DIR",
                   help="build the corpus from a recorded raw pairs dir instead of measuring")
    p.add_argument("--note", help="free text stored in the corpus")
    p.add_argument("--max-age", type=float, metavar="DAYS",
                   help="do nothing if this machine has a noise profile recorded within "
                        "DAYS days (for a scheduled job keeping the A/B's variance prior "
                        "current)")
    p.add_argument("--detectable", action=argparse.BooleanOptionalAction, default=True,
                   help="after recording, replay A/Bs from it: the smallest slowdown ab "
                        "--adaptive finds per benchmark (default on; about 3 s per "
                        "benchmark)")
    add_repo(p)
    add_results_dir(p)

    p = add_command(sub, "ingest", cmd_ingest,
                    "add result files in the results dir to the history")
    add_results_dir(p)
