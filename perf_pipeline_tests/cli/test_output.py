"""What the CLI prints around a result: adaptive time units, ``--version``, no library
warnings on the console, progress bars only on a terminal."""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from perf_pipeline.cli import console, main
from perf_pipeline.cli.app import warnings_log_path
from perf_pipeline.model import BenchmarkResult, CommitInfo, RunStatus, SuiteRun
from perf_pipeline.report.units import format_seconds


@pytest.mark.parametrize(("seconds", "text"), [
    (4.2e-7, "420 ns"), (1.234e-6, "1.23 µs"), (9.997e-4, "1.00 ms"), (0.0123, "12.3 ms"),
    (2.5, "2.50 s"), (-3e-6, "-3.00 µs"), (float("nan"), "–"), (None, "–"),
])
def test_times_take_the_unit_of_their_size(seconds: float | None, text: str) -> None:
    assert format_seconds(seconds) == text


def test_signed_times_and_bytes_show_the_direction() -> None:
    from perf_pipeline.report.units import format_bytes

    assert format_seconds(2.5e-5, signed=True) == "+25.0 µs"
    assert format_seconds(-2.5e-5, signed=True) == "-25.0 µs"
    assert format_bytes(3 * 1024, signed=True) == "+3.00 KiB"


def _fast_run(*_args: object, **_kwargs: object) -> SuiteRun:
    """What ``measure_commit`` returns for a suite of sub-microsecond benchmarks."""
    return SuiteRun(run_id="r1", suite="benchmarks", started_at="2026-01-01T00:00:00+00:00",
                    status=RunStatus.SUCCESS, commit=CommitInfo(sha="a" * 40), raw_path="/raw/r1",
                    benchmarks=(BenchmarkResult("t.py::test_fast", (4.1e-7, 4.2e-7, 4.3e-7)),
                                BenchmarkResult("t.py::test_slow", (1.5, 1.6, 1.7))))


def test_run_prints_sub_microsecond_medians_in_ns(tmp_path: Path, capsys,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("perf_pipeline.measure.measure_commit", _fast_run)
    assert main(["run", "--results-dir", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "420 ns  test_fast" in out and "1.60 s  test_slow" in out
    assert "0.000 ms" not in out


def test_version_flag_names_the_installed_version(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"perf-pipeline {version('perf-pipeline')}"


def test_console_script_entry_point_works() -> None:
    script = Path(sys.executable).parent / "perf-pipeline"
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("perf-pipeline ")


def test_library_warnings_go_to_the_log_not_the_console(tmp_path: Path, capsys, caplog,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    def noisy(*args: object, **kwargs: object) -> SuiteRun:
        np.mean(np.array([]))  # numpy: RuntimeWarning "Mean of empty slice"
        return _fast_run()

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr("perf_pipeline.measure.measure_commit", noisy)
    argv = ["run", "--results-dir", str(tmp_path / "r")]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "420 ns" in captured.out
    assert "Mean of empty slice" not in captured.out + captured.err + caplog.text
    log = warnings_log_path()
    assert log.parent == tmp_path
    assert "RuntimeWarning: Mean of empty slice" in log.read_text()
    assert f"library warning(s) written to {log}" in captured.err
    # --verbose passes them on to the root logger (stderr; here pytest's capture) as well.
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # the same warning again, as in a new process
        assert main(["-v", *argv]) == 0
    assert "Mean of empty slice" in caplog.text


def _terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    screen = io.StringIO()
    monkeypatch.setattr(console, "err", Console(file=screen, force_terminal=True, width=120))
    return screen


def test_progress_bar_shows_count_and_eta_on_a_terminal(monkeypatch) -> None:
    screen = _terminal(monkeypatch)
    with console.progress_bar("calibrate: pairs") as bar:
        bar.update(1, 3)
        bar.update(2, 3)
    text = screen.getvalue()
    assert "calibrate: pairs" in text and "2/3" in text and "ETA" in text


@pytest.mark.parametrize("terminal", [False, True])
def test_progress_bar_is_silent_off_a_terminal_or_with_json(monkeypatch, terminal) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(console, "err", Console(file=screen, force_terminal=terminal))
    with console.progress_bar("ab", quiet=terminal) as bar:
        bar.update(1, 2)
    assert screen.getvalue() == ""


def test_a_name_with_a_line_break_cannot_forge_a_line_of_output() -> None:
    """A benchmark named ``"test_a\\nverdict: ..."`` printed a second, fake verdict line."""
    assert console.short("t.py::test_a\nverdict: all good\t[red]") == (
        "test_a\\x0averdict: all good\\x09\\[red]")
    assert console.one_line("a\r\nb") == "a\\x0d\\x0ab"
    assert console.controls_escaped("x\x1b[2J\nFAKE") == "x\\x1b[2J\\x0aFAKE"


def test_a_results_file_named_to_forge_lines_is_shown_on_one_line(tmp_path: Path) -> None:
    """Its name reached the terminal raw through the log line of the skipped file: an
    escape sequence, and a newline that started a fake line of output."""
    results = tmp_path / "res"
    results.mkdir()
    (results / "\x1b[2J\x1b[31mEVIL\nFAKE: all good.json").write_text('{"benchmarks": [')
    proc = subprocess.run([sys.executable, "-m", "perf_pipeline", "ingest", "--results-dir",
                           str(results)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 2
    lines = (proc.stdout + proc.stderr).splitlines()
    assert not any(line.startswith("FAKE") for line in lines), lines
    assert "\x1b" not in proc.stdout + proc.stderr
    assert sum("EVIL\\x0aFAKE" in line for line in lines) == 2  # the log line and the error


def test_every_command_that_can_run_a_suite_is_a_measuring_one() -> None:
    """``analyze`` was not, though its confirmation runs A/B rounds: SIGTERM left temp
    folders behind and printed no --json document (``exits.run_guarded``)."""
    from perf_pipeline.cli.app import build_parser

    (sub,) = [a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction"]
    measuring = {name for name, p in sub.choices.items() if p.get_default("measuring")}
    assert measuring == {"demo", "backfill", "run", "profile", "calibrate", "bisect",
                         "analyze", "ab", "stress"}


@pytest.mark.parametrize("command", [["visualize"], ["analyze", "--json", "--confirm", "off"]])
def test_a_closed_stdout_exits_141_not_1_and_prints_no_traceback(
        tmp_path: Path, command: list[str]) -> None:
    """``perf-pipeline ... | head``: rich exited 1 ("significant regression") when the
    reader went away, and a --json error document written to it ended in a traceback."""
    results = tmp_path / "res"
    results.mkdir()
    (results / "broken.json").write_text('{"benchmarks": [')  # something to print
    proc = subprocess.Popen([sys.executable, "-m", "perf_pipeline", *command,
                             "--results-dir", str(results)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the command has imported anything, let alone printed
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr


def test_the_help_of_shared_options_names_the_settings_they_fall_back_to() -> None:
    """``--results-dir (default: test-results)``, ``--threshold (default 1.2)`` and
    ``--significance (default 0.01)`` were wrong for a user who set
    ``PERF_PIPELINE_RESULTS_DIR``, ``PERFORMANCE_THRESHOLD`` or ``SIGNIFICANCE_LEVEL``
    (the README's settings table: flags win, then the environment, then the file); and
    ``--json`` sent readers to a README section 'perf-pipeline --json' that does not exist."""
    import argparse
    import re

    from perf_pipeline.cli.app import build_parser

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    sub = next(a for a in build_parser()._actions
               if isinstance(a, argparse._SubParsersAction))
    seen = set()
    for name, parser in sub.choices.items():
        text = " ".join(parser.format_help().split())
        for flag, variable in (("--results-dir", "PERF_PIPELINE_RESULTS_DIR"),
                               ("--threshold", "PERFORMANCE_THRESHOLD"),
                               ("--significance", "SIGNIFICANCE_LEVEL")):
            if f"{flag} " in text:
                seen.add(flag)
                assert variable in text, (name, flag)
        if "--json" in text:
            seen.add("--json")
            where = re.search(r"The shape is in the README, '([^']+)'", text)
            assert where and where.group(1).replace(" --json", " `--json`") in readme, name
    assert seen == {"--results-dir", "--threshold", "--significance", "--json"}
