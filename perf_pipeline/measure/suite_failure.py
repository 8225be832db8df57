"""Why a suite run failed, in words a user can act on.

A run is all or nothing: exit code 1 (test failures), 5 (no tests collected), any other
non-zero code, a timeout, an unreadable JSON file or a session that never finished (exit
code 0 without the plugin's completion marker, see completion.py) each give a reason, and
the output names the fix when the target's environment lacks pytest or pytest-benchmark,
or runs under pytest-xdist.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

__all__ = ["XDIST_SIGN", "failure_reason", "missing_plugin_hint", "no_suite_reason", "xdist_hint"]


def failure_reason(returncode: int | None, timed_out: bool, timeout_s: float,
                    json_path: Path, *, benchmarks_required: bool,
                    selection: str | None = None,
                    session_exit: int | None = None) -> str | None:
    """Why the suite failed, or None. ``selection`` is the ``-m`` expression it ran with;
    ``session_exit`` the exit status the plugin recorded when the session finished (None:
    it never did)."""
    if timed_out:
        return f"suite timed out after {timeout_s:g} s and was killed"
    if returncode == 5:
        selected = f" with -m {selection!r}" if selection else ""
        return (f"pytest collected no tests{selected} (exit code 5): check the benchmark "
                "paths and markers")
    if returncode == 1:  # benchmark, stress or profiling run alike
        return "tests failed (pytest exit code 1)"
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"pytest crashed: killed by {name} (exit code {returncode})"
    if returncode != 0:
        return f"pytest exited with code {returncode}"
    if session_exit is None:
        return ("pytest exited with code 0 but never finished its session (the process "
                "was ended from inside, e.g. by os._exit(0) or a C library's exit(0)): "
                "the tests after that point did not run")
    if session_exit != 0:
        return (f"pytest finished its session with exit status {session_exit}, but the "
                "process exited with code 0")
    if not json_path.is_file():
        if not benchmarks_required:
            return None
        return f"pytest wrote no benchmark JSON at {json_path} (no benchmark ran?)"
    try:
        with open(json_path, encoding="utf-8") as fh:
            json.load(fh)
    except (OSError, ValueError) as exc:
        return f"benchmark JSON {json_path} is unreadable: {exc}"
    return None


#: What a target environment without pytest-benchmark (or pytest) makes pytest print.
_NO_PYTEST_SIGNS = ("No module named pytest\n", "No module named 'pytest'\n",
                    "No module named pytest\r", "No module named 'pytest'\r")
_NO_BENCHMARK_SIGNS = ("unrecognized arguments: --benchmark-json",
                       "No module named 'pytest_benchmark'",
                       "fixture 'benchmark' not found")


def no_suite_reason(returncode: int | None, *, session_exit: int | None,
                    suite_tests: int | None, json_written: bool,
                    benchmarks_required: bool, selection: str | None = None,
                    members: str = "benchmark") -> str | None:
    """Why the commit has no suite to measure, or None when it has one (or may have).

    An old commit, from before the benchmarks were written, is not a broken one, and
    measuring it again never changes that. Only what pytest itself says counts: none of
    the tests it collected is one of the suite's (``suite_tests``, counted by our plugin
    with the ones ``-k``/``-m`` deselected included: ``completion.py``; ``members`` says
    which: those using the ``benchmark`` fixture, or the stress tests), and the session
    either selected nothing (exit code 5) or passed. A collection error (exit code 2), a
    selection that left out tests of the suite that exist, and a benchmark that was
    collected and then skipped or disabled are failures; so is a count we do not have.

    A stress run (``-m stress``) of a folder it shares with the benchmarks selects
    nothing at a commit from before the stress tests: the benchmarks there are no stress
    suite, so only the stress tests are counted for it.
    """
    if suite_tests != 0:
        return None
    selected = f" with -m {selection!r}" if selection else ""
    if returncode == 5 and session_exit == 5 and members == "stress":
        return (f"pytest collected no stress test{selected} (exit code 5: none carries the "
                "stress marker or uses the stress fixture): no stress suite at this "
                "commit (if there should be one, check the stress paths and markers)")
    if returncode == 5 and session_exit == 5:
        return (f"pytest collected no tests{selected} (exit code 5): no suite at this "
                "commit (if there should be one, check the benchmark paths and markers)")
    if returncode == 0 and session_exit == 0 and benchmarks_required and not json_written:
        return ("no collected test uses the benchmark fixture: no benchmark suite at this "
                "commit (if there should be one, check the benchmark paths and markers)")
    return None


def missing_plugin_hint(runner: str, output: str) -> str | None:
    """Why a foreign environment cannot run the suite at all, and the fix; else None.

    Runners "command" and "venv" use the target's environment as it is (a venv adds
    pytest-benchmark itself, but a requirements pin can still break it), so a missing
    pytest or pytest-benchmark shows up as a pytest usage error, not as a slow commit.
    """
    if runner == "current":
        return None
    text = output + "\n"
    if any(sign in text for sign in _NO_PYTEST_SIGNS):
        missing = "pytest"
    elif any(sign in text for sign in _NO_BENCHMARK_SIGNS):
        missing = "pytest-benchmark"
    else:
        return None
    fix = {"uv": "add pytest-benchmark to a dependency group and pass it in uv_args "
                 "(e.g. uv_args = [\"--group\", \"test\"])",
           "venv": "let the requirements allow pytest-benchmark (the venv installs it)",
           "command": "install pytest-benchmark into the environment runner_command starts "
                      "(e.g. add it to the project's test or bench dependencies), or use "
                      "runner = \"uv\" or \"venv\", which add it themselves"}[runner]
    return f"{missing} is not installed in the target's environment (runner {runner!r}): {fix}"


#: What pytest-benchmark says when pytest-xdist is active: it then disables every benchmark.
XDIST_SIGN = "automatically disabled because xdist plugin is active"


def xdist_hint(output: str, error: str) -> str:
    """``error``, with the fix when the target's pytest ran under pytest-xdist (a ``-n``
    in its ``addopts``): every run failed with "no benchmark ran?" and no way out named."""
    if XDIST_SIGN not in output:
        return error
    return (f"{error}: pytest-xdist is active in the target's pytest (a -n in its addopts?), "
            "and pytest-benchmark disables every benchmark under it; add \"-n\", \"0\" to "
            "pytest_args")
