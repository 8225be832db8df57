"""Scale benchmark of the HTML report: 500 benchmarks x 1,000 commits.

Targets (issue 4): generated in at most 30 s on 2 cores, the HTML with its data at most
20 MB, first chart visible in headless Chromium within 3 s. Run:

    uv run python benchmarks/report_scale.py [--benchmarks 500] [--commits 1000]

The synthetic history carries nine metrics per benchmark (time with its interval, p99,
peak RSS, tracemalloc peak, CPU user/system, I/O read/write, GC), i.e. 4.5 M points.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from perf_pipeline.report import write_report
from perf_pipeline_tests.report.synthetic import make_report_data

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def measure_browser(html: Path) -> dict[str, float]:
    """Open the page; time from navigation start to the first drawn chart (in-page clock)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        errors: list[str] = []
        requests: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("request", lambda r: requests.append(r.url))
        t0 = time.perf_counter()
        page.goto(html.as_uri(), timeout=120_000)
        page.wait_for_selector("body[data-first-chart='1']", timeout=120_000)
        wall = time.perf_counter() - t0
        in_page = page.evaluate("window.__firstChartMs") / 1000
        traces = page.evaluate("document.getElementById('trend').data.length")
        page.fill("#filter", "bench_49")
        shown = page.evaluate("[...document.querySelectorAll('#bench-list .item')]"
                              ".filter(e => !e.hidden).length")
        page.screenshot(path="/tmp/report_scale.png")
        browser.close()
    return {"first_chart_s": in_page, "wall_s": wall, "traces": traces, "filtered": shown,
            "errors": len(errors), "requests": len(requests)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", type=int, default=500)
    parser.add_argument("--commits", type=int, default=1000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    data = make_report_data(n_benchmarks=args.benchmarks, n_runs=args.commits, n_samples=20)
    print(f"synthetic data: {time.perf_counter() - t0:.1f} s (not counted)")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        files = write_report(data, Path(tmp), markdown_path=Path(tmp) / "report.md")
        gen = time.perf_counter() - t0
        size = files.html.stat().st_size / 1e6
        print(f"generate HTML + PNGs + Markdown: {gen:.1f} s  (target <= 30 s)")
        print(f"HTML size (plotly.js and data inlined): {size:.1f} MB  (target <= 20 MB)")
        if CHROMIUM.exists():
            r = measure_browser(files.html)
            print(f"first chart visible: {r['first_chart_s']:.2f} s after navigation start "
                  f"(target <= 3 s); wall clock incl. page load {r['wall_s']:.2f} s")
            print(f"trend traces {r['traces']}, filter 'bench_49' shows {r['filtered']}, "
                  f"console errors {r['errors']}, requests {r['requests']}")
        else:
            print("chromium not installed: browser timing skipped")


if __name__ == "__main__":
    main()
