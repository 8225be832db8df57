"""analyze_stress_commit over a real history: each stress regression on its own commit."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import (
    CommitInfo,
    Environment,
    RunStatus,
    StressFigure,
    SuiteRun,
    Verdict,
)
from perf_pipeline.pipeline.stress import analyze_stress_commit
from perf_pipeline.store import HistoryStore
from perf_pipeline.workspace import Workspace


def _figures(*, leak: float, exponent: float) -> tuple[StressFigure, ...]:
    return (StressFigure(test="t::soak", scenario="soak", kind="soak", figure="leak", value=leak),
            StressFigure(test="t::sweep", scenario="sweep", kind="sweep", figure="exponent",
                         value=exponent, low=exponent - 0.1, high=exponent + 0.1))


def test_each_stress_regression_is_reported_on_its_own_commit(tmp_path: Path) -> None:
    settings = Settings(results_dir=tmp_path / "results", confirm="off")  # the screen alone
    ws = Workspace(settings)
    history = [("a" * 40, _figures(leak=0, exponent=1.0)),   # baseline
               ("b" * 40, _figures(leak=1, exponent=1.0)),   # adds a leak
               ("c" * 40, _figures(leak=1, exponent=2.0))]   # makes a step quadratic
    with HistoryStore.open(settings.db_path) as store:
        for day, (sha, figures) in enumerate(history, start=1):
            run_id = f"run{day}"
            commit = CommitInfo(sha=sha, branch="main", message="m", author="x",
                                committed_at=f"2024-01-0{day}T00:00:00+00:00")
            store.ingest_run(SuiteRun(run_id=run_id, suite="stress", status=RunStatus.SUCCESS,
                                      started_at=f"2024-01-0{day}T00:00:00+00:00",
                                      commit=commit))
            store.record_stress(run_id, figures)
    found = {}
    for sha, _ in history:
        outcome = analyze_stress_commit(ws, sha)
        found[sha[0]] = sorted(c.figure for c in outcome.regressions)
        assert outcome.markdown_path.read_text().startswith("## Stress")
        assert all(p.read_bytes().startswith(b"\x89PNG") for p in outcome.plots)
    assert found == {"a": [], "b": ["leak"], "c": ["exponent"]}
    last = analyze_stress_commit(ws, "c" * 40)
    assert last.baseline_sha == "b" * 40
    assert {c.figure: c.verdict for c in last.comparisons}["leak"] is Verdict.UNCHANGED
    assert "stress regression" in last.markdown and "exponent" in last.html_path.read_text()


def test_only_runs_at_the_same_multiplier_are_compared(tmp_path: Path) -> None:
    """A docs-only commit at STRESS_MULTIPLIER 0.3 after a run at 1.5 showed four stress
    "regressions" (shorter steps, fewer workers): another multiplier is another
    experiment. Runs that recorded none are compared as before."""
    def at(multiplier: float | None, exponent: float) -> tuple[StressFigure, ...]:
        figs = _figures(leak=0, exponent=exponent)
        if multiplier is None:
            return figs
        return figs + tuple(StressFigure(test=f.test, scenario=f.scenario, kind=f.kind,
                                         figure="multiplier", value=multiplier) for f in figs)

    settings = Settings(results_dir=tmp_path / "results", confirm="off")
    ws = Workspace(settings)
    history = [("a" * 40, at(None, 1.0)), ("b" * 40, at(0.3, 1.0)), ("c" * 40, at(1.5, 2.0)),
               ("d" * 40, at(0.3, 1.0)), ("e" * 40, at(1.5, 2.0))]
    with HistoryStore.open(settings.db_path) as store:
        for day, (sha, figures) in enumerate(history, start=1):
            commit = CommitInfo(sha=sha, branch="main", message="m", author="x",
                                committed_at=f"2024-01-0{day}T00:00:00+00:00")
            store.ingest_run(SuiteRun(run_id=f"run{day}", suite="stress",
                                      status=RunStatus.SUCCESS, commit=commit,
                                      started_at=f"2024-01-0{day}T00:00:00+00:00"))
            store.record_stress(f"run{day}", figures)
    first_at_15 = analyze_stress_commit(ws, "c" * 40)
    assert first_at_15.baseline_sha == "a" * 40  # b ran at 0.3; a recorded no multiplier
    assert ("1 earlier stress run(s) ran at another STRESS\\_MULTIPLIER"
            in first_at_15.markdown)
    again = analyze_stress_commit(ws, "d" * 40)
    assert again.baseline_sha == "b" * 40 and not again.regressions
    assert "STRESS\\_MULTIPLIER 0.3" in again.markdown
    last = analyze_stress_commit(ws, "e" * 40)
    assert last.baseline_sha == "c" * 40 and not last.regressions
    assert "multiplier" not in {c.figure for c in last.comparisons}  # shown, not judged


def test_a_stress_run_is_not_compared_with_a_replaced_cpus(tmp_path: Path) -> None:
    """One machine_id, its CPU replaced: the first stress run of the new CPU was judged
    against the old CPU's (confirm off: the screen is the verdict) and nothing said so."""
    old = Environment(python_version="3.11.7", python_implementation="CPython",
                      os="Linux 6.1", machine="x86_64", cpu_model="Old CPU", cpu_count=8)
    new = replace(old, cpu_model="New CPU")
    settings = Settings(results_dir=tmp_path / "results", confirm="off", machine_id="bench-a")
    ws = Workspace(settings)
    history = [("a" * 40, old, 1.0), ("b" * 40, new, 2.0), ("c" * 40, None, 2.0),
               ("d" * 40, new, 2.0)]
    with HistoryStore.open(settings.db_path) as store:
        for day, (sha, env, exponent) in enumerate(history, start=1):
            commit = CommitInfo(sha=sha, branch="main", message="m", author="x",
                                committed_at=f"2024-01-0{day}T00:00:00+00:00")
            store.ingest_run(SuiteRun(run_id=f"run{day}", suite="stress",
                                      status=RunStatus.SUCCESS, commit=commit,
                                      started_at=f"2024-01-0{day}T00:00:00+00:00",
                                      environment=env, machine_id="bench-a"))
            store.record_stress(f"run{day}", _figures(leak=0, exponent=exponent))
    first = analyze_stress_commit(ws, "b" * 40)
    assert first.baseline_sha is None and not first.regressions
    assert ("1 earlier stress run(s) of machine bench-a were measured on other hardware "
            "(CPU model 'Old CPU' → 'New CPU')") in " ".join(first.markdown.split())
    unknown = analyze_stress_commit(ws, "c" * 40)  # no environment: not known to differ
    assert unknown.baseline_sha == "b" * 40
    assert analyze_stress_commit(ws, "d" * 40).baseline_sha == "c" * 40


def test_the_commit_reports_show_the_stress_section() -> None:
    from perf_pipeline.analysis.stress import compare_stress
    from perf_pipeline.model import ReportData
    from perf_pipeline.report import render_html, render_markdown

    judged = compare_stress(_figures(leak=0, exponent=1.0), _figures(leak=1, exponent=1.0))
    data = ReportData(title="t", generated_at="now", stress=judged,
                      stress_baseline="aaaaaaaaaaaa (run run1)",
                      stress_note="This stress run failed (tests failed)")
    markdown = render_markdown(data)
    assert "## Stress" in markdown and "a leak appeared" in markdown
    assert "> This stress run failed (tests failed)" in markdown  # the commit report too
    page = render_html(data, inline_js=False)
    assert 'id="stress"' in page and "a leak appeared" in page
    assert "This stress run failed (tests failed)" in page
    assert "## Stress" not in render_markdown(ReportData(title="t", generated_at="now"))


def test_figures_files_read_back_and_plot(tmp_path: Path) -> None:
    """Harness → figures file → StressFigure rows → throughput-latency and percentile PNGs."""
    import time

    from perf_pipeline.measure.stress_results import load_stress_figures
    from perf_pipeline.measure.stress_session import StressSession
    from perf_pipeline.report.stress_plots import render_stress_pngs

    session = StressSession("t.py::test_x", out_dir=tmp_path / "run" / "stress")
    session.ramp("sleepy", lambda: time.sleep(0.001), max_workers=2, step_s=0.05)
    session.size_sweep("sweep", lambda n: sum(range(n)), base_size=1000, doublings=2)
    session.soak("soak", lambda: None, duration_s=0.05)
    session.write()
    figures = load_stress_figures(tmp_path / "run")
    names = {(f.scenario, f.figure) for f in figures}
    assert {("sleepy", "throughput_ops_s"), ("sleepy", "breaking_point"), ("sleepy", "p99_s"),
            ("sleepy", "step01_p99_s"), ("sweep", "exponent"), ("soak", "leak"),
            ("soak", "iteration_p99_s"), ("soak", "multiplier")} <= names
    assert {f.value for f in figures if f.figure == "multiplier"} == {1.0}
    pngs = render_stress_pngs(figures, figures)
    assert sorted(n.rsplit("-", 1)[-1] for n in pngs) == ["curve.png", "percentiles.png"]
    assert all(png.startswith(b"\x89PNG") for png in pngs.values())
    (tmp_path / "run" / "stress" / "bad.stress.json").write_text('{"schema_version": 99}')
    with pytest.raises(InvalidInputError, match=r"bad\.stress\.json"):
        load_stress_figures(tmp_path / "run")


def test_a_soak_that_starts_failing_is_an_error_rate_regression(tmp_path: Path) -> None:
    """A soak's errors were neither stored nor judged: a soak whose operation failed on
    every call read as "the leak is gone", an improvement, and no regression."""
    from perf_pipeline.analysis.stress import compare_stress
    from perf_pipeline.measure.stress_results import load_stress_figures
    from perf_pipeline.measure.stress_session import StressSession

    def broken() -> None:
        raise ConnectionError("backend down")

    def figures(op, run: str) -> tuple[StressFigure, ...]:
        session = StressSession("t.py::test_soak", out_dir=tmp_path / run / "stress")
        session.soak("soak", op, duration_s=0.05)
        session.write()
        return load_stress_figures(tmp_path / run)

    rows = compare_stress(figures(lambda: None, "base"), figures(broken, "current"))
    verdicts = {r.figure: r.verdict for r in rows}
    assert verdicts["error_rate"] == Verdict.REGRESSION, rows


def test_the_stress_section_shows_units_that_fit_and_the_figures_it_does_not_judge() -> None:
    """p99 was always in ms ("0.00144 ms"), and p99.9 and growth per iteration, recorded
    as "shown, not judged", appeared nowhere."""
    from perf_pipeline.analysis.stress import compare_stress
    from perf_pipeline.report.stress import render_stress_html, render_stress_markdown

    def figs(p99: float) -> tuple[StressFigure, ...]:
        return (StressFigure(test="t::x", scenario="s", kind="closed", figure="p99_s",
                             value=p99, count=1000),
                StressFigure(test="t::x", scenario="s", kind="closed", figure="p999_s",
                             value=3.2e-6),
                StressFigure(test="t::soak", scenario="soak", kind="soak",
                             figure="growth_bytes_per_iteration", value=2048.0),
                StressFigure(test="t::x", scenario="s", kind="closed", figure="multiplier",
                             value=0.3))
    rows = compare_stress(figs(1.44e-6), figs(1.5e-6))
    thru = (StressFigure(test="t::x", scenario="s", kind="closed", figure="throughput_ops_s",
                         value=1234.5, count=5000),)
    assert "| 1,234/s | 1,234/s |" in render_stress_markdown(compare_stress(thru, thru),
                                                           baseline_label="base")
    text = render_stress_markdown(rows, baseline_label="base", shown=figs(1.5e-6))
    assert "1.44 µs" in text and "ms" not in text
    also = text[text.index("Also measured"):]
    assert "p999\\_s" in also or "p999_s" in also
    assert "3.20 µs" in also and "+2.00 KiB/iteration" in also and "| 0.3 |" in also
    page = render_stress_html(rows, baseline_label="base", shown=figs(1.5e-6))
    assert "Also measured" in page and "+2.00 KiB/iteration" in page


def test_a_stress_report_that_cannot_be_written_is_an_error_naming_its_folder(
        tmp_path: Path) -> None:
    """A full disk or a read-only reports folder ended the stress analysis with a bare
    OSError (CLI exit 3, "a bug"; in Dagster not a ``dg.Failure``). Here the commit's
    report folder is a file."""
    from perf_pipeline.errors import StoreError

    settings = Settings(results_dir=tmp_path / "results")
    ws = Workspace(settings)
    sha = "a" * 40
    with HistoryStore.open(settings.db_path) as store:
        store.ingest_run(SuiteRun(run_id="run1", suite="stress", status=RunStatus.SUCCESS,
                                  started_at="2024-01-01T00:00:00+00:00",
                                  commit=CommitInfo(sha=sha, branch="main", message="m",
                                                    author="x",
                                                    committed_at="2024-01-01T00:00:00+00:00")))
        store.record_stress("run1", _figures(leak=0, exponent=1.0))
    blocker = ws.layout.commit_report_dir(sha)
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match=rf"stress report in {blocker}: cannot write it"):
        analyze_stress_commit(ws, sha)
