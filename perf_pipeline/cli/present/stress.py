"""How ``perf-pipeline stress`` shows a commit's judged stress figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from perf_pipeline.cli.console import one_line, out, plain
from perf_pipeline.model import Verdict

if TYPE_CHECKING:
    from perf_pipeline.pipeline.stress import StressOutcome

__all__ = ["print_stress"]


def print_stress(outcome: StressOutcome) -> None:
    """Each judged figure that is not unchanged (the confirmation's verdict where it
    decided), then one line on the two stages and where the report is."""
    shown = [c for c in outcome.comparisons if c.verdict is not Verdict.UNCHANGED]
    for c in shown:
        out.print(f"{c.verdict.value:12s} {plain(c.scenario)} {plain(c.figure)}: "
                  f"{one_line(c.detail)}")
    base = (f"against {outcome.baseline_sha[:12]} (run {plain(outcome.baseline_run_id)})"
            if outcome.baseline_sha else "with no earlier stress run to compare with")
    out.print(f"stress run {plain(outcome.run_id)} of {outcome.sha[:12]} {base}: "
              f"{len(outcome.comparisons) - len(shown)} figure(s) unchanged, "
              f"{outcome.screen_flagged} flagged by the screen, " + (
                  f"{len(outcome.regressions)} confirmed regression(s) after "
                  f"{outcome.confirmation_pairs} fresh pair(s)" if outcome.confirm_auto
                  else f"{len(outcome.regressions)} regression(s) (confirm=off: the "
                       "screen decides)"))
    if outcome.run_error:
        out.print(f"the stress run itself failed: {one_line(outcome.run_error)}")
    out.print(f"report: {plain(outcome.markdown_path)}")
