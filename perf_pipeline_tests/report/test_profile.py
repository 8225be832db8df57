"""Links to a profile's files: relative to the page, so they survive a moved results dir."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from perf_pipeline.model import (
    AllocationChange,
    FunctionChange,
    ProfileComparison,
    ProfileDiff,
    Spread,
)
from perf_pipeline.report.profile import artifact_links, profile_markdown


def _diff(*paths: str) -> ProfileDiff:
    s = Spread(median=1.0, low=1.0, high=1.0)
    return ProfileDiff(benchmark="t.py::test_x", repeats=1, base_total_s=s, candidate_total_s=s,
                       functions=(), artifacts=tuple((f"f{i}", p) for i, p in enumerate(paths)))


def test_links_are_relative_to_the_page_and_quoted(tmp_path: Path) -> None:
    results = tmp_path / "my results"
    prof = results / "raw" / "profile" / "a b#1" / "base.prof"
    page = results / "reports" / "commits" / "abc"
    [(label, href)] = artifact_links(_diff(str(prof)), page)
    assert label == "f0"
    assert href == "../../../raw/profile/a%20b%231/base.prof"  # '#' would start a fragment
    assert (page / unquote(href)).resolve() == prof.resolve()


def test_without_a_page_the_stored_path_is_kept_and_relative_paths_stay() -> None:
    assert artifact_links(_diff("/r/x.prof"), None) == [("f0", "/r/x.prof")]
    assert artifact_links(_diff("x y.png"), Path("/anywhere")) == [("f0", "x%20y.png")]


def test_a_long_function_key_keeps_its_name_in_the_markdown() -> None:
    """A key longer than a cell was cut from the end: every function of a deeply nested
    file read ``services/…/window_aggregations.py:rolli…``, and a site lost its line."""
    path = "services/ml/feature_pipeline/src/feature_pipeline/transforms/window_aggregations.py"
    one = Spread(median=1e-3, low=1e-3, high=1e-3)
    functions = tuple(FunctionChange(
        key=f"{path}:{name}", status="changed", base_own=one, candidate_own=one,
        base_cum=one, candidate_cum=one, base_share=one, candidate_share=one,
        base_calls=1.0, candidate_calls=1.0, beyond_spread=False)
        for name in ("rolling_mean", "rolling_sum"))
    site = AllocationChange(site=f"{path}/../x/{'y' * 20}.py:214", status="new",
                            base_bytes=Spread(median=0.0, low=0.0, high=0.0),
                            candidate_bytes=Spread(median=1e5, low=1e5, high=1e5),
                            base_count=0.0, candidate_count=1.0, beyond_spread=True)
    diff = ProfileDiff(benchmark="t.py::test_x", repeats=1, base_total_s=one,
                       candidate_total_s=one, functions=functions, allocations=(site,))
    md = "\n".join(profile_markdown(ProfileComparison(
        profile_id="p", base_sha="a" * 40, candidate_sha="b" * 40,
        created_at="2026-01-01T00:00:00+00:00", diffs=(diff,))))
    rows = [line.split(" | ")[1] for line in md.splitlines() if line.startswith(("| 1 ", "| 2 "))]
    assert [r.endswith(end) for r, end in zip(rows, ("py:rolling\\_mean", "py:rolling\\_sum"),
                                               strict=True)] == [True, True], rows
    assert all(r.startswith("…") and len(r.replace("\\", "")) == 90 for r in rows), rows
    assert "y.py:214**" in md


def test_call_counts_read_without_an_exponent() -> None:
    """A hot function called 123,456 times read ``1.235e+05`` in both reports."""
    from perf_pipeline.report.profile import profile_html_rows

    one = Spread(median=1e-3, low=1e-3, high=1e-3)
    hot = FunctionChange(
        key="calc.py:hot", status="changed", base_own=one, candidate_own=one, base_cum=one,
        candidate_cum=one, base_share=one, candidate_share=one, base_calls=123456.0,
        candidate_calls=2.5, beyond_spread=False)
    diff = ProfileDiff(benchmark="t.py::test_x", repeats=1, base_total_s=one,
                       candidate_total_s=one, functions=(hot,))
    comparison = ProfileComparison(profile_id="p", base_sha="a" * 40, candidate_sha="b" * 40,
                                   created_at="2026-01-01T00:00:00+00:00", diffs=(diff,))
    md = "\n".join(profile_markdown(comparison))
    assert "123,456 → 2.5" in md and "e+05" not in md
    assert "123,456 → 2.5" in str(profile_html_rows(comparison))
