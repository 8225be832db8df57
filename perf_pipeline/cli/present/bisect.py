"""Print a culprit search's result."""

from __future__ import annotations

from perf_pipeline.cli.console import err, out, plain, short
from perf_pipeline.model import Culprit

__all__ = ["print_culprit"]


def print_culprit(culprit: Culprit) -> None:
    out.print(f"benchmark: {short(culprit.benchmark)} (x{culprit.step_ratio:.3f} from "
              f"{culprit.good_sha[:10]} to {culprit.bad_sha[:10]}); measured "
              f"{len(culprit.probes)} commit(s)")
    if culprit.sha is None:
        out.print(f"{culprit.status}: {len(culprit.suspects)} suspect(s): "
                  + ", ".join(s[:10] for s in culprit.suspects))
    else:
        ratio = (f" x{culprit.confirmed_ratio:.3f} [{culprit.ci_low:.3f}, "
                 f"{culprit.ci_high:.3f}] in {culprit.rounds_used} A/B round(s)"
                 if culprit.confirmed_ratio is not None else "")
        out.print(f"culprit ({culprit.status}): {culprit.sha[:10]} {plain(culprit.subject)}"
                  f" — {plain(culprit.author)}{ratio}")
    for note in culprit.notes:
        err.print(f"note: {plain(note)}")
