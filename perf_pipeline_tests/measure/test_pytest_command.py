"""The child's pytest command: interpreter, plugin, JSON path, and the -m / -k options."""

from __future__ import annotations

import sys
from pathlib import Path

from perf_pipeline.measure import build_command
from perf_pipeline.measure.plugin_staging import STAGED_PACKAGE
from perf_pipeline.measure.pytest_command import without_keyword_options


def test_current_runner_command_uses_this_interpreter(tmp_path: Path) -> None:
    cmd = build_command(tmp_path, paths=["tests/a.py"], json_path=tmp_path / "b.json",
                        extra_args=["-x"], markers="stress")
    assert cmd[:3] == (sys.executable, "-m", "pytest")
    assert cmd[3] == "tests/a.py"
    assert f"--benchmark-json={tmp_path / 'b.json'}" in cmd
    assert cmd[cmd.index("-p") + 1] == "perf_pipeline.measure.plugin"
    assert "no:cacheprovider" in cmd and cmd[-3:] == ("-m", "stress", "-x")


def test_a_user_marker_option_narrows_the_suites_own_markers(tmp_path: Path) -> None:
    """pytest keeps the last ``-m``: the user's must not replace the suite's ``stress``."""
    def command(extra_args: list[str], markers: str | None = "stress") -> tuple[str, ...]:
        cmd = build_command(tmp_path, paths=["t.py"], json_path=tmp_path / "b.json",
                            extra_args=extra_args, markers=markers)
        return cmd[cmd.index("no:cacheprovider") + 1:]

    assert command(["-x", "-m", "not slow", "-k", "a"]) == (
        "-m", "stress and (not slow)", "-x", "-k", "a")
    assert command(["-mnot slow"]) == ("-m", "stress and (not slow)")
    assert command(["-m=fast or big", "-q"]) == ("-m", "stress and (fast or big)", "-q")
    assert command(["-m", "a", "-mb"]) == ("-m", "stress and (b)")  # the last one, as pytest
    assert command(["-m", "  "]) == ("-m", "stress")  # an empty -m selects nothing away
    assert command(["-q", "--", "-mfile.py"]) == ("-m", "stress", "-q", "--", "-mfile.py")
    # clustered after value-less flags, as argparse reads them
    assert command(["-vm", "not slow"]) == ("-m", "stress and (not slow)", "-v")
    assert command(["-qqmfast", "-x"]) == ("-m", "stress and (fast)", "-qq", "-x")
    assert command(["-xvm=fast"]) == ("-m", "stress and (=fast)", "-xv")  # pytest's reading
    # another option's value is never read as an -m, even when it looks like one
    assert command(["-k", "-mfoo", "-vk", "-m"]) == ("-m", "stress", "-k", "-mfoo", "-vk", "-m")
    assert command(["-kmfoo"]) == ("-m", "stress", "-kmfoo")
    assert command(["-vm"]) == ("-m", "stress", "-vm")  # no value: left for pytest to reject
    # the benchmark suite has no markers of its own: the user's -m is passed as it is
    assert command(["-m", "not stress", "-x"], markers=None) == ("-m", "not stress", "-x")


def test_uv_runner_command_uses_the_target_project_and_a_staged_plugin(tmp_path: Path) -> None:
    cmd = build_command(tmp_path, paths=["t.py"], json_path=tmp_path / "b.json", runner="uv",
                        uv_executable="/usr/bin/uv")
    assert cmd[:4] == ("/usr/bin/uv", "run", "--project", str(tmp_path))
    assert cmd[4:9] == ("--with", "pytest-benchmark", "--with", "psutil", "python")
    assert cmd[9:12] == ("-m", "pytest", "t.py")
    assert cmd[cmd.index("-p") + 1] == f"{STAGED_PACKAGE}.plugin"


def test_keyword_options_are_taken_out_in_every_spelling() -> None:
    # A selection by node id leaves the configured -k out (ab_selection.measuring_settings).
    assert without_keyword_options(
        ["-q", "-k", "a or b", "--benchmark-min-rounds=3", "-kfast", "-vk", "x", "-m", "k",
         "--", "-k", "kept"]) == [
        "-q", "--benchmark-min-rounds=3", "-v", "-m", "k", "--", "-k", "kept"]
