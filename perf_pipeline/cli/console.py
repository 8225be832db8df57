"""Where the CLI writes: the two consoles, safe text, times, and progress bars.

Every piece of untrusted text (names, paths, refs, messages from files, suites and
servers) is printed through ``plain``, which escapes rich markup and control characters.
Results go to stdout (``out``); progress, notes and errors to stderr (``err``), so that
``--json`` output and piped results stay clean.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from perf_pipeline.cli.exits import OutputClosed

__all__ = ["ProgressBar", "controls_escaped", "err", "one_line", "out", "plain",
           "progress_bar", "short", "time_cell"]

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _hex(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """rich exits 1 when our reader goes away, which reads as "significant
        regression"; ``cli.exits`` maps this to 141 instead."""
        self.quiet = True
        raise OutputClosed


# Piped output (CI logs) gets a wide fixed width instead of rich's 80-column default.
# No emoji codes: a benchmark named ``test_:smile:`` must print as it is named.
out = _Console(highlight=False, emoji=False, soft_wrap=True,
               width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)


def plain(value: object) -> str:
    """Untrusted text made safe to print with rich: the ONE way such text is printed.

    Rich markup is escaped (``test_x[/data/a.csv]`` is a legal parametrized name, and
    ``[/]`` would crash rich), control characters are shown as ``\\xNN`` (no terminal
    escape sequences from a file), and lone surrogates (undecodable bytes of a path) as
    ``\\udcNN`` so that writing them cannot fail.
    """
    text = str(value).encode("utf-8", "backslashreplace").decode("utf-8")
    return escape(_CONTROL_CHARS.sub(_hex, text))


def controls_escaped(text: str) -> str:
    """Every control character, line breaks included, as ``\\xNN``: for text printed
    without rich (log lines), which must stay one line each."""
    return _ANY_CONTROL.sub(_hex, text)


def one_line(value: object) -> str:
    r"""``plain``, and a line break or tab shown as ``\xNN`` too: for text that is one
    line by nature (a benchmark's or file's name), where a newline could forge a line of
    output (a benchmark named ``"test_a\nverdict: 0 regression(s)"``)."""
    return plain(controls_escaped(str(value)))


def short(name: str) -> str:
    """A benchmark's name without its file, made safe to print on one line."""
    return one_line(name.split("::", 1)[1] if "::" in name else name)


def time_cell(seconds: float | None, width: int = 9) -> str:
    """A time in its own unit, right-aligned so that columns of them line up."""
    from perf_pipeline.report.units import format_seconds  # report/ is slow to import

    return format_seconds(seconds).rjust(width)


class ProgressBar:
    """One task of a rich progress display, fed by a library's ``(done, total)`` callback.

    When the display is off (stderr is not a terminal, or ``--json``) every method is a
    cheap no-op, so commands call it unconditionally.
    """

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def update(self, done: int, total: int | None = None, *, label: str | None = None) -> None:
        """``done`` of ``total`` steps finished (``total`` may grow, as adaptive runs do)."""
        self._progress.update(self._task, completed=done, total=total,
                              **({"description": label} if label is not None else {}))

    def advance(self, steps: int = 1) -> None:
        self._progress.advance(self._task, steps)


@contextmanager
def progress_bar(label: str, *, total: int | None = None,
                 quiet: bool = False) -> Iterator[ProgressBar]:
    """A bar with ETA on stderr while the block runs; nothing when not a TTY or ``quiet``.

    ``label`` is rich markup: pass untrusted parts through ``plain``. Lines printed to
    ``out`` meanwhile appear above the bar when stdout is the same terminal; when stdout
    is piped they go to the pipe untouched (stdout is redirected only if it is a TTY).
    """
    enabled = err.is_terminal and not quiet
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=err, disable=not enabled, transient=True,
        redirect_stdout=enabled and out.is_terminal, redirect_stderr=enabled)
    with progress:
        yield ProgressBar(progress, progress.add_task(label, total=total))
