"""Culprit search: which commit between a good and a bad one moved the level?

A change point between two measured commits says *that* the level moved, not *where*
among the unmeasured commits in between. Bisection finds it with about ``log2(n)``
measurements, each an ordinary measurement of one commit:

* **Classify.** A measured commit is *bad* when its value (the median of its replicate
  runs) lies on the new level's side of the midpoint between the two levels, in log
  space (the midpoint of a ratio is its geometric mean), else *good*. The levels come
  from the caller (a change point's two levels, or the two commits that framed the
  search), not from one probe, so one noisy probe can mislead one step; the A/B that
  confirms the named commit against its parent is what catches that (it then does not
  confirm it).
* **Narrow.** Two neighbouring measured commits bound the suspects: the last one taken
  as good and the first taken as bad, so every commit strictly between them is
  unmeasured. When the verdicts agree (all good, then all bad) these are the last good
  and the first bad commit. When they do not (a bad commit before a good one: a noisy
  probe), the bounds are the pair that overrules the fewest verdicts, so one noisy probe
  cannot outvote several measurements after it; the overruled ones are reported as
  ``outliers``. On a tie the slow-looking verdicts are overruled: interference makes a
  timing slower far more often than faster, so a slow outlier is the likelier error
  (for a slowdown the later pair is taken, for a speed-up the earlier one). The next
  probe is the unmeasured commit nearest the middle; commits that could not be
  measured (``skipped``: the suite failed there) are passed over, as ``git bisect
  skip`` does.
* **Stop** when the bounds are neighbours (the bad one is the culprit), or when only
  skipped commits are left between them (ambiguous: the suspects are reported).

Pure: commits, values and levels in; a ``BisectStep`` out. The caller measures.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection, Mapping, Sequence

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import BisectStep

__all__ = ["BAD", "GOOD", "classify_value", "plan_bisect"]

GOOD = "good"
BAD = "bad"


def _check_level(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise InvalidInputError(f"`{name}` must be a finite number > 0, got {value!r}")


def classify_value(value: float, *, before: float, after: float) -> str:
    """``"bad"`` when ``value`` is nearer the new level ``after`` than the old level
    ``before`` (log scale), else ``"good"``."""
    _check_level("before", before)
    _check_level("after", after)
    _check_level("value", value)
    if before == after:
        raise InvalidInputError("`before` and `after` are the same level: nothing to bisect")
    mid = (math.log(before) + math.log(after)) / 2.0
    beyond = (math.log(value) - mid) * (1.0 if after > before else -1.0)
    return BAD if beyond > 0 else GOOD


def plan_bisect(commits: Sequence[str], values: Mapping[str, Sequence[float]], *,
                before: float, after: float, skipped: Collection[str] = ()) -> BisectStep:
    """The next step of the search over ``commits`` (oldest first: ``commits[0]`` is the
    known good commit, ``commits[-1]`` the known bad one).

    ``values``: the measured values (replicates) of any of the commits; ``before`` and
    ``after``: the old and the new level. Commits in ``skipped`` could not be measured.
    """
    commits = tuple(commits)
    if len(commits) < 2:
        raise InvalidInputError(f"`commits` needs a good and a bad commit, got {len(commits)}")
    if len(set(commits)) != len(commits):
        raise InvalidInputError("`commits` lists a commit twice")
    unknown = set(values) - set(commits)
    if unknown:
        raise InvalidInputError(f"`values` has commits outside the search: {sorted(unknown)[:3]}")
    for sha, replicates in values.items():
        if isinstance(replicates, (str, bytes)) or not isinstance(replicates, Sequence) or any(
                isinstance(v, bool) or not isinstance(v, (int, float)) for v in replicates):
            raise InvalidInputError(f"`values`[{sha!r}] must be a sequence of numbers (the "
                                    f"commit's replicates), got {replicates!r}")
    verdicts: dict[str, str] = {}
    for sha in commits[1:-1]:
        vals = [float(v) for v in values.get(sha, ()) if math.isfinite(v) and v > 0]
        if vals and sha not in skipped:
            verdicts[sha] = classify_value(statistics.median(vals), before=before, after=after)
    verdicts[commits[0]], verdicts[commits[-1]] = GOOD, BAD
    lo, hi = _bounds(commits, verdicts, slower=after > before)
    suspects = commits[lo + 1:hi + 1]
    recorded = tuple((sha, verdicts[sha]) for sha in commits if sha in verdicts)
    outliers = tuple(sha for i, sha in enumerate(commits)
                     if sha in verdicts and verdicts[sha] != (GOOD if i <= lo else BAD))
    if hi - lo == 1:
        return BisectStep(good=commits[lo], bad=commits[hi], probe=None, culprit=commits[hi],
                          suspects=suspects, verdicts=recorded, outliers=outliers)
    open_ = [i for i in range(lo + 1, hi) if commits[i] not in skipped]
    if not open_:
        return BisectStep(good=commits[lo], bad=commits[hi], probe=None, culprit=None,
                          suspects=suspects, verdicts=recorded, outliers=outliers)
    middle = (lo + hi) / 2.0
    probe = min(open_, key=lambda i: (abs(i - middle), i))
    return BisectStep(good=commits[lo], bad=commits[hi], probe=commits[probe], culprit=None,
                      suspects=suspects, verdicts=recorded, outliers=outliers)


def _bounds(commits: Sequence[str], verdicts: Mapping[str, str], *,
            slower: bool) -> tuple[int, int]:
    """Indexes of the two neighbouring measured commits (in ``verdicts``) the level moved
    between: the pair that overrules the fewest verdicts (bad ones at or before the
    first, good ones at or after the second). Ties go to the later pair when the new
    level is ``slower``, else to the earlier one (see the module docstring)."""
    measured = [i for i, sha in enumerate(commits) if sha in verdicts]
    good_after = sum(verdicts[commits[i]] == GOOD for i in measured)
    bad_before = 0
    best: tuple[tuple[int, int], int] | None = None
    for k, i in enumerate(measured[:-1]):
        if verdicts[commits[i]] == GOOD:
            good_after -= 1
        else:
            bad_before += 1
        key = (bad_before + good_after, -k if slower else k)
        if best is None or key < best[0]:
            best = (key, k)
    assert best is not None  # the two ends are always measured
    return measured[best[1]], measured[best[1] + 1]
