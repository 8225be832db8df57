"""Real child pytest runs: success, failures, no tests, crash, hang with timeout."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import SuiteOutcome, build_command, run_suite
from perf_pipeline_tests.measure.conftest import FAST_ARGS


def _project(tmp_path: Path, body: str, name: str = "test_suite.py") -> Path:
    project = tmp_path / "proj"
    project.mkdir(exist_ok=True)
    (project / name).write_text(textwrap.dedent(body))
    return project


def _run(project: Path, tmp_path: Path, **kw: object) -> SuiteOutcome:
    options: dict[str, object] = {"paths": ["."], "json_path": tmp_path / "out" / "b.json",
                                  "timeout_s": 60.0, "extra_args": FAST_ARGS}
    options.update(kw)
    return run_suite(project, **options)  # type: ignore[arg-type]


def test_successful_run_writes_json_with_plugin_figures_env_and_markers(tmp_path: Path) -> None:
    project = _project(tmp_path, """
        import os, pytest
        @pytest.mark.fast
        def test_ok(benchmark):
            benchmark.extra_info["flag"] = os.environ.get("PP_FLAG")
            benchmark(sum, range(50))
        def test_deselected(benchmark):
            raise AssertionError("must not run")
        """)
    outcome = _run(project, tmp_path, env={"PP_FLAG": "on"}, markers="fast")
    assert outcome.ok, outcome.error
    assert outcome.returncode == 0 and not outcome.timed_out
    assert outcome.json_path is not None
    doc = json.loads(outcome.json_path.read_text())
    (bench,) = doc["benchmarks"]
    assert bench["extra_info"]["flag"] == "on"
    assert "data" in bench["stats"]  # --benchmark-json always keeps raw samples
    assert {"p50_s", "tracemalloc_peak_bytes", "cpu_user_s"} <= set(bench["perf_pipeline"])
    assert doc["perf_pipeline"]["schema_version"] == 1
    assert doc["perf_pipeline"]["environment"]["python_version"]


def test_the_measured_suite_never_sees_our_secrets(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite is the commit's code (a PR's, in CI): the history URL's password, the
    webhook's URL and token, and a fleet's Dagster database password were passed to it
    in its environment."""
    secrets = {"PERF_PIPELINE_HISTORY_URL": "postgresql://u:hunter2@db/perf",
               "PERF_PIPELINE_WEBHOOK_URL": "https://hooks.example/services/T0/B0/s3cr3t",
               "PERF_PIPELINE_WEBHOOK_TOKEN": "tok-s3cr3t",
               # a fleet code server's environment (docs/deployment.md): the Dagster
               # instance database's password reached every measured suite
               "DAGSTER_PG_PASSWORD": "dagster-s3cr3t"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PP_PLAIN", "kept")
    project = _project(tmp_path, """
        import os
        def test_env(benchmark):
            benchmark.extra_info["seen"] = sorted(
                k for k in os.environ if k.startswith(("PERF_PIPELINE_", "PP_", "DAGSTER_PG_")))
            benchmark(sum, range(10))
        """)
    outcome = _run(project, tmp_path)
    assert outcome.ok, outcome.error
    (bench,) = json.loads(outcome.json_path.read_text())["benchmarks"]  # type: ignore[union-attr]
    assert "PP_PLAIN" in bench["extra_info"]["seen"]
    assert not set(secrets) & set(bench["extra_info"]["seen"])


def test_failing_benchmark_is_a_failed_run_with_output(tmp_path: Path) -> None:
    project = _project(tmp_path, """
        import sys
        def test_ok(benchmark):
            benchmark(sum, range(5))
        def test_broken(benchmark):
            sys.stderr.write("SOMETHING-ON-STDERR\\n")
            benchmark(lambda: 1 / 0)
        """)
    outcome = _run(project, tmp_path)
    assert not outcome.ok and outcome.returncode == 1
    assert "exit code 1" in (outcome.error or "")
    assert outcome.json_path is None  # never partial results
    assert "ZeroDivisionError" in outcome.stdout_tail


def test_segfaulting_benchmark_reports_signal_and_stderr_tail(tmp_path: Path) -> None:
    project = _project(tmp_path, """
        import faulthandler
        def test_crash(benchmark):
            benchmark(faulthandler._sigsegv)
        """)
    outcome = _run(project, tmp_path)
    assert outcome.returncode == -11 and "SIGSEGV" in (outcome.error or "")
    assert "Segmentation fault" in outcome.stderr_tail
    assert outcome.json_path is None


def _live_pids_in_group(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are not zombies (zombies wait for a reaper)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def test_no_tests_collected_is_a_failure_with_a_clear_message(tmp_path: Path) -> None:
    project = _project(tmp_path, "def helper():\n    return 1\n")
    outcome = _run(project, tmp_path)
    assert outcome.returncode == 5
    assert "collected no tests" in (outcome.error or "")


def test_no_tests_collected_means_no_suite_at_this_commit(tmp_path: Path) -> None:
    """A commit from before the benchmarks were written collects nothing: that is no
    suite there (``no_suite``, never retried), not a broken suite."""
    project = _project(tmp_path, "def helper():\n    return 1\n")
    outcome = _run(project, tmp_path)
    assert not outcome.ok and outcome.no_suite, outcome.error
    assert "no suite at this commit" in (outcome.error or "")


def test_a_collection_error_is_a_broken_suite_not_a_missing_one(tmp_path: Path) -> None:
    project = _project(tmp_path, "import no_such_module_here\n\n"
                                 "def test_x(benchmark):\n    benchmark(int)\n")
    outcome = _run(project, tmp_path)
    assert outcome.returncode == 2 and not outcome.ok
    assert not outcome.no_suite, outcome.error


def test_a_selection_that_leaves_out_every_benchmark_is_a_failure(tmp_path: Path) -> None:
    """The benchmarks exist and ``-k``/``-m`` deselected them all: a mistake in the
    settings, not a commit without a suite."""
    project = _project(tmp_path, "def test_a(benchmark):\n    benchmark(int)\n"
                                 "def test_unit():\n    pass\n")
    for args in (["-k", "no_such_benchmark"], ["-k", "test_unit"]):
        outcome = _run(project, tmp_path, extra_args=[*FAST_ARGS, *args])
        assert not outcome.ok and not outcome.no_suite, (args, outcome.error)
        (tmp_path / "out" / "b.json").unlink(missing_ok=True)


def test_suite_without_benchmarks_has_no_json_and_fails(tmp_path: Path) -> None:
    """Plain tests only (the benchmarks not written yet): no JSON, and no suite to time."""
    project = _project(tmp_path, "def test_plain():\n    assert True\n")
    outcome = _run(project, tmp_path)
    assert outcome.returncode == 0 and not outcome.ok
    assert outcome.no_suite and "benchmark fixture" in (outcome.error or "")


def test_benchmarks_that_were_collected_but_skipped_are_a_failure(tmp_path: Path) -> None:
    """Benchmarks exist and none ran (all skipped): the suite is broken here, not absent."""
    project = _project(tmp_path, """
        import pytest
        @pytest.mark.skip(reason="needs a GPU")
        def test_gpu(benchmark):
            benchmark(int)
        def test_plain():
            assert True
        """)
    outcome = _run(project, tmp_path)
    assert outcome.returncode == 0 and not outcome.ok
    assert not outcome.no_suite and "no benchmark JSON" in (outcome.error or "")


def test_suite_without_benchmarks_passes_when_benchmarks_are_optional(tmp_path: Path) -> None:
    project = _project(tmp_path, "def test_plain():\n    assert True\n")
    outcome = _run(project, tmp_path, benchmarks_required=False)
    assert outcome.ok, outcome.error
    assert outcome.returncode == 0 and outcome.json_path is None
    assert "1 passed" in outcome.stdout_tail


def test_failing_plain_suite_fails_even_when_benchmarks_are_optional(tmp_path: Path) -> None:
    project = _project(tmp_path, "def test_plain():\n    assert False\n")
    outcome = _run(project, tmp_path, benchmarks_required=False)
    assert outcome.returncode == 1 and "exit code 1" in (outcome.error or "")
    assert outcome.json_path is None


@pytest.mark.parametrize("runner", ["current", "command"])  # "command": the staged plugin
def test_a_suite_ended_with_status_0_mid_session_is_a_failure(tmp_path: Path,
                                                              runner: str) -> None:
    """Exit code 0 is not enough: the plugin's completion marker says pytest finished."""
    project = _project(tmp_path, """
        import os
        def test_1_ok():
            pass
        def test_2_dies():
            os._exit(0)
        def test_3_never_runs():
            raise AssertionError("this would have failed the run")
        """)
    outcome = _run(project, tmp_path, benchmarks_required=False, runner=runner,
                   interpreter=(sys.executable,) if runner == "command" else ())
    assert outcome.returncode == 0
    assert not outcome.ok and "never finished its session" in (outcome.error or "")
    assert outcome.json_path is None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_hanging_suite_is_killed_with_its_whole_process_group(tmp_path: Path) -> None:
    info = tmp_path / "info.json"
    project = _project(tmp_path, f"""
        import json, os, subprocess, sys, time
        def test_hang(benchmark):
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            with open({str(info)!r} + ".tmp", "w") as fh:
                json.dump({{"pgid": os.getpgid(0), "child": child.pid}}, fh)
            os.replace({str(info)!r} + ".tmp", {str(info)!r})  # whole or not at all
            time.sleep(600)
        """)
    # The body must have started for its group to be checked: on a loaded machine pytest's
    # start-up alone once outlasted 3 s, so a slower start is given a longer timeout.
    for attempt, timeout_s in enumerate((3, 12, 48)):
        outcome = _run(project, tmp_path, timeout_s=float(timeout_s),
                       json_path=tmp_path / f"out{attempt}" / "b.json")
        assert outcome.timed_out and outcome.returncode is None
        assert f"timed out after {timeout_s} s" in (outcome.error or "")
        if info.exists():
            break
    ids = json.loads(info.read_text())
    assert ids["pgid"] != os.getpgid(0)  # the suite ran in its own group
    assert _live_pids_in_group(ids["pgid"]) == []  # nothing of the group is left


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        run_suite(tmp_path / "nope", paths=["."], json_path=tmp_path / "j.json", timeout_s=1)
    with pytest.raises(InvalidInputError, match="timeout_s"):
        run_suite(tmp_path, paths=["."], json_path=tmp_path / "j.json", timeout_s=0)
    (tmp_path / "j.json").write_text("{}")
    with pytest.raises(InvalidInputError, match="already exists"):
        run_suite(tmp_path, paths=["."], json_path=tmp_path / "j.json", timeout_s=1)
    with pytest.raises(InvalidInputError, match="runner"):
        build_command(tmp_path, paths=["."], json_path=tmp_path / "x.json", runner="docker")


def test_stress_suite_runs_its_own_marker_within_the_users_selection(tmp_path: Path) -> None:
    project = _project(tmp_path, """
        import pytest
        def test_bench(benchmark):
            benchmark(sum, range(10))
        @pytest.mark.stress
        def test_load():
            pass
        @pytest.mark.stress
        @pytest.mark.slow
        def test_slow_load():
            raise AssertionError("the user's -m deselects this one")
        """)
    (project / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nmarkers = ["stress", "slow"]\n')
    outcome = _run(project, tmp_path, markers="stress", benchmarks_required=False,
                   extra_args=(*FAST_ARGS, "-m", "not slow"))
    assert outcome.ok, outcome.error
    assert outcome.json_path is None  # the benchmark was not run as part of the stress suite
    assert "1 passed, 2 deselected" in outcome.stdout_tail
    # A -m meant to keep stress tests out of the benchmark runs leaves the stress run
    # nothing: a failure that names the expression, not a stress run of the benchmarks.
    outcome = _run(project, tmp_path, markers="stress", benchmarks_required=False,
                   extra_args=(*FAST_ARGS, "-m", "not stress"),
                   json_path=tmp_path / "out2" / "b.json")
    assert outcome.returncode == 5
    assert "with -m 'stress and (not stress)'" in (outcome.error or "")


def test_a_stress_run_of_the_benchmarks_folder_before_the_stress_tests_is_no_suite(
        tmp_path: Path) -> None:
    """Stress tests added later to the benchmarks' folder: at an older commit ``-m
    stress`` deselected every benchmark (exit code 5), and the benchmarks counted as
    tests of the suite, so the run was a failure, not a commit without a stress suite.
    Stress tests that exist and a selection left out stay a failure."""
    project = _project(tmp_path, """
        import pytest
        def test_bench(benchmark):
            benchmark(sum, range(10))
        """)
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\nmarkers = ["stress"]\n')
    outcome = _run(project, tmp_path, markers="stress", benchmarks_required=False,
                   members="stress")
    assert outcome.returncode == 5 and outcome.no_suite, outcome.error
    assert "no stress suite at this commit" in (outcome.error or "")
    (project / "test_load.py").write_text(textwrap.dedent("""
        import pytest
        @pytest.mark.stress
        def test_load():
            pass
        def test_fixture_only(stress):
            pass
        """))
    for i, args in enumerate((["-k", "bench"], ["-k", "fixture_only"])):
        outcome = _run(project, tmp_path, markers="stress", benchmarks_required=False,
                       members="stress", extra_args=(*FAST_ARGS, *args),
                       json_path=tmp_path / f"out{i}" / "b.json")
        assert outcome.returncode == 5 and not outcome.no_suite, (args, outcome.error)
    with pytest.raises(InvalidInputError, match="members"):
        _run(project, tmp_path, members="benchmarks")


def test_a_suite_under_xdist_fails_with_the_fix_named(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # A target whose addopts say "-n 2": pytest-benchmark disables every benchmark under
    # pytest-xdist, and the run failed with a bare "no benchmark ran?".
    pytest.importorskip("xdist")
    # This test session keeps xdist out of the suites it measures (PYTEST_ADDOPTS).
    addopts = os.environ.get("PYTEST_ADDOPTS", "")
    monkeypatch.setenv("PYTEST_ADDOPTS", addopts.replace("-p no:xdist.looponfail", "")
                       .replace("-p no:xdist", ""))
    project = _project(tmp_path, "def test_b(benchmark):\n    benchmark(sum, range(9))\n")
    (project / "pytest.ini").write_text("[pytest]\naddopts = -n 2\n")
    outcome = _run(project, tmp_path)
    assert "no benchmark JSON" in (outcome.error or ""), outcome.stderr_tail
    assert 'add "-n", "0" to pytest_args' in (outcome.error or "")
    fixed = _run(project, tmp_path, extra_args=(*FAST_ARGS, "-n", "0"))
    assert fixed.ok, fixed.error


def test_each_run_gets_the_cpu_the_measuring_process_described(tmp_path: Path) -> None:
    """pytest-benchmark asked py-cpuinfo in every measured process, which starts a Python
    of its own (0.2 s of a 1 s small suite's run); the measuring process asks once and
    hands the answer over, and the file's machine_info is otherwise pytest-benchmark's."""
    from perf_pipeline.measure.fingerprint import CPU_INFO_ENV
    from perf_pipeline.measure.runner import _child_env, this_cpu_info

    project = _project(tmp_path, """
        def test_ok(benchmark):
            benchmark(sum, range(10))
        """)
    given = {"brand_raw": "handed over", "count": 3}
    outcome = _run(project, tmp_path, env={CPU_INFO_ENV: json.dumps(given)})
    assert outcome.ok, outcome.error
    info = json.loads(outcome.json_path.read_text())["machine_info"]
    assert info["cpu"] == given
    assert info["python_version"] and info["machine"]  # pytest-benchmark's own fields

    handed = _child_env("current", None, None)[CPU_INFO_ENV]
    assert handed == this_cpu_info() and json.loads(handed)["count"] == os.cpu_count()
    assert CPU_INFO_ENV not in _child_env("venv", None, tmp_path)  # another interpreter


def test_a_bad_cpu_description_leaves_it_to_pytest_benchmark(tmp_path: Path) -> None:
    from perf_pipeline.measure.fingerprint import CPU_INFO_ENV

    project = _project(tmp_path, """
        def test_ok(benchmark):
            benchmark(sum, range(10))
        """)
    outcome = _run(project, tmp_path, env={CPU_INFO_ENV: "[not an object"})
    assert outcome.ok, outcome.error
    cpu = json.loads(outcome.json_path.read_text())["machine_info"]["cpu"]
    assert cpu["count"] == os.cpu_count() and "brand_raw" in cpu
