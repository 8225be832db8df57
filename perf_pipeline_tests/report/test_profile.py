"""Links to a profile's files: relative to the page, so they survive a moved results dir."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from perf_pipeline.model import ProfileDiff, Spread
from perf_pipeline.report.profile import artifact_links


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
