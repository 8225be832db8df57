"""The one check that recorded numbers are finite, shared by results, baselines and
profiles: a NaN or an infinity is refused where the object is made, naming it."""

from __future__ import annotations

import math
from collections.abc import Sequence

from perf_pipeline.errors import InvalidInputError

__all__ = ["check_finite"]


def check_finite(values: Sequence[float], what: str) -> None:
    if all(map(math.isfinite, values)):  # C speed for the usual case (10M samples)
        return
    for v in values:
        if not math.isfinite(v):
            raise InvalidInputError(f"{what}: sample {v!r} is not a finite number")
