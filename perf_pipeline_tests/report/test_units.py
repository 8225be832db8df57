"""Human-readable numbers (``report/units.py``): a value just below a unit boundary."""

from __future__ import annotations

import pytest

from perf_pipeline.report.units import format_bytes, format_ratio, format_seconds, ratio_number


@pytest.mark.parametrize(("n_bytes", "text"), [
    (999.0, "999 B"),
    (1023.0, "1.00 KiB"),
    (1536.0, "1.50 KiB"),
    (1000 * 1024.0, "0.98 MiB"),
    (1024.0**2 - 1, "1.00 MiB"),  # was "1024 KiB"
    (1024.0**3 - 1, "1.00 GiB"),  # was "1024 MiB"
    (-(1024.0**2 - 1), "-1.00 MiB"),
    (5.0 * 1024**4, "5120 GiB"),  # no unit above GiB
    (0.0, "0 B"),
])
def test_bytes_roll_over_to_the_next_unit(n_bytes: float, text: str) -> None:
    assert format_bytes(n_bytes) == text


def test_seconds_and_bytes_roll_over_alike() -> None:
    assert format_seconds(0.0009996) == "1.00 ms"
    assert format_bytes(0.9996 * 2**20) == "1.00 MiB"


def test_a_large_speed_up_is_not_a_ratio_of_zero() -> None:
    assert format_ratio(0.004) == "0.0040×"
    assert format_ratio(0.0123) == "0.012×"
    assert format_ratio(0.05) == "0.050×"
    assert format_ratio(0.5) == "0.50×" and format_ratio(1.004) == "1.004×"
    assert format_ratio(1234.5) == "1234.50×"
    assert ratio_number(0.0035, near_one=False) == "0.0035"
    assert ratio_number(1.004, near_one=False) == "1.00"
    assert ratio_number(float("inf")) == "–" and ratio_number(None) == "–"


def test_a_large_speed_up_reads_as_one_in_every_table() -> None:
    import dataclasses

    from perf_pipeline.model import ChangePoint, Verdict
    from perf_pipeline.report import render_html, render_markdown
    from perf_pipeline_tests.report.synthetic import make_report_data

    data = make_report_data(hostile=False)
    comp = data.comparison
    assert comp is not None
    name = comp.results[1].name
    results = tuple(dataclasses.replace(r, comparison=dataclasses.replace(
        r.comparison, ratio=0.004, ci_low=0.0035, ci_high=0.0046,
        verdict=Verdict.IMPROVEMENT)) if r.name == name else r for r in comp.results)
    data = dataclasses.replace(
        data, comparison=dataclasses.replace(comp, results=results),
        change_points=(ChangePoint(name=name, metric="time_s", run_id=data.runs[-1].run_id,
                                   ratio=0.004),))
    md = render_markdown(data)
    assert "| **0.0040×** | [0.0035, 0.0046] |" in md
    assert "| 0.0040× |" in md  # the change point
    page = render_html(data, inline_js=False)
    assert "0.0035 – 0.0046" in page
    for text in (md, page):
        assert "0.00×" not in text and "0.00 – 0.00" not in text
