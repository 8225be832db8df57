"""Read the per-test stress figures files of a run into ``StressFigure`` rows.

The harness (``stress_session``) writes one ``*.stress.json`` per test; the run keeps them
untouched under ``<run dir>/stress/``. Here they are read once, validated, and reduced to
the figures the history stores and the regression analysis judges, each scenario kind
with its own:

* ramps (``ramp``, ``rate_ramp``): peak throughput, p99 at the lightest step (the same
  load every run), the breaking point (0 when the first step already broke), error rate;
  and, shown but not judged, each step's throughput and p99 (``stepNN_…``, the step's
  load in ``low``) and p50/p90/p99.9/max of the lightest step;
* a single closed or open step: throughput, p99, error rate; p50/p90/p99.9/max shown;
* a size sweep: the scaling exponent with its interval;
* a soak: the leak verdict (1/0), the error rate, growth in bytes per iteration, p99 of an iteration
  (``iteration_p99_s``: timed under tracemalloc, so shown but not judged);
* every scenario: the ``STRESS_MULTIPLIER`` it ran at (``multiplier``): durations, sizes
  and the top worker count scale with it, so only runs at one multiplier are compared.
"""

from __future__ import annotations

import json
from pathlib import Path

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure.stress_session import STRESS_SCHEMA_VERSION
from perf_pipeline.model import StressFigure

__all__ = ["MULTIPLIER_FIGURE", "STRESS_SUBDIR", "load_stress_figures"]

#: Where a run directory keeps the figures files.
STRESS_SUBDIR = "stress"
#: The figure that records the multiplier a scenario ran at (shown, not judged).
MULTIPLIER_FIGURE = "multiplier"


def _histogram(record: dict) -> str | None:
    hist = record.get("histogram")
    return json.dumps(hist, sort_keys=True) if isinstance(hist, dict) else None


def _figures(test: str, scenario: dict, multiplier: object = None) -> list[StressFigure]:
    figures = _scenario_figures(test, scenario)
    if multiplier is not None and figures:
        first = figures[0]
        figures.append(StressFigure(test=test, scenario=first.scenario, kind=first.kind,
                                    figure=MULTIPLIER_FIGURE,
                                    value=float(multiplier)))  # type: ignore[arg-type]
    return figures


def _scenario_figures(test: str, scenario: dict) -> list[StressFigure]:
    name, kind = str(scenario.get("name") or ""), str(scenario.get("kind") or "")

    def fig(figure: str, value: object, **kw: object) -> StressFigure:
        number = None if value is None else float(value)  # type: ignore[arg-type]
        return StressFigure(test=test, scenario=name, kind=kind, figure=figure,
                            value=number, **kw)  # type: ignore[arg-type]

    def percentiles(record: dict) -> list[StressFigure]:
        """p50/p90/p99.9/max of a latency record: the percentile plot's points."""
        return [fig(name, record.get(name)) for name in ("p50_s", "p90_s", "p999_s", "max_s")
                if record.get(name) is not None]

    if kind in ("ramp", "rate_ramp"):
        steps = scenario.get("steps") or []
        first = steps[0] if steps else {}
        ops = sum(int(s.get("ops") or 0) for s in steps)
        # Each step's throughput and p99: the throughput-latency curve (shown, not judged).
        curve = [fig(f"step{i:02d}_{name}", step.get(key), low=step.get("load"))
                 for i, step in enumerate(steps)
                 for name, key in (("throughput_ops_s", "throughput_ops_s"), ("p99_s", "p99_s"))
                 if step.get(key) is not None]
        peak = max(steps, key=lambda s: s.get("throughput_ops_s") or 0.0) if steps else {}
        return [fig("throughput_ops_s", scenario.get("peak_throughput_ops_s"),
                    count=peak.get("ok")),
                fig("p99_s", first.get("p99_s"), count=first.get("ok"),
                    histogram_json=_histogram(first)),
                fig("breaking_point", scenario.get("breaking_point") or 0.0),
                fig("error_rate", (scenario.get("errors") or 0) / ops if ops else 0.0),
                *percentiles(first), *curve]
    if kind in ("closed", "open"):
        return [fig("throughput_ops_s", scenario.get("throughput_ops_s"),
                    count=scenario.get("ok")),
                fig("p99_s", scenario.get("p99_s"), count=scenario.get("ok"),
                    histogram_json=_histogram(scenario)),
                fig("error_rate", scenario.get("error_rate")), *percentiles(scenario)]
    if kind == "sweep":
        return [fig("exponent", scenario.get("exponent"), low=scenario.get("exponent_low"),
                    high=scenario.get("exponent_high"), count=scenario.get("sizes_run"))]
    if kind == "soak":
        # Its error rate is judged as every scenario's: without it, a soak whose
        # operation failed on every call read as "the leak is gone".
        return [fig("leak", 1.0 if scenario.get("leak") else 0.0),
                fig("error_rate", scenario.get("error_rate")),
                fig("growth_bytes_per_iteration", scenario.get("growth_bytes_per_iteration")),
                # Timed under tracemalloc with the collector paused: shown, not judged.
                fig("iteration_p99_s", scenario.get("p99_s"), count=scenario.get("iterations"),
                    histogram_json=_histogram(scenario))]
    raise InvalidInputError(f"stress scenario {name!r} of {test}: unknown kind {kind!r}")


def load_stress_figures(run_dir: Path) -> tuple[StressFigure, ...]:
    """Every figure of every ``stress/*.stress.json`` in ``run_dir`` (none: empty)."""
    folder = Path(run_dir) / STRESS_SUBDIR
    out: list[StressFigure] = []
    for path in sorted(folder.glob("*.stress.json")) if folder.is_dir() else ():
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"stress figures {path}: unreadable: {exc}") from exc
        if not isinstance(body, dict) or body.get("schema_version") != STRESS_SCHEMA_VERSION:
            raise InvalidInputError(f"stress figures {path}: unknown schema_version")
        test = str(body.get("test") or "")
        try:
            for scenario in body.get("scenarios") or []:
                out.extend(_figures(test, scenario, body.get("multiplier")))
        except (TypeError, ValueError, AttributeError) as exc:
            raise InvalidInputError(f"stress figures {path}: malformed: {exc}") from exc
    keys = [f.key for f in out]
    if len(keys) != len(set(keys)):
        raise InvalidInputError(f"stress figures in {folder}: a figure appears twice")
    return tuple(out)
