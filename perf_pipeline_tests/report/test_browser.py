"""The HTML report in a real headless Chromium (Debian's ``chromium`` via Playwright).

Checks what a person would notice: it loads offline without errors or requests, draws
the charts, hovering a point names its commit, the filter narrows the list, and hostile
names stay text. A screenshot is left at ``/tmp/report.png`` for a human to look at.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from perf_pipeline.model import ReportData
from perf_pipeline.report import write_report
from perf_pipeline.report.units import format_metric, format_p_value, ratio_number
from perf_pipeline_tests.report.synthetic import (
    XSS_MESSAGE,
    XSS_NAME,
    make_report_data,
    with_memory_regression,
    with_suite_shift,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOT = Path("/tmp/report.png")

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="/usr/bin/chromium missing (apt-get install chromium; "
                              ".ci/run installs it)"),
    pytest.mark.slow,
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Loaded:
    def __init__(self, browser: object, html: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1600, "height": 1000})  # type: ignore[attr-defined]
        self.console_errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(html.as_uri())
        self.page.wait_for_selector("body[data-ready='1']", timeout=20_000)


@pytest.fixture(scope="module")
def report(browser: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    out = tmp_path_factory.mktemp("report")
    files = write_report(make_report_data(), out, plots=False)
    loaded = Loaded(browser, files.html)
    yield loaded
    loaded.page.close()


def test_loads_offline_without_errors(report: Loaded) -> None:
    assert report.console_errors == []
    assert len(report.requests) == 1 and report.requests[0].startswith("file://")
    assert report.page.evaluate("document.body.dataset.error") is None
    report.page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_charts_have_expected_traces(report: Loaded) -> None:
    count = "id => document.getElementById(id).data.length"
    # band high + band low + medians + baseline runs + current point
    assert report.page.evaluate(count, "trend") == 5
    assert report.page.evaluate(count, "resources") == 4  # RSS, tracemalloc, CPU user/sys
    assert report.page.evaluate(count, "distribution") == 2  # baseline vs current
    assert report.page.evaluate(count, "heatmap") == 1
    assert report.page.evaluate(count, "overview") == 1
    assert report.page.evaluate("document.querySelectorAll('#trend .main-svg').length") > 0


def test_hover_shows_commit_and_message_as_text(report: Loaded) -> None:
    data = make_report_data()
    run = data.runs[8]  # its commit message is the hostile one
    assert run.commit is not None and run.commit.message == XSS_MESSAGE
    report.page.evaluate(
        "() => Plotly.Fx.hover(document.getElementById('trend'),"
        " [{curveNumber: 2, pointNumber: 8}])")
    label = report.page.locator("#trend .hoverlayer .hovertext").first
    label.wait_for(timeout=5_000)
    text = label.text_content() or ""
    assert run.commit.short_sha in text
    assert "<script>window.__xss=1;alert(1)</script>" in text
    assert "median" in text and "interval" in text
    assert report.page.evaluate("window.__xss") is None
    assert report.dialogs == []


def test_filter_narrows_the_list(report: Loaded) -> None:
    visible = "() => [...document.querySelectorAll('#bench-list .item')]" \
              ".filter(e => !e.hidden).length"
    assert report.page.evaluate(visible) == 6
    report.page.fill("#filter", "onerror")
    assert report.page.evaluate(visible) == 1
    assert "1 of 6" in (report.page.text_content("#list-count") or "")
    report.page.fill("#filter", "")
    assert report.page.evaluate(visible) == 6


def test_hostile_name_is_text_and_clicking_draws_it(report: Loaded) -> None:
    item = report.page.locator("#bench-list .item", has_text="onerror")
    assert item.locator(".name").text_content() == XSS_NAME
    item.click()
    assert report.page.text_content("#bench-title") == XSS_NAME
    assert report.page.evaluate("document.querySelectorAll('img').length") == 0
    assert report.page.evaluate("document.getElementById('trend').data.length") == 5
    assert report.page.evaluate("window.__xss") is None
    assert report.dialogs == [] and report.console_errors == []


@pytest.mark.parametrize("shared", [False, True], ids=["beside", "shared"])
def test_external_plotly_file_is_the_only_other_request(
        browser: object, tmp_path: Path, shared: bool) -> None:
    # "shared": a commit's page under reports/commits/<sha>/ loads the one copy in reports/.
    out = tmp_path / "commits" / ("c" * 40) if shared else tmp_path
    files = write_report(make_report_data(n_runs=1, n_samples=1), out, inline_js=False,
                         plots=False, js_dir=tmp_path)
    loaded = Loaded(browser, files.html)
    try:
        assert loaded.console_errors == []
        assert sorted(Path(u).name for u in loaded.requests) == [
            "performance_report.html", "plotly.min.js"]
        assert all(u.startswith("file://") for u in loaded.requests)
        assert loaded.page.evaluate("typeof Plotly") == "object"
    finally:
        loaded.page.close()


def test_unbounded_interval_reads_as_a_dash(browser: object, tmp_path: Path) -> None:
    # Too few samples (or a zero in the baseline) give a CI of [0, inf); the payload
    # carries inf as null. The benchmark shown on load has one, and so does another
    # the reader clicks: both must draw, with "CI –" as the Python tables write it.
    data = make_report_data(hostile=False)
    comp = data.comparison
    assert comp is not None
    results = tuple(dataclasses.replace(
        r, comparison=dataclasses.replace(r.comparison, ci_low=0.0, ci_high=math.inf))
        for r in comp.results)
    data = dataclasses.replace(data, comparison=dataclasses.replace(comp, results=results))
    files = write_report(data, tmp_path, plots=False)
    loaded = Loaded(browser, files.html)
    try:
        verdict = "() => document.getElementById('bench-verdict').textContent"
        assert "CI –" in loaded.page.evaluate(verdict)
        loaded.page.evaluate("() => window.__report.select(3, false)")
        assert loaded.page.text_content("#bench-title") == loaded.page.evaluate(
            "() => window.__report.data.names[3]")
        assert "CI – ·" in loaded.page.evaluate(verdict)
        assert loaded.page.evaluate("document.getElementById('heatmap').data.length") == 1
        assert loaded.console_errors == []
    finally:
        loaded.page.close()


def test_sidebar_ratio_is_the_one_behind_the_dot(browser: object, tmp_path: Path) -> None:
    # Time improved (0.7x) and peak RSS regressed: the dot is red, so the ratio beside
    # it is peak RSS's, named; a benchmark whose time regressed keeps its bare time ratio.
    data, name = with_memory_regression(make_report_data(hostile=False))
    files = write_report(data, tmp_path, plots=False)
    loaded = Loaded(browser, files.html)
    try:
        def item(n: str) -> tuple[str, str]:
            it = loaded.page.locator("#bench-list .item", has_text=n).first
            return (it.locator(".dot").get_attribute("class") or "",
                    it.locator(".rt").text_content() or "")
        assert item(name) == ("dot v-regression", "peak RSS 1.25×")
        dot, ratio = item("test_bench_000")
        assert dot == "dot v-regression" and ratio.endswith("×") and float(ratio[:-1]) > 1
        assert loaded.console_errors == []
    finally:
        loaded.page.close()


def _one_result_changed(index: int, **changes: object) -> tuple[ReportData, str]:
    """The sample report with its ``index``-th result's comparison changed, and its name."""
    data = make_report_data(hostile=False)
    comp = data.comparison
    assert comp is not None
    name = comp.results[index].name
    results = tuple(dataclasses.replace(r, comparison=dataclasses.replace(
        r.comparison, **changes)) if r.name == name else r for r in comp.results)
    return dataclasses.replace(data, comparison=dataclasses.replace(comp, results=results)), name


def test_the_explorer_marks_the_ab_ratio(browser: object, tmp_path: Path) -> None:
    # The A/B's ratio is of its own rounds, not of the medians the trend chart plots: the
    # verdict line and the chart's title mark it, as the tables do ("1.61× (A/B)").
    data, name = _one_result_changed(0, ratio=1.61, method="sequential interleaved A/B: "
                                     "per-round log-ratios")
    files = write_report(data, tmp_path, plots=False)
    loaded = Loaded(browser, files.html)
    try:
        i = loaded.page.evaluate(f"() => window.__report.data.names.indexOf({name!r})")
        loaded.page.evaluate(f"() => window.__report.select({i}, false)")
        assert "ratio 1.610× (A/B)" in loaded.page.text_content("#bench-verdict")
        title = loaded.page.evaluate(
            "() => document.getElementById('trend').layout.title.text")
        assert title.endswith("ratio 1.61× (A/B)")
        loaded.page.evaluate("() => window.__report.select(1, false)")  # not the A/B's
        assert "(A/B)" not in loaded.page.text_content("#bench-verdict")
        assert loaded.console_errors == []
    finally:
        loaded.page.close()


def test_the_page_opens_on_an_entry_with_a_history(browser: object, tmp_path: Path) -> None:
    # The whole suite slowed: the suite-wide shift is the most interesting entry, but it
    # has no history of its own, and the page opened on three empty charts ("no history
    # for time per call").
    files = write_report(with_suite_shift(make_report_data(hostile=False)), tmp_path,
                         plots=False)
    loaded = Loaded(browser, files.html)
    try:
        names = loaded.page.evaluate("() => window.__report.data.names")
        assert names[0] == "[suite-wide shift]"  # still listed first
        assert loaded.page.text_content("#bench-title") == names[1]
        assert loaded.page.evaluate("document.getElementById('trend').data.length") == 5
        assert loaded.console_errors == []
    finally:
        loaded.page.close()


def test_the_list_counts_benchmarks_not_the_suite_shift(browser: object,
                                                       tmp_path: Path) -> None:
    # The shift is an entry of the list, but no benchmark: the list said "7 of 7
    # benchmarks" (and "(ungrouped) (1)") under a headline and a table of 6.
    files = write_report(with_suite_shift(make_report_data(hostile=False)), tmp_path,
                         plots=False)
    loaded = Loaded(browser, files.html)
    try:
        count = "() => document.getElementById('list-count').textContent"
        heads = ("() => [...document.querySelectorAll('#bench-list .group-head')]"
                 ".map(e => e.textContent)")
        assert loaded.page.evaluate(count) == "6 of 6 benchmarks and the suite-wide shift"
        assert loaded.page.evaluate(heads) == ["(whole suite)", "group-0 (2)", "group-1 (2)",
                                               "group-2 (2)"]
        loaded.page.fill("#filter", "bench_001")
        assert loaded.page.evaluate(count) == "1 of 6 benchmarks"
        loaded.page.fill("#filter", "shift")
        assert loaded.page.evaluate(count) == "0 of 6 benchmarks and the suite-wide shift"
        assert "6 benchmarks" in loaded.page.text_content("#headline")
        assert loaded.console_errors == []
    finally:
        loaded.page.close()


def test_a_ratio_relative_to_the_suite_shift_shows_the_raw_one(
        browser: object, tmp_path: Path) -> None:
    # The whole suite 50 % slower: "ratio 0.99×" over a trend whose current point is
    # 1.5× its baseline, unless the raw ratio is said beside it.
    data, name = _one_result_changed(2, ratio=0.99, raw_ratio=1.5, reason="10 baseline "
                                     "runs; judged relative to the suite-wide shift +51.5% "
                                     "(raw ratio 1.500)")
    files = write_report(data, tmp_path, plots=False)
    loaded = Loaded(browser, files.html)
    try:
        i = loaded.page.evaluate(f"() => window.__report.data.names.indexOf({name!r})")
        loaded.page.evaluate(f"() => window.__report.select({i}, false)")
        assert "ratio 0.990× (raw 1.500×)" in loaded.page.text_content("#bench-verdict")
        title = loaded.page.evaluate(
            "() => document.getElementById('trend').layout.title.text")
        assert title.endswith("ratio 0.99× (raw 1.50×)")
        loaded.page.evaluate("() => window.__report.select(0, false)")  # no shift noted
        assert "raw" not in loaded.page.text_content("#bench-verdict")
        assert loaded.console_errors == []
    finally:
        loaded.page.close()


_FMT_CASES = [
    ("time_s", v) for v in (0.0, 4e-10, 1.234e-6, 0.0009996, 0.00099949, 0.5, 999.7,
                            12345.0, -0.0009996)
] + [
    ("peak_rss_bytes", v) for v in (0.0, 12.0, 999.0, 1000.0, 1023.0, 1536.0, 1048575.0,
                                    1024.0**3 - 1, 512.0 * 2**20, 5.0 * 1024**4, -1048575.0)
] + [("gc_collections", v) for v in (0.0, 7.0, 1234.0, 1234567.0, 3.14159)]


def test_hover_numbers_read_as_the_markdown_writes_them(report: Loaded) -> None:
    # Just below a unit boundary the page wrote "1000 µs" and "1024 KiB" where the
    # Markdown wrote "1.00 ms" and "1.00 MiB".
    units = {"time_s": "s", "peak_rss_bytes": "B", "gc_collections": "count"}
    page = report.page.evaluate(
        "cases => cases.map(([u, v]) => window.__report.fmt(u, v))",
        [[units[m], v] for m, v in _FMT_CASES])
    assert page == [format_metric(m, v) for m, v in _FMT_CASES]


_RATIOS = (0.004, 0.0123, 0.0999, 0.1, 0.5, 0.995, 1.0, 1.004, 1.5, 12345.6, 1e-5)


def test_ratios_read_as_the_markdown_writes_them(report: Loaded) -> None:
    # A 250x speed-up read "0.00×" everywhere: page and tables must agree it is 0.0040.
    page = report.page.evaluate("xs => xs.map(x => window.__report.ratioNum(x, 2))",
                                list(_RATIOS))
    assert page == [ratio_number(x, near_one=False) for x in _RATIOS]


_P_VALUES = (1e-6, 1.23e-5, 0.00099, 0.001, 0.0123, 0.4, 1.0, 0.0, 1e-300)


def test_p_values_read_as_the_tables_write_them(report: Loaded) -> None:
    # The explorer wrote "p = 0.0000010" beside tables that say "1.0e-06".
    page = report.page.evaluate("ps => ps.map(p => window.__report.pText(p))",
                                list(_P_VALUES))
    assert page == [format_p_value(p) for p in _P_VALUES]
    report.page.evaluate("() => window.__report.select(0, false)")  # p 1e-6 in the data
    line = report.page.text_content("#bench-verdict") or ""
    assert "p = 1.0e-06" in line


def test_resource_chart_of_a_fast_benchmark_is_in_the_unit_that_fits(
        browser: object, tmp_path: Path) -> None:
    # A call of ~300 ns read "325µ" on an axis titled "CPU time (ms)", and its hover
    # "0.000318 ms"; a 48 B tracemalloc peak hovered as "4.58e-05 MiB".
    data = make_report_data(hostile=False)
    fast = {"cpu_user_s": 3.05e-7, "cpu_system_s": 3.3e-9, "tracemalloc_peak_bytes": 48.0}
    series = tuple(dataclasses.replace(s, values=(fast[s.metric],) * len(s.values),
                                       lows=(fast[s.metric],) * len(s.values),
                                       highs=(fast[s.metric],) * len(s.values))
                   if s.metric in fast else s for s in data.series)
    files = write_report(dataclasses.replace(data, series=series), tmp_path, plots=False)
    loaded = Loaded(browser, files.html)
    try:
        for index in (0, 3):
            loaded.page.evaluate(f"() => window.__report.select({index}, false)")
            chart = loaded.page.evaluate("""() => {
              const el = document.getElementById('resources');
              return {y2: el.layout.yaxis2.title.text,
                      hover: Object.fromEntries(el.data.map(t => [t.name, t.customdata[0]]))};
            }""")
            assert chart["y2"] == "CPU time (ns)"
            assert chart["hover"]["CPU user time (ns)"] == format_metric("cpu_user_s", 3.05e-7)
            assert chart["hover"]["CPU system time (ns)"] == format_metric("cpu_system_s", 3.3e-9)
            assert format_metric("tracemalloc_peak_bytes", 48.0) in chart["hover"].values()
        assert loaded.console_errors == []
    finally:
        loaded.page.close()
