"""Pieces of a suite comparison that ``analyze``, ``ab`` and ``backfill`` all show."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from perf_pipeline.cli.console import out, plain, short

if TYPE_CHECKING:
    from perf_pipeline.model import SuiteComparison

__all__ = ["comparison_json", "print_flagged", "verdict_row"]

_COLOURS = {"regression": "red", "improvement": "green"}


def comparison_json(comparison: SuiteComparison | None) -> dict[str, Any] | None:
    """The comparison in the same form as the analysis files (one codec, not two)."""
    from perf_pipeline.store import suite_comparison_to_dict

    return suite_comparison_to_dict(comparison)


def print_flagged(comparison: SuiteComparison) -> None:
    """One line per significant regression (with its interval) and improvement."""
    for row in comparison.regressions:
        c = row.comparison
        out.print(f"[red]REGRESSION[/] {short(row.name)} ({plain(row.metric)}): "
                  f"x{c.ratio:.3f} [{c.ci_low:.3f}, {c.ci_high:.3f}], "
                  f"adjusted p={c.adjusted_p_value:.2g}")
    for row in comparison.improvements:
        out.print(f"[green]improvement[/] {short(row.name)} ({plain(row.metric)}): "
                  f"x{row.comparison.ratio:.3f}")


def verdict_row(name: str, verdict: str, ratio: float, ci_low: float, ci_high: float,
                p_adjusted: float | None, extra: str = "") -> str:
    """``regression   x1.234 [1.1, 1.3] p_adj=0.001  test_x``, coloured by verdict."""
    colour = _COLOURS.get(verdict, "default")
    p = "–" if p_adjusted is None else f"{p_adjusted:.2g}"
    return (f"[{colour}]{verdict:<12}[/] x{ratio:.3f} [{ci_low:.3f}, {ci_high:.3f}] "
            f"p_adj={p}{extra}  {short(name)}")
