"""Run a benchmark suite in a child process, and always end it.

The child runs in its own session (its own process group), so on a timeout the WHOLE
group is ended: SIGTERM, a short grace period, then SIGKILL. After a normal exit the
group gets a SIGKILL too, so a suite cannot leave stray processes behind. Any exception
while it runs (Ctrl-C, or SIGTERM/SIGHUP turned into one by the CLI) ends the group
the same way. If this process is SIGKILLed, nothing here runs, so on Linux the child is
also tied to our life with ``PR_SET_PDEATHSIG``: the kernel SIGKILLs it when we die;
and a watchdog process (watchdog.py) SIGKILLs the rest of its group, the processes
the suite started, which ``PR_SET_PDEATHSIG`` does not reach.

Output goes to temporary files rather than pipes (a suite may print megabytes; pipes
would fill up and block it); only the tails are kept.

A run is all or nothing: exit code 1 (test failures), 5 (no tests collected), any other
non-zero code, a timeout, an unreadable JSON file or a session that never finished (exit
code 0 without the plugin's completion marker, see completion.py) make
``SuiteOutcome.error`` say why, and the caller must not use any partial results.

A passing suite in which no test used the ``benchmark`` fixture leaves no JSON file at
all (pytest-benchmark writes none when it has nothing to save). For a benchmark suite
that is a mistake (wrong paths or markers) and an error; a stress suite is made of
plain tests that assert under load, so the caller says ``benchmarks_required=False`` and
the outcome is a success with ``json_path`` None.

Note on raw samples: pytest-benchmark always includes every sample (``stats.data``) in
``--benchmark-json`` output; ``--benchmark-save-data`` only affects ``--benchmark-save``
and ``--benchmark-autosave`` storage, so we do not need to pass it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from perf_pipeline.config import RUNNERS, SECRET_ENV_VARS
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure.completion import COMPLETION_FILE_ENV, read_completion
from perf_pipeline.measure.profiling import PROFILE_DIR_ENV
from perf_pipeline.measure.tempdirs import measuring_temp_dir
from perf_pipeline.measure.watchdog import group_watchdog

__all__ = ["PLUGIN_MODULE", "SuiteOutcome", "build_command", "marker_expression", "run_suite",
           "stage_plugin", "without_keyword_options"]

logger = logging.getLogger(__name__)

#: The plugin as the current interpreter imports it.
PLUGIN_MODULE = "perf_pipeline.measure.plugin"
#: The package name the plugin is staged under for foreign environments (every runner but
#: "current"): a name of its own, so it cannot shadow a ``perf_pipeline`` the target may
#: import.
STAGED_PACKAGE = "_perf_pipeline_probe"
#: The plugin and the stdlib-only modules it imports (relatively), copied as they are.
STAGED_MODULES = ("plugin.py", "benchmark_fixture.py", "resource_usage.py", "completion.py",
                  "fingerprint.py", "percentiles.py", "profiling.py", "stress_session.py",
                  "stress_harness.py", "stress_growth.py", "latency_histogram.py", "trend.py")
_TAIL_BYTES = 4000
_HEAD_BYTES = 600
#: The bytes that continue a UTF-8 character (0b10xxxxxx): a cut may start among them.
_UTF8_CONTINUATION = bytes(range(0x80, 0xC0))
_TERM_GRACE_S = 3.0
_RUNNERS = RUNNERS


@dataclass(frozen=True, slots=True)
class SuiteOutcome:
    """What happened when a suite ran. ``error`` is None exactly when it succeeded.

    ``json_path`` is the benchmark JSON of a successful run, or None when no benchmark ran.
    """

    returncode: int | None
    timed_out: bool
    duration_s: float
    stdout_tail: str
    stderr_tail: str
    json_path: Path | None
    command: tuple[str, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def stage_plugin(dest: Path) -> Path:
    """Copy the plugin (and the stdlib-only modules it uses) to ``dest/<package>``.

    Returns ``dest``: put it on PYTHONPATH and load ``-p _perf_pipeline_probe.plugin``.
    Only these modules can be imported from there, so the target's environment does
    not need perf_pipeline or its dependencies.
    """
    here = Path(__file__).resolve().parent
    package = Path(dest) / STAGED_PACKAGE
    package.mkdir(parents=True, exist_ok=False)
    (package / "__init__.py").write_text('"""perf_pipeline\'s pytest plugin, staged."""\n')
    for name in STAGED_MODULES:
        shutil.copyfile(here / name, package / name)
    return Path(dest)


# pytest's one-letter options, as argparse clusters them (``-vx``, ``-vm EXPR``): the ones
# that take no value may be followed by more letters; one that takes a value takes the rest
# of the cluster, or the next argument. ``-n`` is pytest-xdist's.
_SHORT_FLAGS = frozenset("vqsxlhV")
_SHORT_WITH_VALUE = frozenset("mkpcoWrn")


def without_keyword_options(args: Sequence[str]) -> list[str]:
    """``args`` without their ``-k`` options: a selection by node id replaces the
    configured ``-k``, which would otherwise deselect the benchmarks it names."""
    return _without_marker_options(args, letter="k")[0]


def _without_marker_options(args: Sequence[str], *,
                            letter: str = "m") -> tuple[list[str], str | None]:
    """``args`` without their ``-m`` options, and the expression pytest would have taken.

    pytest keeps the LAST ``-m`` (``-m EXPR``, ``-mEXPR``, ``-m=EXPR``, or clustered after
    flags: ``-vm EXPR``, ``-qqmEXPR``, where an ``=`` is part of the value); the value of
    another option (``-k EXPR``) and everything after ``--`` are kept as they are. A
    trailing ``-m`` without a value is left for pytest to reject. ``letter="k"`` does
    the same for ``-k``.
    """
    rest: list[str] = []
    expression: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            rest += args[i - 1:]
            break
        if not arg.startswith("-") or arg.startswith("--") or len(arg) < 2:
            rest.append(arg)
            continue
        flags = 1  # how many letters of the cluster are value-less flags
        while flags < len(arg) and arg[flags] in _SHORT_FLAGS:
            flags += 1
        found = arg[flags] if flags < len(arg) else ""
        value = arg[flags + 1:]
        if found != letter:
            rest.append(arg)
            if found in _SHORT_WITH_VALUE and not value and i < len(args):
                rest.append(args[i])  # that option's value, whatever it looks like
                i += 1
            continue
        if not value and i >= len(args):
            rest.append(arg)  # pytest says "-m: expected one argument"
            continue
        if flags > 1:
            rest.append(arg[:flags])
        if value:
            # argparse drops the "=" of "-m=EXPR" only: "-vm=EXPR" gives pytest "=EXPR"
            expression = value[1:] if flags == 1 and value.startswith("=") else value
        else:
            expression = args[i]
            i += 1
    return rest, expression


def marker_expression(markers: str | None,
                      extra_args: Sequence[str]) -> tuple[str | None, list[str]]:
    """The ``-m`` expression a suite runs with, and ``extra_args`` left to pass after it.

    A suite's own ``markers`` (``stress``) must hold whatever ``-m`` the user's
    ``pytest_args`` add: pytest keeps only the last ``-m``, so a ``-m "not stress"`` meant
    for the benchmark runs would otherwise replace it, and the stress run would run the
    benchmarks and no stress test, as a success. Both are kept: ``stress and (EXPR)``,
    with the user's ``-m`` taken out of the arguments. A suite without markers of its own
    passes the user's arguments as they are.
    """
    if not markers:
        return None, list(extra_args)
    rest, user = _without_marker_options(list(extra_args))
    if user is None or not user.strip():  # pytest reads an empty -m as no selection
        return markers, rest
    return f"{markers} and ({user})", rest


def build_command(
    project_dir: Path,
    *,
    paths: Sequence[str],
    json_path: Path,
    runner: str = "current",
    extra_args: Sequence[str] = (),
    markers: str | None = None,
    uv_executable: str = "uv",
    uv_args: Sequence[str] = (),
    interpreter: Sequence[str] = (),
) -> tuple[str, ...]:
    """The child's argument list (no shell is ever involved).

    ``interpreter`` is the argv that starts the target's Python for runners "command"
    and "venv" (``measure/environments.py`` builds it); ``uv_args`` go to ``uv run``.
    A ``-m`` in ``extra_args`` narrows the suite's own ``markers`` (``marker_expression``).
    """
    if runner not in _RUNNERS:
        raise InvalidInputError(f"runner must be one of {_RUNNERS}, not {runner!r}")
    if not paths:
        raise InvalidInputError(f"no benchmark paths given for {project_dir}")
    if runner in ("command", "venv") and not interpreter:
        raise InvalidInputError(f"runner {runner!r} needs the interpreter's argv")
    plugin = PLUGIN_MODULE if runner == "current" else f"{STAGED_PACKAGE}.plugin"
    pytest_args = ["-m", "pytest", *paths, f"--benchmark-json={json_path}",
                   "-p", plugin, "-p", "no:cacheprovider"]
    expression, rest = marker_expression(markers, extra_args)
    if expression:
        pytest_args += ["-m", expression]
    pytest_args += rest
    if runner == "current":
        return (sys.executable, *pytest_args)
    if runner == "uv":
        return (uv_executable, "run", "--project", str(project_dir), *uv_args,
                "--with", "pytest-benchmark", "--with", "psutil", "python", *pytest_args)
    return (*interpreter, *pytest_args)


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
    if env:
        child.update(env)
    if child.get("PYTHONPATH"):
        entries.append(child["PYTHONPATH"])
    child["PYTHONPATH"] = os.pathsep.join(entries)
    child.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return child


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the kernel SIGKILL the child when we die (Linux only).

    The libc function is looked up here, in the parent: between fork and exec the child
    may only make plain system calls. If we died before the child set the flag, it has
    already been re-parented, and it kills itself instead of running orphaned.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    sigkill = int(signal.SIGKILL)

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, sigkill, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), sigkill)

    return preexec


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _end_process_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the child's group, wait a little, then SIGKILL whatever is left."""
    _kill_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=_TERM_GRACE_S)
    _kill_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(path: Path) -> str:
    """The end of a long output, plus its first lines.

    The end holds pytest's summary; the start holds what a crash prints first ("Fatal
    Python error: Segmentation fault" heads a stack dump that can be longer than the tail).
    Counted in bytes, the unit of the "left out" figure; an output barely over the limit
    is shown whole rather than as a head and a tail that overlap.
    """
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(0)
        if size <= _TAIL_BYTES + _HEAD_BYTES:
            return fh.read().decode("utf-8", errors="replace")
        head = fh.read(_HEAD_BYTES)
        head = head.rpartition(b"\n")[0] or head  # whole lines, if it has a line end
        fh.seek(size - _TAIL_BYTES)
        tail = fh.read().lstrip(_UTF8_CONTINUATION)  # start on a whole character
    left_out = size - len(head) - len(tail)
    return (f"{head.decode('utf-8', errors='replace')}\n[... {left_out} bytes left out ...]\n"
            f"{tail.decode('utf-8', errors='replace')}")


def _failure_reason(returncode: int | None, timed_out: bool, timeout_s: float,
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
_XDIST_SIGN = "automatically disabled because xdist plugin is active"


def xdist_hint(output: str, error: str) -> str:
    """``error``, with the fix when the target's pytest ran under pytest-xdist (a ``-n``
    in its ``addopts``): every run failed with "no benchmark ran?" and no way out named."""
    if _XDIST_SIGN not in output:
        return error
    return (f"{error}: pytest-xdist is active in the target's pytest (a -n in its addopts?), "
            "and pytest-benchmark disables every benchmark under it; add \"-n\", \"0\" to "
            "pytest_args")


def wait_then_end_group(proc: subprocess.Popen, timeout_s: float, what: str) -> bool:
    """Wait for ``proc`` (a session leader) at most ``timeout_s``; then end its whole
    process group: gracefully after a timeout or an interruption (re-raised), by SIGKILL of
    the stragglers it left behind otherwise. Returns whether it timed out."""
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        logger.warning("%s timed out after %s s; killing it", what, timeout_s)
        _end_process_group(proc)
        return True
    except BaseException:
        _end_process_group(proc)
        raise
    _kill_group(proc.pid, signal.SIGKILL)
    return False


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
    uv_args: Sequence[str] = (),
    interpreter: Sequence[str] = (),
) -> SuiteOutcome:
    """Run ``pytest <paths>`` with pytest-benchmark and our plugin in ``project_dir``.

    Never raises for a failing suite: the outcome carries the error, and the caller
    decides. With ``benchmarks_required=False`` a passing suite that ran no benchmark is
    a success without JSON (see the module docstring). Raises ``InvalidInputError`` for
    bad arguments (missing directory, unknown runner, ``uv`` not installed).
    """
    project_dir = Path(project_dir)
    if not project_dir.is_dir():
        raise InvalidInputError(f"project directory {project_dir} does not exist")
    if not timeout_s > 0:
        raise InvalidInputError(f"timeout_s must be > 0, not {timeout_s!r}")
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
                                        start_new_session=True, preexec_fn=_die_with_parent())
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
                     or _without_marker_options(list(extra_args))[1])
        error = _failure_reason(returncode, timed_out, timeout_s, json_path,
                                benchmarks_required=benchmarks_required, selection=selection,
                                session_exit=read_completion(completion_path))
        stdout_tail, stderr_tail = _tail(out_path), _tail(err_path)
        if error is not None:
            output = stdout_tail + "\n" + stderr_tail
            error = missing_plugin_hint(runner, output) or xdist_hint(output, error)
        return SuiteOutcome(
            returncode=returncode, timed_out=timed_out, duration_s=duration_s,
            stdout_tail=stdout_tail, stderr_tail=stderr_tail,
            json_path=json_path if error is None and json_path.is_file() else None,
            command=tuple(cmd), error=error)
