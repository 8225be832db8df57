"""Benchmark histories replayed from recorded noise, with changes of known shape injected.

The history statistics (``changepoints``, ``drift``) are judged on what a history of a
shared machine looks like: every commit measured on a different process, at a different
moment. A noise recording (``replay.NoiseRecording``: fresh processes of one commit, in
the order they ran) holds exactly that, only shorter than a history. So a history of
``n_commits`` commits is stitched from windows of ``block`` consecutive processes, each
from a random start and of a benchmark drawn at random (its level removed: each
benchmark's log medians are centred on their median). Within a window the recording's time
order is kept, with its load swings and its runs of busy processes. Each window is centred
on its own median, so the seams add no level change the recording never had; drift slower
than a window is not represented. Each commit gets
``processes_per_commit`` consecutive processes, its replicates.

``inject`` then multiplies a history by a step, a single-commit spike, a ramp or a pulse
(a slowdown fixed ``length`` commits later).
"""

from __future__ import annotations

import numpy as np

from perf_pipeline.analysis.noise_recording import NoiseRecording
from perf_pipeline.analysis.run_factors import run_factors
from perf_pipeline.errors import InvalidInputError

__all__ = ["CHANGE_KINDS", "inject", "replay_history"]

CHANGE_KINDS = ("step", "spike", "ramp", "pulse")


def _suite_factors(log_med: np.ndarray) -> np.ndarray:
    """Each process's suite-wide factor: its median deviation over benchmarks, as the
    product removes it from histories (``run_factors``)."""
    return run_factors(log_med)


def replay_history(recording: NoiseRecording | np.ndarray, rng: np.random.Generator, *,
                   n_commits: int = 120, processes_per_commit: int = 1, block: int = 30,
                   remove_suite_factor: bool = False) -> np.ndarray:
    """(n_commits, processes_per_commit) per-process medians of one flat history.

    ``recording`` may also be its ``log_medians()`` array, computed once for many
    histories (the medians of every process are the slow part).

    ``remove_suite_factor`` divides each process by its suite-wide factor (the median
    over the recorded benchmarks), as a history judged per run after the machine factor
    is removed would see it.
    """
    if n_commits < 2 or processes_per_commit < 1 or block < 1:
        raise InvalidInputError("`n_commits` must be >= 2, `processes_per_commit` and "
                                "`block` >= 1")
    log_med = (recording.log_medians() if isinstance(recording, NoiseRecording)
               else np.asarray(recording, dtype=float))
    if (log_med.ndim != 2 or log_med.shape[0] < 2 or log_med.shape[1] < 1
            or not np.all(np.isfinite(log_med))):
        raise InvalidInputError("`recording` must be a NoiseRecording or a finite "
                                "(processes, benchmarks) array of log medians")
    if remove_suite_factor:
        log_med = log_med - _suite_factors(log_med)[:, None]
    log_med = log_med - np.median(log_med, axis=0)
    n_proc, n_bench = log_med.shape
    block = min(block, n_proc)
    need = n_commits * processes_per_commit
    parts = []
    while sum(p.size for p in parts) < need:
        start = int(rng.integers(0, n_proc - block + 1))
        window = log_med[start:start + block, int(rng.integers(0, n_bench))]
        parts.append(window - np.median(window))
    flat = np.concatenate(parts)[:need]
    return np.exp(flat.reshape(n_commits, processes_per_commit))


def inject(values: np.ndarray, *, kind: str, at: int, ratio: float,
           length: int = 10) -> np.ndarray:
    """A copy of ``values`` (commits first) with a change starting at commit ``at``:
    ``step`` (every commit from ``at`` on times ``ratio``), ``spike`` (commit ``at``
    only), ``ramp`` (rising geometrically to ``ratio`` over ``length`` commits, then
    staying there) or ``pulse`` (commits ``at`` to ``at + length - 1`` times ``ratio``:
    a change undone ``length`` commits later)."""
    out = np.array(values, dtype=float)
    n = out.shape[0]
    if kind not in CHANGE_KINDS:
        raise InvalidInputError(f"`kind` must be one of {CHANGE_KINDS}, got {kind!r}")
    if not 0 <= at < n:
        raise InvalidInputError(f"`at` must be in [0, {n}), got {at!r}")
    if not ratio > 0:
        raise InvalidInputError(f"`ratio` must be > 0, got {ratio!r}")
    scale = np.ones(n)
    if kind == "step":
        scale[at:] = ratio
    elif kind == "spike":
        scale[at] = ratio
    elif length < 1:
        raise InvalidInputError(f"`length` must be >= 1, got {length!r}")
    elif kind == "pulse":
        scale[at:at + length] = ratio
    else:
        steps = np.arange(1, n - at + 1)
        scale[at:] = ratio ** np.minimum(steps / length, 1.0)
    return out * scale.reshape((n,) + (1,) * (out.ndim - 1))
