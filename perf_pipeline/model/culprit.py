"""Culprit searches: one bisect step, and the commit a search named."""

from __future__ import annotations

from dataclasses import dataclass

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model.metrics import TIME_METRIC
from perf_pipeline.model.schema_version import SCHEMA_VERSION

__all__ = ["CULPRIT_STATUSES", "BisectStep", "Culprit"]


#: Where a culprit search ended: confirmed by the A/B against the parent, the A/B did
#: not confirm it, no A/B ran (``confirm`` off), a skipped (unmeasurable) commit left
#: more than one suspect, or the search could not go on (its notes say why).
CULPRIT_STATUSES = ("confirmed", "not_confirmed", "unconfirmed", "ambiguous", "abandoned")


@dataclass(frozen=True, slots=True)
class BisectStep:
    """One step of a culprit search over the commits from ``good`` to ``bad``.

    ``probe``: the commit to measure next (None once the search is over); ``culprit``:
    the first commit at the new level, once only it is left; ``suspects``: the commits
    that may still carry the change (oldest first); ``verdicts``: what each measured
    commit was classified as, ``(sha, "good" | "bad")``; ``outliers``: the measured
    commits whose verdict the step overrules (a bad one before ``good``, a good one
    after ``bad``): each a noisy measurement by the count of the others.
    """

    good: str
    bad: str
    probe: str | None
    culprit: str | None
    suspects: tuple[str, ...]
    verdicts: tuple[tuple[str, str], ...] = ()
    outliers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.probe is not None and self.culprit is not None:
            raise InvalidInputError("a bisect step has a probe or a culprit, not both")

    @property
    def done(self) -> bool:
        return self.probe is None


@dataclass(frozen=True, slots=True)
class Culprit:
    """The commit a culprit search named for one benchmark, and how sure we are.

    ``step_ratio``: new level / old level from the measurements that framed the search;
    ``confirmed_ratio`` (with its interval): what the interleaved A/B of ``sha`` against
    ``parent_sha`` measured, when one ran. ``probes``: commits the search measured.
    """

    benchmark: str
    good_sha: str
    bad_sha: str
    status: str
    created_at: str
    sha: str | None = None
    parent_sha: str | None = None
    subject: str = ""
    author: str = ""
    metric: str = TIME_METRIC
    step_ratio: float = 1.0
    confirmed_ratio: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    verdict: str | None = None
    rounds_used: int = 0
    probes: tuple[str, ...] = ()
    suspects: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.status not in CULPRIT_STATUSES:
            raise InvalidInputError(
                f"culprit status {self.status!r} is not one of {CULPRIT_STATUSES}")
        if self.schema_version != SCHEMA_VERSION:
            raise InvalidInputError(
                f"culprit schema_version {self.schema_version} is not supported "
                f"(this perf_pipeline reads {SCHEMA_VERSION})")
        if self.status not in ("ambiguous", "abandoned") and self.sha is None:
            raise InvalidInputError(f"a {self.status} culprit needs its sha")
        for name in ("probes", "suspects", "notes"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("step_ratio", "confirmed_ratio", "ci_low", "ci_high"):
            value = getattr(self, name)
            if value is not None:  # numpy scalars would not serialise everywhere
                object.__setattr__(self, name, float(value))
