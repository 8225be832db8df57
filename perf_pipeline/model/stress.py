"""Stress figures of a run, and each judged against the baseline run's."""

from __future__ import annotations

import math
from dataclasses import dataclass

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model.comparison import Verdict

__all__ = ["StressComparison", "StressFigure"]


@dataclass(frozen=True, slots=True)
class StressFigure:
    """One figure of one stress scenario of one run (``stress_results`` table).

    ``low``/``high`` bound an estimate that has an interval (a scaling exponent);
    ``histogram_json`` is the latency histogram behind a latency figure, kept whole so a
    later run can be tested against it bucket by bucket.
    """

    test: str
    scenario: str
    kind: str
    figure: str
    value: float | None
    low: float | None = None
    high: float | None = None
    count: int | None = None
    histogram_json: str | None = None

    def __post_init__(self) -> None:
        for name in ("test", "scenario", "kind", "figure"):
            if not getattr(self, name):
                raise InvalidInputError(f"stress figure: {name} is empty")
        for name in ("value", "low", "high"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise InvalidInputError(
                    f"stress figure {self.test}/{self.scenario}/{self.figure}: {name} "
                    f"is not finite")

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.test, self.scenario, self.figure)


@dataclass(frozen=True, slots=True)
class StressComparison:
    """A stress figure of the current run judged against the baseline run's."""

    test: str
    scenario: str
    figure: str
    verdict: Verdict
    baseline: float | None
    current: float | None
    rule: str
    detail: str
