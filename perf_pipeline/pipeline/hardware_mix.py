"""One machine id, two hardware: a rolling baseline is made of the judged run's own.

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
  differ by the hardware), saying this run starts its hardware's baseline.
"""

from __future__ import annotations

from collections.abc import Sequence

from perf_pipeline.model import Environment, SuiteRun

__all__ = ["hardware_change", "hardware_of", "left_out_note", "other_hardware",
           "split_by_hardware"]

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
