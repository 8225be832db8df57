"""Stress plots (``report/stress_plots.py``): one file per (test, scenario)."""

from __future__ import annotations

from perf_pipeline.model import StressFigure
from perf_pipeline.report.stress import render_stress_markdown
from perf_pipeline.report.stress_plots import render_stress_pngs


def _ramp(test: str, scenario: str, scale: float) -> list[StressFigure]:
    out = []
    for i, load in enumerate((1, 2, 4)):
        out.append(StressFigure(test=test, scenario=scenario, kind="ramp",
                                figure=f"step{i}_throughput_ops_s",
                                value=100.0 * load * scale, low=float(load)))
        out.append(StressFigure(test=test, scenario=scenario, kind="ramp",
                                figure=f"step{i}_p99_s", value=0.001 * load * scale))
    return out


def test_same_test_name_or_lookalike_scenario_gets_its_own_file() -> None:
    # The same function name in two files, and scenarios that differ only in a character
    # a file name cannot hold: the names were equal, and one plot replaced the other.
    current = (_ramp("tests/stress/test_api.py::test_load", "ramp", 1.0)
               + _ramp("tests/stress/test_db.py::test_load", "ramp", 3.0)
               + _ramp("tests/stress/test_io.py::test_x", "read/write", 1.0)
               + _ramp("tests/stress/test_io.py::test_x", "read write", 2.0))
    pngs = render_stress_pngs([], current)
    assert len(pngs) == 4 and all(n.endswith("-curve.png") for n in pngs)
    assert len(set(pngs.values())) == 4  # four different pictures, none overwritten
    assert sorted(render_stress_pngs([], current[::-1])) == sorted(pngs)  # stable names
    markdown = render_stress_markdown([], baseline_label="b", images=tuple(pngs))
    assert all(f"({name})" in markdown for name in pngs)


def test_the_stress_tables_tell_two_tests_of_one_name_apart() -> None:
    from perf_pipeline.model import StressComparison, Verdict
    from perf_pipeline.report import escape_markdown
    from perf_pipeline.report.stress import SHOWN_STRESS_FIGURES

    api, db = "tests/stress/test_api.py::test_load", "tests/stress/test_db.py::test_load"
    rows = [StressComparison(test=t, scenario="ramp", figure="throughput_ops_s",
                             verdict=Verdict.UNCHANGED, baseline=1.0, current=1.0, rule="r",
                             detail="d") for t in (api, db)]
    shown = [StressFigure(test=t, scenario="ramp", kind="ramp",
                          figure=SHOWN_STRESS_FIGURES[0], value=1.0) for t in (api, db)]
    markdown = render_stress_markdown(rows, baseline_label="b", shown=shown)
    # both rows read "test_load" before: which file's test had regressed was not said
    for label in ("test_api.py::test_load", "test_db.py::test_load"):
        assert markdown.count(f"| {escape_markdown(label)} |") == 2  # judged, and shown
