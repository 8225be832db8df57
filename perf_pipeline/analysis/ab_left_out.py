"""Which benchmarks an A/B leaves out, and why: the one place both designs ask.

A side's round value of 0.0 s (every sample of that side below the timer's resolution:
a coarse clock, a very fast benchmark) is a real measurement, kept at ingest
(``measure.results``), but it has no log-ratio, and both A/B designs work on the
per-round log-ratios. ``compare_rounds`` and ``sequential_ab`` refused the whole A/B for
one such round ("a zero time has no log-ratio"): a suite of seven lost its six other
verdicts, a doubling included, and a culprit's or the gate's confirmation failed with it.

As ingest does for a run, such a benchmark is left out of that A/B: neither judged nor
a control (its other rounds are whole timer ticks too, and a ratio of ticks says more
about the tick than about the code), with a note naming it, the round and why; the rest
is judged. Negative, NaN and infinite values are no time at all and stay refused by the
designs' own checks.

``left_out_round`` decides for one round (``sequential_ab``, a round at a time);
``usable_rounds`` for aligned rounds (the fixed design, ``compare_rounds``' callers);
``require_a_target`` says when nothing was left to judge. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from perf_pipeline.errors import InvalidInputError

__all__ = ["LeftOut", "left_out_round", "require_a_target", "usable_rounds"]


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A benchmark left out of an A/B: the first round (1-based) that had no ratio, and
    that round's values (seconds; base, candidate)."""

    name: str
    round: int
    base: float
    candidate: float

    @property
    def why(self) -> str:
        """The round and the reason, without the name (for a row already named)."""
        sides = [side for side, v in (("base", self.base), ("candidate", self.candidate))
                 if v == 0.0]
        return (f"round {self.round}'s {' and '.join(sides)} "
                f"{'value is' if len(sides) == 1 else 'values are'} 0.0 s (every sample below the "
                "timer's resolution), so its time has no ratio to judge; give each round "
                "more work, e.g. a higher --benchmark-min-time")

    @property
    def note(self) -> str:
        return (f"Left out of the A/B (neither judged nor a control): {self.name!r}: "
                f"{self.why}.")

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "round": self.round, "base": self.base,
                "candidate": self.candidate, "why": self.why}


def left_out_round(name: str, index: int, base: object, candidate: object) -> LeftOut | None:
    """A ``LeftOut`` when round ``index`` of ``name`` has a 0.0 on a side and the other
    side is a time too (finite, >= 0); else None: a usable round, or values the
    design's own checks refuse (negative, NaN, infinite, not numbers)."""
    try:
        b, c = float(base), float(candidate)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if (b == 0.0 or c == 0.0) and all(math.isfinite(v) and v >= 0.0 for v in (b, c)):
        return LeftOut(name=name, round=index, base=b, candidate=c)
    return None


def usable_rounds(base: Mapping[str, Sequence[float]], candidate: Mapping[str, Sequence[float]]
                  ) -> tuple[dict[str, Sequence[float]], dict[str, Sequence[float]],
                             tuple[LeftOut, ...]]:
    """Aligned per-round values of both sides without the benchmarks left out (those on
    both sides with a round ``left_out_round`` leaves out, its first such round named),
    and those. Values a design would refuse are passed on for it to refuse."""
    left_out = []
    for name in sorted(set(base) & set(candidate)):
        try:
            b = np.asarray(base[name], dtype=float).ravel()
            c = np.asarray(candidate[name], dtype=float).ravel()
        except (TypeError, ValueError):
            continue  # not numbers: ``compare_rounds`` says so
        for k, (bv, cv) in enumerate(zip(b.tolist(), c.tolist(), strict=False)):
            if (found := left_out_round(name, k + 1, bv, cv)) is not None:
                left_out.append(found)
                break
    gone = {lo.name for lo in left_out}
    return ({n: v for n, v in base.items() if n not in gone},
            {n: v for n, v in candidate.items() if n not in gone}, tuple(left_out))


def require_a_target(left_out: Sequence[LeftOut], judged: Collection[str]) -> None:
    """Refuse an A/B whose every benchmark to judge was left out (``judged``: the names
    it still judged, the suite-wide shift not counted): it has no verdict to give, and
    an empty one would read as "no regression"."""
    if left_out and not judged:
        raise InvalidInputError(
            "nothing left to judge in this A/B: "
            + "; ".join(f"{lo.name!r}: {lo.why}" for lo in left_out))
