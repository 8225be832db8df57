"""How the outcome of ``profile`` is shown: per benchmark, the functions that changed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from perf_pipeline.cli.console import out, plain, short
from perf_pipeline.report.units import format_bytes, format_seconds

if TYPE_CHECKING:
    from perf_pipeline.pipeline import ProfileOutcome

__all__ = ["print_profile"]


def print_profile(outcome: ProfileOutcome, *, top: int) -> None:
    comparison = outcome.comparison
    if comparison is None:  # run_profile profiles or raises; a no-op is profile_commit's
        out.print(f"nothing profiled: {plain(outcome.skipped or '')}")
        return
    for diff in comparison.diffs:
        out.print(f"\n{short(diff.benchmark)}: "
                  f"{format_seconds(diff.base_total_s.median)} → "
                  f"{format_seconds(diff.candidate_total_s.median)} per call (profiled)")
        for f in diff.functions[:top]:
            mark = "*" if f.beyond_spread else " "
            status = f" [{f.status}]" if f.status != "changed" else ""
            out.print(f" {mark} own {format_seconds(f.delta_own_s, signed=True):>10}  cum "
                      f"{format_seconds(f.delta_cum_s, signed=True):>10}  "
                      f"{plain(f.key)}{plain(status)}")
        grown = [a for a in diff.allocations if a.beyond_spread and a.delta_bytes > 0][:3]
        for a in grown:
            out.print(f"   memory {format_bytes(a.delta_bytes, signed=True):>10}/call  "
                      f"{plain(a.site)}")
    for name in outcome.candidate_only:
        out.print(f"\n{short(name)}: no base-side profile: not at the base commit "
                  f"{plain(comparison.base_sha[:12])} (profiled at the candidate only), "
                  "so no diff")
    for name in outcome.base_only:
        out.print(f"\n{short(name)}: no candidate-side profile: not at the candidate commit "
                  f"{plain(comparison.candidate_sha[:12])} (profiled at the base only), "
                  "so no diff")
    if any(diff.repeats < 2 for diff in comparison.diffs):
        out.print("\n(one profile per side: no spread to tell a change from noise, so "
                  "nothing is marked; --repeats 3 or more for that)")
    else:
        out.print("\n(* changed beyond the spread of the repeats)")
    out.print(f"raw files: {plain(comparison.raw_dir or '')}")
    if outcome.files is not None:
        out.print(f"report: {plain(outcome.files.markdown)}  "
                  f"(HTML: {plain(outcome.files.html)})")
