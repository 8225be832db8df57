"""HTML report (without a browser): escaping, the data island, edge cases."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import re

import pytest

from perf_pipeline.model import ReportData
from perf_pipeline.report import render_html
from perf_pipeline.report.payload import build_payload, embed_json
from perf_pipeline_tests.report.synthetic import XSS_NAME, make_report_data


def _island(page: str) -> str:
    m = re.search(r'<script type="application/json" id="report-data" '
                  r'data-encoding="([^"]+)">(.*?)</script>', page, re.S)
    assert m is not None
    if m.group(1) == "gzip+base64":
        return gzip.decompress(base64.b64decode(m.group(2))).decode()
    return m.group(2)


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(make_report_data(), inline_js=False)


def test_untrusted_names_are_escaped(page: str) -> None:
    assert XSS_NAME not in page
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;_failed" in page  # server-rendered list
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in page  # data island
    assert "<script>window.__xss" not in page
    # Only our own three script elements exist.
    assert page.count("<script") == 3


def test_no_remote_references(page: str) -> None:
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert '<script src="plotly.min.js">' in page
    assert "connect-src 'none'" in page


def test_data_island_round_trips(page: str) -> None:
    data = json.loads(_island(page))
    assert data["names"][0] == "tests/test_perf.py::test_bench_000[case-0]"  # regression first
    assert data["verdicts"][0] == "regression"
    assert XSS_NAME in data["names"]
    assert len(data["runs"]["sha"]) == 10


def test_embed_json_cannot_close_the_script() -> None:
    text = embed_json({"x": "</script><!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"x": "</script><!-- & \u2028"}


def test_compressed_island_for_large_payloads() -> None:
    page = render_html(make_report_data(), inline_js=False, compress_over_bytes=100)
    assert 'data-encoding="gzip+base64"' in page
    assert json.loads(_island(page))["names"]


def test_series_encoding_is_compact_and_exact_enough() -> None:
    data = make_report_data()
    payload = build_payload(data)
    enc = payload["series"][0]
    b, m, start, exp, values = enc[:5]
    original = next(s for s in data.series if s.name == payload["names"][b]
                    and s.metric == payload["metrics"][m][0])
    assert start == 0
    for v, o in zip(values, original.values, strict=True):
        assert abs(v * 10.0**exp - o) <= abs(o) * 1e-3


@pytest.mark.parametrize("case", ["empty", "one_run", "no_baseline", "no_comparison",
                                  "zero_variance"])
def test_edge_cases_render(case: str) -> None:
    if case == "empty":
        data = ReportData(title="t", generated_at="2025-01-01T00:00:00Z")
    elif case == "one_run":
        data = make_report_data(n_runs=1, n_samples=1)
    elif case == "no_baseline":
        data = make_report_data(with_baseline=False)
    elif case == "no_comparison":
        data = make_report_data(with_comparison=False)
    else:
        d = make_report_data()
        data = dataclasses.replace(d, series=tuple(
            dataclasses.replace(s, values=(1.0,) * len(s.values), lows=(1.0,) * len(s.values),
                                highs=(1.0,) * len(s.values)) for s in d.series))
    page = render_html(data, inline_js=False)
    assert "<html" in page and json.loads(_island(page))["v"] == 1


def test_the_history_report_lists_what_is_new_and_every_change_in_words() -> None:
    """The HTML had only markers on the trend charts: no alerts block and no table of
    change points, drifts or culprit searches, though the Markdown had them."""
    from perf_pipeline.model import Alert, ChangePoint, Culprit, Drift

    data = make_report_data()
    runs = [r.run_id for r in data.runs]
    data = dataclasses.replace(
        data,
        change_points=(ChangePoint(XSS_NAME, "time_s", runs[6], 1.25),),
        drifts=(Drift("tests/test_perf.py::test_slowly", "time_s", runs[1], runs[8], 1.12, 8),),
        culprits=(Culprit(benchmark=XSS_NAME, good_sha="a" * 40, bad_sha="b" * 40,
                          status="confirmed", created_at="2026-12-01T00:00:00+00:00",
                          sha="c" * 40, parent_sha="a" * 40, subject="<b>speed</b> up",
                          author="Ann", step_ratio=1.25, confirmed_ratio=1.24, ci_low=1.2,
                          ci_high=1.28),),
        alerts=(Alert("change_point", XSS_NAME, "time_s", 1.25, sha="c" * 40,
                      subject="<b>speed</b> up", detail="new level x1.25 from run 6"),))
    page = render_html(data, inline_js=False)
    assert XSS_NAME not in page and "<b>speed</b>" not in page
    alerts = page[page.index('id="alerts"'):page.index("</section>", page.index('id="alerts"'))]
    assert "New in the history (1)" in alerts and "New level · <b>test_&lt;img" in alerts
    assert "new level x1.25 from run 6" in alerts and "cccccccccc" in alerts
    events = page[page.index('id="history-events"'):]
    assert "Change points (1)" in events and "1.25×" in events
    assert "Slow drifts (1)" in events and "tests/test_perf.py::test_slowly" in events
    assert "Culprit searches (1)" in events and "1.24× [1.20, 1.28]" in events
    assert page.index('id="alerts"') < page.index('id="explore"')  # first, before the charts


def test_stress_runs_and_stress_verdicts_have_ids_of_their_own() -> None:
    # A history with a stress run and a commit whose stress figures were judged shows
    # both sections: one id each, or the page is invalid and #stress finds the run list.
    from perf_pipeline.model import RunInfo, RunStatus, StressComparison, Verdict

    data = make_report_data(hostile=False)
    stress_run = RunInfo(run_id="run-stress", suite="stress",
                         started_at="2025-01-10T13:00:00Z", status=RunStatus.SUCCESS,
                         commit=data.runs[-1].commit, duration_s=30.0)
    rows = (StressComparison(test="t.py::test_x", scenario="s", figure="p99_s",
                             verdict=Verdict.REGRESSION, baseline=0.01, current=0.02,
                             rule="r", detail="d"),)
    page = render_html(dataclasses.replace(data, runs=(*data.runs, stress_run), stress=rows,
                                           stress_baseline="abc"), inline_js=False)
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert re.search(r'<section id="stress">\s*<h2>Stress</h2>', page)


def test_a_commit_without_a_message_has_no_dangling_dash() -> None:
    """Plain pytest-benchmark files carry no commit message: the Commit line read
    "<sha> on main — " with nothing after the dash."""
    data = make_report_data(hostile=False)
    assert data.current is not None and data.current.commit is not None
    bare = dataclasses.replace(data.current.commit, message="")
    data = dataclasses.replace(data, current=dataclasses.replace(data.current, commit=bare))
    dd = re.search(r"<dt>Commit</dt>\s*<dd>(.*?)</dd>", render_html(data, inline_js=False), re.S)
    assert dd is not None and dd.group(1).endswith("on <b>main</b>")
