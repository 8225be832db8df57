"""A report's Markdown and HTML (and PNGs) come from one report, however the write ends.

``write_report`` writes the Markdown, then the HTML, then the PNGs, one file after
another. A child process writes report A whole, then report B with a SIGKILL injected at
a chosen point of that write (while the page is rendered, before the n-th file). After
each kill, the files that are there must all be A's or all B's: never B's Markdown (the
PR comment) beside A's HTML page, which a reader takes for one analysis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from perf_pipeline.report import HTML_NAME, render_plots
from perf_pipeline_tests.report.synthetic import make_report_data

CHILD = textwrap.dedent('''
    import os, signal, sys
    from dataclasses import replace
    from pathlib import Path
    from perf_pipeline.report import writer
    from perf_pipeline_tests.report.synthetic import make_report_data

    out, md, point = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    def report(name, n_runs):
        return replace(make_report_data(n_runs=n_runs, n_benchmarks=3), notes=(name,))

    writer.write_report(report("report-A", 4), out, markdown_path=md)

    def kill(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    if point == "render_html":
        writer.render_html = kill
    else:
        real, calls = writer.write_atomic, []
        def write_atomic(path, content):
            calls.append(path)
            if len(calls) == int(point):
                kill()
            return real(path, content)
        writer.write_atomic = write_atomic
    writer.write_report(report("report-B", 5), out, markdown_path=md)
    print("not killed", flush=True)
''')

@pytest.fixture(scope="module")
def pngs() -> dict[str, dict[str, bytes]]:
    """Each report's PNGs, to tell them apart (they name no report)."""
    return {report: render_plots(make_report_data(n_runs=n_runs, n_benchmarks=3))
            for report, n_runs in (("A", 4), ("B", 5))}


def _which(path: Path, pngs: dict[str, dict[str, bytes]]) -> str | None:
    """Which report a file comes from (``None``: not there)."""
    if not path.exists():
        return None
    if path.suffix == ".png":
        found = {report for report, files in pngs.items()
                 if files[path.name] == path.read_bytes()}
    else:
        text = path.read_text(encoding="utf-8")
        found = {report for report in ("A", "B") if f"report-{report}" in text}
    assert len(found) == 1, f"{path.name} is of {found or 'no report'}"
    return found.pop()


# Killed while the new page is rendered, before its HTML file, before its first PNG.
@pytest.mark.parametrize("point", ["render_html", "2", "3"])
def test_a_kill_during_the_write_never_leaves_files_of_two_reports(
        tmp_path: Path, point: str, pngs: dict[str, dict[str, bytes]]) -> None:
    out, md = tmp_path / "reports", tmp_path / "performance-report.md"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(out), str(md), point],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    files = [md, out / HTML_NAME, *(out / name for name in pngs["A"])]
    sources = {path.name: _which(path, pngs) for path in files}
    assert len({s for s in sources.values() if s is not None}) == 1, sources


def test_a_page_that_cannot_be_drawn_leaves_the_new_markdown_without_the_old_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Markdown is written whatever happens to the page (it is the PR comment), and
    the previous report's page and plots do not stay beside it."""
    from dataclasses import replace

    from perf_pipeline.report import write_report

    out, md = tmp_path / "reports", tmp_path / "performance-report.md"
    data = make_report_data(n_runs=4, n_benchmarks=3)
    write_report(replace(data, notes=("report-A",)), out, markdown_path=md)

    def broken(*args: object, **kwargs: object) -> str:
        raise ValueError("a page that cannot be drawn")

    monkeypatch.setattr("perf_pipeline.report.writer.render_html", broken)
    with pytest.raises(ValueError, match="cannot be drawn"):
        write_report(replace(data, notes=("report-B",)), out, markdown_path=md)
    assert "report-B" in md.read_text()
    assert sorted(p.name for p in out.iterdir()) == []
