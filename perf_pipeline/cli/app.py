"""``main``: parse, set up logging, run one command, turn what happened into an exit code.

Library warnings (numpy ``RuntimeWarning``s, Dagster's deprecation notices, ...) never
reach the console: ``logging.captureWarnings`` sends them to the ``py.warnings`` logger,
whose records go to a log file (one line on stderr says where) and, with ``--verbose``,
to stderr as well.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from perf_pipeline.cli.commands import GROUPS
from perf_pipeline.cli.console import controls_escaped, err, plain
from perf_pipeline.cli.exits import ExitCode, Failure, output_closed, run_guarded
from perf_pipeline.cli.present.json_doc import emit_failure

__all__ = ["build_parser", "main", "warnings_log_path"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("perf-pipeline")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perf-pipeline",
        description="Continuous performance testing for Python / ML code.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log debug output (and library warnings) to stderr")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def warnings_log_path() -> Path:
    """Where captured library warnings are appended (the crash logs' folder)."""
    return Path(tempfile.gettempdir()) / "perf-pipeline-warnings.log"


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


@contextmanager
def _warnings_to_log(*, verbose: bool) -> Iterator[None]:
    """Python warnings go to a log file while a command runs, not to the console."""
    logger = logging.getLogger("py.warnings")
    path = warnings_log_path()
    to_file = logging.FileHandler(path, delay=True, encoding="utf-8",
                                  errors="backslashreplace")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    counter = _Counter()
    saved = logger.propagate
    logger.propagate = verbose
    logger.addHandler(to_file)
    logger.addHandler(counter)
    logging.captureWarnings(True)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        logger.removeHandler(to_file)
        logger.removeHandler(counter)
        logger.propagate = saved
        to_file.close()
        if counter.count and not verbose:
            err.print(f"note: {counter.count} library warning(s) written to {plain(path)}")


class _OneLineMessages(logging.Formatter):
    """Log lines on the console with their control characters escaped: a message may
    quote a file's name, and one named ``"x\\nFAKE: all good.json"`` forged a line of
    output (a traceback, formatted apart, keeps its lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        safe = logging.makeLogRecord(record.__dict__)
        safe.message = controls_escaped(record.message)
        return super().formatMessage(safe)


def _usage_error_as_json(parser: argparse.ArgumentParser, argv: list[str], code: int) -> None:
    """Under --json every failure is a document on stdout, bad usage too: argparse's
    message goes to stderr as always, and a CI step parsing stdout found nothing."""
    if code != ExitCode.BAD_INPUT or "--json" not in argv:
        return
    commands = {name for action in parser._actions
                if isinstance(action, argparse._SubParsersAction) for name in action.choices}
    command = next((a for a in argv if a in commands), None)
    if command is not None:
        emit_failure(command, Failure(ExitCode.BAD_INPUT, "error",
                                      "bad usage: see the message on stderr"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help and --version
        code = int(exc.code or 0)
        _usage_error_as_json(parser, sys.argv[1:] if argv is None else list(argv), code)
        return code
    handler = logging.StreamHandler()
    handler.setFormatter(_OneLineMessages("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        handlers=[handler])
    with _warnings_to_log(verbose=args.verbose):
        result = run_guarded(lambda: args.func(args), argv=argv,
                             measuring=getattr(args, "measuring", False))
    if isinstance(result, Failure):
        if result.exit_code == ExitCode.OUTPUT_CLOSED:  # no one reads what we would say
            return int(result.exit_code)
        err.print(plain(result.console_line))
        if getattr(args, "json", False):
            try:
                emit_failure(args.command, result)
            except BrokenPipeError:
                return int(output_closed().exit_code)
        return int(result.exit_code)
    return result
