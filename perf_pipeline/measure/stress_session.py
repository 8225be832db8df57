"""What a stress test gets from the ``stress`` fixture, and the figures file it leaves.

The fixture hands the test a ``StressSession``: the test gives it a callback (an
operation), the session applies the load and returns the figures as a plain dict (also
kept for the file). After the test, its figures are written to one JSON file per test in
the directory the runner names with ``STRESS_DIR_ENV`` (beside the run's raw results);
without it (a person running ``pytest -m stress`` by hand) nothing is written.

``STRESS_MULTIPLIER`` (float > 0, default 1) scales durations and sizes, and above 1 the
largest worker count; see ``stress_harness``. Standard library (and psutil) only: this
module is staged into the target's environment next to the plugin.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .stress_growth import run_size_sweep, run_soak
from .stress_harness import breaking_point, closed_loop_step, open_loop_step, worker_counts

__all__ = ["MULTIPLIER_ENV", "STRESS_DIR_ENV", "STRESS_SCHEMA_VERSION", "StressSession",
           "stress_file_name", "stress_multiplier"]

#: Set by the runner for a stress run: where the per-test figures files go.
STRESS_DIR_ENV = "PERF_PIPELINE_STRESS_DIR"
MULTIPLIER_ENV = "STRESS_MULTIPLIER"
#: Largest multiplier (``config.MAX_STRESS_MULTIPLIER``): sizes and sweep budgets scale
#: with it, and beyond it a sweep's first two sizes alone would run for hours.
MAX_MULTIPLIER = 100.0
#: Version of the per-test ``*.stress.json`` files.
STRESS_SCHEMA_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")


def stress_multiplier() -> float:
    """``STRESS_MULTIPLIER`` as a positive float (1 when unset); ValueError otherwise."""
    raw = os.environ.get(MULTIPLIER_ENV, "1")
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{MULTIPLIER_ENV} must be a number, not {raw!r}") from exc
    if not 0 < value <= MAX_MULTIPLIER:
        raise ValueError(f"{MULTIPLIER_ENV} must be a number > 0 and at most "
                         f"{MAX_MULTIPLIER:g}, not {raw!r}")
    return value


def stress_file_name(test_id: str) -> str:
    """A file-name-safe, unique name for one test's figures."""
    tail = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_id.rsplit("::", 1)[-1])[:60].strip("._")
    digest = hashlib.sha1(test_id.encode("utf-8")).hexdigest()[:10]
    return f"{tail or 'test'}-{digest}.stress.json"


class StressSession:
    """Load scenarios for one test. Each call returns its figures and keeps them."""

    def __init__(self, test_id: str, *, multiplier: float = 1.0,
                 out_dir: Path | None = None) -> None:
        if not 0 < multiplier <= MAX_MULTIPLIER:
            raise ValueError(f"multiplier must be > 0 and at most {MAX_MULTIPLIER:g}, "
                             f"not {multiplier!r}")
        self.test_id = test_id
        self.multiplier = float(multiplier)
        self.out_dir = out_dir
        self.scenarios: list[dict[str, Any]] = []
        self.started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")

    # -- scaling -------------------------------------------------------------------
    def scaled(self, value: float, *, minimum: int = 1) -> int:
        """``value`` times the multiplier, as an int of at least ``minimum``."""
        return max(minimum, round(value * self.multiplier))

    def scaled_s(self, seconds: float, *, minimum_s: float = 0.01) -> float:
        return max(minimum_s, seconds * self.multiplier)

    # -- scenarios -----------------------------------------------------------------
    def _keep(self, name: str, record: dict[str, Any]) -> dict[str, Any]:
        if not _NAME.match(name):
            raise ValueError(f"scenario name {name!r}: use 1-80 of [A-Za-z0-9_.-]")
        if any(s["name"] == name for s in self.scenarios):
            raise ValueError(f"scenario name {name!r} used twice in {self.test_id}")
        record = {"name": name, **record}
        self.scenarios.append(record)
        return record

    def ramp(self, name: str, op: Callable[[], object], *, max_workers: int = 8,
             step_s: float = 1.0, mode: str = "thread", max_ops_per_step: int = 200_000,
             p99_objective_s: float | None = None, max_error_rate: float = 0.0) -> dict:
        """Closed-loop ramp over 1, 2, 4, … workers; stops after the first broken step."""
        steps = []
        for workers in worker_counts(max_workers, self.multiplier):
            step = closed_loop_step(op, workers=workers, step_s=self.scaled_s(step_s),
                                    mode=mode, max_ops=max_ops_per_step)
            steps.append(step)
            if breaking_point([step], p99_objective_s=p99_objective_s,
                              max_error_rate=max_error_rate) is None:
                break
        return self._keep(name, self._ramp_record("ramp", steps, p99_objective_s,
                                                  max_error_rate))

    def rate_ramp(self, name: str, op: Callable[[], object], *, rates: Sequence[float],
                  step_s: float = 1.0, workers: int = 4,
                  p99_objective_s: float | None = None, max_error_rate: float = 0.0) -> dict:
        """Open-loop steps at increasing arrival rates; breaking point in requests/s."""
        steps = []
        for rate in sorted(rates):
            step = open_loop_step(op, rate_per_s=rate, duration_s=self.scaled_s(step_s),
                                  workers=workers)
            steps.append(step)
            if breaking_point([step], p99_objective_s=p99_objective_s,
                              max_error_rate=max_error_rate) is None:
                break
        return self._keep(name, self._ramp_record("rate_ramp", steps, p99_objective_s,
                                                  max_error_rate))

    @staticmethod
    def _ramp_record(kind: str, steps: list[dict], p99_objective_s: float | None,
                     max_error_rate: float) -> dict:
        best = max(steps, key=lambda s: s["throughput_ops_s"])
        return {"kind": kind, "steps": steps,
                "breaking_point": breaking_point(steps, p99_objective_s=p99_objective_s,
                                                 max_error_rate=max_error_rate),
                "p99_objective_s": p99_objective_s, "max_error_rate": max_error_rate,
                "peak_throughput_ops_s": best["throughput_ops_s"],
                "p99_s": steps[0]["p99_s"],  # at the lightest load: comparable run to run
                "errors": sum(s["errors"] for s in steps),
                "peak_rss_bytes": max((s["peak_rss_bytes"] or 0 for s in steps), default=0)}

    def open_loop(self, name: str, op: Callable[[], object], *, rate_per_s: float,
                  duration_s: float = 2.0, workers: int = 4,
                  max_lag_s: float | None = None) -> dict:
        """Fixed arrival rate for ``duration_s`` (scaled); latency from intended start."""
        record = open_loop_step(op, rate_per_s=rate_per_s,
                                duration_s=self.scaled_s(duration_s), workers=workers,
                                max_lag_s=max_lag_s)
        return self._keep(name, record)

    def closed_loop(self, name: str, op: Callable[[], object], *, workers: int = 1,
                    duration_s: float = 2.0, mode: str = "thread") -> dict:
        """One closed-loop step (the counterpart of ``open_loop`` at a fixed concurrency)."""
        record = closed_loop_step(op, workers=workers, step_s=self.scaled_s(duration_s),
                                  mode=mode)
        return self._keep(name, record)

    def size_sweep(self, name: str, op: Callable[[Any], object], *, base_size: int,
                   doublings: int = 5, repeats: int = 3,
                   setup: Callable[[int], Any] | None = None, budget_s: float = 30.0,
                   confidence: float = 0.95, clock: str = "cpu") -> dict:
        """n, 2n, … (n = ``base_size`` scaled); exponent of time in size, with interval."""
        n = self.scaled(base_size)
        sizes = [n * 2 ** k for k in range(max(1, doublings) + 1)]
        record = run_size_sweep(op, sizes=sizes, repeats=repeats, setup=setup,
                                budget_s=self.scaled_s(budget_s), confidence=confidence,
                                clock=clock)
        return self._keep(name, record)

    def soak(self, name: str, op: Callable[[], object], *, duration_s: float = 5.0,
             max_iterations: int = 100_000, leak_bytes_per_iteration: float = 1024.0,
             rss_leak_bytes_per_iteration: float = 256 * 1024.0,
             alpha: float = 0.001) -> dict:
        """Repeat ``op`` for ``duration_s`` (scaled); memory growth and a leak verdict."""
        record = run_soak(op, duration_s=self.scaled_s(duration_s),
                          max_iterations=max_iterations,
                          leak_bytes_per_iteration=leak_bytes_per_iteration,
                          rss_leak_bytes_per_iteration=rss_leak_bytes_per_iteration,
                          alpha=alpha)
        return self._keep(name, record)

    # -- output --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": STRESS_SCHEMA_VERSION, "test": self.test_id,
                "multiplier": self.multiplier, "started_at": self.started_at,
                "scenarios": self.scenarios}

    def write(self, *, outcome: str = "passed") -> Path | None:
        """Write the figures file atomically (when a directory was named and any ran)."""
        if self.out_dir is None or not self.scenarios:
            return None
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / stress_file_name(self.test_id)
        body = {**self.to_dict(), "outcome": outcome,
                "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        data = json.dumps(_finite(body), indent=1, sort_keys=True, allow_nan=False,
                          default=str)
        fd, tmp = tempfile.mkstemp(dir=self.out_dir, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
            # mkstemp's 0o600 would hide the file from the team; this module runs staged in
            # the target's environment (stdlib only), so not through atomic_file.
            mask = os.umask(0o022)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path


def _finite(value: object) -> object:
    """The same structure with non-finite floats as None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def stress_dir() -> Path | None:
    raw = os.environ.get(STRESS_DIR_ENV)
    return Path(raw) if raw else None
