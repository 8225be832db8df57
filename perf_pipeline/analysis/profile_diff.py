"""Where did the time (and memory) go? Base against candidate profiles of one benchmark.

Method.

1. *Per benchmark call.* Each profile covers some number of calls of the benchmarked
   function (a slower commit fills its profiling time with fewer calls), so every figure
   is divided by that number: own time, cumulative time and call count of each function,
   per call of the benchmark.
2. *Libraries folded.* With ``fold=True`` every function of a library package (numpy,
   pandas, the standard library) becomes one row named after the package: own time is the
   sum over its functions, cumulative time and calls are those of the calls *into* the
   package from outside it (calls inside the package would count the same time twice).
   What changed in a library is rarely the library; which of the target's calls into it
   changed is the question.
3. *Repeats, not one profile.* A single profile carries the noise of its process (cache
   state, a busy neighbour), so each side is profiled in several processes. Each
   function's figures are summarised by their median and range over the repeats, and its
   share of the benchmark's profiled time likewise.
4. *Rank only what is beyond the spread.* A function's change counts when the ranges of
   its own time per call at the two commits do not overlap (with three repeats per side
   that happens by chance for a given function with probability 1/10) *and* the change is
   at least ``min_share`` of the profiled time per call (the noise floor that keeps the
   many tiny functions, some of which will not overlap by chance, out of the top). Those
   rows come first, largest increase of own time first; the rest follow by size.
   Functions seen at only one commit are *new* or *vanished*. With one profile a side
   there is no range, so nothing ranks as beyond it.
5. *Memory* is treated the same way with tracemalloc's growth per allocation line per
   call (what a call leaves allocated: caches, leaks), ranked by growth.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence

from perf_pipeline.analysis.flame import build_flame
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import (
    AllocationChange,
    FunctionChange,
    FunctionProfile,
    MemoryProfile,
    ProfileDiff,
    Spread,
    TimeProfile,
)

__all__ = ["diff_memory", "diff_profiles", "fold_libraries"]


def fold_libraries(profile: TimeProfile) -> TimeProfile:
    """The profile with every library function merged into one row per package."""
    package_of = {f.key: f.package for f in profile.functions}

    def folded(key: str) -> str:
        return package_of.get(key) or key

    rows: dict[str, dict] = {}
    for f in profile.functions:
        key = folded(f.key)
        row = rows.setdefault(key, {"calls": 0, "own": 0.0, "cum": 0.0, "edges": {},
                                    "package": f.package})
        row["own"] += f.own_s
        outside = [e for e in f.callers if folded(e[0]) != key or f.package is None]
        if f.package is None or not f.callers:
            row["calls"] += f.calls
            row["cum"] += f.cum_s
        else:
            row["calls"] += sum(e[1] for e in outside)
            row["cum"] += sum(e[3] for e in outside)
        for caller, n, own, cum in outside:
            edge = row["edges"].setdefault(folded(caller), [0, 0.0, 0.0])
            edge[0] += n
            edge[1] += own
            edge[2] += cum
    functions = tuple(
        FunctionProfile(key=key, calls=row["calls"], own_s=row["own"], cum_s=row["cum"],
                        package=row["package"],
                        callers=tuple((c, e[0], e[1], e[2]) for c, e in row["edges"].items()))
        for key, row in rows.items())
    return TimeProfile(benchmark=profile.benchmark, calls=profile.calls, functions=functions,
                       path=profile.path)


def _spread(values: Sequence[float]) -> Spread:
    return Spread(median=float(statistics.median(values)), low=float(min(values)),
                  high=float(max(values)))


def _beyond(base: Spread, candidate: Spread, floor: float, *, repeats: int) -> bool:
    """Whether the two ranges are apart by at least ``floor``. One profile a side has no
    range: every change at all was "apart", and ``--repeats 1`` starred each function
    that moved as a change beyond the noise, which it cannot tell from noise."""
    if repeats < 2:
        return False
    apart = candidate.low > base.high or candidate.high < base.low
    return apart and abs(candidate.median - base.median) >= floor


def _status(in_base: bool, in_candidate: bool) -> str:
    if not in_base:
        return "new"
    return "vanished" if not in_candidate else "changed"


def _per_call(profiles: Sequence[TimeProfile], fold: bool) -> list[dict[str, tuple]]:
    """Per repeat: key → (own, cum, calls, package) per benchmark call; same keys summed."""
    out = []
    for p in profiles:
        q = fold_libraries(p) if fold else p
        rows: dict[str, tuple] = {}
        for f in q.functions:
            own, cum, calls, _ = rows.get(f.key, (0.0, 0.0, 0.0, None))
            rows[f.key] = (own + f.own_s / q.calls, cum + f.cum_s / q.calls,
                           calls + f.calls / q.calls, f.package)
        out.append(rows)
    return out


def _column(repeats: list[dict[str, tuple]], key: str, index: int) -> list[float]:
    return [float(r[key][index]) if key in r else 0.0 for r in repeats]


def _check(base: Sequence, candidate: Sequence, what: str) -> str:
    if not base or not candidate:
        raise InvalidInputError(f"`base` and `candidate` need at least one {what} each")
    names = {p.benchmark for p in (*base, *candidate)}
    if len(names) != 1:
        raise InvalidInputError(f"{what}s of different benchmarks: {sorted(names)}")
    return names.pop()


def _rank(rows: Iterable, delta: Callable[[object], float]) -> tuple:
    return tuple(sorted(rows, key=lambda r: (not r.beyond_spread,
                                             -delta(r) if r.beyond_spread else -abs(delta(r)))))


def diff_memory(base: Sequence[MemoryProfile], candidate: Sequence[MemoryProfile], *,
                min_bytes: float = 2048.0) -> tuple[AllocationChange, ...]:
    """Allocation lines by growth per benchmark call, candidate minus base, ranked.

    ``min_bytes`` is the noise floor per call: interpreter caches (compiled regular
    expressions, interned strings) leave a few hundred bytes behind at random.
    """
    _check(base, candidate, "memory profile")
    if not min_bytes >= 0:
        raise InvalidInputError(f"`min_bytes` must be >= 0, not {min_bytes!r}")

    def per_call(profiles: Sequence[MemoryProfile]) -> list[dict[str, tuple[float, float]]]:
        return [{s.site: (s.size_bytes / p.calls, s.count / p.calls) for s in p.sites}
                for p in profiles]

    b, c = per_call(base), per_call(candidate)
    rows = []
    for site in sorted(set().union(*b, *c)):
        bb, cb = _spread(_column(b, site, 0)), _spread(_column(c, site, 0))
        rows.append(AllocationChange(
            site=site, status=_status(any(site in r for r in b), any(site in r for r in c)),
            base_bytes=bb, candidate_bytes=cb,
            base_count=float(statistics.median(_column(b, site, 1))),
            candidate_count=float(statistics.median(_column(c, site, 1))),
            beyond_spread=_beyond(bb, cb, min_bytes, repeats=min(len(b), len(c)))))
    return _rank(rows, lambda r: r.delta_bytes)


def diff_profiles(
    base: Sequence[TimeProfile],
    candidate: Sequence[TimeProfile],
    *,
    base_memory: Sequence[MemoryProfile] = (),
    candidate_memory: Sequence[MemoryProfile] = (),
    fold: bool = True,
    min_share: float = 0.005,
    flame_min_share: float = 0.005,
) -> ProfileDiff:
    """Rank the functions of one benchmark by their change in own time per call.

    ``base`` and ``candidate`` are the repeats of each side (one profile per process).
    ``min_share`` is the noise floor: a change smaller than this share of the larger
    side's profiled time per call never ranks as beyond the spread.
    """
    benchmark = _check(base, candidate, "profile")
    if not 0.0 <= min_share < 1.0:
        raise InvalidInputError(f"`min_share` must be in [0, 1), not {min_share!r}")
    b, c = _per_call(base, fold), _per_call(candidate, fold)
    base_totals = [sum(v[0] for v in r.values()) for r in b]
    cand_totals = [sum(v[0] for v in r.values()) for r in c]
    base_total, cand_total = _spread(base_totals), _spread(cand_totals)
    floor = min_share * max(base_total.median, cand_total.median)

    def shares(repeats: list[dict[str, tuple]], totals: list[float], key: str) -> Spread:
        return _spread([r[key][0] / t if key in r and t > 0 else 0.0
                        for r, t in zip(repeats, totals, strict=True)])

    rows = []
    for key in sorted(set().union(*b, *c)):
        package = next((r[key][3] for r in (*b, *c) if key in r), None)
        base_own, cand_own = _spread(_column(b, key, 0)), _spread(_column(c, key, 0))
        rows.append(FunctionChange(
            key=key, status=_status(any(key in r for r in b), any(key in r for r in c)),
            base_own=base_own, candidate_own=cand_own,
            base_cum=_spread(_column(b, key, 1)), candidate_cum=_spread(_column(c, key, 1)),
            base_share=shares(b, base_totals, key), candidate_share=shares(c, cand_totals, key),
            base_calls=float(statistics.median(_column(b, key, 2))),
            candidate_calls=float(statistics.median(_column(c, key, 2))),
            beyond_spread=_beyond(base_own, cand_own, floor, repeats=min(len(b), len(c))),
            package=package))
    allocations: tuple[AllocationChange, ...] = ()
    peaks = (0.0, 0.0)
    if base_memory and candidate_memory:
        allocations = diff_memory(base_memory, candidate_memory)
        peaks = (float(statistics.median(m.peak_bytes for m in base_memory)),
                 float(statistics.median(m.peak_bytes for m in candidate_memory)))
    flame = build_flame([fold_libraries(p) if fold else p for p in base],
                        [fold_libraries(p) if fold else p for p in candidate],
                        min_share=flame_min_share)
    return ProfileDiff(
        benchmark=benchmark, repeats=min(len(base), len(candidate)),
        base_total_s=base_total, candidate_total_s=cand_total,
        functions=_rank(rows, lambda r: r.delta_own_s if math.isfinite(r.delta_own_s) else 0),
        allocations=allocations, base_peak_bytes=peaks[0], candidate_peak_bytes=peaks[1],
        flame=flame, folded=fold)
