"""One machine id, two hardware: baselines and history statistics keep to one hardware.

A ``machine_id`` set by the user names a box, and the box keeps its name when its CPU
or VM type is replaced. Its history then holds runs of two hardware under one id. Pooled
in one rolling window, the hardware step becomes run-to-run "noise": the prediction
interval widens until an unchanged commit and a real change alike come out
"inconclusive", and nothing says why (the fingerprint note compares the run only with
the baseline's newest run, which soon is of the new hardware too).

Hardware here is what the default machine id hashes (``Environment.machine_id``: CPU
model and count, OS family, architecture): under the default id a new CPU starts a
history of its own, and under a set id it starts a baseline of its own (and a commit's
runs are pooled per hardware, ``store/pooling.py``). A run whose environment does not
name its hardware (an old record, a file without machine info) is of unknown hardware
(``Environment.known_hardware``): it is not known to differ, and is kept.

- Some runs of the window are on the judged run's hardware: the baseline is those, and
  a note says how many runs were left out and what hardware they were measured on.
- None is (the first runs after the change): the baseline is the window as it stands,
  and ``pipeline/regression.py`` does not judge against it (timings of two hardware
  differ by the hardware), saying this run starts its hardware's baseline. Nor does a
  pinned baseline of other hardware judge.

The history's own statistics take the same line. Change points and drifts are looked
for in each hardware's runs on their own (``series_by_hardware``): across the change,
every benchmark the new CPU moves more than the suite as a whole (a smaller cache, a
wider vector unit) was a change point, an alert, and a culprit search whose probes,
measured on the new CPU, all came out at the new level and named the first commit of
the range. A culprit search reads only runs of the hardware it measures its probes on
(``pipeline/culprit_history.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from perf_pipeline.model import Environment, MetricSeries, RunInfo, SuiteRun

__all__ = ["hardware_change", "hardware_groups", "hardware_of", "left_out_note",
           "other_hardware", "series_by_hardware", "series_of_runs", "split_by_hardware"]

#: The environment fields the hardware id is made of, as the notes name them.
_HARDWARE_FIELDS = (("cpu_model", "CPU model"), ("cpu_count", "CPU count"),
                    ("os", "OS"), ("machine", "architecture"))


def hardware_of(environment: Environment | None) -> str | None:
    """The hardware id of an environment; None when it does not name its hardware."""
    return environment.known_hardware if environment is not None else None


def other_hardware(a: Environment | None, b: Environment | None) -> bool:
    """Whether ``a`` and ``b`` are known to be of different hardware (both name theirs)."""
    ha, hb = hardware_of(a), hardware_of(b)
    return ha is not None and hb is not None and ha != hb


def split_by_hardware(runs: Sequence[SuiteRun], environment: Environment | None
                      ) -> tuple[tuple[SuiteRun, ...], tuple[SuiteRun, ...]]:
    """``runs`` (a rolling window) as (those on ``environment``'s hardware or of unknown
    hardware, those known to be on other hardware), each in the window's order."""
    mine = hardware_of(environment)
    if mine is None:
        return tuple(runs), ()
    kept = tuple(r for r in runs if hardware_of(r.environment) in (None, mine))
    apart = tuple(r for r in runs if hardware_of(r.environment) not in (None, mine))
    return kept, apart


def hardware_change(before: Environment, after: Environment) -> str:
    """What differs between two hardware, e.g. "CPU model 'Old' → 'New'"."""
    parts = []
    for name, label in _HARDWARE_FIELDS:
        a, b = str(getattr(before, name)), str(getattr(after, name))
        if name == "os":  # the hardware id counts only the OS family, not its release
            a, b = (a.split() or [""])[0], (b.split() or [""])[0]
        if a != b:
            parts.append(f"{label} {a!r} → {b!r}")
    return ", ".join(parts) or "hardware id " + str(hardware_of(before))


def left_out_note(machine_id: str | None, current: Environment, kept: Sequence[SuiteRun],
                  apart: Sequence[SuiteRun]) -> str:
    """The report's note for a window of ``machine_id`` whose runs ``apart``
    (``split_by_hardware``) were left out; ``current``: the judged run's environment."""
    others = [r.environment for r in apart if r.environment is not None]
    change = hardware_change(others[-1], current) if others else "other hardware"
    total = len(kept) + len(apart)
    return (f"Baseline of this hardware only: {len(apart)} of the {total} runs in the "
            f"rolling window of machine {machine_id} were left out, measured on other "
            f"hardware ({change}). Runs of different "
            f"hardware are never pooled; the baseline is the {len(kept)} run(s) of this "
            "run's hardware, and widens as it measures more.")


def hardware_groups(runs: Sequence[RunInfo]) -> tuple[frozenset[str], ...]:
    """The run ids of ``runs`` (history order) per hardware, in order of first run; one
    group when they name at most one hardware. A run that names none (an old record)
    joins the hardware of the run before it that names one (the first such run's, for
    those before it): it is not known to differ, and must be in exactly one group."""
    known = [r.hardware for r in runs if r.hardware is not None]
    if len(set(known)) < 2:
        return (frozenset(r.run_id for r in runs),) if runs else ()
    groups: dict[str, set[str]] = {hw: set() for hw in known}
    current = known[0]
    for r in runs:
        current = r.hardware or current
        groups[current].add(r.run_id)
    return tuple(frozenset(g) for g in groups.values())


def series_by_hardware(series: Sequence[MetricSeries], runs: Sequence[RunInfo]
                       ) -> tuple[tuple[MetricSeries, ...], ...]:
    """``series`` cut per hardware (``hardware_groups`` of ``runs``): for each hardware,
    the series of its runs (those left with none dropped). Runs not in ``runs`` join
    the first hardware. Change points and drifts are looked for in each on its own."""
    groups = hardware_groups(runs)
    if len(groups) < 2:
        return (tuple(series),)
    first = groups[0].union(r for s in series for r in s.run_ids
                            if not any(r in g for g in groups))
    return tuple(series_of_runs(series, group) for group in (first, *groups[1:]))


def series_of_runs(series: Sequence[MetricSeries], run_ids: Collection[str]
                   ) -> tuple[MetricSeries, ...]:
    """``series`` cut to the runs ``run_ids``, order kept; those left empty dropped."""
    out = []
    for s in series:
        idx = [i for i, r in enumerate(s.run_ids) if r in run_ids]
        if idx:
            out.append(replace(s, run_ids=tuple(s.run_ids[i] for i in idx),
                               values=tuple(s.values[i] for i in idx),
                               lows=tuple(s.lows[i] for i in idx),
                               highs=tuple(s.highs[i] for i in idx)))
    return tuple(out)
