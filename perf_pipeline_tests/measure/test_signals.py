"""Signals to a measuring command: no orphaned suite, a failed run recorded, no temp folders.

A real ``perf-pipeline run`` in a subprocess measures a suite whose benchmark writes
its pid (and the pid of a child it starts) and then hangs. SIGTERM or SIGHUP to the
CLI must end the whole suite, record the run as failed ("interrupted by signal ..."),
remove its temp folders and exit 143 or 129. SIGKILL to the CLI runs none of our code:
the kernel ends pytest (``PR_SET_PDEATHSIG``), the watchdog the rest of its process
group, and the next start sweeps the folders.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perf_pipeline.measure.tempdirs import measuring_temp_dir, sweep_stale_temp_dirs
from perf_pipeline.model import RunStatus
from perf_pipeline.store import HistoryStore

from .conftest import commit_files, git

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="process groups and PR_SET_PDEATHSIG are Linux")

HANGING = '''
import os, subprocess, sys, time
from pathlib import Path

def test_hangs(benchmark):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]) \\
        if os.environ.get("SPAWN_CHILD") else None
    pids = Path(os.environ["PIDS_FILE"])
    pids.write_text(f"{os.getpid()} {child.pid if child else ''}".strip())
    time.sleep(600)
'''


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_dead(pids: list[int], timeout_s: float = 30.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [p for p in pids if _alive(p)]
        if not alive:
            return []
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


def _temp_root(tmp_path: Path) -> Path:
    """The runs' own $TMPDIR: another test's run sweeps the shared temp dir of every
    dead owner, and could remove a SIGKILLed run's folders before this test looks."""
    root = tmp_path / "tmp"
    root.mkdir(exist_ok=True)
    return root


def _our_temp_dirs(pid: int, tmp_path: Path) -> list[Path]:
    return sorted(_temp_root(tmp_path).glob(f"perf-pipeline-*-{pid}-*"))


def _start_run(tmp_path: Path, *, spawn_child: bool) -> tuple[subprocess.Popen, list[int]]:
    repo = tmp_path / "target"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit_files(repo, {"proj/tests/test_perf.py": HANGING}, "hanging suite")
    (tmp_path / "perf_pipeline.toml").write_text(
        '[perf_pipeline]\nproject_subdir = "proj"\nbenchmark_paths = ["tests/test_perf.py"]\n'
        f'repo_path = "{repo}"\nresults_dir = "{tmp_path / "results"}"\nprocesses = 1\n')
    pids_file = tmp_path / "pids"
    env = {**os.environ, "PIDS_FILE": str(pids_file), "TMPDIR": str(_temp_root(tmp_path)),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("PERF_PIPELINE_CONFIG", None)
    env.pop("PERF_PIPELINE_RESULTS_DIR", None)
    if spawn_child:
        env["SPAWN_CHILD"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "perf_pipeline", "run", "HEAD"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not (pids_file.exists() and pids_file.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"the suite never started: {proc.returncode}\n{out}\n{err}")
        time.sleep(0.1)
    time.sleep(0.3)  # let the spawned child be written too
    return proc, [int(p) for p in pids_file.read_text().split()]


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_term_or_hup_ends_the_suite_records_a_failed_run_and_cleans_up(tmp_path, sig,
                                                                       code) -> None:
    proc, suite_pids = _start_run(tmp_path, spawn_child=True)
    assert len(suite_pids) == 2 and _our_temp_dirs(proc.pid, tmp_path)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert f"interrupted by signal {sig.name}" in err and "Traceback" not in err
    assert _wait_dead(suite_pids) == []  # pytest and the process it started
    assert _our_temp_dirs(proc.pid, tmp_path) == []
    with HistoryStore.open(tmp_path / "results" / "perf_history.db") as store:
        (run,) = store.list_runs(status=None)
    assert run.status is RunStatus.FAILED
    assert run.error == f"interrupted by signal {sig.name}"


@pytest.mark.slow
def test_sigkill_of_the_cli_takes_the_suite_with_it_and_temp_dirs_are_swept(tmp_path) -> None:
    """pytest dies by ``PR_SET_PDEATHSIG``, the process its benchmark started by the
    watchdog; the next ``perf-pipeline run`` removes the temp folders left behind."""
    proc, suite_pids = _start_run(tmp_path, spawn_child=True)
    assert len(suite_pids) == 2
    left = _our_temp_dirs(proc.pid, tmp_path)
    assert left
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    try:
        assert _wait_dead(suite_pids, timeout_s=10) == []
    finally:  # a failure must not leave the sleepers behind
        for pid in filter(_alive, suite_pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert _our_temp_dirs(proc.pid, tmp_path) == left  # nothing of ours ran after SIGKILL...
    env = {k: v for k, v in os.environ.items()
           if k not in ("PERF_PIPELINE_CONFIG", "PERF_PIPELINE_RESULTS_DIR")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    env["TMPDIR"] = str(_temp_root(tmp_path))
    # ...so the next start sweeps them. Without PIDS_FILE the suite fails at once.
    again = subprocess.run([sys.executable, "-m", "perf_pipeline", "run", "HEAD"],
                           cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=180, check=False)
    assert "Traceback" not in again.stderr, again.stderr
    assert _our_temp_dirs(proc.pid, tmp_path) == []


_PARENT = """
import subprocess, sys, time
from perf_pipeline.measure.watchdog import group_watchdog
SLEEPER = "import subprocess, sys, time; " \\
    "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); " \\
    "print(c.pid, flush=True); time.sleep(600)"
with group_watchdog() as watchdog:
    leader = subprocess.Popen([sys.executable, "-c", SLEEPER], start_new_session=True,
                              stdout=subprocess.PIPE, text=True)
    watchdog.watch(leader.pid)
    print(leader.pid, leader.stdout.readline().strip(), flush=True)
    if sys.argv[1] == "hang":
        time.sleep(600)
"""


@pytest.mark.parametrize("ending", ["sigkill", "normal"])
def test_watchdog_kills_the_group_only_when_its_parent_dies(tmp_path, ending) -> None:
    """A group leader without ``PR_SET_PDEATHSIG`` and its child: the watchdog SIGKILLs
    both when its parent is SIGKILLed; after a normal end it stands down."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, "hang" if ending == "sigkill" else "end"], env=env,
        stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pids = [int(p) for p in parent.stdout.readline().split()]
    assert len(pids) == 2, pids
    try:
        if ending == "sigkill":
            parent.kill()
            parent.wait(timeout=30)
            assert _wait_dead(pids, timeout_s=10) == []
        else:
            assert parent.wait(timeout=30) == 0
            time.sleep(0.5)  # time enough for a wrong kill to land
            assert [p for p in pids if _alive(p)] == pids
    finally:
        for pid in filter(_alive, pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_sweep_keeps_folders_of_live_processes_and_foreign_names(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(done.stdout)
    stale = tmp_path / f"perf-pipeline-run-{dead_pid}-abc123"
    live = tmp_path / f"perf-pipeline-run-{os.getppid()}-abc123"
    old_style = tmp_path / "perf-pipeline-run-abc123"
    for folder in (stale, live, old_style):
        folder.mkdir()
        (folder / "stdout").write_text("x")
    with measuring_temp_dir("json") as mine:
        assert f"-{os.getpid()}-" in Path(mine).name
        assert sweep_stale_temp_dirs(tmp_path) == (stale,)
    assert not stale.exists() and live.exists() and old_style.exists()
