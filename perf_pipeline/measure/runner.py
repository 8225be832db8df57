"""Run a benchmark suite in a child process, and always end it.

The child runs in its own session (its own process group), so on a timeout the WHOLE
group is ended: SIGTERM, a short grace period, then SIGKILL. After a normal exit the
group gets a SIGKILL too, so a suite cannot leave stray processes behind. Any exception
while it runs (Ctrl-C, or SIGTERM/SIGHUP turned into one by the CLI) ends the group
the same way (process_group.py). If this process is SIGKILLed, nothing here runs, so on
Linux the child is also tied to our life with ``PR_SET_PDEATHSIG``: the kernel SIGKILLs
it when we die; and a watchdog process (watchdog.py) SIGKILLs the rest of its group, the
processes the suite started, which ``PR_SET_PDEATHSIG`` does not reach.

Output goes to temporary files rather than pipes (a suite may print megabytes; pipes
would fill up and block it); only the tails are kept (output_tail.py).

A run is all or nothing: exit code 1 (test failures), 5 (no tests collected), any other
non-zero code, a timeout, an unreadable JSON file or a session that never finished (exit
code 0 without the plugin's completion marker, see completion.py) make
``SuiteOutcome.error`` say why (suite_failure.py), and the caller must not use any partial
results. When the reason is that the commit has no suite at all (nothing collected uses
the ``benchmark`` fixture, or for a stress run nothing is a stress test:
``no_suite_reason``), ``SuiteOutcome.no_suite`` says so too: the caller records such a
commit apart from the failures.

A passing suite in which no test used the ``benchmark`` fixture leaves no JSON file at
all (pytest-benchmark writes none when it has nothing to save). For a benchmark suite
that is an error: no suite at this commit when none of the collected tests uses the
fixture (a commit from before the benchmarks), a failure when some do (skipped,
disabled); a stress suite is made of
plain tests that assert under load, so the caller says ``benchmarks_required=False`` and
the outcome is a success with ``json_path`` None.

Note on raw samples: pytest-benchmark always includes every sample (``stats.data``) in
``--benchmark-json`` output; ``--benchmark-save-data`` only affects ``--benchmark-save``
and ``--benchmark-autosave`` storage, so we do not need to pass it.
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from perf_pipeline.config import SECRET_ENV_VARS
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure.completion import (
    COMPLETION_FILE_ENV,
    SUITE_MEMBERS,
    read_completion,
    read_suite_tests,
)
from perf_pipeline.measure.fingerprint import CPU_INFO_ENV
from perf_pipeline.measure.output_tail import output_tail
from perf_pipeline.measure.plugin_staging import STAGED_MODULES, STAGED_PACKAGE, stage_plugin
from perf_pipeline.measure.process_group import die_with_parent, wait_then_end_group
from perf_pipeline.measure.profiling import PROFILE_DIR_ENV
from perf_pipeline.measure.pytest_command import (
    PLUGIN_MODULE,
    build_command,
    marker_expression,
    without_keyword_options,
    without_marker_options,
)
from perf_pipeline.measure.suite_failure import (
    XDIST_SIGN,
    failure_reason,
    missing_plugin_hint,
    no_suite_reason,
    xdist_hint,
)
from perf_pipeline.measure.tempdirs import measuring_temp_dir
from perf_pipeline.measure.watchdog import group_watchdog

# The staging and command names are re-exported: callers and tests import them from here.
__all__ = ["PLUGIN_MODULE", "STAGED_MODULES", "STAGED_PACKAGE", "SuiteOutcome", "build_command",
           "marker_expression", "no_suite_reason", "run_suite", "stage_plugin",
           "without_keyword_options"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SuiteOutcome:
    """What happened when a suite ran. ``error`` is None exactly when it succeeded.

    ``json_path`` is the benchmark JSON of a successful run, or None when no benchmark ran.
    ``no_suite``: the error is that the commit has no suite to run (``no_suite_reason``),
    not that the suite broke.
    """

    returncode: int | None
    timed_out: bool
    duration_s: float
    stdout_tail: str
    stderr_tail: str
    json_path: Path | None
    command: tuple[str, ...] = ()
    error: str | None = None
    no_suite: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@functools.cache
def this_cpu_info() -> str | None:
    """py-cpuinfo's description of this machine as JSON, asked once per measuring process
    (``fingerprint.CPU_INFO_ENV``; its current clock is then this moment's, for every
    run); None when py-cpuinfo is missing or fails (each run then asks it itself)."""
    try:
        import cpuinfo

        return json.dumps(cpuinfo.get_cpu_info() or {})
    except Exception:  # any failure of a third-party probe: the runs ask for themselves
        return None


def _child_env(runner: str, env: Mapping[str, str] | None, staged: Path | None) -> dict[str, str]:
    child = dict(os.environ)
    if runner == "current":
        # Same venv, but make sure our package wins even when it is not installed.
        entries = [str(Path(__file__).resolve().parents[2])]
    else:
        # The target's own environment; a stale VIRTUAL_ENV of ours only confuses it.
        child.pop("VIRTUAL_ENV", None)
        entries = [str(staged)]
    # Only a run that asks for profiles gets them (see measure/profiling.py).
    child.pop(PROFILE_DIR_ENV, None)
    # The suite is the measured commit's code (a PR's, in CI): our own secrets (the
    # history URL's password, the webhook's URL and token) are none of its business.
    for name in SECRET_ENV_VARS:
        child.pop(name, None)
    # A pytest-xdist worker's identity (when perf_pipeline itself runs under xdist, as its
    # own tests do) makes pytest-benchmark in the measured suite disable every benchmark.
    for name in [k for k in child if k.startswith("PYTEST_XDIST_")]:
        del child[name]
    if runner == "current" and (cpu := this_cpu_info()) is not None:
        child[CPU_INFO_ENV] = cpu
    if env:
        child.update(env)
    if child.get("PYTHONPATH"):
        entries.append(child["PYTHONPATH"])
    child["PYTHONPATH"] = os.pathsep.join(entries)
    child.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return child


def run_suite(
    project_dir: Path,
    *,
    paths: Sequence[str],
    json_path: Path,
    timeout_s: float,
    runner: str = "current",
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    markers: str | None = None,
    benchmarks_required: bool = True,
    members: str = "benchmark",
    uv_args: Sequence[str] = (),
    interpreter: Sequence[str] = (),
) -> SuiteOutcome:
    """Run ``pytest <paths>`` with pytest-benchmark and our plugin in ``project_dir``.

    Never raises for a failing suite: the outcome carries the error, and the caller
    decides. With ``benchmarks_required=False`` a passing suite that ran no benchmark is
    a success without JSON (see the module docstring). ``members`` (``SUITE_MEMBERS``):
    which collected tests are the suite's, for ``no_suite_reason``. Raises
    ``InvalidInputError`` for bad arguments (missing directory, unknown runner, ``uv``
    not installed).
    """
    project_dir = Path(project_dir)
    if not project_dir.is_dir():
        raise InvalidInputError(f"project directory {project_dir} does not exist")
    if not timeout_s > 0:
        raise InvalidInputError(f"timeout_s must be > 0, not {timeout_s!r}")
    if members not in SUITE_MEMBERS:
        raise InvalidInputError(f"members must be one of {SUITE_MEMBERS}, not {members!r}")
    json_path = Path(json_path).resolve()
    if json_path.exists():
        raise InvalidInputError(f"benchmark JSON {json_path} already exists; refusing to reuse it")
    uv = "uv"
    if runner == "uv":
        uv = shutil.which("uv") or ""
        if not uv:
            raise InvalidInputError("runner 'uv' needs the uv executable on PATH")
    cmd = build_command(project_dir, paths=paths, json_path=json_path, runner=runner,
                        extra_args=extra_args, markers=markers, uv_executable=uv,
                        uv_args=uv_args, interpreter=interpreter)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    with measuring_temp_dir("run") as tmp:
        tmp_dir = Path(tmp)
        staged = stage_plugin(tmp_dir / "plugin") if runner != "current" else None
        child_env = _child_env(runner, env, staged)
        completion_path = tmp_dir / "completion.json"
        child_env[COMPLETION_FILE_ENV] = str(completion_path)
        out_path, err_path = tmp_dir / "stdout", tmp_dir / "stderr"
        logger.info("running suite in %s: %s", project_dir, " ".join(cmd))
        start = time.perf_counter()
        with open(out_path, "wb") as out, open(err_path, "wb") as err, \
                group_watchdog() as watchdog:
            try:
                proc = subprocess.Popen(cmd, cwd=project_dir, env=child_env, stdout=out,
                                        stderr=err, stdin=subprocess.DEVNULL,
                                        start_new_session=True, preexec_fn=die_with_parent())
            except OSError as exc:
                # A runner command that does not exist or cannot be executed (a missing
                # venv, "python3; touch x" taken as one file name): the suite's failure,
                # recorded like any other, not a crash of ours. Anything else (no memory,
                # too many open files) is this machine's trouble, not the commit's.
                if not isinstance(exc, (FileNotFoundError, PermissionError,
                                        NotADirectoryError)) and exc.errno != errno.ENOEXEC:
                    raise
                return SuiteOutcome(
                    returncode=None, timed_out=False,
                    duration_s=time.perf_counter() - start, stdout_tail="", stderr_tail="",
                    json_path=None, command=tuple(cmd),
                    error=f"cannot start {cmd[0]!r} ({runner} runner): {exc.strerror or exc}")
            watchdog.watch(proc.pid)  # its whole group, should we be SIGKILLed
            timed_out = wait_then_end_group(proc, timeout_s, f"suite in {project_dir}")
        duration_s = time.perf_counter() - start
        returncode = None if timed_out else proc.returncode
        selection = (marker_expression(markers, extra_args)[0]
                     or without_marker_options(list(extra_args))[1])
        session_exit = read_completion(completion_path)
        error = failure_reason(returncode, timed_out, timeout_s, json_path,
                               benchmarks_required=benchmarks_required, selection=selection,
                               session_exit=session_exit)
        stdout_tail, stderr_tail = output_tail(out_path), output_tail(err_path)
        no_suite = None
        if error is not None:
            output = stdout_tail + "\n" + stderr_tail
            hint = missing_plugin_hint(runner, output)
            if hint is None and XDIST_SIGN not in output:
                no_suite = no_suite_reason(
                    returncode, session_exit=session_exit,
                    suite_tests=read_suite_tests(completion_path, members),
                    json_written=json_path.is_file(),
                    benchmarks_required=benchmarks_required, selection=selection,
                    members=members)
            error = no_suite or hint or xdist_hint(output, error)
        return SuiteOutcome(
            returncode=returncode, timed_out=timed_out, duration_s=duration_s,
            stdout_tail=stdout_tail, stderr_tail=stderr_tail,
            json_path=json_path if error is None and json_path.is_file() else None,
            command=tuple(cmd), error=error, no_suite=no_suite is not None)
