"""PNG plots and the file writer."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from perf_pipeline.model import ReportData
from perf_pipeline.report import ReportFiles, render_plots, write_report
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
