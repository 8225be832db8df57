"""The HTML data island (``report/payload.py``): what the page decodes is what was measured."""

from __future__ import annotations

import json
from typing import Any

import pytest

from perf_pipeline.model import MetricSeries, ReportData, RunInfo, RunStatus
from perf_pipeline.report.payload import build_payload, embed_json
from perf_pipeline_tests.report.synthetic import make_report_data, with_suite_shift

_RUNS = tuple(RunInfo(run_id=f"r{i}", suite="benchmarks",
                      started_at=f"2025-01-0{i + 1}T00:00:00Z", status=RunStatus.SUCCESS)
              for i in range(6))


def _decode(enc: list[Any]) -> tuple[list[float], list[float], list[float]]:
    """What report.js's decode() computes: value, low and high per point."""
    f = 10.0 ** enc[3]
    v = enc[4]
    lo = enc[5] or [0] * len(v)
    hi = enc[6] or [0] * len(v)
    return ([x * f for x in v],
            [(x - d) * f for x, d in zip(v, lo, strict=True)],
            [(x + d) * f for x, d in zip(v, hi, strict=True)])


@pytest.mark.parametrize(("metric", "values"), [
    # a 50 µs function that once slept for a second: stored as 0 0 0 0 0 1.0
    ("time_s", (5.1e-5, 4.9e-5, 5.0e-5, 5.2e-5, 5.0e-5, 1.0)),
    # a few KiB read, and one cold-cache run of 64 MiB: stored as 0 / 10000 / 10000
    ("io_read_bytes", (4096.0, 8192.0, 67108864.0, 4096.0, 12288.0, 4096.0)),
    # more decades than an exact integer can hold: floats, each with its own digits
    ("time_s", (1e-9, 3.3e-9, 2.5e9, 1e-9, 0.0, 7.0)),
], ids=["time-outlier", "io-cold-read", "twenty-decades"])
def test_every_point_keeps_four_significant_digits(
        metric: str, values: tuple[float, ...]) -> None:
    lows = tuple(v * 0.9 for v in values)
    highs = tuple(v * 1.2 for v in values)
    series = MetricSeries(name="t::test_x", metric=metric,
                          run_ids=tuple(r.run_id for r in _RUNS),
                          values=values, lows=lows, highs=highs)
    data = ReportData(title="t", generated_at="2025-01-01T00:00:00Z", runs=_RUNS,
                      series=(series,))
    payload = json.loads(embed_json(build_payload(data)))  # the page sees JSON
    (enc,) = payload["series"]
    for got, want in zip(_decode(enc), (values, lows, highs), strict=True):
        for g, w in zip(got, want, strict=True):
            assert g == pytest.approx(w, rel=1e-3, abs=0.0)


def test_a_comparison_the_ab_decided_is_marked_for_the_page() -> None:
    import dataclasses

    from perf_pipeline_tests.report.synthetic import make_report_data

    data = make_report_data(hostile=False)
    comp = data.comparison
    assert comp is not None
    name = comp.results[0].name
    results = tuple(dataclasses.replace(r, comparison=dataclasses.replace(
        r.comparison, method="sequential interleaved A/B: per-round log-ratios"))
        if r.name == name else r for r in comp.results)
    data = dataclasses.replace(data, comparison=dataclasses.replace(comp, results=results))
    payload = build_payload(data)
    flags = {payload["names"][c[0]]: c[10] for c in payload["cmp"]}
    assert flags[name] == 1
    assert set(v for n, v in flags.items() if n != name) == {0}


def test_the_suite_shift_is_marked_and_grouped_apart_from_the_benchmarks() -> None:
    payload = build_payload(with_suite_shift(make_report_data(hostile=False)))
    names = payload["names"]
    assert isinstance(names, list) and payload["shift"] == names.index("[suite-wide shift]")
    groups = payload["groups"]
    assert isinstance(groups, list) and groups[payload["shift"]] == "(whole suite)"
    assert "(ungrouped)" not in groups
    assert build_payload(make_report_data(hostile=False))["shift"] is None
