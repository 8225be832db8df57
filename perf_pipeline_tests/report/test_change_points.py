"""Change points and drifts reach both reports: Markdown tables and marks on the trends."""

from __future__ import annotations

import json
from dataclasses import replace

from perf_pipeline.model import ChangePoint, Drift
from perf_pipeline.report import escape_markdown, render_html, render_markdown
from perf_pipeline_tests.report.synthetic import make_report_data


def _with_change_point():
    data = make_report_data(hostile=False)
    name = data.series[0].name
    cp = ChangePoint(name=name, metric="time_s", run_id=data.runs[6].run_id, ratio=1.31)
    return replace(data, change_points=(cp,)), name


def test_markdown_lists_change_points_with_their_commit() -> None:
    data, name = _with_change_point()
    md = render_markdown(data)
    assert "Change points in the history (1)" in md
    row = next(line for line in md.splitlines() if "1.31×" in line)
    assert data.runs[6].commit.short_sha in row  # type: ignore[union-attr]
    assert escape_markdown(name) in row and "time per call" in row


def test_html_payload_carries_change_points_for_the_trend() -> None:
    data, name = _with_change_point()
    html = render_html(data)
    start = html.index('type="application/json"')
    blob = html[html.index(">", start) + 1:html.index("</script>", start)]
    payload = json.loads(blob)
    (cp,) = payload["changePoints"]
    assert payload["names"][cp[0]] == name and cp[2] == 6 and cp[3] == 1.31
    assert "change ×" in html  # the page draws it


def _with_drift():
    data = make_report_data(hostile=False)
    name = data.series[0].name
    drift = Drift(name=name, metric="time_s", start_run_id=data.runs[2].run_id,
                  end_run_id=data.runs[7].run_id, ratio=1.12, commits=6)
    return replace(data, drifts=(drift,)), name


def test_markdown_lists_drifts_with_their_span() -> None:
    data, name = _with_drift()
    md = render_markdown(data)
    assert "Slow drifts in the history (1)" in md
    row = next(line for line in md.splitlines() if "1.12×" in line)
    assert escape_markdown(name) in row and "| 6 |" in row
    assert escape_markdown(data.runs[2].label) in row
    assert escape_markdown(data.runs[7].label) in row


def test_html_payload_carries_drifts_for_the_trend() -> None:
    data, _ = _with_drift()
    html = render_html(data)
    start = html.index('type="application/json"')
    blob = html[html.index(">", start) + 1:html.index("</script>", start)]
    (drift,) = json.loads(blob)["drifts"]
    assert drift[2:] == [2, 7, 1.12]
    assert "drift ×" in html


def test_an_abandoned_culprit_search_shows_no_commit_and_no_step() -> None:
    """A search abandoned before it began (its step gone) names no commit and measured no
    step; its row read "| `` |  |  | 1.000× | – | abandoned |": an empty code span
    (shown as two backticks) and the default step_ratio as if it were a step of 1.0."""
    from perf_pipeline.model import Culprit

    data = replace(make_report_data(hostile=False), culprits=(Culprit(
        status="abandoned", benchmark="tests/t.py::test_x", good_sha="a" * 40,
        bad_sha="b" * 40, created_at="2026-12-01T00:00:00+00:00",
        notes=("the step is gone",)),))
    md = render_markdown(data)
    row = next(line for line in md.splitlines() if line.startswith("| tests/t.py::test\\_x"))
    assert row == "| tests/t.py::test\\_x | – |  |  | – | – | abandoned |", row
    page = render_html(data, inline_js=False)
    table = page[page.index('id="culprits"'):]
    table = table[:table.index("</table>")]
    assert "<code></code>" not in table and "1.000×" not in table, table
