"""The stress section's renderers: Markdown and the stand-alone HTML page."""

from __future__ import annotations

import html
import re

from perf_pipeline.model import StressComparison, Verdict
from perf_pipeline.report.stress import render_stress_html, render_stress_markdown

_ROWS = (StressComparison(test="tests/test_stress.py::test_online_lookups", scenario="load_x2",
                          figure="p99_s", verdict=Verdict.REGRESSION, baseline=0.010,
                          current=0.020, rule="binomial tail", detail="p99 x2.00 <tail>"),)


def test_html_headline_shows_the_text_not_markdown_escapes() -> None:
    page = render_stress_html(_ROWS, baseline_label="abc123 (run run_0001)")
    head = re.search(r"<h2>Stress</h2><p>(.*?)</p>", page)
    assert head is not None
    shown = html.unescape(head.group(1))  # what a browser displays
    assert shown == ("1 stress regression(s) against abc123 (run run_0001): "
                     "load_x2 p99_s (p99 x2.00 <tail>)")
    assert "<tail>" not in head.group(1)  # still escaped in the page itself


def test_markdown_headline_stays_escaped_and_bold() -> None:
    text = render_stress_markdown(_ROWS, baseline_label="abc123 (run run_0001)")
    assert ("**1 stress regression(s)** against abc123 (run run\\_0001): "
            "load\\_x2 p99\\_s (p99 x2.00 &lt;tail&gt;)") in text


def test_throughput_reads_without_an_exponent() -> None:
    row = StressComparison(test="t.py::test_flood", scenario="flood",
                           figure="throughput_ops_s", verdict=Verdict.IMPROVEMENT,
                           baseline=146_817.0, current=206_812.0, rule="ratio 1.3",
                           detail="throughput x1.41")
    slow = StressComparison(test="t.py::test_slow", scenario="slow",
                            figure="throughput_ops_s", verdict=Verdict.UNCHANGED,
                            baseline=12.345, current=0.5, rule="ratio 1.3", detail="")
    md = render_stress_markdown((row, slow), baseline_label="abc")
    page = render_stress_html((row, slow), baseline_label="abc")
    for text in (md, page):
        assert "146,800/s" in text and "206,800/s" in text
        assert "12.35/s" in text and "0.5/s" in text
        assert "e+" not in text
