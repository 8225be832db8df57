"""How the outcome of ``ab`` is shown: lines for people, a document for machines."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from perf_pipeline.cli.console import err, out, plain, short
from perf_pipeline.cli.present.comparison import comparison_json, verdict_row
from perf_pipeline.cli.present.json_doc import verdict_word

if TYPE_CHECKING:
    from perf_pipeline.pipeline import ABOutcome

__all__ = ["ab_json", "print_ab"]


def print_ab(outcome: ABOutcome, report: Path) -> None:
    comparison = outcome.comparison
    for row in sorted(comparison.results, key=lambda r: -abs(r.comparison.ratio - 1)):
        c = row.comparison
        needed = f", ~{c.samples_needed} more rounds would decide" if c.samples_needed else ""
        out.print(verdict_row(row.name, str(c.verdict), c.ratio, c.ci_low, c.ci_high,
                              c.adjusted_p_value, needed))
    for name in comparison.new:
        out.print(f"new          {short(name)}")
    for name in comparison.missing:
        out.print(f"missing      {short(name)}")
    for name in outcome.partial:
        out.print(f"partial      {short(name)} (not in every round: not compared)")
    for lo in outcome.left_out:
        out.print(f"left out     {short(lo.name)} ({plain(lo.why)})")
    for warning in (outcome.too_few_rounds, outcome.no_factor):
        if warning:
            err.print(f"warning: {plain(warning)}")
    ab = outcome.ab
    if outcome.sequential is not None:
        seq = outcome.sequential
        out.print(f"adaptive: {seq.rounds_used} round(s) used (stopped: {seq.stopped}); "
                  f"{len(seq.decided_at)} of {len(comparison.results)} decided", markup=False)
        if outcome.prior is not None:
            out.print(outcome.prior.note, markup=False)
        if seq.stale_prior_note:
            out.print(seq.stale_prior_note, markup=False)
    out.print(f"verdict: {len(comparison.regressions)} significant regression(s), "
              f"{len(comparison.improvements)} improvement(s) of {ab.candidate.sha[:10]} "
              f"against {ab.base.sha[:10]} over {len(ab.rounds)} interleaved rounds")
    out.print(f"report: {plain(report)}  (HTML: {plain(outcome.files.html)})")


def ab_json(outcome: ABOutcome, report: Path) -> tuple[str, dict[str, object]]:
    """The verdict word and the document's fields (see ``json_doc`` for the envelope)."""
    seq = outcome.sequential
    # Rounds too few for any verdict found nothing because nothing could be found: not
    # "no_regression".
    word = ("inconclusive" if outcome.too_few_rounds and not outcome.regressed
            else verdict_word(regression=outcome.regressed))
    return word, {
        "base": outcome.ab.base.sha, "candidate": outcome.ab.candidate.sha,
        "rounds": len(outcome.ab.rounds),
        "comparison": comparison_json(outcome.comparison),
        "too_few_rounds": outcome.too_few_rounds,
        "partial": list(outcome.partial),
        "left_out": [lo.to_dict() for lo in outcome.left_out],
        "no_factor": outcome.no_factor,
        "adaptive": None if seq is None else {
            "rounds_used": seq.rounds_used, "stopped": seq.stopped,
            "decided_at": dict(seq.decided_at),
            "variance_prior": outcome.prior.to_dict() if outcome.prior else None,
            "noise_over_prior": seq.noise_over_prior,
            "noise_note": seq.stale_prior_note},
        "report": {"markdown": str(report), "html": str(outcome.files.html)},
    }
