"""PNG plots and the file writer."""

from __future__ import annotations

import os
import struct
from dataclasses import replace
from pathlib import Path

import pytest

from perf_pipeline.model import ReportData
from perf_pipeline.report import ReportFiles, render_plots, write_report
from perf_pipeline.report.profile import render_memory_png
from perf_pipeline_tests.report.synthetic import make_report_data

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(content: bytes) -> tuple[int, int]:
    assert content[:8] == PNG_MAGIC
    width, height = struct.unpack(">II", content[16:24])
    return width, height


@pytest.mark.parametrize("data", [make_report_data(),
                                  ReportData(title="t", generated_at="2025-01-01"),
                                  make_report_data(n_runs=1, n_samples=1)],
                         ids=["history", "empty", "one_run"])
def test_plots_are_valid_pngs_of_sensible_size(data: ReportData) -> None:
    pngs = render_plots(data)
    assert set(pngs) == {"trend_time.png", "trend_memory.png", "distribution.png",
                         "correlation.png"}
    for content in pngs.values():
        width, height = _png_size(content)
        assert 400 <= width <= 2000 and 250 <= height <= 1600
        assert 2_000 < len(content) < 1_500_000


def test_write_report_writes_everything_atomically(tmp_path: Path) -> None:
    md = tmp_path / "md" / "performance-report.md"
    files = write_report(make_report_data(), tmp_path / "reports", markdown_path=md,
                         inline_js=False)
    assert isinstance(files, ReportFiles)
    assert files.html.name == "performance_report.html" and files.html.is_file()
    assert files.plotly_js is not None and files.plotly_js.stat().st_size > 1_000_000
    assert files.markdown == md and md.read_text().startswith("<!-- perf-pipeline-report -->")
    assert len(files.pngs) == 4 and all(p.is_file() for p in files.pngs)
    leftovers = [p for p in os.listdir(tmp_path / "reports") if p.endswith(".tmp")]
    assert leftovers == []


def test_write_report_inline_has_no_side_files(tmp_path: Path) -> None:
    files = write_report(make_report_data(), tmp_path, plots=False)
    assert files.plotly_js is None and files.pngs == ()
    assert not (tmp_path / "plotly.min.js").exists()
    assert "Plotly" in files.html.read_text()


def _renamed(data: ReportData, old: str, new: str) -> ReportData:
    """``data`` with benchmark ``old`` called ``new`` everywhere it appears."""
    def fix(name: str) -> str:
        return new if name == old else name

    return replace(
        data,
        current=replace(data.current, benchmarks=tuple(
            replace(b, name=fix(b.name)) for b in data.current.benchmarks)),
        baseline=replace(data.baseline, entries=tuple(
            replace(e, name=fix(e.name)) for e in data.baseline.entries)),
        comparison=replace(data.comparison, results=tuple(
            replace(r, name=fix(r.name)) for r in data.comparison.results)),
        series=tuple(replace(s, name=fix(s.name)) for s in data.series))


@pytest.mark.parametrize("name", [
    "tests/test_tpl.py::test_render[${prefix}_${suffix}]",  # parametrize("tpl", [...])
    "tests/test_fmt.py::test_price[$x^$]",
    r"tests/test_fmt.py::test_escaped[\$a$b$]",
])
def test_a_dollar_pair_in_a_name_is_drawn_as_text(tmp_path: Path, name: str) -> None:
    # matplotlib parses text between two "$" as math: such a pytest id raised a
    # ValueError that stopped the whole report, its Markdown (the PR comment) included.
    base = make_report_data(n_benchmarks=4, n_runs=6, hostile=False)
    data = _renamed(base, base.current.benchmarks[0].name, name)  # the most changed one
    md = tmp_path / "performance-report.md"
    files = write_report(data, tmp_path / "r", markdown_path=md, inline_js=False)
    assert len(files.pngs) == 4 and md.is_file()
    assert render_memory_png(name, [([0.0, 1.0], [1e6, 2e6])], [([0.0, 1.0], [1e6, 3e6])])


def test_the_markdown_is_written_even_when_a_plot_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: ReportData) -> dict[str, bytes]:
        raise ValueError("a plot that cannot be drawn")

    monkeypatch.setattr("perf_pipeline.report.writer.render_plots", broken)
    md = tmp_path / "performance-report.md"
    with pytest.raises(ValueError, match="cannot be drawn"):
        write_report(make_report_data(), tmp_path / "r", markdown_path=md)
    assert md.read_text().startswith("<!-- perf-pipeline-report -->")


def test_pages_side_by_side_share_one_chart_library(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    for sha in ("a" * 40, "b" * 40):
        files = write_report(make_report_data(), reports / "commits" / sha, plots=False,
                             inline_js=False, js_dir=reports)
        assert files.plotly_js == reports / "plotly.min.js"
        assert '<script src="../../plotly.min.js">' in files.html.read_text()
        assert not (files.html.parent / "plotly.min.js").exists()
    assert sorted(p.name for p in reports.iterdir()) == ["commits", "plotly.min.js"]


def _decided_by_ab(data: ReportData) -> tuple[ReportData, str]:
    """``data`` with its regressed benchmark decided by the confirmation's A/B (x1.61)."""
    comp = data.comparison
    assert comp is not None
    name = comp.results[0].name
    results = tuple(replace(r, comparison=replace(
        r.comparison, ratio=1.61, method="sequential interleaved A/B: per-round log-ratios"))
        if r.name == name else r for r in comp.results)
    return replace(data, comparison=replace(comp, results=results)), name


def test_the_distribution_plot_marks_the_ab_ratio(monkeypatch: pytest.MonkeyPatch) -> None:
    # The boxes are the stored samples; the A/B's ratio is of its own rounds. The tables
    # write "1.61× (A/B)", and so must the plot's title above those boxes.
    from matplotlib.axes import Axes

    from perf_pipeline.report.plots import render_distribution_png

    data, _ = _decided_by_ab(make_report_data(hostile=False))
    titles: list[str] = []
    original = Axes.set_title

    def record(self: Axes, text: str, *args: object, **kwargs: object) -> object:
        titles.append(text)
        return original(self, text, *args, **kwargs)

    monkeypatch.setattr(Axes, "set_title", record)
    render_distribution_png(data)
    assert any(t.endswith("ratio 1.61× (A/B)") for t in titles), titles
    assert not any("1.61×" in t and "(A/B)" not in t for t in titles)


def test_trend_lines_of_one_verdict_can_be_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    # A line's colour is its verdict: in a history where nothing changed every line was
    # the same grey with the same marker, and the legend could not say which was which.
    from matplotlib.axes import Axes

    from perf_pipeline.model import Verdict
    from perf_pipeline.report.plots import render_trend_png

    data = make_report_data(hostile=False)
    comp = data.comparison
    assert comp is not None
    unchanged = tuple(replace(r, comparison=replace(r.comparison, verdict=Verdict.UNCHANGED))
                      for r in comp.results)
    data = replace(data, comparison=replace(comp, results=unchanged))
    drawn: list[tuple[object, object, object]] = []
    original = Axes.plot

    def record(self: Axes, *args: object, **kwargs: object) -> object:
        drawn.append((kwargs.get("color"), kwargs.get("marker"), kwargs.get("linestyle")))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Axes, "plot", record)
    render_trend_png(data)
    assert len(drawn) == 6 and len({color for color, _, _ in drawn}) == 1
    assert len({(marker, str(style)) for _, marker, style in drawn}) == len(drawn)
