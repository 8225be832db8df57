"""Several machines in one history: each run is only ever judged against its own machine.

Machine A is fast, machine B twice as slow, and both measure the same commits of main
into one history. Mixed, B's ordinary runs would look like a 2x regression against A
and B's real +30 % regression would be lost in the spread; kept apart, the verdicts are
the ones each machine's history alone gives.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from perf_pipeline.config import Settings
from perf_pipeline.model import (
    BenchmarkResult,
    CommitInfo,
    Environment,
    RunStatus,
    SuiteRun,
    Verdict,
    hardware_machine_id,
)
from perf_pipeline.pipeline.analyze import analyze_results_dir
from perf_pipeline.pipeline.baseline import baseline_for_run, pin_baseline
from perf_pipeline.pipeline.regression import analyze_run
from perf_pipeline.pipeline.reporting import write_history_report
from perf_pipeline.store import HistoryStore
from perf_pipeline.workspace import Workspace

DATA = Path(__file__).resolve().parents[1] / "data"
NAMES = tuple(f"test_{k}" for k in range(6))


def _run(i: int, machine: str, scale: float, rng: np.random.Generator, *,
         slowed: float = 1.0) -> SuiteRun:
    """Commit ``i`` of main measured on ``machine``; ``test_0`` is ``slowed`` times slower."""
    run_factor = math.exp(rng.normal(0.0, 0.01))
    benchmarks = tuple(
        BenchmarkResult(name=name, samples_s=tuple(
            float(scale * (k + 1) * 1e-3 * run_factor * (slowed if k == 0 else 1.0)
                  * math.exp(rng.normal(0.0, 0.02))) for _ in range(12)))
        for k, name in enumerate(NAMES))
    commit = CommitInfo(sha=f"{i:040x}", branch="main", message=f"commit {i}",
                        committed_at=f"2024-01-01T{i:02d}:00:00+00:00")
    return SuiteRun(run_id=f"run-{i:02d}-{machine}", suite="benchmarks",
                    started_at=f"2024-01-01T{i:02d}:30:00+00:00", status=RunStatus.SUCCESS,
                    benchmarks=benchmarks, commit=commit, machine_id=machine)


@pytest.fixture
def two_machines(tmp_path: Path) -> tuple[Settings, HistoryStore]:
    """Commits 1..8 measured on A (1 ms scale) and B (2 ms); commit 9 on B is +30 %."""
    settings = Settings(results_dir=tmp_path / "results", confirm="off", baseline_runs=8)
    rng = np.random.default_rng(7)
    store = HistoryStore.open(settings.db_path)
    for i in range(1, 9):
        store.ingest_run(_run(i, "machine-a", 1.0, rng))
        store.ingest_run(_run(i, "machine-b", 2.0, rng))
    store.ingest_run(_run(9, "machine-a", 1.0, rng))
    store.ingest_run(_run(9, "machine-b", 2.0, rng, slowed=1.3))
    return settings, store


def test_each_machine_keeps_its_own_run_of_a_commit(two_machines: tuple[Settings, HistoryStore]
                                                     ) -> None:
    _, store = two_machines
    runs = store.list_runs(sha=f"{9:040x}")
    assert sorted(r.machine_id or "" for r in runs) == ["machine-a", "machine-b"]
    assert store.machines() == ("machine-a", "machine-b")
    assert len(store.list_runs(machine_id="machine-b")) == 9


def test_a_regression_on_machine_b_is_judged_against_machine_b_only(
        two_machines: tuple[Settings, HistoryStore]) -> None:
    settings, store = two_machines
    ws = Workspace(settings)
    regressed = store.latest_run(sha=f"{9:040x}", machine_id="machine-b")
    assert regressed is not None
    baseline = baseline_for_run(ws, regressed)
    assert baseline is not None and baseline.machine_id == "machine-b"
    assert all(r.endswith("-machine-b") for r in baseline.source_run_ids)
    analysis = analyze_run(regressed, baseline, settings)
    assert analysis.comparison is not None
    verdicts = {r.name: r.comparison for r in analysis.comparison.results
                if r.metric == "time_s"}
    assert verdicts["test_0"].verdict == Verdict.REGRESSION
    assert 1.2 < verdicts["test_0"].ratio < 1.4  # against B's 2 ms, not A's 1 ms
    assert all(verdicts[n].verdict != Verdict.REGRESSION for n in NAMES[1:])
    # A's newest run is unchanged against A, although B's runs are twice as slow.
    plain = store.latest_run(sha=f"{9:040x}", machine_id="machine-a")
    assert plain is not None
    a_analysis = analyze_run(plain, baseline_for_run(ws, plain), settings)
    assert a_analysis.comparison is not None and not a_analysis.comparison.has_regression


def test_steps_that_name_no_run_read_this_machines_history(
        two_machines: tuple[Settings, HistoryStore], tmp_path: Path) -> None:
    """``analyze`` judged the newest run of any machine (B's +30 % run, exit 1, on
    machine A, which had its own unchanged run of that commit) and the baseline step
    pinned B's run into A's results dir, after which A was never judged."""
    from perf_pipeline.pipeline.baseline import judging_machine, update_baseline

    settings, store = two_machines
    on_a = replace(settings, machine_id="machine-a", baseline_policy="pinned")
    with Workspace(on_a) as ws:
        assert judging_machine(ws) == "machine-a"
        pinned = update_baseline(ws)
        assert pinned is not None and pinned.machine_id == "machine-a"
    outcome = analyze_results_dir(Workspace(replace(on_a, baseline_policy="rolling")),
                                  report_path=tmp_path / "a.md")
    assert outcome.run.machine_id == "machine-a" and not outcome.has_regression
    # A machine whose only run failed builds no baseline at all (it mixed A's and B's).
    failed = replace(_run(10, "machine-c", 1.0, np.random.default_rng(1)),
                     status=RunStatus.FAILED, benchmarks=(), error="boom")
    store.ingest_run(failed)
    with Workspace(replace(settings, machine_id="machine-c", results_dir=tmp_path / "c",
                           history_url=str(settings.db_path))) as ws:
        assert update_baseline(ws) is None  # (its own results dir: no pinned file there)
    # A machine with no runs here reads the machine that measured last, never a mix.
    with Workspace(replace(settings, machine_id="machine-d")) as ws:
        assert judging_machine(ws) == "machine-c"  # its failed run is the newest
    with Workspace(replace(settings, machine_id="machine-b")) as ws:
        assert judging_machine(ws) == "machine-b"


def test_a_pinned_baseline_of_another_machine_judges_nothing(
        two_machines: tuple[Settings, HistoryStore]) -> None:
    settings, store = two_machines
    on_a = store.latest_run(sha=f"{8:040x}", machine_id="machine-a")
    on_b = store.latest_run(sha=f"{9:040x}", machine_id="machine-b")
    assert on_a is not None and on_b is not None
    pinned = pin_baseline(Workspace(settings), on_a)
    assert pinned.machine_id == "machine-a"
    analysis = analyze_run(on_b, baseline_for_run(Workspace(settings), on_b), settings)
    assert analysis.comparison is None
    assert "machine machine-a" in analysis.notes[0] and "machine machine-b" in analysis.notes[0]


def test_the_history_report_shows_the_machine_and_links_every_machine(
        two_machines: tuple[Settings, HistoryStore]) -> None:
    settings, store = two_machines
    store.close()
    data, files = write_history_report(Workspace(settings),
                                       markdown_path=settings.reports_dir / "r.md")
    assert data.machine_id == "machine-b"  # the newest run's machine
    assert {r.machine_id for r in data.runs} == {"machine-b"}
    html = Path(files.html).read_text()
    assert 'id="machines"' in html
    assert 'href="machines/machine-a/performance_report.html"' in html
    assert "| Machine | machine-b |" in (settings.reports_dir / "r.md").read_text()
    page_a = (settings.layout.machine_report_dir("machine-a")
              / "performance_report.html").read_text()
    assert "<code>machine-a</code>" in page_a
    assert 'href="../machine-b/performance_report.html"' in page_a


def _autosave_file(path: Path, i: int, cpu: str, scale: float) -> None:
    doc = json.loads((DATA / "pytest_benchmark_good.json").read_text())
    doc = copy.deepcopy(doc)
    doc.pop("perf_pipeline", None)  # a plain pytest-benchmark file: machine_info only
    doc["machine_info"]["cpu"]["brand_raw"] = cpu
    doc["machine_info"]["node"] = "runner-host"  # same host name: it must not matter
    doc["commit_info"] = {"id": f"{i:040x}", "time": f"2024-01-0{i}T00:00:00+00:00",
                          "dirty": False, "branch": "main", "project": "p"}
    doc["datetime"] = f"2024-01-0{i}T00:30:00+00:00"
    for bench in doc["benchmarks"]:
        stats = bench["stats"]
        stats["data"] = [v * scale for v in stats["data"]]
        for key in ("min", "max", "mean", "stddev", "median", "iqr", "q1", "q3",
                    "ld15iqr", "hd15iqr", "total"):
            if isinstance(stats.get(key), (int, float)):
                stats[key] = stats[key] * scale
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def test_analyze_keeps_the_machines_of_an_autosave_tree_apart(tmp_path: Path) -> None:
    results = tmp_path / "results"
    tree = results / ".benchmarks" / "Linux-CPython-3.11-64bit"
    _autosave_file(tree / "0001_a.json", 1, "Fast CPU", 1.0)
    _autosave_file(tree / "0002_a.json", 2, "Fast CPU", 1.0)
    _autosave_file(tree / "0003_b.json", 3, "Slow CPU", 3.0)  # newest: another machine
    settings = Settings(results_dir=results, confirm="off")
    outcome = analyze_results_dir(Workspace(settings), report_path=tmp_path / "report.md")
    assert outcome.run.run_id.startswith("file-")
    assert outcome.run.machine_id == hardware_machine_id(
        os="Linux", machine="x86_64", cpu_model="Slow CPU", cpu_count=2)
    with HistoryStore.open(settings.db_path) as store:
        assert len(store.machines()) == 2
    # Against machine A's files it would be a 3x regression; on its own machine it is
    # the first run, so it seeds a baseline and is not judged.
    assert outcome.analysis.comparison is None and not outcome.has_regression
    assert outcome.baseline_created


def test_the_hardware_id_ignores_host_and_os_release() -> None:
    one = hardware_machine_id(os="Linux 6.1.0", machine="x86_64", cpu_model="X", cpu_count=4)
    assert one == hardware_machine_id(os="Linux 6.8.2", machine="x86_64", cpu_model="X",
                                      cpu_count=4)
    assert one != hardware_machine_id(os="Linux 6.1.0", machine="x86_64", cpu_model="X",
                                      cpu_count=8)
    env = Environment(python_version="3.11", python_implementation="CPython",
                      os="Linux 6.1.0", machine="x86_64", cpu_model="X", cpu_count=4)
    run = SuiteRun(run_id="r", suite="benchmarks", started_at="2024-01-01T00:00:00+00:00",
                   status=RunStatus.FAILED, environment=env)
    assert run.machine_id == one  # derived from the environment when not given
    assert replace(run, machine_id="box-1").machine_id == "box-1"


def test_analyze_judges_the_file_it_just_ingested_from_another_box(tmp_path: Path) -> None:
    """This machine (A) has older runs; a file from another box arrives: analyze judged
    A's old run and ignored the new file (and --update-baseline would have pinned it)."""
    results = tmp_path / "results"
    settings = Settings(results_dir=results, confirm="off", machine_id="machine-a")
    rng = np.random.default_rng(3)
    with HistoryStore.open(settings.db_path) as store:
        for i in (1, 2):
            store.ingest_run(_run(i, "machine-a", 1.0, rng))
    _autosave_file(results / ".benchmarks" / "x" / "0003_b.json", 3, "Slow CPU", 3.0)
    outcome = analyze_results_dir(Workspace(settings), report_path=tmp_path / "report.md")
    assert outcome.run.run_id.startswith("file-")
    assert outcome.run.machine_id != "machine-a"
    assert not outcome.has_regression  # its own machine's first run: not judged against A


def _fleet_run(i: int, machine: str, minute: int, *, step: bool,
               rng: np.random.Generator) -> SuiteRun:
    benches = tuple(
        BenchmarkResult(name=f"test_{k}", samples_s=0.01 * (k + 1) * (
            1.6 if step and k == 0 and i >= 20 else 1.0) * np.exp(rng.normal(0, 0.01, 9)))
        for k in range(6))
    return SuiteRun(run_id=f"{machine}-{i:03d}", suite="benchmarks",
                    started_at=f"2024-01-03T{minute // 60:02d}:{minute % 60:02d}:00+00:00",
                    status=RunStatus.SUCCESS, benchmarks=benches, machine_id=machine,
                    commit=CommitInfo(sha=f"{i + 1:040x}", branch="main",
                                      committed_at=f"2024-01-01T00:{i:02d}:00+00:00"))


def test_each_location_of_a_fleet_reports_and_alerts_on_its_own_history(
        tmp_path: Path) -> None:
    """In a shared history the page (and so the alerts) followed whichever machine
    measured last: bench-a's step was never alerted while bench-b measured after it."""
    db = str(tmp_path / "shared.db")
    rng = np.random.default_rng(3)

    def workspace(machine: str) -> Workspace:
        return Workspace(Settings(results_dir=tmp_path / machine, machine_id=machine,
                                  history_url=db))

    with workspace("bench-a") as a, workspace("bench-b") as b:
        for i in range(32):
            a.store.ingest_run(_fleet_run(i, "bench-a", 2 * i, step=True, rng=rng))
            b.store.ingest_run(_fleet_run(i, "bench-b", 2 * i + 1, step=False, rng=rng))
    with workspace("bench-a") as a:
        data, _ = write_history_report(a)
    assert data.machine_id == "bench-a"
    assert [(al.kind, al.name) for al in data.alerts] == [("change_point", "test_0")]
    with workspace("bench-b") as b:
        data, _ = write_history_report(b)
    assert data.machine_id == "bench-b" and data.alerts == ()


def test_a_location_judges_its_own_stress_run_of_a_commit(tmp_path: Path) -> None:
    from perf_pipeline.model import StressFigure
    from perf_pipeline.pipeline.stress import judge_stress

    db = str(tmp_path / "shared.db")
    c1, c2 = "1" * 40, "2" * 40
    for machine, hours, leak in (("bench-a", (1, 2), 10.0), ("bench-b", (3, 4), 9999.0)):
        with Workspace(Settings(results_dir=tmp_path / machine, machine_id=machine,
                                history_url=db)) as ws:
            for i, (sha, hour) in enumerate(((c1, hours[0]), (c2, hours[1])), start=1):
                run = SuiteRun(run_id=f"stress-{machine}-{i}", suite="stress",
                               started_at=f"2024-01-02T{hour:02d}:00:00+00:00",
                               status=RunStatus.SUCCESS, machine_id=machine,
                               commit=CommitInfo(sha=sha, branch="main",
                                                 committed_at=f"2024-01-01T0{i}:00:00+00:00"))
                ws.store.ingest_run(run)
                ws.store.record_stress(run.run_id, (StressFigure(
                    test="t::soak", scenario="soak", kind="soak",
                    figure="growth_bytes_per_iteration", value=leak * i),))
    with Workspace(Settings(results_dir=tmp_path / "bench-a", machine_id="bench-a",
                            history_url=db)) as ws:
        judged = judge_stress(ws, c2)
    assert judged is not None
    assert (judged.current.run_id, judged.base.run_id if judged.base else None) == (
        "stress-bench-a-2", "stress-bench-a-1")
    assert [f.value for f in judged.figures] == [20.0]


def test_a_machine_whose_id_changed_is_told_where_its_history_went(tmp_path: Path) -> None:
    """A new CPU changes the default hardware id (and a renamed machine_id is a new
    machine): the first run under the new id has no baseline. The report said "nothing
    earlier to compare with" beside eight runs of the old id, and nothing about them."""
    from perf_pipeline.pipeline.confirm import confirm_commit
    from perf_pipeline.pipeline.regression import analyze_commit

    settings = Settings(results_dir=tmp_path / "results", confirm="off", baseline_runs=8,
                        machine_id="box-new")
    rng = np.random.default_rng(3)
    with HistoryStore.open(settings.db_path) as store:
        for i in range(1, 9):
            store.ingest_run(_run(i, "box-old", 1.0, rng))
        store.ingest_run(_run(9, "box-new", 0.8, rng))
    outcome = analyze_results_dir(Workspace(settings), report_path=tmp_path / "a.md")
    assert outcome.run.machine_id == "box-new" and outcome.analysis.comparison is None
    (note,) = outcome.analysis.notes
    assert "nothing earlier measured on machine box-new" in note
    assert "other runs are of machine(s) box-old" in note
    assert "box-old" in (tmp_path / "a.md").read_text()
    with Workspace(settings) as ws:  # the Dagster steps say the same
        assert "box-old" in analyze_commit(ws, f"{9:040x}").notes[0]
        assert "box-old" in confirm_commit(ws, f"{9:040x}").notes[0]
